"""The event-store contract and the URL that picks a backend.

    memory://                    in process, lost on exit (tests, throw-away runs)
    file://PATH                  embedded default: in process + append-only log, survives restarts
    redis://HOST:PORT[/DB]       shared by every replica; bounded lists, pipelined writes
    redis+cluster://HOST:PORT    the same on Redis Cluster (keys carry hash tags)

Every backend keeps at most ``max_history`` events per user, oldest dropped
first, and returns them oldest first. One contract test suite
(``tests/contract``) runs against all of them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import NamedTuple, Protocol


class StoredEvent(NamedTuple):
    """One accepted event. A tuple, so a history transposes in C: ``zip(*events)``."""

    user_id: str
    item_id: str
    timestamp: float
    event_type: str
    value: float

    def as_row(self) -> list[str | float]:
        return list(self)

    @classmethod
    def from_row(cls, row: Sequence[str | float]) -> StoredEvent:
        user, item, ts, kind, value = row
        return cls(str(user), str(item), float(ts), str(kind), float(value))


class EventStore(Protocol):
    """Bounded per-user histories; safe to call from many threads."""

    max_history: int

    def append(self, events: Sequence[StoredEvent]) -> None:
        """Store ``events`` (any users); durable in the backend's sense on return."""

    def recent(self, user_id: str, limit: int) -> list[StoredEvent]:
        """The user's latest ``limit`` events, oldest first ([] for an unknown user)."""

    def recent_many(self, user_ids: Sequence[str], limit: int) -> list[list[StoredEvent]]:
        """``recent`` for several users in one round trip (batched Recommend)."""

    def replay(self, since: float) -> Iterator[list[StoredEvent]]:
        """Stored events newer than ``since``, in batches (to rebuild in-process trends)."""

    def ping(self) -> bool:
        """True when the backend answers."""

    def close(self) -> None:
        """Flush and release; accepted events are never lost on a clean shutdown."""


def open_store(url: str, max_history: int = 200) -> EventStore:
    """Open the backend named by ``url`` (see the module docstring)."""
    if url in ("memory", "memory://"):
        from service.store.memory import MemoryStore

        return MemoryStore(max_history)
    if url.startswith("file://"):
        from service.store.file import FileStore

        return FileStore(url.removeprefix("file://"), max_history)
    if url.startswith(("redis://", "redis+cluster://")):
        from service.store.redis import RedisStore

        return RedisStore(url, max_history)
    raise ValueError(f"unknown store URL {url!r}; use memory://, file://PATH or redis://HOST:PORT")
