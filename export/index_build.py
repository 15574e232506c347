"""HNSW index over item vectors, with recall measured against exact search.

hnswlib parameters (documented in one place, as hnswlib does):

- ``M``: links per node; more = better recall, more memory, slower build.
- ``ef_construction``: candidate list while building; more = better graph.
- ``ef_search``: candidate list at query time; the server uses
  max(ef_search, k) per query. The exporter records the smallest ef that
  meets the recall target on that index, since search cost grows with ef.

``build_index`` walks ``SCHEDULE`` until recall@10 against exact top-10 on
real user vectors reaches the target, and fails with a clear message if even
the last step does not. Recall is always measured against the exact top k of
the model's own score <q, x_j>. By default the index is ``ip`` (inner product)
over the item vectors themselves: with the bias folded in, score = <[u, 1],
[v, b]> is exactly what the index ranks. A model may declare another form
(``bundle.manifest.IndexForm``): AttRec's score is a negated squared distance,
and an ``ip`` graph over its distance-to-inner-product vectors found 1-7% of
the exact top 10 on a 100K catalogue, so it is indexed in ``l2`` over the
projected embeddings instead, a search that ranks items exactly as the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from bundle.manifest import IndexForm, IndexInfo
from export.errors import ExportError


@dataclass(frozen=True)
class IndexParams:
    M: int
    ef_construction: int
    ef_search: int


SCHEDULE = (
    IndexParams(16, 200, 64),
    IndexParams(32, 400, 128),
    IndexParams(48, 800, 256),
    IndexParams(64, 1600, 512),
)


EF_CANDIDATES = (16, 24, 32, 48)


class RecallError(ExportError):
    """The index could not reach the target recall."""


def exact_kth_scores(queries: np.ndarray, vectors: np.ndarray, k: int) -> np.ndarray:
    """(Q,) the k-th largest inner product of each query (exact, blockwise)."""
    out = np.empty(len(queries), dtype=np.float32)
    for start in range(0, len(queries), 256):
        scores = queries[start : start + 256] @ vectors.T
        out[start : start + 256] = -np.partition(-scores, k - 1, axis=1)[:, k - 1]
    return out


def recall_at_k(
    index: Any,
    form: IndexForm,
    queries: np.ndarray,
    vectors: np.ndarray,
    k: int,
    ef: int,
) -> float:
    """Share of the exact top-k by the model's score <q, x_j> found by the index
    (searched in its own form); an item tied with the k-th score counts as found."""
    k = min(k, len(vectors))
    index.set_ef(max(ef, k))
    labels, _ = index.knn_query(form.query_vectors(queries), k=k)
    found_scores = np.einsum("qd,qkd->qk", queries, vectors[labels])
    kth = exact_kth_scores(queries, vectors, k)
    tolerance = 1e-5 * np.maximum(1.0, np.abs(kth))
    return float((found_scores >= (kth - tolerance)[:, None]).sum() / (len(queries) * k))


def build_index(
    vectors: np.ndarray,
    queries: np.ndarray,
    target_recall: float = 0.95,
    form: IndexForm | None = None,
    schedule: tuple[IndexParams, ...] = SCHEDULE,
    threads: int = 2,
    seed: int = 0,
) -> tuple[Any, IndexInfo]:
    """The first index in ``schedule`` with recall@10 >= ``target_recall`` on ``queries``
    (real user vectors), over ``vectors`` as ``form`` maps them."""
    import hnswlib

    if len(queries) == 0:
        raise RecallError("no validation users to measure recall on")
    form = form or IndexForm()
    points = form.item_vectors(vectors)
    n, dim = points.shape
    tried = []
    for params in schedule:
        index = hnswlib.Index(space=form.space, dim=dim)
        index.init_index(
            max_elements=n, M=params.M, ef_construction=params.ef_construction, random_seed=seed
        )
        index.set_num_threads(threads)
        index.add_items(points, np.arange(n))

        def recall(k: int, ef: int, index: Any = index) -> float:
            return recall_at_k(index, form, queries, vectors, k, ef)

        r10 = recall(10, params.ef_search)
        tried.append(f"M={params.M} ef_construction={params.ef_construction}: {r10:.3f}")
        if r10 >= target_recall:
            # the cheapest search that still meets the target (search cost grows with ef)
            for ef in EF_CANDIDATES:
                if ef >= params.ef_search:
                    break
                low = recall(10, ef)
                if low >= target_recall:
                    params, r10 = IndexParams(params.M, params.ef_construction, ef), low
                    break
            r100 = recall(100, params.ef_search)
            index.set_ef(params.ef_search)
            info = IndexInfo(params.M, params.ef_construction, params.ef_search, r10, r100,
                             len(queries), form)  # fmt: skip
            return index, info
    raise RecallError(
        f"HNSW recall@10 stayed below {target_recall} ({'; '.join(tried)}); "
        "the vectors may be degenerate (check the model) or need a larger schedule"
    )
