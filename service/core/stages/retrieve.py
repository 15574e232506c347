"""Stage ``retrieve``: HNSW candidates for a query vector, plus trending items."""

from __future__ import annotations

import numpy as np

from service.bundle import Bundle


def search(bundle: Bundle, query: np.ndarray, n: int) -> np.ndarray:
    """Up to ``n`` item rows by approximate inner product (hnswlib uses max(ef, n))."""
    n = min(n, bundle.manifest.item_count)
    labels, _ = bundle.index.knn_query(query[None, :], k=n, num_threads=1)  # type: ignore[attr-defined]
    return labels[0].astype(np.int64)


def with_trending(candidates: np.ndarray, trending_rows: np.ndarray) -> np.ndarray:
    """Union of the ANN candidates and the trending rows (the static index cannot
    know a sudden hit, ARCHITECTURE.md)."""
    if len(trending_rows) == 0:
        return candidates
    return np.union1d(candidates, trending_rows)
