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

import numpy as np


def trend_bias(
    item_count: int, rows: np.ndarray, counts: np.ndarray, beta: float, alpha: float
) -> np.ndarray:
    """(I,) float32 trend term for every item row."""
    bias = np.full(item_count, beta * np.log(alpha), dtype=np.float32)
    if len(rows):
        bias[rows] = beta * np.log(alpha + counts)
    return bias


def pool_scores(
    rows: np.ndarray,
    model: np.ndarray,
    trending: np.ndarray,
    trending_vectors: np.ndarray,
    is_trending: np.ndarray,
    bias: np.ndarray,
    query: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The pool (candidate ``rows`` with their model scores ``model`` = <q, x_j>,
    plus the ``trending`` rows, whose vectors are ``trending_vectors``) and every
    pool item's full score, model + trend term. ``is_trending`` is the (I,) mask of
    ``trending``; candidates that are trending are taken once, from the trending side.
    """
    fresh = ~is_trending[rows]
    pool = np.concatenate((rows[fresh], trending))
    scores = np.concatenate((model[fresh], trending_vectors @ query))
    return pool, scores + bias[pool]
