"""Stage ``history``: the user's stored events, mapped to the bundle's item rows.

The mapped history is memoised with the user (``MemoCache``, valid for one
version of their events), so a repeated call reads the store and finds the
memo; only a new history is mapped again. Events on items the bundle does not know stay in the
store (a later bundle may know them) and are only left out of the model input.
"""

from __future__ import annotations

import numpy as np

from bundle.history import Sequences
from bundle.loader import Bundle
from service.core.memo import MemoCache, UserMemo, version_of
from service.core.stages.base import Call
from service.core.stages.select import blocked_set
from service.metrics import Metrics
from service.store.base import EventStore, StoredEvent


def to_history(bundle: Bundle, events: list[StoredEvent]) -> tuple[Sequences, int]:
    """One-row ``Sequences`` of the events on known items, and how many were unknown."""
    if not events:
        return Sequences.single(np.zeros(0, np.int64), np.zeros(0)), 0
    _, items, stamps, kinds, values, _ = zip(*events, strict=True)
    rows = bundle.items.rows(items)
    known = (rows >= 0) & (rows < bundle.indexed)  # the model's own items
    history = Sequences.single(
        rows[known],
        np.array(stamps, dtype=np.float64)[known],
        bundle.event_type_codes(kinds)[known],
        np.array(values, dtype=np.float32)[known],
    )
    return history, len(rows) - int(known.sum())


class HistoryStage:
    name = "history"

    def __init__(self, store: EventStore, max_history: int, cache: MemoCache, metrics: Metrics):
        self.store = store
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
        cacheable = not bundle.manifest.encoder.now_dependent and call.given is None
        if cacheable:  # the pipeline puts the memo back, measured, when the call is done
            call.version = version_of(bundle.identity, events)
        user = call.request.user_id
        memo = self.cache.get(user, call.version) if call.version is not None else None
        self._outcome[memo is not None].inc()
        if memo is None:
            history, unknown = to_history(bundle, events)
            if unknown:
                self.metrics.unknown_items.inc(unknown)
            seen = history.item
            if bundle.live:  # items registered while serving are never recommended back
                rows = bundle.items.rows([e.item_id for e in events])
                seen = np.concatenate((seen, rows[rows >= bundle.indexed]))
            memo = UserMemo(history, blocked_set(seen), unknown)
        if memo.history is not None and len(memo.history.item) == 0:
            call.reason = "no_known_items"
            return
        call.memo = memo
