"""The one history type and the one history policy, shared by training, export and serving.

``Sequences`` holds the events of several users (or one) in CSR layout, oldest
first: the training harness slices logs with it, the exporter checks bundles
with it and the server encodes a Recommend call's history with it. The
``HistoryPolicy`` a bundle declares (``cut_history``) is what turns a stored
history into model input everywhere, so a model cannot be trained on one cut
and served with another.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True)
class Sequences:
    """Per-user, time-ordered events in CSR layout.

    Row ``r`` owns ``item[indptr[r]:indptr[r+1]]`` (and the same slice of the
    other arrays), oldest event first. Shapes: ``indptr`` (R+1,), all others (E,).
    Items are the model's item rows (dense indices).
    """

    indptr: np.ndarray  # (R+1,) int64
    item: np.ndarray  # (E,) int item rows
    timestamp: np.ndarray  # (E,) float64 unix seconds
    event_type: np.ndarray  # (E,) int codes of the event type vocabulary
    value: np.ndarray  # (E,) float32

    def __len__(self) -> int:
        return len(self.indptr) - 1

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.indptr)

    @classmethod
    def single(
        cls,
        items: np.ndarray,
        timestamps: np.ndarray,
        event_types: np.ndarray | None = None,
        values: np.ndarray | None = None,
    ) -> Sequences:
        """One user's events (event type 0 and value 1 unless given)."""
        n = len(items)
        return cls(
            np.array([0, n], dtype=np.int64),
            np.asarray(items, dtype=np.int64),
            np.asarray(timestamps, dtype=np.float64),
            np.zeros(n, np.int64) if event_types is None else np.asarray(event_types, np.int64),
            np.ones(n, np.float32) if values is None else np.asarray(values, np.float32),
        )

    @classmethod
    def from_lists(
        cls, items: list[list[int]], timestamps: list[list[float]] | None = None
    ) -> Sequences:
        """Build from Python lists (tests, small inputs); event type 0 and value 1."""
        lengths = np.array([len(r) for r in items], dtype=np.int64)
        indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        flat = np.array([i for r in items for i in r], dtype=np.int32)
        if timestamps is None:
            ts: list[float] = [float(t) for n in lengths for t in range(n)]
        else:
            ts = [t for r in timestamps for t in r]
        n = len(flat)
        return cls(
            indptr,
            flat,
            np.asarray(ts, dtype=np.float64),
            np.zeros(n, np.int8),
            np.ones(n, np.float32),
        )

    def row_ids(self) -> np.ndarray:
        """(E,) the row each event belongs to."""
        return np.repeat(np.arange(len(self), dtype=np.int64), self.lengths)

    def positions(self) -> np.ndarray:
        """(E,) each event's position inside its row, 0 for the oldest."""
        return np.arange(len(self.item), dtype=np.int64) - np.repeat(self.indptr[:-1], self.lengths)

    def _gather(self, event_index: np.ndarray, lengths: np.ndarray) -> Sequences:
        indptr = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        return Sequences(
            indptr,
            self.item[event_index],
            self.timestamp[event_index],
            self.event_type[event_index],
            self.value[event_index],
        )

    def event_index(self, rows: np.ndarray) -> np.ndarray:
        """Flat indices of the events of ``rows``, row after row."""
        rows = np.asarray(rows, dtype=np.int64)
        lengths = self.lengths[rows]
        starts = np.repeat(self.indptr[rows], lengths)
        offsets = np.arange(lengths.sum(), dtype=np.int64) - np.repeat(
            np.cumsum(lengths) - lengths, lengths
        )
        return starts + offsets

    def take(self, rows: np.ndarray) -> Sequences:
        """The sub-sequences of ``rows``, in that order."""
        rows = np.asarray(rows, dtype=np.int64)
        return self._gather(self.event_index(rows), self.lengths[rows])

    def first_occurrence(self, last: bool = False) -> np.ndarray:
        """(E,) true for the first (or, with ``last``, the latest) event of each
        (row, item) pair."""
        rows = self.row_ids()
        arrival = np.arange(len(rows))
        order = np.lexsort((-arrival if last else arrival, self.item, rows))
        pairs = np.stack([rows[order], self.item[order]])
        new = np.ones(len(order), dtype=bool)
        new[1:] = np.any(pairs[:, 1:] != pairs[:, :-1], axis=0)
        first = np.zeros(len(order), dtype=bool)
        first[order[new]] = True
        return first

    def distinct(self, keep: str = "first") -> Sequences:
        """One event per (row, item), the ``first`` or the ``last``; time order kept."""
        if keep not in ("first", "last"):
            raise ValueError("keep must be 'first' or 'last'")
        return self.select(self.first_occurrence(last=keep == "last"))

    def select(self, mask: np.ndarray) -> Sequences:
        """Keep the events where ``mask`` (E,) is true, rows unchanged."""
        mask = np.asarray(mask, dtype=bool)
        lengths = np.bincount(self.row_ids()[mask], minlength=len(self))
        return self._gather(np.flatnonzero(mask), lengths)

    def last(self, n: int) -> Sequences:
        """Keep at most the ``n`` most recent events of each row."""
        from_end = np.repeat(self.lengths, self.lengths) - self.positions()
        return self.select(from_end <= n)

    def last_times(self, empty: float = 0.0) -> np.ndarray:
        """(R,) time of each row's latest event (``empty`` for an empty row)."""
        out = np.full(len(self), empty, dtype=np.float64)
        filled = self.lengths > 0
        out[filled] = self.timestamp[self.indptr[1:][filled] - 1]
        return out

    def padded(self) -> tuple[np.ndarray, np.ndarray]:
        """(R, L) int64 item rows and float32 mask (1 on events), padded at the end to
        the longest row (at least one column)."""
        width = max(1, int(self.lengths.max()) if len(self) else 1)
        items = np.zeros((len(self), width), dtype=np.int64)
        mask = np.zeros((len(self), width), dtype=np.float32)
        rows, cols = self.row_ids(), self.positions()
        items[rows, cols] = self.item
        mask[rows, cols] = 1.0
        return items, mask

    def to_csr(self, n_items: int, weights: np.ndarray | None = None) -> sp.csr_matrix:
        """(R, n_items) matrix; repeated items sum, binary unless ``weights`` given."""
        data = np.ones(len(self.item), np.float32) if weights is None else weights
        # copy=True: sum_duplicates() below works in place and must not touch self.item
        matrix = sp.csr_matrix(
            (data, self.item, self.indptr), shape=(len(self), n_items), dtype=np.float32, copy=True
        )
        matrix.sum_duplicates()
        if weights is None:
            matrix.data[:] = 1.0
        return matrix


