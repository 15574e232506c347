"""RecommendationService on a real bundle and store, checked against brute force."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from service.app import Server
from service.core.rows import to_history
from service.core.stages import score
from service.core.types import EventInput, Recommendations, RecommendRequest
from service.settings import Settings

USERS = [f"u{k}" for k in range(12)]


@pytest.fixture()
def make(led_bundle) -> Iterator[Any]:
    servers: list[Server] = []

    def build(**overrides: Any) -> Server:
        values = {"bundle": str(led_bundle), "store": "memory://", "trend_beta": 0.5, **overrides}
        server = Server(Settings(**values))
        server.bundles.load()
        servers.append(server)
        return server

    yield build
    for server in servers:
        server.store.close()


def _seed(server: Server, now: float) -> None:
    """Each user: 6 items of one category (rows chosen by category code)."""
    items = server.bundles.current.items
    for k, user in enumerate(USERS):
        column = items.category_matrix[:, k % len(items.categories)]
        rows = np.flatnonzero(column)[k : k + 6]
        events = [EventInput(user, items.ids[r], now - 60 + i, "view") for i, r in enumerate(rows)]
        assert server.service.record_events(events).accepted == len(events)


def _burst(server: Server, item_id: str, n: int = 300) -> None:
    events = [EventInput(f"fan{k}", item_id, None, "view") for k in range(n)]
    assert server.service.record_events(events).accepted == n
    server.refresher.refresh()


def _trend(server: Server) -> np.ndarray:
    """(I,) trend term of every item in the current snapshot."""
    bundle, snap = server.bundles.current, server.refresher.snapshot
    rows = bundle.items.rows(snap.item_ids)
    known = rows >= 0
    beta, alpha = server.service.score.trend_terms(bundle)
    return score.trend_bias(
        bundle.manifest.item_count, rows[known], snap.counts[known], beta, alpha
    )


def _exact(server: Server, user: str, now: float, k: int) -> tuple[list[int], np.ndarray]:
    """Brute force over every item: <q, x_j> + trend term, seen items dropped."""
    bundle = server.bundles.current
    history, _ = to_history(bundle, server.store.recent(user, server.settings.max_history))
    query = bundle.encoder.encode(history, np.array([now]))[0]
    scores = bundle.vectors @ query + _trend(server)
    scores[np.unique(history.item)] = -np.inf
    order = np.lexsort((np.arange(len(scores)), -scores))[:k]
    return order.tolist(), scores


def _ask(server: Server, user: str, now: float, k: int = 10, **filters: Any) -> Recommendations:
    return server.service.recommend(RecommendRequest(user, k, now=now, **filters))


def test_answers_carry_exact_scores_best_first_and_find_the_exact_top_k(make):
    server = make()
    now = time.time()
    _seed(server, now)
    _burst(server, server.bundles.current.items.ids[7])
    overlap = 0
    for user in USERS:
        answer = _ask(server, user, now)
        best, scores = _exact(server, user, now, 10)
        assert answer.personalized and answer.model_version == server.bundles.version
        np.testing.assert_allclose(answer.scores, scores[answer.rows], rtol=1e-5, atol=1e-5)
        assert np.all(np.diff(answer.scores) <= 0)
        overlap += len(set(answer.rows.tolist()) & set(best))
    assert overlap >= 0.95 * 10 * len(USERS)  # HNSW recall on the served top 10


def test_scores_follow_every_new_snapshot_whether_or_not_the_trending_set_changed(make):
    server = make(trend_candidates=3)
    now = time.time()
    _seed(server, now)
    ids = server.bundles.current.items.ids
    for item, n in ((ids[7], 50), (ids[7], 400), (ids[9], 20), (ids[11], 900)):
        _burst(server, item, n)  # more of the same, a new member, a new leader
        answer = _ask(server, "u2", now)
        _, scores = _exact(server, "u2", now, 10)
        np.testing.assert_allclose(answer.scores, scores[answer.rows], rtol=1e-5, atol=1e-5)
        assert np.all(np.diff(answer.scores) <= 0)


def test_the_cache_changes_nothing_but_cost_and_a_new_event_invalidates_it(make):
    cached, uncached = make(), make(user_cache_mb=0)
    now = time.time()
    for server in (cached, uncached):
        _seed(server, now)
    for _ in range(2):  # the second round is answered from the cache
        for user in USERS:
            a, b = _ask(cached, user, now), _ask(uncached, user, now)
            assert a.rows.tolist() == b.rows.tolist() and np.allclose(a.scores, b.scores)
    assert cached.service.cache.hits == len(USERS)
    first = _ask(cached, "u3", now).rows[0]
    item = cached.bundles.current.items.ids[first]
    cached.service.record_events([EventInput("u3", item, now - 1, "view")])
    assert first not in _ask(cached, "u3", now).rows  # seen now, and the vector moved
    assert cached.service.cache.misses == len(USERS) + 1


def test_a_trending_item_the_user_has_seen_never_comes_back(make):
    server = make(trend_beta=5.0)
    now = time.time()
    _seed(server, now)
    seen = server.store.recent("u0", 10)[0].item_id
    _burst(server, seen, 1000)
    k = server.settings.max_k
    answer = _ask(server, "u0", now, k=k)
    assert seen not in {i.item_id for i in answer.items}
    assert seen in {i.item_id for i in _ask(server, "u1", now, k=3).items}  # others get it


def test_filters_widen_the_search_until_k_items_pass(make):
    server = make()
    now = time.time()
    _seed(server, now)
    items = server.bundles.current.items
    sizes = items.category_matrix.sum(axis=0)
    rare = items.categories[int(np.argmin(sizes))]
    count = int(sizes.min())
    seen = {items.row_of[e.item_id] for e in server.store.recent("u1", 100)}
    unseen_in_rare = count - sum(rare in items.row_categories[r] for r in seen)
    answer = _ask(server, "u1", now, k=50, include_categories=(rare,))
    assert len(answer.rows) == min(50, unseen_in_rare)
    assert all(rare in i.categories for i in answer.items)


def test_a_user_without_history_gets_the_bias_and_trend_ranking(make):
    server = make()
    now = time.time()
    _seed(server, now)
    answer = _ask(server, "nobody", now)
    assert not answer.personalized and answer.fallback_reason == "no_history"
    expected = server.bundles.current.vectors[:, -1] + _trend(server)  # bias + trend (LED 6.2)
    np.testing.assert_allclose(answer.scores, expected[answer.rows], rtol=1e-5, atol=1e-5)
    best = np.lexsort((np.arange(len(expected)), -expected))[:10]
    assert len(set(best.tolist()) & set(answer.rows.tolist())) >= 9
