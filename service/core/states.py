"""Users' states of a stateful bundle: read from the store, caught up, written back.

A stateful bundle (``bundle.state``) answers Recommend from a per-user state
instead of re-encoding the history. The state lives in the event store next
to the history, under the bundle's key (its content identity), and says which
stored event it covers last (its cursor). ``catch_up`` brings a state up to
the user's stored events:

- the cursor is the latest stored event: the state is current;
- the cursor is an earlier stored event: ``step`` the events after it (the
  usual case after RecordEvents on another replica, or a lost write);
- no state, a state of unreadable bytes, or a cursor no longer among the
  stored events (a new bundle, a store restart, more than ``max_history``
  events since): recompute from the stored history cut by the encoder's
  policy, which is the one-pass encoder's own input.

So a state holds every event stepped since it was last recomputed, while the
one-pass encoder reads only the latest ``history.max_length``; both agree
until a user's history outgrows that length. The state's window (the rows of
the stored events it covers) moves with it: a step appends the new events'
rows and drops those the store dropped, so a current state gives the history
stage the user's seen items without mapping their events. Writes are last-writer-wins: two
replicas stepping one user at once each write a state that is exact for the
events its cursor names, and the next reader steps whatever is missing.
"""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager, nullcontext
from dataclasses import replace
from typing import Any

import numpy as np

from bundle.history import cut_history
from bundle.inputs import UserContext
from bundle.loader import Bundle
from bundle.state import UserState
from service.core.rows import to_history, window_rows
from service.metrics import Metrics
from service.store.base import EventStore, StoredEvent

log = logging.getLogger("recserve")


def state_key(bundle: Bundle) -> str:
    """The store key of a bundle's states: its content identity, shortened."""
    return bundle.identity[:16]


def _after_cursor(state: UserState, events: list[StoredEvent]) -> int | None:
    """The index of the first stored event after the state's cursor; None when the
    cursor is not among ``events`` (searched from the newest)."""
    cursor = state.cursor
    if cursor is None:
        return 0 if state.events == 0 else None
    for k in range(len(events) - 1, -1, -1):  # the cursor is almost always near the end
        if events[k] == cursor:
            return k + 1
    return None


class StateKeeper:
    """Reads, catches up and writes users' states (see the module docstring)."""

    def __init__(self, store: EventStore, metrics: Metrics) -> None:
        self.store = store
        counter = metrics.user_states
        self._outcome = {
            name: counter.labels(name) for name in ("current", "stepped", "recomputed", "error")
        }

    def load(self, bundle: Bundle, user_id: str) -> UserState | None:
        """The user's stored state for ``bundle`` (None: none, or unreadable)."""
        assert bundle.states is not None
        blob = self.store.get_state(user_id, state_key(bundle))
        return None if blob is None else UserState.from_bytes(blob, bundle.states.width)

    def catch_up(
        self,
        bundle: Bundle,
        state: UserState | None,
        events: list[StoredEvent],
        users: UserContext | None,
    ) -> tuple[UserState, bool]:
        """The state covering ``events`` (the user's stored events, oldest first), with
        their window, and whether it differs from ``state`` (so it should be written
        back)."""
        states = bundle.states
        assert states is not None
        cursor = tuple(events[-1]) if events else None
        start = None if state is None else _after_cursor(state, events)
        if state is not None and start == len(events):
            if state.window is not None and len(state.window) == len(events):
                self._outcome["current"].inc()
                return state, False
            # current, but its window is missing or covers a different span
            return replace(state, window=window_rows(bundle, events)), True
        if state is None or start is None:
            window = window_rows(bundle, events)
            history, _ = to_history(bundle, events, window)
            history = cut_history(history, bundle.manifest.encoder.history)
            self._outcome["recomputed"].inc()
            fresh = states.advance(states.empty(), history, users, None, cursor)
            return replace(fresh, window=window), True
        added = window_rows(bundle, events[start:])
        todo, _ = to_history(bundle, events[start:], added)
        held = state.window
        if held is not None and len(held) >= start:  # the stored events before the new ones
            window = np.concatenate((held[len(held) - start :], added))
        else:
            window = window_rows(bundle, events)
        prior = None
        if states.needs_prior:  # the rows already in the history
            before = window[:start]
            prior = set(before[before >= 0].tolist())
        self._outcome["stepped"].inc()
        return replace(states.advance(state, todo, users, prior, cursor), window=window), True

    def current(
        self,
        bundle: Bundle,
        user_id: str,
        events: list[StoredEvent],
        persist: bool = True,
        compute: AbstractContextManager[Any] | None = None,
    ) -> UserState:
        """The user's state caught up with ``events``, written back when it moved
        (``persist`` False: neither read nor written, as in a smoke test); ``compute``
        is held around the catch-up only, not the store's read and write."""
        stored = self.load(bundle, user_id) if persist else None
        with compute or nullcontext():
            users = bundle.user_context((user_id,))
            state, changed = self.catch_up(bundle, stored, events, users)
        if changed and persist:
            self.save(bundle, user_id, state)
        return state

    def save(self, bundle: Bundle, user_id: str, state: UserState) -> None:
        self.store.put_state(user_id, state_key(bundle), state.to_bytes())

    def failed(self, user_id: str, error: Exception) -> None:
        """A state update that did not happen: counted and logged; the next read of the
        user's state steps or recomputes what is missing."""
        self._outcome["error"].inc()
        log.warning("state of user %r not updated: %s", user_id, error)
