"""Non-personalised baselines: all-time and recent popularity."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from bundle.history import Sequences
from training.data.interactions import Interactions
from training.models.base import Recommender, Validator
from training.registry import register

DAY = 86_400.0


def user_counts(train: Interactions) -> np.ndarray:
    """(n_items,) number of distinct users per item (repeat events count once)."""
    return np.asarray(train.to_csr(binary=True).sum(axis=0)).ravel()


@register("popularity")
class Popularity(Recommender):
    """Score = number of distinct training users of the item."""

    def fit(
        self, train: Interactions, validation: Validator | None = None, progress: bool = False
    ) -> Popularity:
        self._counts = user_counts(train).astype(np.float32)
        return self

    def score(
        self, history: Sequences, now: np.ndarray, users: np.ndarray | None = None
    ) -> np.ndarray:
        return np.tile(self._counts, (len(history), 1))


@register("recent-popularity")
class RecentPopularity(Recommender):
    """Score = events on the item in the ``window_days`` before the query time.

    Counts come from training events in ``[now - window, now)`` at a resolution
    of ``window / resolution`` (cumulative counts per time bucket), so each
    user is scored with what was trending when they asked. All-time popularity
    breaks ties (scaled below one event).
    """

    search_space: ClassVar[dict[str, tuple[Any, ...]]] = {
        "window_days": (1.0, 3.0, 7.0, 14.0, 30.0)
    }

    def __init__(self, window_days: float = 7.0, resolution: int = 7) -> None:
        if window_days <= 0 or resolution < 1:
            raise ValueError("window_days must be > 0 and resolution >= 1")
        self.window_days = window_days
        self.resolution = resolution

    def fit(
        self, train: Interactions, validation: Validator | None = None, progress: bool = False
    ) -> RecentPopularity:
        self._bucket = self.window_days * DAY / self.resolution
        self._t0 = float(train.timestamp.min()) if len(train) else 0.0
        bucket = ((train.timestamp - self._t0) // self._bucket).astype(np.int64)
        n_buckets = int(bucket.max()) + 1 if len(train) else 1
        counts = np.zeros((n_buckets + 1, train.n_items), dtype=np.float32)
        np.add.at(counts, (bucket + 1, train.item), 1.0)
        self._cumulative = np.cumsum(counts, axis=0)  # row b: events in buckets < b
        total = user_counts(train)
        self._tiebreak = (0.5 * total / max(total.max(), 1.0)).astype(np.float32)
        return self

    def score(
        self, history: Sequences, now: np.ndarray, users: np.ndarray | None = None
    ) -> np.ndarray:
        last = len(self._cumulative) - 1
        end = np.clip(np.ceil((now - self._t0) / self._bucket).astype(np.int64), 0, last)
        start = np.clip(end - self.resolution, 0, last)
        return self._cumulative[end] - self._cumulative[start] + self._tiebreak
