"""Redis (and Redis Cluster) store: one bounded list per user.

Key ``rs:h:{<user_id>}`` (and ``rs:s:{<user_id>}``, a hash of the user's
states of stateful bundles): the user id is the hash tag, so a user's keys map
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

from service.store.base import MAX_STATES, StoredEvent
from service.store.errors import StoreError, StoreUnavailable

TIMEOUT = 0.5  # seconds, connect and each command

# KEYS[1]: a user's list. ARGV[1]: max_history, ARGV[2]: the rows to append, one per
# line (JSON never holds a raw line break). A row with an event id ends with
# ',"<id>"]' (the last ',"' of a row starts it: a '"' inside a JSON string is
# escaped); a row whose id the list already holds, or an earlier row of the call,
# is not appended. Returns one character per row: '1' appended, '0' a retry.
_APPEND_ONCE = """
local function id_of(row) return string.match(row, '.*(,".-"%])$') end
local seen, kept, flags = nil, {}, {}
for row in string.gmatch(ARGV[2], '[^\\n]+') do
  local id = id_of(row)
  local fresh = true
  if id then
    if seen == nil then
      seen = {}
      for _, old in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
        local held = id_of(old)
        if held then seen[held] = true end
      end
    end
    fresh = not seen[id]
    seen[id] = true
  end
  if fresh then kept[#kept + 1] = row end
  flags[#flags + 1] = fresh and '1' or '0'
end
for i = 1, #kept, 1000 do
  redis.call('RPUSH', KEYS[1], unpack(kept, i, math.min(i + 999, #kept)))
end
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[1]), -1)
return table.concat(flags)
"""


def history_key(user_id: str) -> str:
    return f"rs:h:{{{user_id}}}"


def state_key(user_id: str) -> str:
    """A hash of the user's states by bundle key, in the slot of their history."""
    return f"rs:s:{{{user_id}}}"


ITEMS_KEY = "rs:items"  # hash: registered item -> metadata JSON (one slot: a small table)
ITEMS_VERSION_KEY = "rs:items:v"  # its version, bumped by every registration


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


_COMPACT = json.JSONEncoder(separators=(",", ":")).encode  # one encoder, not one per row


def _row(event: StoredEvent) -> str:
    return _COMPACT(event.as_row())


class RedisStore:
    in_process = False  # calls wait on the network: the transports run them off the loop
    writes_wait = True

    def __init__(
        self, url: str, max_history: int, client: Any | None = None, timeout: float = TIMEOUT
    ) -> None:
        self.max_history = max_history
        self.url = url
        self.client = client or open_client(url, timeout)
        self._sha = ""  # of _APPEND_ONCE, loaded on first use (on every primary of a cluster)

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
            with_ids = {u: e for u, e in by_user.items() if u not in plain}
            if with_ids:
                stored += self._append_once(with_ids)
        return stored

    def _append_once(self, by_user: dict[str, list[StoredEvent]]) -> list[StoredEvent]:
        """``_APPEND_ONCE`` for every user in one pipelined round trip. A Redis that lost
        its script cache (restarted) answers NOSCRIPT: load it and run the pipeline again,
        harmless since the script stores each event id once."""
        import redis

        calls = [(history_key(u), "\n".join(map(_row, held))) for u, held in by_user.items()]
        for attempt in (1, 2):
            if not self._sha:
                self._sha = self.client.script_load(_APPEND_ONCE)
            pipe = self.client.pipeline(transaction=False)
            for key, rows in calls:  # (ClusterPipeline blocks .evalsha, not the command)
                pipe.execute_command("EVALSHA", self._sha, 1, key, self.max_history, rows)
            try:
                kept = pipe.execute()
                break
            except redis.exceptions.NoScriptError:
                self._sha = ""
                if attempt == 2:
                    raise
        return [
            event
            for held, flags in zip(by_user.values(), kept, strict=True)
            for event, flag in zip(
                held, flags.decode() if isinstance(flags, bytes) else flags, strict=True
            )
            if flag == "1"
        ]

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

    def get_state(self, user_id: str, key: str) -> bytes | None:
        with unavailable("state store"):
            found = self.client.hget(state_key(user_id), key)
        return None if found is None else bytes(found)

    def put_state(self, user_id: str, key: str, blob: bytes) -> None:
        name = state_key(user_id)
        pipe = self.client.pipeline(transaction=False)
        pipe.hset(name, key, blob)
        pipe.hlen(name)
        with unavailable("state store"):
            _, held = pipe.execute()
            if held > MAX_STATES:  # a new bundle's state replaces the older ones
                others = [k for k in self.client.hkeys(name) if k.decode() != key]
                if others:
                    self.client.hdel(name, *others)

    def put_items(self, items: Sequence[tuple[str, str]]) -> None:
        pipe = self.client.pipeline(transaction=False)
        pipe.hset(ITEMS_KEY, mapping=dict(items))
        pipe.incr(ITEMS_VERSION_KEY)
        with unavailable("item store"):
            pipe.execute()

    def items(self) -> dict[str, str]:
        with unavailable("item store"):
            found = self.client.hgetall(ITEMS_KEY)
        return {k.decode(): v.decode() for k, v in found.items()}

    def items_version(self) -> int:
        with unavailable("item store"):
            found = self.client.get(ITEMS_VERSION_KEY)
        return 0 if found is None else int(found)

    def replay(self, since: float) -> Iterator[list[StoredEvent]]:
        return iter(())  # trends live in Redis already; nothing to rebuild in process

    def ping(self) -> bool:
        try:
            return bool(self.client.ping())
        except Exception:
            return False

    def close(self) -> None:
        self.client.close()
