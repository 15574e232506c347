"""Stage ``history``: a user's recent events (``EventStore.recent``), mapped to item rows."""

from __future__ import annotations

import numpy as np

from service.bundle import Bundle
from service.core.types import HistoryBatch
from service.store.base import StoredEvent


def to_batch(bundle: Bundle, events: list[StoredEvent]) -> tuple[HistoryBatch, int]:
    """One-row ``HistoryBatch`` of the events on known items, and how many were unknown.

    Unknown items stay in the stored history (a later bundle may know them);
    they are only skipped for encoding.
    """
    if not events:
        return HistoryBatch.single(np.zeros(0, np.int64), np.zeros(0)), 0
    _, items, stamps, kinds, values = zip(*events, strict=True)
    rows = bundle.items.rows(items)
    known = rows >= 0
    batch = HistoryBatch.single(
        rows[known],
        np.array(stamps, dtype=np.float64)[known],
        bundle.event_type_codes(kinds)[known],
        np.array(values, dtype=np.float32)[known],
    )
    return batch, len(rows) - int(known.sum())
