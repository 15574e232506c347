"""Stage ``retrieve``: HNSW candidates for a query vector."""

from __future__ import annotations

import numpy as np

from service.bundle import Bundle


def search(bundle: Bundle, query: np.ndarray, n: int) -> np.ndarray:
    """(n,) item rows by approximate inner product, best first (hnswlib uses max(ef, n))."""
    n = min(n, bundle.manifest.item_count)
    labels, _ = bundle.index.knn_query(query[None, :], k=n, num_threads=1)  # type: ignore[attr-defined]
    return labels[0].astype(np.int64)
