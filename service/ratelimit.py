"""Per-client request rate limits: one token bucket per client name (a tokens-file
name, or ``anonymous``), refilled at ``rate`` requests/s up to ``burst``. Off by
default (``rate_limit_per_s = 0``); a call over the limit gets HTTP 429 /
gRPC RESOURCE_EXHAUSTED before any work."""

from __future__ import annotations

import threading
import time


class RateLimited(Exception):
    """The client is over its request rate."""

    def __init__(self, client: str, retry_after: float) -> None:
        self.client = client
        self.retry_after = retry_after
        super().__init__(
            f"client {client!r} is over its request rate; retry in {retry_after:.2f} s"
        )


class RateLimiter:
    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = max(burst, 1.0)
        self._buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, client: str) -> None:
        """One request of ``client``, or ``RateLimited``."""
        now = time.monotonic()
        with self._lock:
            tokens, at = self._buckets.get(client, (self.burst, now))
            tokens = min(self.burst, tokens + (now - at) * self.rate)
            if tokens < 1.0:
                self._buckets[client] = (tokens, now)
                raise RateLimited(client, (1.0 - tokens) / self.rate)
            self._buckets[client] = (tokens - 1.0, now)


def limiter_of(rate: float, burst: float) -> RateLimiter | None:
    return RateLimiter(rate, burst or rate) if rate > 0 else None
