"""Redis (and Redis Cluster) store: one bounded list per user.

Key ``rs:h:{<user_id>}``: the user id is the hash tag, so a user's key maps
to one cluster slot and the same code runs on a single Redis or a cluster.
A write is one non-transactional pipeline (RPUSH + LTRIM per user), executed
before ``append`` returns, so accepted events are in Redis when the call
answers. Events are JSON arrays ``[user, item, ts, type, value]``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import Any

from service.store.base import StoredEvent


def history_key(user_id: str) -> str:
    return f"rs:h:{{{user_id}}}"


def connect(url: str) -> Any:
    """A redis-py client for ``redis://`` or ``redis+cluster://`` URLs."""
    import redis
    from redis.cluster import RedisCluster

    if url.startswith("redis+cluster://"):
        return RedisCluster.from_url("redis://" + url.removeprefix("redis+cluster://"))
    return redis.Redis.from_url(url)


class RedisStore:
    def __init__(self, url: str, max_history: int, client: Any | None = None) -> None:
        self.max_history = max_history
        self.url = url
        self.client = client or connect(url)

    def append(self, events: Sequence[StoredEvent]) -> None:
        by_user: dict[str, list[str]] = defaultdict(list)
        for event in events:
            by_user[event.user_id].append(json.dumps(event.as_row(), separators=(",", ":")))
        pipe = self.client.pipeline(transaction=False)
        for user, rows in by_user.items():
            key = history_key(user)
            pipe.rpush(key, *rows)
            pipe.ltrim(key, -self.max_history, -1)
        pipe.execute()

    def recent(self, user_id: str, limit: int) -> list[StoredEvent]:
        return self.recent_many([user_id], limit)[0]

    def recent_many(self, user_ids: Sequence[str], limit: int) -> list[list[StoredEvent]]:
        count = limit if 0 < limit <= self.max_history else self.max_history
        pipe = self.client.pipeline(transaction=False)
        for user in user_ids:
            pipe.lrange(history_key(user), -count, -1)
        return [[StoredEvent.from_row(json.loads(r)) for r in rows] for rows in pipe.execute()]

    def replay(self, since: float) -> Iterator[list[StoredEvent]]:
        return iter(())  # trends live in Redis already; nothing to rebuild in process

    def ping(self) -> bool:
        try:
            return bool(self.client.ping())
        except Exception:
            return False

    def close(self) -> None:
        self.client.close()
