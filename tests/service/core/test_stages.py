"""The rescore and select stages against plain-Python versions of what they compute."""

from __future__ import annotations

import numpy as np
import pytest

from service.core.stages import rescore, select


def test_blocked_set_membership_matches_python_sets():
    rng = np.random.default_rng(1)
    for _ in range(30):
        blocked_rows = rng.integers(0, 50, size=int(rng.integers(0, 20)))
        rows = rng.integers(0, 60, size=40)
        blocked = select.blocked_set(blocked_rows, rows[:2])
        assert blocked[-1] == select.END and np.all(np.diff(blocked) > 0)
        expected = [r in set(blocked_rows.tolist()) | set(rows[:2].tolist()) for r in rows]
        assert select.is_member(rows, blocked).tolist() == expected
    assert not select.is_member(np.array([0, 7]), select.blocked_set()).any()


def test_pool_takes_every_candidate_and_trending_item_once_with_its_full_score():
    rng = np.random.default_rng(2)
    vectors = rng.normal(size=(30, 5)).astype(np.float32)
    query = rng.normal(size=5).astype(np.float32)
    bias = rng.normal(size=30).astype(np.float32)
    candidates = np.array([3, 9, 14, 20, 27])
    trending = np.array([14, 2, 27, 8])  # two of them are candidates too
    is_trending = np.zeros(30, dtype=bool)
    is_trending[trending] = True
    pool, scores = rescore.pool_scores(
        candidates, vectors[candidates] @ query, trending, vectors[trending], is_trending,
        bias, query,
    )  # fmt: skip
    assert sorted(pool.tolist()) == sorted({3, 9, 14, 20, 27, 2, 8})
    np.testing.assert_allclose(scores, vectors[pool] @ query + bias[pool], rtol=1e-6)


def test_pool_without_trending_items_is_the_candidates():
    vectors = np.eye(4, dtype=np.float32)
    pool, scores = rescore.pool_scores(
        np.array([2, 0]), np.array([5.0, 1.0], np.float32), np.zeros(0, np.int64),
        np.zeros((0, 4), np.float32), np.zeros(4, bool), np.zeros(4, np.float32), vectors[0],
    )  # fmt: skip
    assert pool.tolist() == [2, 0] and scores.tolist() == [5.0, 1.0]


@pytest.mark.parametrize("n", [5, 90, select.SMALL_POOL + 1, 2000])
def test_top_k_is_best_first_with_ties_to_the_lower_row(n):
    rng = np.random.default_rng(n)
    rows = rng.permutation(5 * n)[:n].astype(np.int64)
    scores = rng.integers(0, 8, size=n).astype(np.float32)  # many ties
    top_rows, top_scores = select.top_k(rows, scores, 10)
    expected = sorted(zip(rows.tolist(), scores.tolist(), strict=True), key=lambda p: (-p[1], p[0]))
    assert list(zip(top_rows.tolist(), top_scores.tolist(), strict=True)) == expected[:10]
