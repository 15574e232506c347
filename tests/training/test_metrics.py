import math

import numpy as np
import pytest

from bundle.history import Sequences
from training.metrics import MetricAccumulator, top_k


def _metrics(scores, targets, ks=(1, 2, 3), n_items=None):
    scores = np.asarray(scores, dtype=np.float64)
    acc = MetricAccumulator(ks, n_items or scores.shape[1])
    acc.add(scores, Sequences.from_lists(targets))
    return acc.result(), acc


def test_top_k_breaks_ties_by_lower_item_index():
    scores = np.array([[1.0, 3.0, 3.0, 2.0, 3.0]])
    assert top_k(scores, 2).tolist() == [[1, 2]]
    assert top_k(scores, 4).tolist() == [[1, 2, 4, 3]]
    assert top_k(scores, 9).tolist() == [[1, 2, 4, 3, 0]]


def test_hand_computed_single_user():
    # ranking: item 3, item 1, item 0, item 2; targets {1, 2}
    result, _ = _metrics([[0.5, 0.8, 0.1, 0.9]], [[1, 2]])
    assert result["hr@1"] == 0 and result["hr@2"] == 1
    assert result["recall@2"] == pytest.approx(1 / 2)
    assert result["precision@2"] == pytest.approx(1 / 2)
    assert result["precision@3"] == pytest.approx(1 / 3)
    dcg = 1 / math.log2(3)
    idcg = 1 + 1 / math.log2(3)
    assert result["ndcg@2"] == pytest.approx(dcg / idcg)
    assert result["mrr"] == pytest.approx(1 / 2)


def test_ties_are_ranked_deterministically():
    # all scores tie: ranking is item order 0, 1, 2, 3
    result, _ = _metrics([[1.0, 1.0, 1.0, 1.0]], [[2]])
    assert result["hr@2"] == 0 and result["hr@3"] == 1
    assert result["mrr"] == pytest.approx(1 / 3)


def test_k_larger_than_candidate_list_counts_only_real_candidates():
    scores = np.array([[0.2, -np.inf, 0.9, -np.inf]])  # two items excluded
    result, _ = _metrics(scores, [[0]], ks=(10,))
    assert result["hr@10"] == 1
    assert result["recall@10"] == 1
    assert result["precision@10"] == pytest.approx(1 / 10)
    assert result["ndcg@10"] == pytest.approx(1 / math.log2(3))
    assert result["coverage@10"] == pytest.approx(2 / 4)  # excluded items not "recommended"


def test_users_without_targets_are_skipped_not_zeroed():
    result, acc = _metrics([[0.9, 0.1], [0.9, 0.1]], [[0], []], ks=(1,))
    assert acc.users == 1 and acc.skipped_users == 1
    assert result["hr@1"] == 1


def test_duplicate_target_events_count_once():
    result, _ = _metrics([[0.9, 0.8, 0.1]], [[0, 0, 0]], ks=(1, 2))
    assert result["recall@1"] == 1
    assert result["precision@2"] == pytest.approx(1 / 2)
    assert result["ndcg@2"] == 1


def test_excluded_target_gives_zero_reciprocal_rank():
    result, _ = _metrics([[-np.inf, 0.3]], [[0]], ks=(1,))
    assert result["mrr"] == 0 and result["hr@1"] == 0


def test_pcc_and_coverage_union_over_users():
    scores = [[0.9, 0.8, 0.1, 0.0], [0.1, 0.9, 0.8, 0.0]]
    result, _ = _metrics(scores, [[0], [3]], ks=(2,))
    assert result["coverage@2"] == pytest.approx(3 / 4)  # items 0, 1, 2
    assert result["pcc@2"] == pytest.approx(1 / 4)  # only item 0 recommended and converted


def test_recall_uses_min_k_and_target_count():
    # 3 targets, K=2, both top-2 hit -> recall 1 (Liang et al. 2018)
    result, _ = _metrics([[0.9, 0.8, 0.7, 0.0]], [[0, 1, 2]], ks=(2,))
    assert result["recall@2"] == 1


def _reference(scores, targets, k):
    """Plain-loop reference implementation of the per-user metrics."""
    out = {"hr": [], "recall": [], "precision": [], "ndcg": [], "mrr": []}
    for row, target in zip(scores, targets, strict=True):
        target = set(target)
        if not target:
            continue
        order = sorted(range(len(row)), key=lambda j: (-row[j], j))
        order = [j for j in order if np.isfinite(row[j])]
        top = order[:k]
        hits = [j in target for j in top]
        n_hit = sum(hits)
        out["hr"].append(float(n_hit > 0))
        out["recall"].append(n_hit / min(k, len(target)))
        out["precision"].append(n_hit / k)
        dcg = sum(1 / math.log2(i + 2) for i, h in enumerate(hits) if h)
        idcg = sum(1 / math.log2(i + 2) for i in range(min(k, len(target))))
        out["ndcg"].append(dcg / idcg)
        ranks = [order.index(t) + 1 for t in target if t in order]
        out["mrr"].append(1 / min(ranks) if ranks else 0.0)
    return {name: float(np.mean(v)) for name, v in out.items()}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_vectorised_metrics_match_a_plain_loop(seed):
    rng = np.random.default_rng(seed)
    n_users, n_items = 40, 30
    scores = rng.integers(0, 6, size=(n_users, n_items)).astype(float)  # many ties
    scores[rng.random(scores.shape) < 0.1] = -np.inf
    targets = [list(rng.choice(n_items, size=rng.integers(0, 6))) for _ in range(n_users)]
    result, _ = _metrics(scores, targets, ks=(5, 10))
    for k in (5, 10):
        ref = _reference(scores, targets, k)
        for name in ("hr", "recall", "precision", "ndcg"):
            assert result[f"{name}@{k}"] == pytest.approx(ref[name]), (name, k)
    assert result["mrr"] == pytest.approx(_reference(scores, targets, 1)["mrr"])


def test_batches_accumulate_like_one_batch():
    rng = np.random.default_rng(3)
    scores = rng.random((20, 15))
    targets = [list(rng.choice(15, size=3, replace=False)) for _ in range(20)]
    whole, _ = _metrics(scores, targets, ks=(3,))
    acc = MetricAccumulator((3,), 15)
    acc.add(scores[:7], Sequences.from_lists(targets[:7]))
    acc.add(scores[7:], Sequences.from_lists(targets[7:]))
    assert acc.result() == pytest.approx(whole)


def test_bad_k_and_bad_shape_are_rejected():
    with pytest.raises(ValueError):
        MetricAccumulator((0,), 3)
    acc = MetricAccumulator((1,), 3)
    with pytest.raises(ValueError, match="shape"):
        acc.add(np.zeros((2, 4)), Sequences.from_lists([[0], [1]]))