@dataclass(frozen=True)
class HistoryPolicy:
    """How a stored history becomes model input: keep each item's latest event only
    (``distinct_items``), then the latest ``max_length`` events."""

    max_length: int = 200
    distinct_items: bool = False

    def __post_init__(self) -> None:
        if self.max_length < 1:
            raise ValueError(f"history.max_length must be >= 1, got {self.max_length}")


def cut_history(history: Sequences, policy: HistoryPolicy) -> Sequences:
    """Apply ``policy`` to every row, vectorised over the rows; time order is kept."""
    if len(history) == 1:  # one Recommend call: the same cut without per-row bookkeeping
        return _cut_one(history, policy)
    index = np.arange(len(history.item))
    if policy.distinct_items and len(index):
        index = np.flatnonzero(history.first_occurrence(last=True))
    user = history.row_ids()[index]
    counts = np.bincount(user, minlength=len(history))
    from_end = np.cumsum(counts)[user] - np.arange(len(index))  # 1 for a row's latest
    index = index[from_end <= policy.max_length]
    return history._gather(
        index, np.bincount(user[from_end <= policy.max_length], minlength=len(history))
    )


def _cut_one(history: Sequences, policy: HistoryPolicy) -> Sequences:
    n = len(history.item)
    index = np.arange(n)
    if policy.distinct_items and n:
        # each item's latest position; a dict of <= max_history entries costs half of
        # np.unique on the request path and tells at once when nothing repeats
        latest = {item: k for k, item in enumerate(history.item.tolist())}
        if len(latest) < n:
            index = np.fromiter(sorted(latest.values()), dtype=np.int64, count=len(latest))
    index = index[max(0, len(index) - policy.max_length) :]
    if len(index) == n:
        return history
    return history._gather(index, np.array([len(index)]))
