import numpy as np
import pytest

from bundle.history import Sequences
from training.data.interactions import Interactions
from training.data.splits import EvalSet, split
from training.evaluate import EvalConfig, evaluate
from training.models.base import Recommender
from training.registry import create


class FixedScores(Recommender):
    """Scores every user with the same item vector (a test model, not a stub)."""

    name = "fixed"

    def __init__(self, item_scores):
        self.item_scores = np.asarray(item_scores, dtype=np.float32)

    def fit(self, train, validation=None, progress=False):
        return self

    def score(self, history, now, users=None):
        return np.tile(self.item_scores, (len(history), 1))


class RandomScores(Recommender):
    name = "random"

    def __init__(self, n_items, seed=0):
        self.n_items, self.rng = n_items, np.random.default_rng(seed)

    def fit(self, train, validation=None, progress=False):
        return self

    def score(self, history, now, users=None):
        return self.rng.random((len(history), self.n_items))


def _eval_set(histories, targets):
    n = len(histories)
    return EvalSet(
        np.arange(n), Sequences.from_lists(histories), Sequences.from_lists(targets), np.zeros(n)
    )


def test_seen_items_are_excluded_from_the_ranking():
    # The model loves items 0 and 1, which the user has already seen.
    model = FixedScores([9.0, 8.0, 1.0, 0.5])
    eval_set = _eval_set([[0, 1]], [[2]])
    assert evaluate(model, eval_set, 4, EvalConfig(ks=(1,)))["hr@1"] == 1.0
    kept = evaluate(model, eval_set, 4, EvalConfig(ks=(1,), exclude_seen=False))
    assert kept["hr@1"] == 0.0


def test_targets_already_in_the_history_are_dropped_with_exclusion():
    model = FixedScores([1.0, 2.0, 3.0])
    eval_set = _eval_set([[0], [1]], [[0], [0, 2]])
    result = evaluate(model, eval_set, 3, EvalConfig(ks=(1,)))
    assert result["users"] == 1 and result["skipped_users"] == 1
    assert result["hr@1"] == 1.0


def test_sampled_candidates_give_random_model_k_over_n_plus_one():
    n_items, n_users = 500, 2000
    rng = np.random.default_rng(0)
    eval_set = _eval_set(
        [[] for _ in range(n_users)], [[int(t)] for t in rng.integers(0, n_items, n_users)]
    )
    config = EvalConfig(ks=(10,), negatives=99, gamma=0.0)
    result = evaluate(RandomScores(n_items), eval_set, n_items, config, np.ones(n_items))
    assert result["hr@10"] == pytest.approx(0.10, abs=0.02)
    full = evaluate(RandomScores(n_items), eval_set, n_items, EvalConfig(ks=(10,)))
    assert full["hr@10"] == pytest.approx(10 / n_items, abs=0.01)


def test_popularity_wins_on_uniform_negatives_loses_edge_on_popular_ones(small_log):
    # The attention-CF paper's observation (sec. 5.4): sampling negatives
    # uniformly makes popularity look strong; sampling by popularity does not.
    parts = split(small_log.interactions, "leave-last-out")
    n = small_log.interactions.n_items
    counts = np.bincount(parts.train.item, minlength=n)
    model = create("popularity").fit(parts.train)
    uniform = evaluate(model, parts.test, n, EvalConfig(ks=(10,), negatives=50, gamma=0.0), counts)
    popular = evaluate(model, parts.test, n, EvalConfig(ks=(10,), negatives=50, gamma=1.0), counts)
    assert uniform["hr@10"] > popular["hr@10"] + 0.1


def test_sampled_mode_needs_counts():
    with pytest.raises(ValueError, match="item_counts"):
        evaluate(FixedScores([1.0]), _eval_set([[]], [[0]]), 1, EvalConfig(negatives=5))


def test_wrong_score_shape_is_reported():
    with pytest.raises(ValueError, match="expected"):
        evaluate(FixedScores([1.0, 2.0]), _eval_set([[]], [[0]]), 3)


def test_empty_history_users_are_scored():
    data = Interactions.build(["a", "b", "b"], ["x", "x", "y"], [1, 2, 3])
    model = create("itemknn").fit(data)
    scores = model.score(Sequences.from_lists([[]]), np.zeros(1))
    assert scores.shape == (1, 2) and np.isfinite(scores).all()
