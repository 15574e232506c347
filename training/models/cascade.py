"""Retrieval followed by re-ranking, offline: ``led+attention`` in ``recserve evaluate``.

The first model ranks every item; the user's seen items are set aside (as the
server's ``blocked`` set does) and the top ``rerank_n`` of the rest are
re-scored by the re-ranker, ``second + blend * z`` with z the first model's
scores standardized over them (``bundle.reranker.standardized``, as the server
ranks), and ordered above every other item. ``blend`` is chosen on the
validation users (``calibrate``) unless given. Items below the
cut keep the first model's order, so recall@rerank_n is the first model's: a
re-ranker can only move items within the top ``rerank_n``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bundle.history import Sequences
from bundle.reranker import BLENDS, standardized
from training.data.interactions import Interactions
from training.models.base import Recommender, Reranker, Validator


class Cascade(Recommender):
    def __init__(
        self,
        first: Recommender,
        second: Reranker,
        rerank_n: int = 100,
        blend: float | None = None,
    ) -> None:
        if rerank_n < 1:
            raise ValueError("rerank_n must be >= 1")
        self.first, self.second, self.rerank_n = first, second, rerank_n
        self.blend = blend
        self._blend = 0.0 if blend is None else blend
        self.blending: dict[str, float] = {}
        self.name = f"{first.name}+{second.name}"

    @property
    def validation_metric(self) -> str:
        """NDCG@10: a re-ranker is there for the top of the list."""
        return "ndcg@10"

    def params(self) -> dict[str, Any]:
        return {
            "first": self.first.params(),
            "second": self.second.params(),
            "rerank_n": self.rerank_n,
            "blend": self._blend,
        }

    def fit_info(self) -> dict[str, Any]:
        return {
            "first": self.first.fit_info(), "second": self.second.fit_info(),
            "blend": self._blend, "blend_validation": self.blending,
        }  # fmt: skip

    def calibrate(self, validation: Validator) -> Cascade:
        """Choose ``blend`` from ``BLENDS`` by the validation metric (ties: the smaller),
        unless it was given."""
        if self.blend is not None:
            return self
        self.blending = {}
        for w in BLENDS:
            self._blend = w
            self.blending[f"{w:g}"] = validation(self)
        self._blend = max(BLENDS, key=lambda w: (self.blending[f"{w:g}"], -w))
        return self

    def fit(
        self, train: Interactions, validation: Validator | None = None, progress: bool = False
    ) -> Cascade:
        self.first.fit(train, validation, progress)
        self.second.fit(train, None, progress)
        return self if validation is None else self.calibrate(validation)

    def score(
        self, history: Sequences, now: np.ndarray, users: np.ndarray | None = None
    ) -> np.ndarray:
        return self.rerank(self.first.score(history, now, users), history, now, users)

    def rerank(
        self,
        scores: np.ndarray,
        history: Sequences,
        now: np.ndarray,
        users: np.ndarray | None = None,
    ) -> np.ndarray:
        """``scores`` (B, n_items) of the first model with its unseen top ``rerank_n``
        re-scored by the second and lifted above every other item."""
        scores = np.array(scores, dtype=np.float32)
        scores[~np.isfinite(scores)] = np.finfo(np.float32).min
        open_ = scores.copy()
        open_.reshape(-1)[history.row_ids() * scores.shape[1] + history.item] = -np.inf
        depth = min(self.rerank_n, scores.shape[1])
        top = np.argpartition(-open_, depth - 1, axis=1)[:, :depth]
        second = self.second.score_candidates(history, now, top, users)
        rows = np.arange(len(scores))[:, None]
        if self._blend:
            second = second + np.float32(self._blend) * standardized(scores[rows, top])
        # lift: every re-scored item above the first model's best, keeping the second's order
        lift = scores.max(1, keepdims=True).astype(np.float64) + 1.0 - second.min(1, keepdims=True)
        scores[rows, top] = (second + lift).astype(np.float32)
        return scores
