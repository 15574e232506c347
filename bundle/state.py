"""Stateful encoders at run time: a user's state, advanced one event at a time.

A stateful bundle carries two more graphs beside the one-pass encoder
(``manifest.stateful``):

- ``step.onnx``: (state, one event's inputs) -> the next state;
- ``readout.onnx``: (state, seconds since the last event, ...) -> the user vector.

RecordEvents advances the user's state by a ``step`` per new event; Recommend
runs only the ``readout``, so a request costs the same whatever the history
length. The graphs' inputs are named in the manifest with a ``fill`` from the
vocabulary below, like the one-pass encoder's (``bundle.inputs``):

step:    ``state`` (1, S), ``item_row``, ``delta_seconds`` (event time minus the
         previous stepped event's, 0 for the first), ``first`` (1.0 when no
         event was stepped before), ``event_type``, ``value``, ``new_item`` (1.0
         when the item is not earlier in the user's history: LED's distinct
         items), ``user_vector`` (1, U): each (1,) unless said (one user per
         call: the exporter fixes every shape)
readout: ``state``, ``seconds_since_last`` (query time minus the last stepped
         event), ``empty`` (1.0 when no event was stepped), ``user_vector``,
         ``user_known`` (1.0 when the user has a row of users.npy)

A ``UserState`` is the state vector plus what it covers: how many events were
stepped, the last one's time, the *cursor*, the last stored event it covers
(so the server knows which stored events still need a step), and the *window*:
the item rows of the stored events up to the cursor (-1 for an item the model
does not know), which the server keeps beside the vector so that a Recommend
finds the user's seen items without mapping their events again. It is
serialised to bytes for the store (``to_bytes``/``from_bytes``).

The exporter checks, on validation users, that stepping a history event by
event and reading out equals the one-pass encoder to its tolerance.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bundle.history import Sequences
from bundle.inputs import Fill, UserContext

if TYPE_CHECKING:
    from bundle.manifest import StatefulSpec

STEP_FILLS: dict[str, Fill] = {
    "state": Fill("float32", "state", "the user's state, (1, state_dim)"),
    "item_row": Fill("int64", "user", "the event's item row"),
    "delta_seconds": Fill("float32", "user", "event time minus the previous stepped event's"),
    "first": Fill("float32", "user", "1.0 when no event was stepped before this one"),
    "event_type": Fill("int64", "user", "event type code (manifest event_types order)"),
    "value": Fill("float32", "user", "event value"),
    "new_item": Fill("float32", "user", "1.0 when the item is not earlier in the history"),
    "user_vector": Fill("float32", "user_vector", "the user's row of users.npy, 0 if unknown"),
}
READOUT_FILLS: dict[str, Fill] = {
    "state": STEP_FILLS["state"],
    "seconds_since_last": Fill("float32", "user", "query time minus the last stepped event"),
    "empty": Fill("float32", "user", "1.0 when no event was stepped"),
    "user_vector": STEP_FILLS["user_vector"],
    "user_known": Fill("float32", "user", "1.0 when the user has a row in users.npy"),
}


@dataclass(frozen=True)
class UserState:
    """A user's state and what it covers (see the module docstring)."""

    vector: np.ndarray  # (S,) float32
    events: int = 0  # events stepped into it
    last_time: float = math.nan  # time of the last stepped event
    cursor: tuple[Any, ...] | None = None  # the last stored event covered (a StoredEvent)
    window: np.ndarray | None = None  # (n,) int32 rows of the stored events to the cursor

    def to_bytes(self) -> bytes:
        """A JSON header line (events, last time, cursor, window length or -1), then the
        float32 vector and the int32 window."""
        last = None if math.isnan(self.last_time) else self.last_time
        cursor = None if self.cursor is None else list(self.cursor)
        window = -1 if self.window is None else len(self.window)
        head = json.dumps([self.events, last, cursor, window], separators=(",", ":"))
        body = np.asarray(self.vector, np.float32).tobytes()
        if self.window is not None:
            body += np.asarray(self.window, np.int32).tobytes()
        return head.encode() + b"\n" + body

    @classmethod
    def from_bytes(cls, blob: bytes, width: int) -> UserState | None:
        """The state in ``blob``, or None when it is not one of ``width`` values (a
        damaged or foreign value is recomputed, never served)."""
        head, sep, body = blob.partition(b"\n")
        if not sep:
            return None
        try:
            events, last, cursor, *rest = json.loads(head)
            window = int(rest[0]) if rest else -1  # a state written without its window
        except (ValueError, TypeError):
            return None
        if len(body) != 4 * (width + max(window, 0)):
            return None
        vector = np.frombuffer(body, dtype=np.float32, count=width)
        rows = None if window < 0 else np.frombuffer(body, dtype=np.int32, offset=4 * width)
        return cls(vector, int(events), math.nan if last is None else float(last),
                   None if cursor is None else tuple(cursor), rows)  # fmt: skip


