"""The event-store contract and the URL that picks a backend.

    memory://                    in process, lost on exit (tests, throw-away runs)
    file://PATH                  embedded default: in process + append-only log, survives restarts
    redis://HOST:PORT[/DB]       shared by every replica; bounded lists, pipelined writes
    redis+cluster://HOST:PORT    the same on Redis Cluster (keys carry hash tags)

Every backend keeps at most ``max_history`` events per user, oldest dropped
first, and returns them oldest first. An event with an ``event_id`` that one
of the user's held events (their last ``max_history``) or an earlier event of
the same call already has is a client's retry: it is not stored again
(``append`` returns what it stored). Beside each history a backend keeps the
user's *states* of stateful bundles (``bundle.state``): opaque bytes under a
key (the bundle's content identity), at most ``MAX_STATES`` keys per user (a
new key beyond that replaces the others); a state is derived data, recomputed
from the history when missing. Items registered while serving (``PutItems``)
are kept too, shared by every replica of the store. One contract test suite
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
    event_id: str = ""  # the client's id of the event ("": none, never deduplicated)

    def as_row(self) -> list[str | float]:
        """``[user, item, ts, type, value]``, plus the event id when there is one."""
        return list(self) if self.event_id else list(self[:5])

    @classmethod
    def from_row(cls, row: Sequence[str | float]) -> StoredEvent:
        user, item, ts, kind, value, *rest = row
        event_id = str(rest[0]) if rest else ""
        return cls(str(user), str(item), float(ts), str(kind), float(value), event_id)


MAX_STATES = 2  # state keys kept per user: a serving bundle and the one replacing it


class EventStore(Protocol):
    """Bounded per-user histories; safe to call from many threads."""

    max_history: int
    in_process: bool  # False: calls wait on the network (transports run them off the loop)
    writes_wait: bool  # True: append may wait on a disk or the network (run off the loop)

    def append(self, events: Sequence[StoredEvent]) -> list[StoredEvent]:
        """Store ``events`` (any users), durable in the backend's sense on return; the
        events stored, without the retries of an ``event_id`` already held."""

    def recent(self, user_id: str, limit: int) -> list[StoredEvent]:
        """The user's latest ``limit`` events, oldest first ([] for an unknown user)."""

    def recent_many(self, user_ids: Sequence[str], limit: int) -> list[list[StoredEvent]]:
        """``recent`` for several users in one round trip (batched Recommend)."""

    def get_state(self, user_id: str, key: str) -> bytes | None:
        """The user's state stored under ``key``, or None."""

    def put_state(self, user_id: str, key: str, blob: bytes) -> None:
        """Keep ``blob`` as the user's state under ``key`` (see ``MAX_STATES``)."""

    def put_items(self, items: Sequence[tuple[str, str]]) -> None:
        """Register items, ``(item_id, metadata as JSON text)``; a later registration of an
        id replaces the earlier one; bumps ``items_version``."""

    def items(self) -> dict[str, str]:
        """Every registered item's metadata JSON by id."""

    def items_version(self) -> int:
        """A number that changes whenever ``put_items`` stores something."""

    def replay(self, since: float) -> Iterator[list[StoredEvent]]:
        """Stored events newer than ``since``, in batches (to rebuild in-process trends)."""

    def ping(self) -> bool:
        """True when the backend answers."""

    def close(self) -> None:
        """Flush and release; accepted events are never lost on a clean shutdown."""


def open_store(
    url: str, max_history: int = 200, fsync: str = "batch", timeout: float = 0.5
) -> EventStore:
    """Open the backend named by ``url`` (see the module docstring); ``fsync`` is what an
    acknowledgement of the embedded store means (``service.store.file``), ``timeout``
    the connect and command timeout of a Redis store, seconds."""
    if url in ("memory", "memory://"):
        from service.store.memory import MemoryStore

        return MemoryStore(max_history)
    if url.startswith("file://"):
        from service.store.file import FileStore

        return FileStore(url.removeprefix("file://"), max_history, fsync)
    if url.startswith(("redis://", "redis+cluster://")):
        from service.store.redis import RedisStore

        return RedisStore(url, max_history, timeout=timeout)
    raise ValueError(f"unknown store URL {url!r}; use memory://, file://PATH or redis://HOST:PORT")
