"""Stage ``retrieve``: HNSW candidates for a query vector, plus trending items."""

from __future__ import annotations

import numpy as np

from service.bundle import Bundle


def search_many(bundle: Bundle, queries: np.ndarray, n: int) -> np.ndarray:
    """(B, n) item rows by approximate inner product, best first (hnswlib uses max(ef, n))."""
    n = min(n, bundle.manifest.item_count)
    labels, _ = bundle.index.knn_query(queries, k=n, num_threads=1)  # type: ignore[attr-defined]
    return labels.astype(np.int64)


def with_trending(candidates: np.ndarray, trending_rows: np.ndarray) -> np.ndarray:
    """Union of the ANN candidates and the trending rows (the static index cannot
    know a sudden hit, ARCHITECTURE.md)."""
    if len(trending_rows) == 0:
        return candidates
    return np.union1d(candidates, trending_rows)
