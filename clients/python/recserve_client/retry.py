"""When to try a call again: exponential backoff with full jitter, inside one deadline.

A call has one deadline (its ``timeout``) for all its attempts together; each
attempt gets what is left of it. Only the codes in ``retry_codes`` are retried
(``UNAVAILABLE``: the server is restarting or not reachable yet), so a call is
never repeated after the server answered it. Event writes are safe to repeat
anyway: their ``event_id`` makes the server store each event once.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field

import grpc


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4  # 1: never retry
    initial_backoff_s: float = 0.05
    max_backoff_s: float = 1.0
    multiplier: float = 2.0
    retry_codes: frozenset[grpc.StatusCode] = field(
        default_factory=lambda: frozenset({grpc.StatusCode.UNAVAILABLE})
    )

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("RetryPolicy.attempts must be >= 1")
        if self.initial_backoff_s < 0 or self.max_backoff_s < self.initial_backoff_s:
            raise ValueError("RetryPolicy needs 0 <= initial_backoff_s <= max_backoff_s")
        if self.multiplier < 1:
            raise ValueError("RetryPolicy.multiplier must be >= 1")

    def backoff(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (0-based): uniform in
        [0, min(max, initial * multiplier**retry)] ("full jitter")."""
        ceiling = min(self.max_backoff_s, self.initial_backoff_s * self.multiplier**retry)
        return random.uniform(0.0, ceiling)


class Attempts:
    """The schedule of one call under ``policy`` and a ``timeout`` in seconds."""

    def __init__(self, policy: RetryPolicy, timeout: float) -> None:
        if timeout <= 0:
            raise ValueError(f"timeout must be > 0 seconds, got {timeout}")
        self.policy = policy
        self.deadline = time.monotonic() + timeout
        self.made = 0

    def remaining(self) -> float:
        """Seconds left for the next attempt (counts it as made)."""
        self.made += 1
        return max(self.deadline - time.monotonic(), 0.001)

    def delay_after(self, error: grpc.RpcError) -> float | None:
        """Seconds to sleep before trying again, or None to give up with ``error``."""
        code = error.code() if hasattr(error, "code") else None
        if code not in self.policy.retry_codes or self.made >= self.policy.attempts:
            return None
        delay = self.policy.backoff(self.made - 1)
        if time.monotonic() + delay >= self.deadline:
            return None
        return delay
