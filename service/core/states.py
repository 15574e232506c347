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
until a user's history outgrows that length. Writes are last-writer-wins: two
replicas stepping one user at once each write a state that is exact for the
events its cursor names, and the next reader steps whatever is missing.
"""

from __future__ import annotations

import logging

from bundle.history import cut_history
from bundle.inputs import UserContext
from bundle.loader import Bundle
from bundle.state import UserState
from service.core.stages.history import to_history
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
        """The state covering ``events`` (the user's stored events, oldest first), and
        whether it differs from ``state`` (so it should be written back)."""
        states = bundle.states
        assert states is not None
        cursor = tuple(events[-1]) if events else None
        start = None if state is None else _after_cursor(state, events)
        if state is not None and start == len(events):
            self._outcome["current"].inc()
            return state, False
        if state is None or start is None:
            history, _ = to_history(bundle, events)
            history = cut_history(history, bundle.manifest.encoder.history)
            self._outcome["recomputed"].inc()
            return states.advance(states.empty(), history, users, None, cursor), True
        todo, _ = to_history(bundle, events[start:])
        prior = None
        if states.needs_prior:  # rows of the new events' items already in the history
            held = {e.item_id for e in events[:start]}
            again = [e.item_id for e in events[start:] if e.item_id in held]
            prior = set(bundle.items.rows(again).tolist()) if again else set()
        self._outcome["stepped"].inc()
        return states.advance(state, todo, users, prior, cursor), True

    def save(self, bundle: Bundle, user_id: str, state: UserState) -> None:
        self.store.put_state(user_id, state_key(bundle), state.to_bytes())

    def failed(self, user_id: str, error: Exception) -> None:
        """A state update that did not happen: counted and logged; the next read of the
        user's state steps or recomputes what is missing."""
        self._outcome["error"].inc()
        log.warning("state of user %r not updated: %s", user_id, error)
