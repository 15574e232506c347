"""Stage ``select``: drop seen and filtered items, keep the top k."""

from __future__ import annotations

import numpy as np

from service.bundle import Bundle


def allowed(
    bundle: Bundle,
    rows: np.ndarray,
    excluded: np.ndarray,
    include: np.ndarray,
    exclude: np.ndarray,
) -> np.ndarray:
    """(len(rows),) mask: not excluded, in an included category (if any), in no excluded one.

    ``include``/``exclude`` are category codes of the bundle's vocabulary.
    """
    keep = ~np.isin(rows, excluded)
    matrix = bundle.items.category_matrix
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
