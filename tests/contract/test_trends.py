"""Decayed trend counts, in process and in Redis: the same behaviour."""

import time

import numpy as np
import pytest
import redis

from service.trends import MemoryTrends, RedisTrends, TrendRefresher

HOUR = 3600.0


@pytest.fixture(params=["memory", "redis", "redis-cluster"])
def trends(request):
    if request.param == "memory":
        return MemoryTrends(HOUR)
    if request.param == "redis-cluster":
        from service.store.redis import connect

        client = connect(request.getfixturevalue("redis_cluster"))
        client.flushall()
        return RedisTrends(client, HOUR)
    client = redis.Redis.from_url(request.getfixturevalue("redis_url"))
    return RedisTrends(client, HOUR)


def test_counts_halve_every_half_life(trends):
    t0 = 1_800_000_000.0
    trends.add(["a"] * 4, [t0] * 4, [1.0] * 4)
    ids, counts = trends.top(5, t0)
    assert ids == ["a"] and counts[0] == pytest.approx(4.0)
    _, later = trends.top(5, t0 + 2 * HOUR)
    assert later[0] == pytest.approx(1.0)


def test_top_orders_by_decayed_count(trends):
    t0 = 1_800_000_000.0
    trends.add(["old"] * 8, [t0] * 8, [1.0] * 8)
    trends.add(["new"] * 3, [t0 + 3 * HOUR] * 3, [1.0] * 3)  # old has decayed to 1
    ids, counts = trends.top(2, t0 + 3 * HOUR)
    assert ids == ["new", "old"]
    assert counts == pytest.approx([3.0, 1.0])


def test_landmark_moves_forward_without_losing_counts(trends):
    t0 = 1_800_000_000.0
    trends.add(["a", "b"], [t0, t0], [1.0, 1.0])
    far = t0 + 300 * HOUR  # past the rescale threshold
    trends.add(["b"] * 2, [far] * 2, [1.0] * 2)
    ids, counts = trends.top(5, far)
    assert ids[0] == "b" and counts[0] == pytest.approx(2.0, rel=1e-6)
    assert "a" not in ids  # decayed to ~2^-300 and pruned


def test_refresher_publishes_snapshots(trends):
    refresher = TrendRefresher(trends, size=3, interval=0.05)
    now = time.time()
    trends.add(["x", "x", "y"], [now] * 3, [1.0] * 3)
    snapshot = refresher.refresh()
    assert snapshot.item_ids[:2] == ["x", "y"]
    assert np.all(np.diff(snapshot.counts) <= 0)


def test_events_added_one_at_a_time_count_as_one_batch(trends):
    t0 = 1_800_000_000.0
    items = [f"i{k % 7}" for k in range(40)]
    stamps = [t0 + 97.0 * k for k in range(40)]
    for item, stamp in zip(items, stamps, strict=True):
        trends.add([item], [stamp], [1.0])
    batch = MemoryTrends(HOUR)
    batch.add(items, stamps, [1.0] * 40)
    now = stamps[-1] + 60.0
    ids, counts = trends.top(10, now)
    want_ids, want = batch.top(10, now)
    assert ids == want_ids
    np.testing.assert_allclose(counts, want, rtol=1e-9)
    far = now + 300 * HOUR  # past the rescale threshold, in a single add
    trends.add(["late"], [far], [1.0])
    batch.add(["late"], [far], [1.0])
    assert trends.top(10, far)[0] == batch.top(10, far)[0] == ["late"]
