"""The interface every recommender (baseline or learned) implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from training.data.interactions import Interactions, Sequences
from training.data.splits import EvalSet


class Recommender(ABC):
    """Maps (history, time) to a score for every item.

    ``fit`` learns from training events (``valid`` may drive early stopping);
    ``score`` is called on batches of fold-in histories and must return a
    (B, n_items) float array where larger means more recommended. It must not
    exclude seen items itself: the evaluator does that, uniformly for all.
    """

    name: str = "recommender"
    # Hyper-parameter grid searched on the validation set by ``training.tuning``.
    search_space: ClassVar[dict[str, tuple[Any, ...]]] = {}

    @abstractmethod
    def fit(self, train: Interactions, valid: EvalSet | None = None) -> Recommender:
        """Learn from ``train``; returns self."""

    @abstractmethod
    def score(self, history: Sequences, now: np.ndarray) -> np.ndarray:
        """(B, n_items) scores for B history rows queried at times ``now`` (B,)."""

    def params(self) -> dict[str, Any]:
        """Hyper-parameters, for reports."""
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}
