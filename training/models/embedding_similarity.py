"""The attention-CF paper's embedding baselines (section 5.2), over the same frozen
skip-gram vectors as the attention model (``training.pretrain.item2vec``).

- ``last-item-embedding``: cosine of each item with the user's last item in
  embedding space ("Last Item", Grbovic and Cheng 2018).
- ``mean-embedding``: cosine of each item with the mean of the user's item
  vectors ("Weighted Sum" with equal weights: the static combination the
  attention model replaces by a query-dependent one).

With the same ``item2vec`` settings and seed they read exactly the vectors the
attention model attends over, so a comparison isolates the combination.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bundle.history import Sequences
from training.config import build
from training.data.interactions import Interactions
from training.models.base import Recommender, Validator
from training.pretrain.item2vec import Item2VecConfig, item2vec_embeddings
from training.registry import register


class EmbeddingSimilarity(Recommender):
    """Cosine of every item with a query vector built from the history's item vectors."""

    def __init__(self, **params: Any) -> None:
        self.item2vec: Item2VecConfig = build(Item2VecConfig, params, self.name)

    def params(self) -> dict[str, Any]:
        return {"item2vec": vars(self.item2vec)}

    def fit(
        self, train: Interactions, validation: Validator | None = None, progress: bool = False
    ) -> EmbeddingSimilarity:
        vectors = item2vec_embeddings(train, self.item2vec, progress)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        self._unit = (vectors / np.maximum(norms, 1e-12)).astype(np.float32)
        return self

    def query(self, history: Sequences) -> np.ndarray:
        """(B, d) query vectors (zero for an empty history)."""
        raise NotImplementedError

    def score(
        self, history: Sequences, now: np.ndarray, users: np.ndarray | None = None
    ) -> np.ndarray:
        q = self.query(history)
        q = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
        return q @ self._unit.T


@register("last-item-embedding")
class LastItemEmbedding(EmbeddingSimilarity):
    def query(self, history: Sequences) -> np.ndarray:
        out = np.zeros((len(history), self._unit.shape[1]), dtype=np.float32)
        has = history.lengths > 0
        out[has] = self._unit[history.item[history.indptr[1:][has] - 1]]
        return out


@register("mean-embedding")
class MeanEmbedding(EmbeddingSimilarity):
    def query(self, history: Sequences) -> np.ndarray:
        sums = np.zeros((len(history), self._unit.shape[1]), dtype=np.float32)
        np.add.at(sums, history.row_ids(), self._unit[history.item])
        return sums
