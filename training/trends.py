"""Decayed item counts as the server's trend term would have seen them, offline.

The server adds ``beta * log(alpha + c_j(now))`` to every score, where
``c_j(now) = sum_e 2^(-(now - t_e) / h)`` over item j's events before now
(``service.trends``, HRNN-meta sec. 3.2). To choose ``beta`` for a model at
export, the same counts are needed at each validation user's query time,
from the training log: ``decayed_counts`` computes them, sparse, over the
events of the last ``horizon`` half-lives (older events weigh < 2^-horizon).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from training.data.interactions import Interactions


def decayed_counts(
    train: Interactions, now: np.ndarray, half_life: float, horizon: float = 20.0
) -> sp.csr_matrix:
    """(len(now), n_items) decayed counts of the events strictly before each ``now``."""
    order = np.argsort(train.timestamp, kind="stable")
    times, items = train.timestamp[order], train.item[order]
    now = np.asarray(now, dtype=np.float64)
    end = np.searchsorted(times, now, side="left")
    start = np.searchsorted(times, now - horizon * half_life, side="left")
    lengths = np.maximum(end - start, 0)
    rows = np.repeat(np.arange(len(now)), lengths)
    offsets = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    events = np.repeat(start, lengths) + offsets
    weights = np.exp2(-(now[rows] - times[events]) / half_life)
    counts = sp.csr_matrix(
        (weights, (rows, items[events])), shape=(len(now), train.n_items), dtype=np.float64
    )
    counts.sum_duplicates()
    return counts
