"""Last-item baseline: items most similar (cosine) to the last one seen."""

from __future__ import annotations

import numpy as np

from bundle.history import Sequences
from training.baselines.similarity import cosine_similarity, popularity_tiebreak
from training.data.interactions import Interactions
from training.models.base import Recommender, Validator
from training.registry import register


@register("last-item")
class LastItem(Recommender):
    """Score_j = cos(last item, j) over user co-occurrence; popularity breaks ties."""

    def __init__(self, neighbours: int = 200) -> None:
        self.neighbours = neighbours

    def fit(
        self, train: Interactions, validation: Validator | None = None, progress: bool = False
    ) -> LastItem:
        matrix = train.to_csr(binary=True)
        self._sim = cosine_similarity(matrix, neighbours=self.neighbours)
        self._tiebreak = popularity_tiebreak(matrix)
        return self

    def score(
        self, history: Sequences, now: np.ndarray, users: np.ndarray | None = None
    ) -> np.ndarray:
        scores = np.tile(self._tiebreak, (len(history), 1))
        has = history.lengths > 0
        last = history.item[history.indptr[1:][has] - 1]
        scores[has] += self._sim[last].toarray()
        return scores
