"""Cache of encoded users, keyed by the history they were encoded from.

A user's vector only changes when their history does, so repeated Recommend
calls between two events reuse it (skipping the item mapping and the ONNX
run). The key holds the bundle, the user, the history length and its first
and last events: histories only grow at the end and are trimmed at the start,
so any new event changes the key, whichever replica recorded it. Encoders
that read event ages (``age_seconds``) depend on the query time and are never
cached.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, field

import numpy as np

from service.store.base import StoredEvent

Candidates = tuple[np.ndarray, np.ndarray]  # item rows and their <q, x_j>
Pool = tuple[np.ndarray, np.ndarray, np.ndarray]  # trending set it holds, rows, <q, x_j>


@dataclass(frozen=True)
class EncodedUser:
    """A user as one bundle sees them (the cache key holds the bundle version)."""

    query: np.ndarray | None  # (D,) user vector; None when no event maps to a bundle item
    seen: np.ndarray  # item rows in the history (never recommended back), a blocked_set
    unknown: int  # events on items the bundle does not know
    # Unseen HNSW candidates of ``query`` by how many were searched, with their model
    # scores: a pure function of the user, filled on first use.
    candidates: dict[int, Candidates] = field(default_factory=dict)
    # The same united with the unseen trending items (``rescore.pool``), for the
    # trending set named by its ``TrendView.rows`` array: rebuilt when that changes.
    pools: dict[int, Pool] = field(default_factory=dict)


class UserVectorCache:
    """A thread-safe LRU of ``EncodedUser`` with hit/miss counts."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[Hashable, EncodedUser] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(bundle_version: str, user_id: str, events: list[StoredEvent]) -> Hashable:
        return (bundle_version, user_id, len(events), events[0], events[-1])

    def get(self, key: Hashable) -> EncodedUser | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry

    def put(self, key: Hashable, entry: EncodedUser) -> None:
        if self.capacity <= 0:
            return
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)