def _session(path: Path, providers: Sequence[str], threads: int) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=list(providers))


class StateEncoder:
    """onnxruntime sessions over ``step`` and ``readout`` plus their input builders."""

    def __init__(
        self, folder: Path, spec: StatefulSpec, providers: Sequence[str], threads: int = 1
    ) -> None:
        self.spec = spec
        self.width = spec.state_dim
        self._step = _session(folder / spec.step.file, providers, threads)
        self._readout = _session(folder / spec.readout.file, providers, threads)
        for graph, session in ((spec.step, self._step), (spec.readout, self._readout)):
            declared = {e.name for e in graph.inputs}
            found = {i.name for i in session.get_inputs()}
            if declared != found:
                raise ValueError(
                    f"{graph.file}: graph inputs {sorted(found)} != manifest inputs "
                    f"{sorted(declared)}"
                )
            if graph.output not in {o.name for o in session.get_outputs()}:
                raise ValueError(f"{graph.file}: graph lacks the declared output {graph.output}")
        self._step_fills = {e.fill: e.name for e in spec.step.inputs}
        self._read_fills = {e.fill: e.name for e in spec.readout.inputs}
        self.needs_prior = "new_item" in self._step_fills
        self._empty = UserState(np.zeros(self.width, np.float32))

    def empty(self) -> UserState:
        """The state of a user without events."""
        return self._empty

    def advance(
        self,
        state: UserState,
        events: Sequences,
        users: UserContext | None = None,
        prior: set[int] | None = None,
        cursor: tuple[Any, ...] | None = None,
    ) -> UserState:
        """``state`` advanced by ``step`` over the one-row ``events`` (item rows the
        bundle knows, oldest first); ``prior`` holds the item rows already in the
        history (for ``new_item``), ``cursor`` the stored event the result covers."""
        n = len(events.item)
        if n == 0:
            return UserState(state.vector, state.events, state.last_time, cursor or state.cursor)
        fills = self._step_fills
        user = None if users is None else users.vectors[:1]
        seen = set(prior or ()) if self.needs_prior else set()
        vector = np.asarray(state.vector, np.float32)[None, :]
        count, last = state.events, state.last_time
        items, stamps = events.item.tolist(), events.timestamp.tolist()
        kinds, values = events.event_type.tolist(), events.value.tolist()
        fixed = {} if "user_vector" not in fills else {fills["user_vector"]: self._user(user)}
        for k in range(n):  # a recurrence: each step reads the state the previous one wrote
            item, stamp = items[k], stamps[k]
            inputs = dict(fixed)  # only the fills the graph reads
            for fill, name in fills.items():
                if fill == "state":
                    inputs[name] = vector
                elif fill == "item_row":
                    inputs[name] = np.array([item], np.int64)
                elif fill == "delta_seconds":
                    delta = 0.0 if count == 0 else max(stamp - last, 0.0)
                    inputs[name] = np.array([delta], np.float32)
                elif fill == "first":
                    inputs[name] = np.array([1.0 if count == 0 else 0.0], np.float32)
                elif fill == "event_type":
                    inputs[name] = np.array([kinds[k]], np.int64)
                elif fill == "value":
                    inputs[name] = np.array([values[k]], np.float32)
                elif fill == "new_item":
                    inputs[name] = np.array([0.0 if item in seen else 1.0], np.float32)
            (vector,) = self._step.run([self.spec.step.output], inputs)
            seen.add(item)
            count, last = count + 1, stamp
        return UserState(np.asarray(vector[0], np.float32), count, last, cursor)

    def readout(self, state: UserState, now: float, users: UserContext | None = None) -> np.ndarray:
        """(D,) float32 user vector of ``state`` at query time ``now``."""
        fills = self._read_fills
        since = 0.0 if state.events == 0 else max(now - state.last_time, 0.0)
        known = {
            "state": np.asarray(state.vector, np.float32)[None, :],
            "seconds_since_last": np.array([since], np.float32),
            "empty": np.array([1.0 if state.events == 0 else 0.0], np.float32),
        }
        inputs = {name: known[fill] for fill, name in fills.items() if fill in known}
        if "user_vector" in fills:
            inputs[fills["user_vector"]] = self._user(None if users is None else users.vectors[:1])
        if "user_known" in fills:
            inputs[fills["user_known"]] = self._user(None if users is None else users.known[:1])
        (query,) = self._readout.run([self.spec.readout.output], inputs)
        return np.asarray(query[0], np.float32)

    def _user(self, vectors: np.ndarray | None) -> np.ndarray:
        if vectors is None:
            raise ValueError("the stateful graphs read the user table's context")
        return np.asarray(vectors, np.float32)
