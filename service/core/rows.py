"""Stored events -> the bundle's item rows: the one mapping the request path, the states
and the explanations share.

Events on items the bundle does not know stay in the store (a later bundle may
know them) and are only left out of the model input; items registered while
serving (``service.core.live_items``) have rows past the model's own
(``Bundle.indexed``), which the model never saw either.
"""

from __future__ import annotations

import numpy as np

from bundle.history import Sequences
from bundle.loader import Bundle
from service.store.base import StoredEvent


def to_history(
    bundle: Bundle, events: list[StoredEvent], rows: np.ndarray | None = None
) -> tuple[Sequences, int]:
    """One-row ``Sequences`` of the events on known items, and how many were unknown;
    ``rows`` are the events' item rows when the caller already looked them up."""
    if not events:
        return Sequences.single(np.zeros(0, np.int64), np.zeros(0)), 0
    _, items, stamps, kinds, values, _ = zip(*events, strict=True)
    if rows is None:
        rows = bundle.items.rows(items)
    known = model_items(bundle, rows)
    history = Sequences.single(
        rows[known],
        np.array(stamps, dtype=np.float64)[known],
        bundle.event_type_codes(kinds)[known],
        np.array(values, dtype=np.float32)[known],
    )
    return history, len(rows) - int(known.sum())


def model_items(bundle: Bundle, rows: np.ndarray) -> np.ndarray:
    """(n,) mask of the rows the model itself knows (not unknown, not registered live)."""
    return (rows >= 0) & (rows < bundle.indexed)


def window_rows(bundle: Bundle, events: list[StoredEvent]) -> np.ndarray:
    """(n,) int32 rows of the events' items that the model knows, -1 for the others
    (unknown, or registered while serving): a ``UserState.window``."""
    rows = bundle.items.rows([e.item_id for e in events])
    rows[(rows >= bundle.indexed)] = -1
    return rows.astype(np.int32)
