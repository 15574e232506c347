"""Stage ``history``: the user's stored events, mapped to the bundle's item rows, or, for
a stateful bundle, the user's state caught up with them (``service.core.states``;
its window holds the rows, so a current state maps nothing).

The mapped history is memoised with the user (``MemoCache``, valid for one
version of their events), so a repeated call reads the store and finds the
memo; only a new history is mapped again. Events on items the bundle does not know stay in the
store (a later bundle may know them) and are only left out of the model input.
"""

from __future__ import annotations

from bundle.loader import Bundle
from service.core.memo import MemoCache, UserMemo, version_of
from service.core.rows import model_items, to_history
from service.core.stages.base import Call
from service.core.stages.select import blocked_set
from service.core.states import StateKeeper
from service.metrics import Metrics
from service.store.base import EventStore, StoredEvent


class HistoryStage:
    name = "history"

    def __init__(
        self,
        store: EventStore,
        max_history: int,
        cache: MemoCache,
        metrics: Metrics,
        states: StateKeeper,
    ) -> None:
        self.store = store
        self.states = states
        self.max_history = max_history
        self.cache = cache
        self.metrics = metrics
        cache_lookups = metrics.user_cache
        self._outcome = {True: cache_lookups.labels("hit"), False: cache_lookups.labels("miss")}

    def run(self, call: Call) -> None:
        """Sets ``call.memo`` to the user's memo, or leaves it None with ``call.reason``
        when no event maps to a bundle item (the cold-start source answers)."""
        if call.given is None:
            events = self.store.recent(call.request.user_id, self.max_history)
        else:  # a smoke test of a bundle before it serves: no store, no cache
            events = call.given
        call.events = events
        if not events:
            call.reason = "no_history"
            return
        bundle = call.bundle
        if call.given is None:  # the pipeline puts the memo back, measured, when done
            call.version = version_of(bundle, events, call.now)
        user = call.request.user_id
        memo = self.cache.get(user, call.version) if call.version is not None else None
        self._outcome[memo is not None].inc()
        if memo is None:
            memo = self._memo(call, bundle, events)
        if memo.known == 0:
            call.reason = "no_known_items"
            return
        call.memo = memo

    def _memo(self, call: Call, bundle: Bundle, events: list[StoredEvent]) -> UserMemo:
        """A new memo of ``events``: the seen set (items registered while serving
        included: never recommended back), and the mapped history when a stage reads
        it (a one-pass encoder, a re-ranker), or the user's state caught up with the
        events (a stateful bundle: its window holds the seen items)."""
        if bundle.states is not None and bundle.reranker is None:
            return self._from_state(call, bundle, events)
        rows = bundle.items.rows([e.item_id for e in events])
        known = int(model_items(bundle, rows).sum())
        if unknown := int((rows < 0).sum()):
            self.metrics.unknown_items.inc(unknown)
        history, _ = to_history(bundle, events, rows)
        return UserMemo(history, blocked_set(rows[rows >= 0]), known)

    def _from_state(self, call: Call, bundle: Bundle, events: list[StoredEvent]) -> UserMemo:
        state = self.states.current(bundle, call.request.user_id, events, call.given is None)
        window = state.window
        assert window is not None  # catch_up always gives one
        model = window >= 0
        known = int(model.sum())
        if bundle.live and known < len(window):  # -1 may be a live item: seen all the same
            rows = bundle.items.rows([e.item_id for e in events])
            unknown, seen = int((rows < 0).sum()), rows[rows >= 0]
        else:
            unknown, seen = len(window) - known, window[model]
        if unknown:
            self.metrics.unknown_items.inc(unknown)
        return UserMemo(None, blocked_set(seen), known, state=state)
