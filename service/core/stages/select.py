"""Stage ``select``: drop seen and filtered items, keep the top k."""

from __future__ import annotations

import numpy as np

from service.bundle import ItemTable

END = np.iinfo(np.int64).max  # closes every blocked set: larger than any row
CLOSE = np.array([END], dtype=np.int64)
SMALL_POOL = 256  # up to this many candidates one sort beats a partition first


def blocked_set(*parts: np.ndarray) -> np.ndarray:
    """Sorted distinct rows closed by ``END``: the form ``is_member`` reads (made once
    per encoded user, so a request pays for no sort)."""
    return np.unique(np.concatenate((*parts, CLOSE), dtype=np.int64))


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
    """(len(rows),) mask: not ``blocked`` (a ``blocked_set`` of seen or excluded
    items), in an included category (if any), in no excluded one. ``include``/``exclude``
    are category codes of the bundle's vocabulary."""
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
