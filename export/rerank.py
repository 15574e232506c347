"""The second stage of a bundle: ``reranker.onnx`` aligned to the bundle's item rows.

``write_reranker`` runs after the retrieval part is written:

1. the re-ranker's item table is re-indexed to the bundle's rows (by external
   id; an item the re-ranker never saw gets a zero embedding, counted in
   ``known_items``), so the graph reads the same candidate rows the server has;
2. the graph is exported with dynamic batch, history and candidate axes;
3. on real validation users, with each user's top ``candidates`` retrieval
   items as candidates, onnxruntime (``bundle.reranker``, the server's own
   session) must match the torch module and the model's own ``score_candidates``
   on every output;
4. on those users over the re-ranked candidates (``export.calibrate``): the weight
   of the standardized retrieval score added to the re-ranker's (``blend``), then
   the trend weight on that combined scale.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.sparse as sp

from bundle.encoder import CPU
from bundle.format import RERANKER
from bundle.history import Sequences
from bundle.items import ids_digest
from bundle.manifest import RERANK_INPUTS, RERANK_OUTPUTS, ModelInfo, RerankerSpec
from bundle.reranker import BLENDS, Reranker, rerank_inputs, standardized
from export.calibrate import best_weight, calibrate_trend
from export.errors import ExportError
from export.onnx_export import export_graph
from training.checkpoint import Checkpoint
from training.data.splits import EvalSet
from training.models.base import Reranker as RerankModel

PARITY_USERS = 200  # validation users whose candidates are compared output by output


def write_reranker(
    retrieval: Checkpoint,
    second: Checkpoint,
    folder: Path,
    check: EvalSet,
    trends: sp.csr_matrix,
    queries: np.ndarray,
    vectors: np.ndarray,
    candidates: int,
    tolerance: float,
    metric: str,
) -> RerankerSpec:
    """Write ``folder/reranker.onnx`` and return its manifest entry. ``check`` are the
    validation users (``queries`` their user vectors), ``trends`` their decayed counts."""
    model = second.model
    if not isinstance(model, RerankModel):
        raise ExportError(f"{second.path}: model {second.kind!r} is not a re-ranker")
    import torch

    rows = model_rows(retrieval.items.ids, second.items.ids)
    n = min(candidates, len(vectors))
    policy = model.history_policy()
    top = top_candidates(queries, vectors, check.history, n)
    parity_rows = np.arange(min(PARITY_USERS, len(check)))
    history = check.history.take(parity_rows)
    example = rerank_inputs(policy, history, top[parity_rows])
    module = model.export_module(rows)
    path = folder / RERANKER
    axes = {"history": {0: "batch", 1: "history"}, "mask": {0: "batch", 1: "history"},
            "candidates": {0: "batch", 1: "candidates"}}  # fmt: skip
    export_graph(module, example, axes, list(RERANK_OUTPUTS), path)
    session = Reranker(path, policy, [CPU])
    served = session.run(history, top[parity_rows])
    with torch.no_grad():
        expected = [
            t.numpy() for t in module(*(torch.from_numpy(example[k]) for k in RERANK_INPUTS))
        ]
    parity = max(float(np.abs(a - b).max()) for a, b in zip(served, expected, strict=True))
    agreement = 0.0
    if (rows >= 0).all():  # else the model has no row for some item the graph reads as zeros
        own = model.score_candidates(
            remap(history, rows), check.now[parity_rows], rows[top[parity_rows]]
        )
        agreement = float(np.abs(served[0] - own).max())
    if parity > tolerance:
        raise ExportError(f"re-ranker: onnxruntime differs from torch by {parity:.2e}")
    if agreement > tolerance:
        raise ExportError(
            f"re-ranker: served scores differ from the model's score_candidates by "
            f"{agreement:.2e}: the inputs the server builds do not match the model's"
        )

    logits = np.concatenate([
        session.run(check.history.take(part), top[part])[0]
        for part in np.array_split(np.arange(len(check)), max(1, len(check) // 128))
    ])  # fmt: skip
    z = standardized(np.einsum("vd,vnd->vn", queries, vectors[top]))

    def spread(values: np.ndarray, users: np.ndarray, fill: float) -> np.ndarray:
        out = np.full((len(users), len(vectors)), fill, dtype=np.float32)
        out[np.arange(len(users))[:, None], top[users]] = values[users]
        return out

    blend, blending = best_weight(
        lambda u: spread(logits, u, -np.inf), lambda u: spread(z, u, 0.0), len(vectors), check,
        metric, BLENDS,
    )  # fmt: skip
    trend = calibrate_trend(
        lambda u: spread(logits + blend * z, u, -np.inf), len(vectors), check, trends,
        retrieval.trend_half_life, metric=metric,
    )  # fmt: skip
    return RerankerSpec(
        model=ModelInfo(second.kind, model.config_dict()), history=policy, trend=trend,
        items_sha256=ids_digest(list(retrieval.items.ids)), known_items=int((rows >= 0).sum()),
        candidates=n, blend=blend, blend_calibration=blending, file=RERANKER,
        checks={"onnx_vs_torch_max_abs_error": parity, "served_vs_model_max_abs_error": agreement,
                "histories_checked": len(parity_rows)},
    )  # fmt: skip


def model_rows(bundle_ids: np.ndarray, model_ids: np.ndarray) -> np.ndarray:
    """(I_bundle,) the re-ranker's row of each bundle item, -1 where it has none."""
    lookup = {item: k for k, item in enumerate(model_ids.tolist())}
    return np.array([lookup.get(item, -1) for item in bundle_ids.tolist()], dtype=np.int64)


def remap(history: Sequences, rows: np.ndarray) -> Sequences:
    """``history`` with bundle rows replaced by the model's rows (``model_rows``)."""
    return Sequences(history.indptr, rows[history.item], history.timestamp,
                     history.event_type, history.value)  # fmt: skip


def top_candidates(
    queries: np.ndarray, vectors: np.ndarray, history: Sequences, n: int
) -> np.ndarray:
    """(V, n) each user's n best unseen items by exact retrieval score, best first
    (users in blocks, so memory stays at a block x items)."""
    out = []
    for start in range(0, len(queries), 256):
        rows = np.arange(start, min(start + 256, len(queries)))
        part = history.take(rows)
        scores = queries[rows] @ vectors.T
        scores.reshape(-1)[part.row_ids() * len(vectors) + part.item] = -np.inf
        top = np.argpartition(-scores, n - 1, axis=1)[:, :n]
        order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1)
        out.append(np.take_along_axis(top, order, axis=1))
    return np.concatenate(out).astype(np.int64)
