"""Stage ``rescore``: exact inner product plus the real-time trend bias.

    score_j = <q, x_j> + beta * log(alpha + c_j(now))

``x_j`` holds the model's item vector with its bias b_j folded in, ``c_j`` is
the item's decayed event count (HRNN-meta sec. 3.2, eq. 5: multiplying the
model's probability by the item's exposure share adds its log). Counts of
items outside the trend snapshot are taken as 0, so they all share the same
(lowest) trend term and keep their model order.
"""

from __future__ import annotations

import numpy as np


def trend_bias(
    item_count: int, rows: np.ndarray, counts: np.ndarray, beta: float, alpha: float
) -> np.ndarray:
    """(I,) float32 trend term for every item row."""
    bias = np.full(item_count, beta * np.log(alpha), dtype=np.float32)
    if len(rows):
        bias[rows] = beta * np.log(alpha + counts)
    return bias


def exact_scores(
    vectors: np.ndarray, candidates: np.ndarray, query: np.ndarray, bias: np.ndarray
) -> np.ndarray:
    return vectors[candidates] @ query + bias[candidates]
