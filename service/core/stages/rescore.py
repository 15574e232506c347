"""Stage ``rescore``: exact inner product plus the real-time trend bias.

    score_j = <q, x_j> + beta * log(alpha + c_j(now))

``x_j`` holds the model's item vector with its bias b_j folded in, ``c_j`` is
the item's decayed event count (HRNN-meta sec. 3.2, eq. 5: multiplying the
model's probability by the item's exposure share adds its log). Counts of
items outside the trend snapshot are taken as 0, so they all share the same
(lowest) trend term and keep their model order.

``TrendView`` holds one snapshot's terms for every item and its top trending
items, which ``retrieve.pool`` adds to the candidates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def trend_bias(
    item_count: int, rows: np.ndarray, counts: np.ndarray, beta: float, alpha: float
) -> np.ndarray:
    """(I,) float32 trend term for every item row."""
    bias = np.full(item_count, beta * np.log(alpha), dtype=np.float32)
    if len(rows):
        bias[rows] = beta * np.log(alpha + counts)
    return bias


@dataclass(frozen=True)
class TrendView:
    """One trend snapshot laid over one bundle's rows; every request shares it until
    the next snapshot."""

    bias: np.ndarray  # (I,) float32 trend term per row
    rows: np.ndarray  # (T,) the trending candidates, most trending first
    vectors: np.ndarray  # (T, D) their item vectors, contiguous
    not_trending: np.ndarray  # (I,) bool: row is not in ``rows``

    @classmethod
    def build(
        cls, vectors: np.ndarray, rows: np.ndarray, counts: np.ndarray, top: int,
        beta: float, alpha: float, previous: TrendView | None = None,
    ) -> TrendView:  # fmt: skip
        """From the snapshot's item ``rows`` (most trending first) and their ``counts``;
        the first ``top`` become candidates. When they are the ``previous`` view's
        (same bundle), its arrays are kept, the very same objects, so what was
        derived from the trending set stays valid (``rows`` is its identity)."""
        count = len(vectors)
        candidates = rows[:top]
        bias = trend_bias(count, rows, counts, beta, alpha)
        if previous is not None and np.array_equal(previous.rows, candidates):
            return cls(bias, previous.rows, previous.vectors, previous.not_trending)
        not_trending = np.ones(count, dtype=bool)
        not_trending[candidates] = False
        return cls(bias, candidates, vectors[candidates], not_trending)


def with_trend(view: TrendView, pool: np.ndarray, model: np.ndarray) -> np.ndarray:
    """Full scores: model score plus the current trend term of every pool item."""
    return model + view.bias[pool]
