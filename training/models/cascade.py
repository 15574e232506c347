"""Retrieval followed by re-ranking, offline: ``led+attention`` in ``recserve evaluate``.

The first model ranks every item; the user's seen items are set aside (as the
server's ``blocked`` set does) and the top ``rerank_n`` of the rest are re-scored
by the re-ranker, which orders them above every other item. Items below the
cut keep the first model's order, so recall@rerank_n is the first model's: a
re-ranker can only move items within the top ``rerank_n``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bundle.history import Sequences
from training.data.interactions import Interactions
from training.models.base import Recommender, Reranker, Validator


class Cascade(Recommender):
    def __init__(self, first: Recommender, second: Reranker, rerank_n: int = 100) -> None:
        if rerank_n < 1:
            raise ValueError("rerank_n must be >= 1")
        self.first, self.second, self.rerank_n = first, second, rerank_n
        self.name = f"{first.name}+{second.name}"

    @property
    def validation_metric(self) -> str:
        return self.first.validation_metric

    def params(self) -> dict[str, Any]:
        return {
            "first": self.first.params(),
            "second": self.second.params(),
            "rerank_n": self.rerank_n,
        }

    def fit_info(self) -> dict[str, Any]:
        return {"first": self.first.fit_info(), "second": self.second.fit_info()}

    def fit(
        self, train: Interactions, validation: Validator | None = None, progress: bool = False
    ) -> Cascade:
        self.first.fit(train, validation, progress)
        self.second.fit(train, None, progress)
        return self

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
        # lift: every re-scored item above the first model's best, keeping the second's order
        lift = scores.max(1, keepdims=True).astype(np.float64) + 1.0 - second.min(1, keepdims=True)
        scores[rows, top] = (second + lift).astype(np.float32)
        return scores
