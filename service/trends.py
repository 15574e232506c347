"""Real-time item trends: exponentially decayed event counts (HRNN-meta sec. 3.2).

Item j's trend count at time t is sum_e w_e * 2^(-(t - t_e) / h) over its
events e, with half-life h. Counts are stored with *forward decay*: each event
adds w_e * 2^((t_e - L) / h) for a landmark time L, so an update is a plain
increment (a Redis ZINCRBY) and the count at t is the stored value times
2^(-(t - L) / h). When the exponents grow large the landmark moves forward and
all values are rescaled (and near-zero items dropped) in one step.

The recommender reads a ``TrendSnapshot`` (top items and their counts)
refreshed every ``trend_refresh_s``, so a burst recorded on any replica is
visible to every replica within that interval plus one Redis round trip.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from service.store.redis import unavailable

log = logging.getLogger("recserve.trends")

RESCALE_AFTER = 256.0  # half-lives between landmark moves (2^256 is far from overflow)
PRUNE_BELOW = 1e-6  # decayed counts dropped at a rescale


class TrendStore(Protocol):
    half_life: float

    def add(
        self, item_ids: Sequence[str], timestamps: Sequence[float], weights: Sequence[float]
    ) -> None:
        """Count events (already accepted) towards their items' trends."""

    def top(self, n: int, now: float) -> tuple[list[str], np.ndarray]:
        """The ``n`` items with the largest decayed counts at ``now``, counts descending."""


def _decay(now: float, landmark: float, half_life: float) -> float:
    """2^(-(now - L)/h); a clock behind the landmark reads the counts as of L."""
    return float(np.exp2(-max(now - landmark, 0.0) / half_life))


class MemoryTrends:
    """In-process trend counts (embedded mode)."""

    def __init__(self, half_life: float) -> None:
        self.half_life = half_life
        self._index: dict[str, int] = {}
        self._ids: list[str] = []
        self._values = np.zeros(1024)
        self._landmark: float | None = None
        self._lock = threading.Lock()

    def add(
        self, item_ids: Sequence[str], timestamps: Sequence[float], weights: Sequence[float]
    ) -> None:
        if not item_ids:
            return
        oldest, newest = min(timestamps), max(timestamps)
        with self._lock:
            if self._landmark is None:
                self._landmark = float(oldest)
            if (newest - self._landmark) / self.half_life > RESCALE_AFTER:
                self._rescale(float(newest))
            rows = [self._row(i) for i in item_ids]
            if len(self._ids) > len(self._values):
                self._values = np.concatenate(
                    [self._values, np.zeros(len(self._values) + len(self._ids))]
                )
            if len(rows) == 1:  # one event, the usual RecordEvents: scalars, no arrays
                growth = (float(timestamps[0]) - self._landmark) / self.half_life
                self._values[rows[0]] += float(weights[0]) * 2.0**growth
                return
            ts = np.asarray(timestamps, dtype=np.float64)
            boost = np.asarray(weights) * np.exp2((ts - self._landmark) / self.half_life)
            np.add.at(self._values, np.asarray(rows, dtype=np.int64), boost)

    def _row(self, item_id: str) -> int:
        row = self._index.get(item_id)
        if row is None:
            row = self._index[item_id] = len(self._ids)
            self._ids.append(item_id)
        return row

    def _rescale(self, new_landmark: float) -> None:
        assert self._landmark is not None
        self._values *= np.exp2(-(new_landmark - self._landmark) / self.half_life)
        self._values[self._values < PRUNE_BELOW] = 0.0
        self._landmark = new_landmark

    def top(self, n: int, now: float) -> tuple[list[str], np.ndarray]:
        with self._lock:
            count = len(self._ids)
            if count == 0 or n <= 0 or self._landmark is None:
                return [], np.zeros(0)
            values = self._values[:count]
            n = min(n, count)
            best = np.argpartition(-values, n - 1)[:n]
            best = best[np.argsort(-values[best], kind="stable")]
            best = best[values[best] > 0]
            return [self._ids[i] for i in best], values[best] * _decay(
                now, self._landmark, self.half_life
            )


