"""Stage ``retrieve``: the user's unseen candidate items.

For a query vector, approximate maximum inner product search over the bundle's
HNSW index (``k * overfetch`` items, widened by the select stage when filters
leave too few; every item once the width reaches the catalogue); for a static
source (popularity cold start), the best items by its scores. Seen items are
dropped here, once per memo and width.
"""

from __future__ import annotations

import numpy as np

from bundle.loader import Bundle
from service.core.memo import UserMemo
from service.core.stages.base import Call
from service.core.stages.select import is_member


def search(bundle: Bundle, query: np.ndarray, n: int) -> np.ndarray:
    """(n,) item rows by approximate inner product, best first (hnswlib uses max(ef, n));
    items registered while serving are not in the index (``candidates`` adds them)."""
    n = min(n, bundle.indexed)
    point = bundle.manifest.index.form.query_vectors(query[None, :])
    labels, _ = bundle.index.knn_query(point, k=n, num_threads=1)
    return labels[0].astype(np.int64)


def best_static(scores: np.ndarray, n: int) -> np.ndarray:
    """(n,) rows with the highest static scores, best first (ties to the lower row)."""
    n = min(n, len(scores))
    kth = -np.partition(-scores, n - 1)[n - 1]
    top = np.flatnonzero(scores >= kth)  # every tie of the n-th, so the lower rows win
    return top[np.lexsort((top, -scores[top]))][:n].astype(np.int64)


def candidates(bundle: Bundle, memo: UserMemo, n: int) -> np.ndarray:
    """The unseen rows among the memo's ``n`` best (all items when n covers them)."""
    count = bundle.manifest.item_count
    if n >= count:
        rows = np.arange(count, dtype=np.int64)
    elif memo.static is not None:
        rows = best_static(memo.static, n)
    else:
        assert memo.query is not None
        rows = search(bundle, memo.query, n)
        if bundle.live:  # the side index: every registered item, scored exactly later
            rows = np.concatenate((rows, np.arange(bundle.indexed, count, dtype=np.int64)))
    return rows[~is_member(rows, memo.seen)]


class RetrieveStage:
    name = "retrieve"

    def run(self, call: Call) -> None:
        memo, n = call.memo, call.wanted
        assert memo is not None
        found = memo.candidates
        if found is None or memo.width < n:  # a wider search kept serves a narrower call
            found = candidates(call.bundle, memo, n)
            if n < call.bundle.manifest.item_count:  # nothing catalogue-sized is kept
                memo.width, memo.candidates, memo.pool = n, found, None
        call.candidates = found
