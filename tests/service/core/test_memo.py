"""The user cache: one entry per user within a byte budget, whatever k is asked."""

from __future__ import annotations

import time

import numpy as np

from service.core.memo import OVERHEAD
from service.core.types import EventInput, RecommendRequest
from tests.service.core.test_pipeline import USERS, _seed, make  # noqa: F401 (fixture)


def test_one_entry_per_user_serves_every_k_as_a_prefix_of_the_widest(make):  # noqa: F811
    server = make()
    now = time.time()
    _seed(server, now)
    service = server.service
    widest = {u: service.recommend(RecommendRequest(u, 100, now=now)) for u in USERS}
    for k in range(1, 100, 7):
        for user in USERS:
            answer = service.recommend(RecommendRequest(user, k, now=now))
            assert answer.rows.tolist() == widest[user].rows[:k].tolist()
    assert len(service.cache) == len(USERS)
    assert service.cache.hits == len(USERS) * len(range(1, 100, 7))
    memo_sizes = [service.cache._entries[u][2] for u in USERS]
    assert service.cache.bytes == sum(memo_sizes) and min(memo_sizes) > OVERHEAD


def test_a_new_event_replaces_the_users_entry(make):  # noqa: F811
    server = make()
    now = time.time()
    _seed(server, now)
    service = server.service
    service.recommend(RecommendRequest("u1", 10, now=now))
    held = service.cache.bytes
    item = server.bundles.current.items.ids[0]
    service.record_events([EventInput("u1", item, now - 1, "view")])
    service.recommend(RecommendRequest("u1", 10, now=now))
    assert len(service.cache) == 1
    assert abs(service.cache.bytes - held) < 64  # the same size of entry, not two


def test_the_cache_stays_within_its_byte_budget_least_recent_out(make):  # noqa: F811
    server = make(user_cache_mb=0.005)  # about 5 KB: a few users
    now = time.time()
    _seed(server, now)
    service = server.service
    for user in USERS:
        service.recommend(RecommendRequest(user, 50, now=now))
        assert service.cache.bytes <= 0.005 * 2**20
    assert 0 < len(service.cache) < len(USERS)
    assert list(service.cache._entries)[-1] == USERS[-1]
    assert np.isclose(service.cache.budget, 0.005 * 2**20, atol=1)
