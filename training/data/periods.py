"""Past/future training examples for the predictor paper (sec. 3.1, Figure 1).

A date ``dxy`` cuts the training log: a user's events before it are the
input X (with their ages at dxy), the events from it on are the output Y.
Several staggered cuts (``windows``) give more examples from a short log,
each cut ``step`` earlier than the next; only users with at least
``min_input`` events in X and one in Y are kept, as the paper does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bundle.history import Sequences
from training.data.interactions import Interactions


@dataclass(frozen=True)
class Periods:
    """E examples: ``inputs`` row e holds the user's X events (ages in seconds at the
    cut ``now[e]``), ``outputs`` row e their Y items."""

    users: np.ndarray  # (E,) dense user index
    inputs: Sequences  # E rows of X events, oldest first
    outputs: Sequences  # E rows of Y events
    now: np.ndarray  # (E,) the cut dxy of each example, unix seconds

    def __len__(self) -> int:
        return len(self.users)


def periods(
    train: Interactions, target_fraction: float = 0.1, windows: int = 1, min_input: int = 2
) -> Periods:
    """The examples of ``windows`` cuts; the latest leaves ``target_fraction`` of the
    events after it, each earlier cut as many events earlier."""
    if not 0 < target_fraction < 1 or windows < 1:
        raise ValueError("target_fraction must be in (0, 1) and windows >= 1")
    seqs = train.sequences()
    times = np.sort(train.timestamp)
    end = float(times[-1]) + 1.0 if len(times) else 0.0
    parts = []
    for w in range(windows):
        high = 1.0 - w * target_fraction
        low = high - target_fraction
        if low <= 0:
            break
        cut = float(np.quantile(times, low))
        stop = end if w == 0 else float(np.quantile(times, high))
        is_x = seqs.timestamp < cut
        is_y = (seqs.timestamp >= cut) & (seqs.timestamp < stop)
        rows = seqs.row_ids()
        n_x = np.bincount(rows[is_x], minlength=len(seqs))
        n_y = np.bincount(rows[is_y], minlength=len(seqs))
        users = np.flatnonzero((n_x >= min_input) & (n_y >= 1))
        parts.append((users, seqs.select(is_x).take(users), seqs.select(is_y).take(users), cut))
    if not parts:
        raise ValueError("the training log is too short for one past/future cut")
    return Periods(
        np.concatenate([p[0] for p in parts]),
        _concat([p[1] for p in parts]),
        _concat([p[2] for p in parts]),
        np.concatenate([np.full(len(p[0]), p[3]) for p in parts]),
    )


def _concat(parts: list[Sequences]) -> Sequences:
    lengths = np.concatenate([p.lengths for p in parts])
    indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    return Sequences(
        indptr,
        np.concatenate([p.item for p in parts]),
        np.concatenate([p.timestamp for p in parts]),
        np.concatenate([p.event_type for p in parts]),
        np.concatenate([p.value for p in parts]),
    )
