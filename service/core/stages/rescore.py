"""Stage ``rescore``: exact inner product plus the real-time trend bias.

    score_j = <q, x_j> + beta * log(alpha + c_j(now))

``x_j`` holds the model's item vector with its bias b_j folded in, ``c_j`` is
the item's decayed event count (HRNN-meta sec. 3.2, eq. 5: multiplying the
model's probability by the item's exposure share adds its log). Counts of
items outside the trend snapshot are taken as 0, so they all share the same
(lowest) trend term and keep their model order.

The pool is the HNSW candidates united with the trending items (the static
index cannot know a sudden hit, ARCHITECTURE.md), each item once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from service.core.stages.select import is_member


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
        beta: float, alpha: float,
    ) -> TrendView:  # fmt: skip
        """From the snapshot's item ``rows`` (most trending first) and their ``counts``;
        the first ``top`` become candidates."""
        count = len(vectors)
        candidates = rows[:top]
        not_trending = np.ones(count, dtype=bool)
        not_trending[candidates] = False
        return cls(
            trend_bias(count, rows, counts, beta, alpha),
            candidates,
            vectors[candidates],
            not_trending,
        )


def pool_scores(
    view: TrendView, rows: np.ndarray, model: np.ndarray, query: np.ndarray, seen: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The pool and every pool item's full score, model + trend term.

    ``rows`` are the user's unseen HNSW candidates and ``model`` their <q, x_j>;
    the view's trending items join them unless ``seen`` (a ``blocked_set``)
    holds them. A candidate that is trending is taken once, from the trending side.
    """
    fresh = view.not_trending[rows]
    unseen = ~is_member(view.rows, seen)
    pool = np.concatenate((rows[fresh], view.rows[unseen]))
    scores = np.concatenate((model[fresh], (view.vectors @ query)[unseen]))
    return pool, scores + view.bias[pool]
