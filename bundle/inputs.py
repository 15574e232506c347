"""The vocabulary of encoder inputs, and the one builder of encoder input arrays.

A bundle's manifest names each input of its user encoder and says how the
server fills it (its ``fill``). Two kinds exist:

- per event, shape (batch, history), from the user's (cut) history:
  ``item_rows`` (int64, 0 on padding), ``mask`` (float32, 1 on real events),
  ``age_seconds`` (float32, now minus the event time, >= 0),
  ``gap_seconds`` (float32, the event's time minus the previous event's in the
  cut history, >= 0, 0 for the first: exact where ages in float32 are not),
  ``event_types`` (int64 codes of the bundle's event types), ``values`` (float32);
- per user, from the request and the bundle's user table:
  ``user_vector`` (float32, (batch, width): the user's row of ``users.npy``,
  zeros for a user the model never saw), ``user_known`` (float32, (batch,):
  1 when the user has a row), ``seconds_since_last`` (float32, (batch,): now
  minus the latest event's time, 0 without history).

``build_inputs`` is used by the models' offline ``encode_user``, by the
exporter's parity check and by the server, so what was trained and checked is
what is served.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from bundle.history import Sequences, cut_history

if TYPE_CHECKING:
    from bundle.manifest import EncoderSpec


@dataclass(frozen=True)
class Fill:
    """One way of filling an encoder input: its dtype and what it is per."""

    dtype: str
    per: str  # "event": (batch, history) | "user": (batch,) | "user_vector": (batch, width)
    meaning: str


FILLS: dict[str, Fill] = {
    "item_rows": Fill("int64", "event", "item row of each event, 0 on padding"),
    "mask": Fill("float32", "event", "1.0 on real events, 0.0 on padding"),
    "age_seconds": Fill("float32", "event", "query time minus event time, seconds, >= 0"),
    "gap_seconds": Fill("float32", "event", "event time minus the previous event's, >= 0"),
    "event_types": Fill("int64", "event", "event type code (manifest event_types order)"),
    "values": Fill("float32", "event", "event value"),
    "user_vector": Fill("float32", "user_vector", "the user's row of users.npy, 0 if unknown"),
    "user_known": Fill("float32", "user", "1.0 when the user has a row in users.npy"),
    "seconds_since_last": Fill("float32", "user", "query time minus the latest event time"),
}
NOW_DEPENDENT = frozenset({"age_seconds", "seconds_since_last"})


@dataclass(frozen=True)
class UserContext:
    """Per-user inputs resolved from a user table: (B, width) vectors, (B,) known flags."""

    vectors: np.ndarray
    known: np.ndarray

    @classmethod
    def from_table(cls, table: np.ndarray, rows: np.ndarray) -> UserContext:
        """Rows of a (U, width) user table; a row of -1 is a user without one."""
        rows = np.asarray(rows, dtype=np.int64)
        if len(rows) == 1:  # one Recommend call: a row copy, no masks
            row = int(rows[0])
            if row < 0:
                return cls(np.zeros((1, table.shape[1]), np.float32), np.zeros(1, np.float32))
            return cls(np.array(table[row][None, :], np.float32), np.ones(1, np.float32))
        known = rows >= 0
        vectors = np.zeros((len(rows), table.shape[1]), dtype=np.float32)
        vectors[known] = table[rows[known]]
        return cls(vectors, known.astype(np.float32))


def _per_event(fill: str, history: Sequences, now: np.ndarray, row: np.ndarray) -> np.ndarray:
    if fill == "item_rows":
        return history.item
    if fill == "mask":
        return np.ones(len(history.item), dtype=np.float32)
    if fill == "age_seconds":
        return np.maximum(np.asarray(now, np.float64)[row] - history.timestamp, 0.0)
    if fill == "gap_seconds":  # differences of float64 times, then float32
        gap = np.zeros(len(history.item), np.float64)
        gap[1:] = np.diff(history.timestamp)
        gap[history.indptr[:-1][history.lengths > 0]] = 0.0  # each row's first event
        return np.maximum(gap, 0.0)
    if fill == "event_types":
        return history.event_type
    return history.value


def _per_user(
    fill: str, history: Sequences, now: np.ndarray, users: UserContext | None
) -> np.ndarray:
    if fill == "seconds_since_last":
        last = history.last_times(empty=np.nan)
        since = np.asarray(now, np.float64) - last
        return np.where(np.isnan(since), 0.0, np.maximum(since, 0.0))
    if users is None:
        raise ValueError(f"encoder input fill {fill!r} needs the user table's context")
    return users.vectors if fill == "user_vector" else users.known


def build_inputs(
    spec: EncoderSpec,
    history: Sequences,
    now: np.ndarray,
    users: UserContext | None = None,
) -> dict[str, np.ndarray]:
    """Arrays for every input of ``spec``: the history is cut by ``spec.history``
    and padded at the end to the longest row; ``now`` is (B,) query times."""
    history = cut_history(history, spec.history)
    b, n = len(history), len(history.item)
    out: dict[str, np.ndarray] = {}
    if b == 1:  # the common case, one Recommend call: no scatter needed
        row = np.zeros(n, dtype=np.int64)
        for entry in spec.inputs:
            fill = FILLS[entry.fill]
            if fill.per == "event":
                values = _per_event(entry.fill, history, now, row) if n else np.zeros(1)
                out[entry.name] = np.asarray(values, dtype=fill.dtype)[None, :]
            else:
                out[entry.name] = np.asarray(_per_user(entry.fill, history, now, users), fill.dtype)
        return out
    lengths = history.lengths
    width = max(1, int(lengths.max()) if b else 1)
    row = history.row_ids()
    position = history.positions()
    for entry in spec.inputs:
        fill = FILLS[entry.fill]
        if fill.per == "event":
            dense = np.zeros((b, width), dtype=fill.dtype)
            dense[row, position] = _per_event(entry.fill, history, now, row)
            out[entry.name] = dense
        else:
            out[entry.name] = np.asarray(_per_user(entry.fill, history, now, users), fill.dtype)
    return out
