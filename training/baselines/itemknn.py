"""ItemKNN: sum of shrunk cosine similarities to the items in the history."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from bundle.history import Sequences
from training.baselines.similarity import cosine_similarity, popularity_tiebreak
from training.data.interactions import Interactions
from training.models.base import Recommender, Validator
from training.registry import register


@register("itemknn")
class ItemKNN(Recommender):
    """Score_j = sum over distinct history items i of sim(i, j) (Sarwar et al. 2001).

    ``sim`` keeps the ``neighbours`` most similar items of each item, with
    shrinkage ``shrink`` damping similarities built on few co-occurrences.
    """

    search_space: ClassVar[dict[str, tuple[Any, ...]]] = {
        "neighbours": (10, 20, 50, 100, 200),
        "shrink": (0.0, 10.0, 100.0),
    }

    def __init__(self, neighbours: int = 100, shrink: float = 10.0) -> None:
        self.neighbours = neighbours
        self.shrink = shrink

    def fit(
        self, train: Interactions, validation: Validator | None = None, progress: bool = False
    ) -> ItemKNN:
        matrix = train.to_csr(binary=True)
        self._sim = cosine_similarity(matrix, self.neighbours, self.shrink)
        self._tiebreak = popularity_tiebreak(matrix)
        self._n_items = train.n_items
        return self

    def score(
        self, history: Sequences, now: np.ndarray, users: np.ndarray | None = None
    ) -> np.ndarray:
        x = history.to_csr(self._n_items)
        return np.asarray((x @ self._sim).toarray()) + self._tiebreak
