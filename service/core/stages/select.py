"""Stage ``select``: drop seen and filtered items, keep the top k."""

from __future__ import annotations

import numpy as np

from service.bundle import ItemTable


def is_member(rows: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    """(len(rows),) membership in a sorted array, by binary search (no sort of ``rows``)."""
    if len(sorted_set) == 0:
        return np.zeros(len(rows), dtype=bool)
    at = np.minimum(np.searchsorted(sorted_set, rows), len(sorted_set) - 1)
    return sorted_set[at] == rows


def allowed(
    items: ItemTable,
    rows: np.ndarray,
    blocked: np.ndarray,
    include: np.ndarray,
    exclude: np.ndarray,
) -> np.ndarray:
    """(len(rows),) mask: not ``blocked`` (sorted rows of seen or excluded items),
    in an included category (if any), in no excluded one. ``include``/``exclude``
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
    if len(rows) > k:
        part = np.argpartition(-scores, k - 1)[:k]
        rows, scores = rows[part], scores[part]
    order = np.lexsort((rows, -scores))
    return rows[order], scores[order]
