"""Redis (and Redis Cluster) store: one bounded list per user.

Key ``rs:h:{<user_id>}``: the user id is the hash tag, so a user's key maps
to one cluster slot and the same code runs on a single Redis or a cluster.
A write is one non-transactional pipeline (RPUSH + LTRIM per user), executed
before ``append`` returns, so accepted events are in Redis when the call
answers. Events are JSON arrays ``[user, item, ts, type, value]`` (and the
event id, when the client gave one). A user's events that carry ids go
through one Lua script per user instead, which skips the ids the user's list
already holds, atomically (a retry racing its original on another replica is
stored once); only clients that send ids pay for it.

Every connection has connect and socket timeouts (``timeout``, the
``store_timeout_s`` setting), so a stopped or frozen Redis fails a call in
that time instead of hanging it; the failure reaches callers as
``StoreUnavailable`` naming the store's role, not its host. Opening the store
pings it: an unreachable, wrong-database or non-cluster Redis stops start-up
with one line.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from service.store.base import StoredEvent
from service.store.errors import StoreError, StoreUnavailable

TIMEOUT = 0.5  # seconds, connect and each command

# KEYS[1]: a user's list. ARGV[1]: max_history, then (suffix, row) pairs: suffix is
# ',"<event id>"]', how a row with that id ends, or '' for an event without one.
# Returns the 1-based numbers of the pairs it stored.
_APPEND_ONCE = """
local held = nil
local stored = {}
for i = 2, #ARGV, 2 do
  local suffix, row = ARGV[i], ARGV[i + 1]
  local repeated = false
  if suffix ~= '' then
    if held == nil then held = redis.call('LRANGE', KEYS[1], 0, -1) end
    for _, old in ipairs(held) do
      if string.sub(old, -#suffix) == suffix then repeated = true break end
    end
  end
  if not repeated then
    redis.call('RPUSH', KEYS[1], row)
    if held ~= nil then table.insert(held, row) end
    table.insert(stored, i / 2)
  end
end
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[1]), -1)
return stored
"""


def history_key(user_id: str) -> str:
    return f"rs:h:{{{user_id}}}"


def connect(url: str, timeout: float = TIMEOUT) -> Any:
    """A redis-py client for ``redis://`` or ``redis+cluster://`` URLs."""
    import redis
    from redis.cluster import RedisCluster

    limits = {"socket_connect_timeout": timeout, "socket_timeout": timeout}
    if url.startswith("redis+cluster://"):
        return RedisCluster.from_url("redis://" + url.removeprefix("redis+cluster://"), **limits)
    return redis.Redis.from_url(url, **limits)


def failure(error: Exception) -> str:
    """What went wrong, in words a client may see (no host, no exception class)."""
    import redis

    if isinstance(error, redis.TimeoutError | TimeoutError):
        return "timed out"
    if isinstance(error, redis.ConnectionError | ConnectionError):
        return "cannot connect"
    if isinstance(error, redis.ReadOnlyError):
        return "read-only"
    return "command failed"


@contextmanager
def unavailable(role: str) -> Iterator[None]:
    """Turn a Redis failure inside the block into ``StoreUnavailable`` for ``role``."""
    import redis

    try:
        yield
    except (redis.RedisError, redis.RedisClusterException, OSError) as error:
        raise StoreUnavailable(f"{role} unavailable ({failure(error)}); retry later") from error


def open_client(url: str, timeout: float) -> Any:
    """A connected client, or ``StoreError`` with one line saying why not (start-up)."""
    import redis

    try:
        client = connect(url, timeout)
        client.ping()
    except (redis.RedisError, redis.RedisClusterException, OSError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else failure(error)
        raise StoreError(f"store {url}: cannot open it ({reason})") from None
    return client


def _row(event: StoredEvent) -> str:
    return json.dumps(event.as_row(), separators=(",", ":"))


class RedisStore:
    in_process = False  # calls wait on the network: the transports run them off the loop

    def __init__(
        self, url: str, max_history: int, client: Any | None = None, timeout: float = TIMEOUT
    ) -> None:
        self.max_history = max_history
        self.url = url
        self.client = client or open_client(url, timeout)
        self._append_once = self.client.register_script(_APPEND_ONCE)

    def append(self, events: Sequence[StoredEvent]) -> list[StoredEvent]:
        by_user: dict[str, list[StoredEvent]] = defaultdict(list)
        for event in events:
            by_user[event.user_id].append(event)
        plain = {u: e for u, e in by_user.items() if not any(x.event_id for x in e)}
        pipe = self.client.pipeline(transaction=False)
        for user, held in plain.items():
            key = history_key(user)
            pipe.rpush(key, *[_row(e) for e in held])
            pipe.ltrim(key, -self.max_history, -1)
        stored = [e for held in plain.values() for e in held]
        with unavailable("history store"):
            if plain:
                pipe.execute()
            for user, held in by_user.items():
                if user in plain:
                    continue
                args: list[Any] = [self.max_history]
                for e in held:
                    suffix = "," + json.dumps(e.event_id) + "]" if e.event_id else ""
                    args += [suffix, _row(e)]
                kept = self._append_once(keys=[history_key(user)], args=args)
                stored += [held[int(n) - 1] for n in kept]
        return stored

    def recent(self, user_id: str, limit: int) -> list[StoredEvent]:
        return self.recent_many([user_id], limit)[0]

    def recent_many(self, user_ids: Sequence[str], limit: int) -> list[list[StoredEvent]]:
        count = limit if 0 < limit <= self.max_history else self.max_history
        pipe = self.client.pipeline(transaction=False)
        for user in user_ids:
            pipe.lrange(history_key(user), -count, -1)
        with unavailable("history store"):
            found = pipe.execute()
        return [[StoredEvent.from_row(json.loads(r)) for r in rows] for rows in found]

    def replay(self, since: float) -> Iterator[list[StoredEvent]]:
        return iter(())  # trends live in Redis already; nothing to rebuild in process

    def ping(self) -> bool:
        try:
            return bool(self.client.ping())
        except Exception:
            return False

    def close(self) -> None:
        self.client.close()
