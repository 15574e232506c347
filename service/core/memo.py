"""What the stages derived from one user's history, kept while that history is unchanged.

A user's vector, seen set and HNSW candidates only change when their history
does, so repeated Recommend calls between two events reuse them. Each stage
fills its own slot of the ``UserMemo`` (history: the mapped events; encode:
the query; retrieve: the candidates; score: the pool united with the trending
items; rerank: the second stage's scores of the pool's best). One memo serves
every k: it keeps the widest candidate search asked for so far, and a narrower
request ranks those (a superset of its own).

The ``MemoCache`` holds one entry per user, bounded in bytes (the arrays of
each memo plus a fixed overhead), least recently used out first. An entry is
valid for one *version* of the user: the bundle's content identity, the
history length and its first and last events (histories only grow at the end
and are trimmed at the start, so any new event changes it, whichever replica
recorded it); a new version replaces the user's entry. Encoders that read the
query time (event ages) are never cached.
"""

from __future__ import annotations

import threading
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np

from bundle.history import Sequences
from bundle.loader import Bundle
from bundle.state import UserState
from service.store.base import StoredEvent

OVERHEAD = 1024  # bytes per entry beyond its arrays: the objects, the key, the LRU slot


@dataclass(frozen=True)
class Pool:
    """The candidates united with the trending items, for one trending set."""

    trending: np.ndarray  # the trending set it was built for (compared by identity)
    rows: np.ndarray
    scores: np.ndarray  # <q, x_j>


@dataclass(frozen=True)
class Reranked:
    """The re-ranker's answer for one set of candidate rows."""

    rows: np.ndarray  # (n,) the candidates re-scored
    scores: np.ndarray  # (n,) the re-ranker's scores
    weights: np.ndarray  # (n, H) its attention over the history's events


@dataclass(eq=False)
class UserMemo:
    """A user as one bundle sees them, or a cold-start source shared by every cold user.

    Exactly one of ``query`` (inner-product search) and ``static`` ((I,) fixed
    item scores, the popularity cold start) ranks the items, once encoded.
    """

    history: Sequences | None  # the events on known items, while a stage still reads them
    seen: np.ndarray  # blocked_set of the history's item rows (never recommended back)
    known: int = 0  # events on items the model knows (0: the cold-start source answers)
    state: UserState | None = None  # a stateful bundle's state of the user, caught up
    query: np.ndarray | None = None  # (D,) user vector
    static: np.ndarray | None = None  # (I,) item scores for a static source
    width: int = 0  # how many items the kept candidate search asked for
    candidates: np.ndarray | None = None  # unseen rows of that search
    pool: Pool | None = None  # built from ``candidates``
    reranked: Reranked | None = None  # the re-ranker's scores of the pool's best

    @property
    def encoded(self) -> bool:
        return self.query is not None or self.static is not None

    def model_scores(self, vectors: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """(n,) float32 model scores of item ``rows``: <q, x_j>, or the static scores."""
        if self.static is not None:
            return self.static[rows]
        assert self.query is not None
        return vectors[rows] @ self.query

    @property
    def nbytes(self) -> int:
        """What this memo holds, for the cache's byte budget."""
        arrays: list[np.ndarray | None] = [self.seen, self.query, self.candidates]
        if self.state is not None:
            arrays += [self.state.vector, self.state.window]
        if self.history is not None:
            h = self.history
            arrays += [h.indptr, h.item, h.timestamp, h.event_type, h.value]
        if self.pool is not None:
            arrays += [self.pool.rows, self.pool.scores]
        if self.reranked is not None:
            arrays += [self.reranked.rows, self.reranked.scores, self.reranked.weights]
        return OVERHEAD + sum(a.nbytes for a in arrays if a is not None)


def version_of(bundle: Bundle, events: list[StoredEvent], now: float) -> Hashable | None:
    """What a user's memo is valid for (see the module docstring); None when it is
    valid for one call only (a user vector that reads the query time continuously)."""
    version = (bundle.identity, len(events), events[0], events[-1])
    if not bundle.manifest.encoder.now_dependent:
        return version
    edges = bundle.readout_edges
    if edges is None:
        return None
    # the state's readout reads the time since its last event, on an item the model
    # knows; it is constant between two edges, so the interval joins the version
    known = bundle.items.row_of
    last = next((e.timestamp for e in reversed(events)
                 if 0 <= known.get(e.item_id, -1) < bundle.indexed), None)  # fmt: skip
    return version if last is None else (*version, bisect_right(edges, now - last))


class MemoCache:
    """A thread-safe LRU of one ``UserMemo`` per user within ``budget`` bytes."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.bytes = 0
        self._entries: OrderedDict[str, tuple[Hashable, UserMemo, int]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, user_id: str, version: Hashable) -> UserMemo | None:
        with self._lock:
            entry = self._entries.get(user_id)
            if entry is None or entry[0] != version:
                self.misses += 1
                return None
            self._entries.move_to_end(user_id)
            self.hits += 1
            return entry[1]

    def put(self, user_id: str, version: Hashable, memo: UserMemo) -> None:
        """Keep (or re-measure) ``memo`` as the user's entry, replacing an older one."""
        if self.budget <= 0:
            return
        size = memo.nbytes
        with self._lock:
            old = self._entries.pop(user_id, None)
            if old is not None:
                self.bytes -= old[2]
            if size > self.budget:
                return
            self._entries[user_id] = (version, memo, size)
            self.bytes += size
            while self.bytes > self.budget:
                _, (_, _, dropped) = self._entries.popitem(last=False)
                self.bytes -= dropped
