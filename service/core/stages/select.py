"""Stage ``select``: drop excluded and filtered items, keep the top k.

Seen items were dropped by ``retrieve`` (once per memo); this stage applies
what the request itself asks: excluded ids and category filters. When they
leave fewer than k items it asks for a four times wider search, and past
``MAX_ANN`` for every item (counted in ``recserve_recommend_exhaustive_total``).
"""

from __future__ import annotations

import numpy as np

from bundle.items import ItemTable
from service.core.stages.base import Call
from service.metrics import Metrics

END = np.iinfo(np.int64).max  # closes every blocked set: larger than any row
CLOSE = np.array([END], dtype=np.int64)
SMALL_POOL = 256  # up to this many candidates one sort beats a partition first
MAX_ANN = 4096  # widest HNSW search before an exact scan


def blocked_set(*parts: np.ndarray) -> np.ndarray:
    """Sorted rows closed by ``END``: the form ``is_member`` reads (made once per memo,
    so a request pays for no sort). Repeats are kept: a binary search finds a row's
    first copy all the same, and a plain sort is half the cost of ``np.unique``."""
    return np.sort(np.concatenate((*parts, CLOSE), dtype=np.int64))


def is_member(rows: np.ndarray, blocked: np.ndarray) -> np.ndarray:
    """(len(rows),) membership in a ``blocked_set``, by binary search; the closing
    ``END`` keeps every position in bounds."""
    return blocked[np.searchsorted(blocked, rows)] == rows


def allowed(
    items: ItemTable,
    rows: np.ndarray,
    blocked: np.ndarray,
    include: np.ndarray,
    exclude: np.ndarray,
) -> np.ndarray:
    """(len(rows),) mask: not ``blocked`` (a ``blocked_set`` of excluded items), in an
    included category (if any), in no excluded one. ``include``/``exclude`` are
    category codes of the bundle's vocabulary."""
    keep = ~is_member(rows, blocked)
    matrix = items.category_matrix
    if len(include):
        keep &= matrix[np.ix_(rows, include)].any(axis=1)
    if len(exclude):
        keep &= ~matrix[np.ix_(rows, exclude)].any(axis=1)
    return keep


def top_k(rows: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k best (row, score) pairs, best first; ties to the lower row."""
    if len(rows) > max(k, SMALL_POOL):  # keep the k best and every tie of the k-th
        kth = -np.partition(-scores, k - 1)[k - 1]
        best = scores >= kth
        rows, scores = rows[best], scores[best]
    order = np.lexsort((rows, -scores))[:k]
    return rows[order], scores[order]


class SelectStage:
    name = "select"

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def run(self, call: Call) -> None:
        request, items = call.request, call.bundle.items
        pool, scores = call.pool, call.scores
        if request.exclude_item_ids or request.include_categories or request.exclude_categories:
            excluded = items.rows(request.exclude_item_ids)
            keep = allowed(
                items,
                pool,
                blocked_set(excluded[excluded >= 0]),
                items.category_codes(request.include_categories),
                items.category_codes(request.exclude_categories),
            )
            pool, scores = pool[keep], scores[keep]
        count = call.bundle.manifest.item_count
        if len(pool) >= request.k or call.wanted >= count:
            call.rows, call.scores = top_k(pool, scores, request.k)
            call.done = True
            return
        call.wanted *= 4
        if call.wanted > MAX_ANN or call.wanted >= count:
            self.metrics.exhaustive.inc()
            call.wanted = count
