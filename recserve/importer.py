"""``recserve import-events``: an event log into the live store, so every user of the
training log is personalised on their first request.

The log is read by the training readers (any ``--format``, same column mapping and
errors), each user's latest ``max_history`` events are kept (older ones would be
dropped by the store anyway), and they are appended in batches through the store's
own ``append``: batched writes for the embedded store, pipelined ones for Redis.
Every event gets an ``event_id`` derived from its row (``imp-`` + a hash of user,
item, timestamp, type and value), so a re-run, or a run after an interrupted one,
stores nothing twice: the store's idempotence on ``event_id`` does the work. The
events that were stored feed the trend counters with their own timestamps (Redis
trends; the embedded store's trends are rebuilt from its log when the server starts).
"""

from __future__ import annotations

import hashlib
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from service.store.base import EventStore, StoredEvent
from service.trends import TrendStore
from training.data.interactions import Interactions

BATCH = 20_000


@dataclass(frozen=True)
class ImportSummary:
    read: int  # events in the log
    older: int  # beyond a user's latest max_history: not imported
    imported: int  # stored now
    already: int  # held by the store already (an earlier run): not stored again
    users: int
    seconds: float

    def lines(self) -> list[str]:
        rate = self.imported / self.seconds if self.seconds > 0 else 0.0
        return [
            f"events read      {self.read:>12,}",
            f"older than the latest max_history per user (skipped) {self.older:,}",
            f"already stored (skipped) {self.already:,}",
            f"imported         {self.imported:>12,}  ({self.users:,} users, "
            f"{self.seconds:.1f} s, {rate:,.0f} events/s)",
        ]


def latest_rows(log: Interactions, max_history: int) -> np.ndarray:
    """Row numbers of each user's latest ``max_history`` events, in log order (the log
    is sorted by user, then time)."""
    n = len(log.user)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    # events after this one of the same user = (end of the user's run) - 1 - row
    starts = np.flatnonzero(np.r_[True, log.user[1:] != log.user[:-1]])
    ends = np.r_[starts[1:], n]
    run_end = np.repeat(ends, ends - starts)
    return np.flatnonzero(run_end - np.arange(n) <= max_history)


def derived_id(user: str, item: str, timestamp: float, kind: str, value: float) -> str:
    """The event id of a log row: the same row gives the same id on every run."""
    key = f"{user}\x1f{item}\x1f{timestamp!r}\x1f{kind}\x1f{value!r}".encode()
    return "imp-" + hashlib.blake2b(key, digest_size=10).hexdigest()


def to_events(log: Interactions, rows: np.ndarray) -> list[StoredEvent]:
    users = log.users.ids[log.user[rows]]
    items = log.items.ids[log.item[rows]]
    kinds = np.asarray(log.event_types, dtype=object)[log.event_type[rows]]
    stamps = log.timestamp[rows].tolist()
    values = log.value[rows].astype(np.float64).tolist()
    return [
        StoredEvent(u, i, t, k, v, derived_id(u, i, t, k, v))
        for u, i, t, k, v in zip(
            users.tolist(), items.tolist(), stamps, kinds.tolist(), values, strict=True
        )
    ]


def add_trends(trends: TrendStore, events: list[StoredEvent]) -> None:
    """Count ``events`` towards their items' trends, one entry per item: the events of an
    item are decayed to the batch's latest time ``t`` and summed (a weight
    ``2^((t_i - t) / half_life)`` each), which is what counting them one by one adds."""
    items = np.array([e.item_id for e in events], dtype=object)
    stamps = np.array([e.timestamp for e in events])
    latest = float(stamps.max())
    unique, inverse = np.unique(items, return_inverse=True)
    weights = np.bincount(inverse, weights=np.exp2((stamps - latest) / trends.half_life))
    trends.add(unique.tolist(), [latest] * len(unique), weights.tolist())


def import_events(
    log: Interactions,
    store: EventStore,
    trends: TrendStore | None,
    batch: int = BATCH,
    progress: bool = True,
) -> ImportSummary:
    """Append each user's latest events of ``log`` to ``store`` (see the module doc)."""
    start = time.perf_counter()
    rows = latest_rows(log, store.max_history)
    batches = [rows[first : first + batch] for first in range(0, len(rows), batch)]
    imported = 0
    bar = tqdm(total=len(rows), unit="ev", disable=not progress, desc="import")
    # the next batch is built while the store writes this one (it waits on a socket
    # or a file, the GIL released)
    with bar, ThreadPoolExecutor(1, thread_name_prefix="import") as builder:
        upcoming = builder.submit(to_events, log, batches[0]) if batches else None
        for k in range(len(batches)):
            assert upcoming is not None
            events = upcoming.result()
            if k + 1 < len(batches):
                upcoming = builder.submit(to_events, log, batches[k + 1])
            stored = store.append(events)
            if stored and trends is not None:
                add_trends(trends, stored)
            imported += len(stored)
            bar.update(len(events))
    return ImportSummary(
        read=len(log.user),
        older=len(log.user) - len(rows),
        imported=imported,
        already=len(rows) - imported,
        users=len(np.unique(log.user[rows])),
        seconds=time.perf_counter() - start,
    )


def import_into(
    url: str, log: Interactions, max_history: int, half_life: float, progress: bool = True
) -> ImportSummary:
    """Open the store at ``url`` (and its Redis trends), import ``log``, close it."""
    from service.app import open_trends
    from service.store.base import open_store
    from service.trends import RedisTrends

    store = open_store(url, max_history, timeout=30.0)
    try:
        trends = open_trends(store, half_life)
        shared = trends if isinstance(trends, RedisTrends) else None
        return import_events(log, store, shared, progress=progress)
    finally:
        store.close()
