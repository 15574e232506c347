"""Stage ``history``: a user's recent events, mapped to the bundle's item rows."""

from __future__ import annotations

import numpy as np

from service.bundle import Bundle
from service.core.types import HistoryBatch
from service.store.base import EventStore, StoredEvent


def fetch(store: EventStore, user_id: str, limit: int) -> list[StoredEvent]:
    return store.recent(user_id, limit)


def to_batch(bundle: Bundle, events: list[StoredEvent]) -> tuple[HistoryBatch, int]:
    """One-row ``HistoryBatch`` of the events on known items, and how many were unknown.

    Unknown items stay in the stored history (a later bundle may know them);
    they are only skipped for encoding.
    """
    rows = bundle.items.rows([e.item_id for e in events])
    known = rows >= 0
    codes = bundle.event_type_codes([e.event_type for e in events])
    batch = HistoryBatch.single(
        rows[known],
        np.array([e.timestamp for e in events], dtype=np.float64)[known],
        codes[known],
        np.array([e.value for e in events], dtype=np.float32)[known],
    )
    return batch, int((~known).sum())
