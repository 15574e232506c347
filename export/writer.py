"""Write a bundle folder from a checkpoint, checking it before it is published.

Steps (any failure leaves no bundle behind):

1. ``items.npy``: the model's item vectors (bias folded in, as its semantics say).
2. ``users.npy`` + ``users.tsv`` when the model has per-user parameters.
3. ``index.hnsw``: HNSW over the item vectors; recall@10 vs exact search on the
   validation users' real vectors must reach the target (``index_build``).
4. ``encoder.onnx``: the model's export module; onnxruntime must match torch on
   every output (max abs error < ``tolerance``) on real validation users, with
   inputs built by ``bundle.inputs`` exactly as the server builds them (user
   table rows read back from the written files), and must match the model's
   own ``encode_user``, so what was checked is what will be served.
5. ``semantics``: the model's cold-start and similar-items queries, and the
   trend weight calibrated on the validation users (``calibrate``).
6. ``items.tsv``: external id, categories, training count, metadata by row.
7. ``reranker.onnx`` when a re-ranker's checkpoint is given (``export.rerank``).
8. ``step.onnx`` + ``readout.onnx`` for a stateful model (``export.stateful``):
   stepped event by event they must give the one-pass user vectors.
9. ``item_encoder.onnx`` for a model with a metadata decoder (``export.item_encoder``):
   item vectors from metadata, for items registered while serving.
10. ``manifest.json`` with the SHA-256 of every file, written last; the folder
   is built under a hidden temporary name and renamed into place in one step,
   then loaded back with ``bundle.loader`` (the server's loader) as a final check.

A bundle is immutable: an existing ``out`` folder is never overwritten.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bundle.encoder import CPU, Encoder
from bundle.format import INDEX, ITEM_TABLE, ITEMS, MANIFEST, USER_TABLE, USERS, sha256
from bundle.inputs import build_inputs
from bundle.items import ItemTable
from bundle.loader import Bundle
from bundle.manifest import FileEntry, Manifest, ModelInfo, Semantics, UserTableSpec
from bundle.users import UserTable
from export.calibrate import calibrate_trend
from export.errors import ExportError
from export.index_build import build_index
from export.item_encoder import write_item_encoder
from export.onnx_export import export_onnx, torch_outputs
from export.rerank import write_reranker
from export.stateful import write_stateful
from training.checkpoint import Checkpoint
from training.models.base import RetrievalModel


@dataclass(frozen=True)
class ExportConfig:
    target_recall: float = 0.95
    tolerance: float = 1e-4
    max_check_users: int = 1000
    threads: int = 2
    trend_metric: str = "ndcg@10"
    rerank_n: int = 100  # candidates the re-ranker re-scores by default


def write_bundle(
    checkpoint: Checkpoint,
    out: str | Path,
    config: ExportConfig = ExportConfig(),
    reranker: Checkpoint | None = None,
) -> Path:
    """Write and publish bundle ``out`` (``.../<name>/<version>``); returns its path.
    ``reranker``, a re-ranker's checkpoint, becomes the bundle's second stage."""
    out = Path(out)
    if out.exists():
        raise ExportError(f"{out} exists: bundles are immutable, choose a new version folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        manifest = _write_files(checkpoint, staging, out, config, reranker)
        (staging / MANIFEST).write_text(manifest.to_json())
        os.rename(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    Bundle.load(out, providers=[CPU])  # the server's own loader accepts it
    return out


def _write_files(
    checkpoint: Checkpoint,
    folder: Path,
    out: Path,
    config: ExportConfig,
    reranker: Checkpoint | None,
) -> Manifest:
    model = checkpoint.model
    if not isinstance(model, RetrievalModel):
        raise ExportError(
            f"{checkpoint.path}: model {checkpoint.kind!r} is a re-ranker; export a retrieval "
            "checkpoint with --reranker pointing at this one"
        )
    vectors = np.ascontiguousarray(model.item_vectors(), dtype=np.float32)
    np.save(folder / ITEMS, vectors)
    names = [ITEMS, INDEX, ITEM_TABLE]
    users_spec, table = _write_users(checkpoint, model, folder)
    if users_spec is not None:
        names += [USERS, USER_TABLE]
    rows = np.flatnonzero(checkpoint.validation.history.lengths > 0)[: config.max_check_users]
    check = checkpoint.validation.take(rows)
    spec = model.encoder_spec()
    context = None
    if table is not None:  # the rows the server will read, by external user id
        known = check.users >= 0
        ids = np.where(known, checkpoint.users.ids[np.maximum(check.users, 0)], "")
        context = table.context(np.where(known, table.rows(list(ids)), -1))
    inputs = build_inputs(spec, check.history, check.now, context)
    queries = model.encode_user(check.history, check.now, check.users)
    form = model.index_form()
    index, index_info = build_index(
        vectors, queries, config.target_recall, form, threads=config.threads
    )
    index.save_index(str(folder / INDEX))
    module = model.export_encoder()
    export_onnx(module, spec, inputs, folder / spec.file)
    names.append(spec.file)
    encoder = Encoder(folder / spec.file, spec, providers=[CPU])
    served = encoder.run(check.history, check.now, context)
    expected = torch_outputs(module, spec, inputs)
    parity = max(float(np.abs(served[k] - expected[k]).max()) for k in expected)
    agreement = float(np.abs(served[spec.user_output.name] - queries).max())
    if parity > config.tolerance:
        raise ExportError(f"onnxruntime differs from torch by {parity:.2e} > {config.tolerance}")
    if agreement > config.tolerance:
        raise ExportError(
            f"served user vectors differ from the model's encode_user by {agreement:.2e}: "
            "the inputs the server builds do not match the model's"
        )
    stateful = write_stateful(model, folder, check, context, queries, config.tolerance)
    if stateful is not None:
        names += [stateful.step.file, stateful.readout.file]
    item_encoder = write_item_encoder(model, folder, vectors, config.tolerance)
    if item_encoder is not None:
        names.append(item_encoder.file)
    cold, similar = model.semantics()
    trend = calibrate_trend(
        lambda r: queries[r] @ vectors.T, len(vectors), check, checkpoint.validation_trends[rows],
        checkpoint.trend_half_life, metric=config.trend_metric,
    )  # fmt: skip
    second = None
    if reranker is not None:
        second = write_reranker(
            checkpoint, reranker, folder, check, checkpoint.validation_trends[rows], queries,
            vectors, config.rerank_n, config.tolerance, config.trend_metric,
        )  # fmt: skip
        names.append(second.file)
    _write_item_table(checkpoint, folder / ITEM_TABLE)
    files = {
        name: FileEntry(sha256(folder / name), (folder / name).stat().st_size) for name in names
    }
    return Manifest(
        name=out.parent.name,
        version=out.name,
        model=ModelInfo(checkpoint.kind, model.config_dict()),
        dim=int(vectors.shape[1]),
        item_count=int(vectors.shape[0]),
        encoder=spec,
        index=index_info,
        semantics=Semantics(cold, similar, trend, explanation=model.explanation()),
        event_types=tuple(checkpoint.event_types),
        users=users_spec,
        stateful=stateful,
        item_encoder=item_encoder,
        reranker=second,
        offline_metrics=_offline_metrics(checkpoint),
        checks={
            "onnx_vs_torch_max_abs_error": parity,
            "served_vs_model_max_abs_error": agreement,
            "histories_checked": len(check),
        },
        files=files,
        created_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    )


def _write_users(
    checkpoint: Checkpoint, model: RetrievalModel, folder: Path
) -> tuple[UserTableSpec | None, UserTable | None]:
    found = model.user_table()
    if found is None:
        return None, None
    vectors, trained = found
    if len(checkpoint.users) != len(vectors):
        raise ExportError(f"user table has {len(vectors)} rows for {len(checkpoint.users)} users")
    ids = list(checkpoint.users.ids[trained])  # users training gave no row stay unknown
    vectors = vectors[trained]
    UserTable.write(folder, ids, vectors, USERS, USER_TABLE)
    spec = UserTableSpec(len(ids), int(vectors.shape[1]), model.user_fallback())
    return spec, UserTable.read(folder / USERS, folder / USER_TABLE, spec.count, spec.dim)


def _write_item_table(checkpoint: Checkpoint, path: Path) -> None:
    """``row, item_id, categories, count`` plus the data's other item columns."""
    n = len(checkpoint.items)
    features = checkpoint.item_features
    categories = [""] * n
    extra: dict[str, Any] = {}
    if features is not None:
        if "categories" in features:
            categories = features["categories"].fillna("").astype(str).tolist()
        extra = {c: features[c].fillna("").astype(str).tolist() for c in features.columns}
    ItemTable.write(path, list(checkpoint.items.ids), categories, checkpoint.item_counts, extra)


def _offline_metrics(checkpoint: Checkpoint) -> dict[str, Any]:
    report = checkpoint.metrics
    return {
        "protocol": report.get("protocol"),
        "split": report.get("split", {}),
        "results": report.get("results", {}).get(checkpoint.kind, {}),
    }
