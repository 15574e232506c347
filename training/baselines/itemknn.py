"""ItemKNN: sum of shrunk cosine similarities to the items in the history."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from bundle.history import Sequences
from training.baselines.similarity import cosine_similarity, keep_top, popularity_tiebreak
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
        return self._set(cosine_similarity(matrix, self.neighbours, self.shrink), matrix)

    @classmethod
    def fit_grid(
        cls, models: Sequence[Recommender], train: Interactions, validation: Validator | None
    ) -> Iterator[Recommender]:
        """One similarity per ``shrink``, pruned at the grid's largest ``neighbours``;
        each smaller ``neighbours`` keeps the top of its rows."""
        matrix = train.to_csr(binary=True)
        knn = [m for m in models if isinstance(m, ItemKNN)]
        widest = {
            s: max(m.neighbours for m in knn if m.shrink == s) for s in {m.shrink for m in knn}
        }
        similarity: dict[float, sp.csr_matrix] = {}
        for model in knn:
            k = widest[model.shrink]
            if model.shrink not in similarity:
                similarity[model.shrink] = cosine_similarity(matrix, k, model.shrink)
            full = similarity[model.shrink]
            yield model._set(
                full if model.neighbours == k else keep_top(full, model.neighbours), matrix
            )

    def _set(self, similarity: sp.csr_matrix, matrix: sp.csr_matrix) -> ItemKNN:
        self._sim = similarity
        self._tiebreak = popularity_tiebreak(matrix)
        self._n_items = matrix.shape[1]
        return self

    def score(
        self, history: Sequences, now: np.ndarray, users: np.ndarray | None = None
    ) -> np.ndarray:
        x = history.to_csr(self._n_items)
        return np.asarray((x @ self._sim).toarray()) + self._tiebreak
