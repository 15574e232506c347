"""The traffic mix shared by the REST and gRPC locust users.

- Users: ``LOCUST_USERS`` ids with Zipf-distributed activity (a few heavy users,
  a long tail), items drawn from the bundle's own ``items.tsv``.
- Mix per simulated client: Recommend (weight 6), record an event (3), read a
  history (1), trending (1).
- A trending burst half way through the run (``LOCUST_BURST_AT`` seconds):
  ``LOCUST_BURST_EVENTS`` events on one cold item, which must one second later be
  in the top ``BURST_TOP`` of GetTrending (reported as a ``burst check`` request, a
  failure if it is not). The head items of the mix keep receiving hundreds of
  events a second, so the check is top-10, not #1.
- Bounds: time (``-t``), clients (``-u``) and ``LOCUST_MAX_REQUESTS`` (the run
  stops itself once that many requests were made). Loopback only.
"""

from __future__ import annotations

import csv
import os
import random
import threading
import time
from pathlib import Path

import numpy as np

BUNDLE = Path(os.environ.get("LOCUST_BUNDLE", "bundles/demo/1"))
USERS = int(os.environ.get("LOCUST_USERS", "5000"))
MAX_REQUESTS = int(os.environ.get("LOCUST_MAX_REQUESTS", "200000"))
BURST_AT = float(os.environ.get("LOCUST_BURST_AT", "10"))
BURST_EVENTS = int(os.environ.get("LOCUST_BURST_EVENTS", "1000"))
BURST_TOP = 10
BURST_SETTLE_S = 1.0  # the service's promise: a burst shows within one second
EVENT_TYPES = ("view", "view", "view", "click", "purchase")


def _item_ids() -> list[str]:
    with open(BUNDLE / "items.tsv", newline="", encoding="utf-8") as handle:
        return [row["item_id"] for row in csv.DictReader(handle, delimiter="\t")]


ITEMS = _item_ids()
_weights = 1.0 / np.arange(1, USERS + 1) ** 1.1  # Zipf activity
_cdf = np.cumsum(_weights) / _weights.sum()


def pick_user(rng: random.Random) -> str:
    return f"load-user-{int(np.searchsorted(_cdf, rng.random())):06d}"


def pick_item(rng: random.Random) -> str:
    return ITEMS[min(int(rng.paretovariate(1.2)) - 1, len(ITEMS) - 1) if rng.random() < 0.7
                 else rng.randrange(len(ITEMS))]  # fmt: skip


def pick_event_type(rng: random.Random) -> str:
    return rng.choice(EVENT_TYPES)


class Burst:
    """Fires once per run: the first client to see ``BURST_AT`` elapsed sends it."""

    # a mid-popularity item, not trending before; LOCUST_BURST_ITEM_ROW moves it
    item = ITEMS[(len(ITEMS) // 2 + int(os.environ.get("LOCUST_BURST_ITEM_ROW", "0"))) % len(ITEMS)]
    _lock = threading.Lock()
    _started = time.time()
    done = False

    @classmethod
    def due(cls) -> bool:
        with cls._lock:
            if cls.done or time.time() - cls._started < BURST_AT:
                return False
            cls.done = True
            return True


def count_and_stop(environment) -> None:  # type: ignore[no-untyped-def]
    """Stop the run after ``MAX_REQUESTS`` requests (the request-count bound)."""

    @environment.events.request.add_listener
    def _on_request(**_kwargs) -> None:  # type: ignore[no-untyped-def]
        stats = environment.stats.total
        if stats.num_requests + stats.num_failures >= MAX_REQUESTS and environment.runner:
            environment.runner.quit()