# Atomic on one cluster slot (both keys carry the {trend} hash tag).
_ADD = """
local h = tonumber(ARGV[1])
local landmark = tonumber(redis.call('GET', KEYS[2]))
local newest = tonumber(ARGV[2])
if not landmark then
  landmark = tonumber(ARGV[3])
  redis.call('SET', KEYS[2], ARGV[3])
end
if (newest - landmark) / h > tonumber(ARGV[4]) then
  local factor = 2 ^ (-(newest - landmark) / h)
  local members = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
  for i = 1, #members, 2 do
    local v = tonumber(members[i + 1]) * factor
    if v < tonumber(ARGV[5]) then
      redis.call('ZREM', KEYS[1], members[i])
    else
      redis.call('ZADD', KEYS[1], v, members[i])
    end
  end
  landmark = newest
  redis.call('SET', KEYS[2], tostring(newest))
end
for i = 6, #ARGV, 3 do
  local boost = tonumber(ARGV[i + 2]) * 2 ^ ((tonumber(ARGV[i + 1]) - landmark) / h)
  redis.call('ZINCRBY', KEYS[1], boost, ARGV[i])
end
return 1
"""

_TOP = """
local landmark = redis.call('GET', KEYS[2])
local top = redis.call('ZREVRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1, 'WITHSCORES')
return {landmark or false, top}
"""


class RedisTrends:
    """Trend counts shared by every replica through one sorted set."""

    scores_key = "rs:{trend}:scores"
    landmark_key = "rs:{trend}:landmark"

    def __init__(self, client: Any, half_life: float) -> None:
        self.client = client
        self.half_life = half_life
        self._add = client.register_script(_ADD)
        self._top = client.register_script(_TOP)

    def add(
        self, item_ids: Sequence[str], timestamps: Sequence[float], weights: Sequence[float]
    ) -> None:
        if not item_ids:
            return
        args: list[Any] = [
            self.half_life,
            max(timestamps),
            min(timestamps),
            RESCALE_AFTER,
            PRUNE_BELOW,
        ]
        for item, ts, weight in zip(item_ids, timestamps, weights, strict=True):
            args.extend((item, repr(float(ts)), repr(float(weight))))
        with unavailable("trend store"):
            self._add(keys=[self.scores_key, self.landmark_key], args=args)

    def top(self, n: int, now: float) -> tuple[list[str], np.ndarray]:
        if n <= 0:
            return [], np.zeros(0)
        with unavailable("trend store"):
            landmark, flat = self._top(keys=[self.scores_key, self.landmark_key], args=[n])
        if not landmark:
            return [], np.zeros(0)
        ids = [m.decode() if isinstance(m, bytes) else str(m) for m in flat[0::2]]
        values = np.array([float(v) for v in flat[1::2]], dtype=np.float64)
        return ids, values * _decay(now, float(landmark), self.half_life)


@dataclass(frozen=True)
class TrendSnapshot:
    """Top trending items at ``taken_at`` (unix seconds)."""

    item_ids: list[str]
    counts: np.ndarray
    taken_at: float

    @classmethod
    def empty(cls) -> TrendSnapshot:
        return cls([], np.zeros(0), 0.0)


class TrendRefresher:
    """Keeps a fresh ``TrendSnapshot`` in a background thread.

    A failed refresh keeps the last good snapshot (its ``taken_at`` says how old
    it is: the staleness metric and ``/readyz`` read it) and calls ``on_error``.
    """

    def __init__(
        self,
        store: TrendStore,
        size: int,
        interval: float,
        on_error: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.size = size
        self.interval = interval
        self.snapshot = TrendSnapshot.empty()
        self.errors = 0
        self.on_error = on_error
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def age(self) -> float:
        """Seconds since the last successful refresh."""
        return max(0.0, time.time() - self.snapshot.taken_at)

    def refresh(self) -> TrendSnapshot:
        now = time.time()
        ids, counts = self.store.top(self.size, now)
        self.snapshot = TrendSnapshot(ids, counts, now)
        return self.snapshot

    def start(self) -> None:
        self.refresh()
        self._thread = threading.Thread(target=self._run, name="trend-refresh", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.refresh()
            except Exception as error:  # a Redis blip must not kill the refresher: counted
                self.errors += 1
                if self.on_error is not None:
                    self.on_error()
                if self.errors == 1 or self.errors % 100 == 0:
                    log.warning("trend refresh failed (%s); %d so far", error, self.errors)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
