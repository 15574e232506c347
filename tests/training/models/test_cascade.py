"""Retrieval + re-ranking offline: only the first model's unseen top N move, above the rest."""

from __future__ import annotations

import numpy as np

from bundle.history import HistoryPolicy, Sequences
from training.models.base import Recommender, Reranker
from training.models.cascade import Cascade


class Fixed(Recommender):
    """First stage with given scores (a real Recommender: no part of ours is replaced)."""

    def __init__(self, scores: np.ndarray) -> None:
        self.scores = scores

    def fit(self, train, validation=None, progress=False):
        return self

    def score(self, history, now, users=None):
        return self.scores.copy()


class ReverseItem(Reranker):
    """Second stage whose score is minus the item index (prefers small items)."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.asked: list[np.ndarray] = []

    @property
    def n_items(self) -> int:
        return self.n

    def fit(self, train, validation=None, progress=False):
        return self

    def score_candidates(self, history, now, candidates, users=None):
        self.asked.append(np.array(candidates))
        return -np.asarray(candidates, dtype=np.float32)

    # what serving needs; a cascade never calls these
    def state(self):
        return {}

    def config_dict(self):
        return {"n": self.n}

    @classmethod
    def from_state(cls, config, arrays):
        return cls(**config)

    def history_policy(self):
        return HistoryPolicy()

    def export_module(self, rows):
        raise NotImplementedError


def test_the_top_n_unseen_items_are_reordered_and_lifted_above_the_rest():
    first = np.array([[0.1, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4]], dtype=np.float32)
    second = ReverseItem(7)
    cascade = Cascade(Fixed(first), second, rerank_n=3)
    history = Sequences.from_lists([[1]])  # item 1, the first model's best, is seen
    scores = cascade.score(history, np.zeros(1))
    assert sorted(second.asked[0][0].tolist()) == [2, 3, 4]
    order = np.argsort(-scores[0]).tolist()
    assert order[:3] == [2, 3, 4]  # the re-ranker's order (small items first)
    rest = [i for i in order[3:] if i != 1]
    assert rest == [5, 6, 0]  # the first model's order below the cut
    assert scores[0, 1] < scores[0, 4]


def test_a_cascade_cannot_lose_recall_at_n():
    rng = np.random.default_rng(0)
    first = rng.normal(size=(4, 50)).astype(np.float32)
    cascade = Cascade(Fixed(first), ReverseItem(50), rerank_n=10)
    history = Sequences.from_lists([[], [], [], []])
    scores = cascade.score(history, np.zeros(4))
    for row in range(4):
        top_first = set(np.argsort(-first[row])[:10].tolist())
        assert set(np.argsort(-scores[row])[:10].tolist()) == top_first


class ByItem(ReverseItem):
    """Second stage whose score is the item index (prefers large items)."""

    def score_candidates(self, history, now, candidates, users=None):
        return np.asarray(candidates, dtype=np.float32)


def test_the_blend_with_the_first_models_scores_is_chosen_on_validation_users():
    from training.data.splits import EvalSet
    from training.evaluate import Validation

    first = np.array([[0.1, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4]], dtype=np.float32)
    cascade = Cascade(Fixed(first), ByItem(7), rerank_n=3)
    # the held-out item is the first model's best (1); the re-ranker alone puts it third
    valid = EvalSet(np.array([0]), Sequences.from_lists([[]]), Sequences.from_lists([[1]]),
                    np.zeros(1))  # fmt: skip
    cascade.calibrate(Validation(valid, 7, "ndcg@10"))
    assert set(cascade.blending) == {"0", "0.25", "0.5", "1", "2", "4"}
    assert cascade.blending["0"] < cascade.blending["1"] == cascade.blending["4"]
    assert cascade.fit_info()["blend"] == 1.0  # the smallest of the best
    assert np.argmax(cascade.score(Sequences.from_lists([[]]), np.zeros(1))[0]) == 1
