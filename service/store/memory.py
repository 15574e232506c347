"""In-process store: a bounded deque per user behind one lock."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator, Sequence

from service.store.base import StoredEvent


class MemoryStore:
    def __init__(self, max_history: int) -> None:
        self.max_history = max_history
        self._users: dict[str, deque[StoredEvent]] = {}
        self._lock = threading.Lock()

    def append(self, events: Sequence[StoredEvent]) -> None:
        with self._lock:
            for event in events:
                history = self._users.get(event.user_id)
                if history is None:
                    history = self._users[event.user_id] = deque(maxlen=self.max_history)
                history.append(event)

    def recent(self, user_id: str, limit: int) -> list[StoredEvent]:
        with self._lock:
            history = self._users.get(user_id)
            if not history:
                return []
            events = list(history)
        return events[-limit:] if limit > 0 else events

    def recent_many(self, user_ids: Sequence[str], limit: int) -> list[list[StoredEvent]]:
        return [self.recent(user, limit) for user in user_ids]

    def replay(self, since: float) -> Iterator[list[StoredEvent]]:
        with self._lock:
            snapshot = [e for h in self._users.values() for e in h if e.timestamp > since]
        for start in range(0, len(snapshot), 10_000):
            yield snapshot[start : start + 10_000]

    def all_events(self) -> list[StoredEvent]:
        with self._lock:
            return [e for h in self._users.values() for e in h]

    def ping(self) -> bool:
        return True

    def close(self) -> None:
        return None
