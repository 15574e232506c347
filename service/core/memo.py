"""What the stages derived from one user's history, kept while that history is unchanged.

A user's vector, seen set and HNSW candidates only change when their history
does, so repeated Recommend calls between two events reuse them. Each stage
fills its own slot of the ``UserMemo`` (history: the mapped events; encode:
the query; retrieve: the candidates; score: the pool united with the trending
items). The ``MemoCache`` key holds the bundle's content identity, the user,
the history length and its first and last events: histories only grow at the
end and are trimmed at the start, so any new event changes the key, whichever
replica recorded it. Encoders that read the query time (event ages) are never
cached.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, field

import numpy as np

from bundle.history import Sequences
from service.store.base import StoredEvent

Pool = tuple[np.ndarray, np.ndarray, np.ndarray]  # trending set it holds, rows, <q, x_j>


@dataclass(eq=False)
class UserMemo:
    """A user as one bundle sees them, or a cold-start source shared by every cold user.

    Exactly one of ``query`` (inner-product search) and ``static`` ((I,) fixed
    item scores, the popularity cold start) ranks the items, once encoded.
    """

    history: Sequences | None  # the events on known items, until encoded
    seen: np.ndarray  # blocked_set of the history's item rows (never recommended back)
    unknown: int = 0  # events on items the bundle does not know
    query: np.ndarray | None = None  # (D,) user vector
    static: np.ndarray | None = None  # (I,) item scores for a static source
    candidates: dict[int, np.ndarray] = field(default_factory=dict)  # unseen rows, per n
    pools: dict[int, Pool] = field(default_factory=dict)  # per n, for one trending set

    @property
    def encoded(self) -> bool:
        return self.query is not None or self.static is not None

    def model_scores(self, vectors: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """(n,) float32 model scores of item ``rows``: <q, x_j>, or the static scores."""
        if self.static is not None:
            return self.static[rows]
        assert self.query is not None
        return vectors[rows] @ self.query


class MemoCache:
    """A thread-safe LRU of ``UserMemo`` with hit/miss counts."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[Hashable, UserMemo] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(identity: str, user_id: str, events: list[StoredEvent]) -> Hashable:
        return (identity, user_id, len(events), events[0], events[-1])

    def get(self, key: Hashable) -> UserMemo | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry

    def put(self, key: Hashable, entry: UserMemo) -> None:
        if self.capacity <= 0:
            return
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)
