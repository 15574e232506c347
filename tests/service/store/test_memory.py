"""The in-process store keeps one string per distinct item id."""

from __future__ import annotations

import sys

from service.store.base import StoredEvent
from service.store.memory import MemoryStore


def test_stored_events_share_one_interned_string_per_item_id() -> None:
    store = MemoryStore(max_history=10)
    # ids built at run time, as a transport decodes them: equal text, distinct objects
    first, second = "".join(["item-", "7"]), "".join(["item", "-7"])
    assert first is not second
    store.append([StoredEvent("u1", first, 1.0, "view", 1.0)])
    store.append([StoredEvent("u2", second, 2.0, "view", 1.0)])
    (a,), (b,) = store.recent("u1", 10), store.recent("u2", 10)
    assert a.item_id is b.item_id is sys.intern("item-7")
    assert a == StoredEvent("u1", "item-7", 1.0, "view", 1.0)  # nothing else changed
