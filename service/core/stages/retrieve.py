"""Stage ``retrieve``: HNSW candidates for a query vector, united with the trending
items (the static index cannot know a sudden hit, ARCHITECTURE.md)."""

from __future__ import annotations

import numpy as np

from service.bundle import Bundle
from service.core.stages.rescore import TrendView
from service.core.stages.select import is_member


def search(bundle: Bundle, query: np.ndarray, n: int) -> np.ndarray:
    """(n,) item rows by approximate inner product, best first (hnswlib uses max(ef, n))."""
    n = min(n, bundle.manifest.item_count)
    labels, _ = bundle.index.knn_query(query[None, :], k=n, num_threads=1)  # type: ignore[attr-defined]
    return labels[0].astype(np.int64)


def pool(
    view: TrendView, rows: np.ndarray, model: np.ndarray, query: np.ndarray, seen: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The pool's rows and model scores <q, x_j> (the trend term comes later).

    ``rows`` are the user's unseen HNSW candidates and ``model`` their scores;
    the view's trending items join them unless ``seen`` (a ``blocked_set``)
    holds them. A candidate that is trending is taken once, from the trending
    side. The result depends on the user and the trending set only, so the
    pipeline keeps it while neither changes.
    """
    fresh = view.not_trending[rows]
    unseen = ~is_member(view.rows, seen)
    return (
        np.concatenate((rows[fresh], view.rows[unseen])),
        np.concatenate((model[fresh], (view.vectors @ query)[unseen])),
    )
