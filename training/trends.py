"""Decayed item counts as the server's trend term would have seen them, offline.

The server adds ``beta * log(alpha + c_j(now))`` to every score, where
``c_j(now) = sum_e 2^(-(now - t_e) / h)`` over item j's events before now
(``service.trends``, HRNN-meta sec. 3.2). To choose ``beta`` for a model at
export, the same counts are needed at each validation user's query time,
from the training log: ``decayed_counts`` computes them, sparse, over the
events of the last ``horizon`` half-lives (older events weigh < 2^-horizon).

Training with the trend offset (HRNN-meta) asks for the counts of a few
items at every training position, batch after batch: ``DecayedCounter`` reads
them from per-item running counts made once per log, instead of summing the
log's recent events again for every batch.
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


class DecayedCounter:
    """``c_j(t)`` for any (time, item) pairs from one pass over a log.

    Events sorted by (item, time) carry the item's decayed count just after them,
    ``after_k = after_(k-1) * 2^(-(t_k - t_(k-1)) / h) + 1`` (a recurrence, so no
    power of a long time span overflows); the count at ``t`` is the last event
    strictly before ``t`` decayed to ``t``, 0 when there is none."""

    def __init__(self, train: Interactions, half_life: float) -> None:
        self.half_life = half_life
        self.n_items = train.n_items
        order = np.lexsort((train.timestamp, train.item))
        items, times = train.item[order].astype(np.int64), train.timestamp[order].astype(np.float64)
        self._start = np.searchsorted(items, np.arange(self.n_items + 1), side="left")
        self._times = times
        factor = np.exp2(-np.diff(times, prepend=times[:1]) / half_life).tolist()
        same = np.diff(items, prepend=-1) == 0  # the item's previous event is the row above
        after = [1.0] * len(times)
        for k in np.flatnonzero(same).tolist():  # one pass over the log
            after[k] += after[k - 1] * factor[k]
        self._after = np.array(after)
        # a key that sorts by item, then time: the search for "last event before t"
        self._origin = float(times.min()) if len(times) else 0.0
        self._span = float(times.max() - self._origin) + 1.0 if len(times) else 1.0
        self._keys = items * self._span + (times - self._origin)

    def at(self, now: np.ndarray, cols: np.ndarray | None = None) -> np.ndarray:
        """(len(now), n) counts: of items ``cols`` (len(now), n) at each row's time, or of
        every item (``cols`` None)."""
        now = np.asarray(now, dtype=np.float64)
        if cols is None:
            cols = np.broadcast_to(np.arange(self.n_items), (len(now), self.n_items))
        when = np.broadcast_to(now[:, None], cols.shape)
        # within the item's own key range: before its first possible key, after its last
        offset = np.clip(when - self._origin, -0.5, self._span - 0.5)
        keys = cols * self._span + offset
        last = np.searchsorted(self._keys, keys, side="left") - 1  # last event before now
        has = last >= self._start[cols]
        last = np.where(has, last, 0)
        decay = np.exp2(-(when - self._times[last]) / self.half_life)
        return np.where(has, self._after[last] * decay, 0.0)
