"""Observed/future splits of users' timelines (attention-CF paper, section 4.2).

The paper "temporally partitions each user's item interactions into a set of
future and observed item interactions", S_u and T_u, and learns to predict S_u
from T_u. ``FutureBatcher`` draws, for a batch of users, a cut point in each
timeline: the ``history`` events before it are T_u (right-aligned, padded on
the left) and the ``future`` events after it are S_u. ``cut="random"`` draws a
fresh cut every time (many partitions of one timeline over the epochs, which a
small data set needs); ``cut="last"`` keeps the last ``future`` events as S_u
(a fixed hold-out). All numpy, vectorised over the batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bundle.history import Sequences

CUTS = ("random", "last")


@dataclass(frozen=True)
class FutureBatch:
    """Padded arrays; masks are 1.0 on real entries and 0.0 on padding."""

    history: np.ndarray  # (B, H) int64 item rows of T_u, the latest last
    history_mask: np.ndarray  # (B, H) float32
    future: np.ndarray  # (B, F) int64 item rows of S_u
    future_mask: np.ndarray  # (B, F) float32
    timelines: np.ndarray  # (B,) rows of the batcher's sequences the cuts are of


class FutureBatcher:
    """Cuts of the timelines in ``sequences`` with at least two events."""

    def __init__(self, sequences: Sequences, history: int, future: int) -> None:
        if history < 1 or future < 1:
            raise ValueError("history and future must be >= 1")
        self.sequences = sequences
        self.history, self.future = history, future
        self.rows = np.flatnonzero(sequences.lengths >= 2)

    def __len__(self) -> int:
        return len(self.rows)

    def batch(
        self, rows: np.ndarray, rng: np.random.Generator | None = None, cut: str = "random"
    ) -> FutureBatch:
        """The split of the timelines ``self.rows[rows]``."""
        if cut not in CUTS:
            raise ValueError(f"cut must be one of {CUTS}, got {cut!r}")
        seqs = self.sequences
        which = self.rows[rows]
        start = seqs.indptr[which]
        length = seqs.indptr[which + 1] - start
        if cut == "random":
            if rng is None:
                raise ValueError("a random cut needs a generator")
            at = rng.integers(1, length)  # T_u = events [0, at), S_u = [at, at + F)
        else:
            at = np.maximum(1, length - self.future)
        h = np.arange(self.history)[None, :]
        first = (at - self.history)[:, None] + h  # positions in the timeline
        history_mask = first >= 0
        f = at[:, None] + np.arange(self.future)[None, :]
        future_mask = f < length[:, None]
        item = seqs.item.astype(np.int64)
        history_items = np.where(history_mask, item[start[:, None] + np.maximum(first, 0)], 0)
        future_items = np.where(
            future_mask, item[start[:, None] + np.minimum(f, length[:, None] - 1)], 0
        )
        return FutureBatch(
            history_items, history_mask.astype(np.float32),
            future_items, future_mask.astype(np.float32), which,
        )  # fmt: skip

    def items_of(self, batch: FutureBatch) -> tuple[np.ndarray, np.ndarray]:
        """(batch row, item) of every event of each cut's whole timeline."""
        part = self.sequences.take(batch.timelines)
        return part.row_ids(), part.item.astype(np.int64)
