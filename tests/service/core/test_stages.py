"""The score and select stages against plain-Python versions of what they compute."""

from __future__ import annotations

import numpy as np
import pytest

from service.core.memo import UserMemo
from service.core.stages import score, select


def test_blocked_set_membership_matches_python_sets():
    rng = np.random.default_rng(1)
    for _ in range(30):
        blocked_rows = rng.integers(0, 50, size=int(rng.integers(0, 20)))
        rows = rng.integers(0, 60, size=40)
        blocked = select.blocked_set(blocked_rows, rows[:2])
        assert blocked[-1] == select.END and np.all(np.diff(blocked) >= 0)  # sorted
        expected = [r in set(blocked_rows.tolist()) | set(rows[:2].tolist()) for r in rows]
        assert select.is_member(rows, blocked).tolist() == expected
    assert not select.is_member(np.array([0, 7]), select.blocked_set()).any()


def test_trend_view_marks_the_top_trending_rows_and_biases_every_snapshot_item():
    vectors = np.arange(24, dtype=np.float32).reshape(8, 3)
    view = score.TrendView.build(
        vectors, np.array([5, 1, 6]), np.array([9.0, 4.0, 1.0]), top=2, beta=0.5, alpha=1.0
    )
    assert view.rows.tolist() == [5, 1] and np.array_equal(view.vectors, vectors[[5, 1]])
    assert view.not_trending.tolist() == [True, False, True, True, True, False, True, True]
    expected = np.zeros(8)  # beta * log(alpha + 0)
    expected[[5, 1, 6]] = 0.5 * np.log(1.0 + np.array([9.0, 4.0, 1.0]))
    np.testing.assert_allclose(view.bias, expected, rtol=1e-6)


def test_a_view_with_the_same_trending_set_keeps_its_arrays_and_takes_the_new_bias():
    vectors = np.arange(24, dtype=np.float32).reshape(8, 3)

    def build(rows, counts, previous=None):
        return score.TrendView.build(vectors, np.array(rows), counts, 2, 0.5, 1.0, previous)

    first = build([5, 1, 6], np.ones(3))
    same = build([5, 1, 2], np.full(3, 7.0), first)  # same top 2, new counts, 2 for 6
    moved = build([1, 6, 5], np.ones(3), same)
    assert same.rows is first.rows and same.vectors is first.vectors
    assert same.bias[5] > first.bias[5] and same.bias[2] > first.bias[2]
    assert moved.rows is not same.rows and moved.rows.tolist() == [1, 6]


def test_pool_takes_each_item_once_drops_seen_trending_items_and_scores_exactly():
    rng = np.random.default_rng(2)
    vectors = rng.normal(size=(30, 5)).astype(np.float32)
    query = rng.normal(size=5).astype(np.float32)
    counts = rng.uniform(1, 50, size=6)
    trending = np.array([14, 2, 27, 8, 11, 4])  # 14 and 27 are candidates too
    view = score.TrendView.build(vectors, trending, counts, top=5, beta=0.7, alpha=1.0)
    candidates = np.array([3, 9, 14, 20, 27])  # unseen (the retrieve stage filtered them)
    memo = UserMemo(None, select.blocked_set(np.array([8, 0])), query=query)
    pool, model = score.pool(view, memo, vectors, candidates)
    assert sorted(pool.tolist()) == [2, 3, 9, 11, 14, 20, 27]  # 8 seen; 4 is 6th, not top 5
    np.testing.assert_allclose(model, vectors[pool] @ query, rtol=1e-5)
    assert view.bias[4] > view.bias[3]  # 4 is in the snapshot, only not a candidate


def test_pool_without_trending_items_is_the_candidates():
    vectors = np.eye(4, dtype=np.float32)
    view = score.TrendView.build(vectors, np.zeros(0, np.int64), np.zeros(0), 50, 0.3, 1.0)
    memo = UserMemo(None, select.blocked_set(), query=np.array([5.0, 0, 1.0, 0], np.float32))
    pool, scores = score.pool(view, memo, vectors, np.array([2, 0]))
    assert pool.tolist() == [2, 0] and scores.tolist() == [1.0, 5.0]


def test_a_static_source_scores_candidates_and_trending_items_by_its_own_scores():
    vectors = np.eye(6, dtype=np.float32)
    static = np.array([0.5, 3.0, 1.0, 2.0, 0.1, 4.0], np.float32)
    view = score.TrendView.build(vectors, np.array([4, 1]), np.array([9.0, 1.0]), 2, 0.3, 1.0)
    memo = UserMemo(None, select.blocked_set(np.array([1])), static=static)
    pool, model = score.pool(view, memo, vectors, np.array([5, 3, 4]))
    assert pool.tolist() == [5, 3, 4] and model.tolist() == static[[5, 3, 4]].tolist()


@pytest.mark.parametrize("n", [5, 90, select.SMALL_POOL + 1, 2000])
def test_top_k_is_best_first_with_ties_to_the_lower_row(n):
    rng = np.random.default_rng(n)
    rows = rng.permutation(5 * n)[:n].astype(np.int64)
    scores = rng.integers(0, 8, size=n).astype(np.float32)  # many ties
    top_rows, top_scores = select.top_k(rows, scores, 10)
    expected = sorted(zip(rows.tolist(), scores.tolist(), strict=True), key=lambda p: (-p[1], p[0]))
    assert list(zip(top_rows.tolist(), top_scores.tolist(), strict=True)) == expected[:10]


@pytest.mark.parametrize("n", [1, 7, 30])
def test_best_static_is_best_first_with_ties_to_the_lower_row(n):
    from service.core.stages.retrieve import best_static

    scores = np.random.default_rng(n).integers(0, 4, size=30).astype(np.float32)
    expected = sorted(range(30), key=lambda r: (-scores[r], r))[:n]
    assert best_static(scores, n).tolist() == expected
