"""`recserve import-events`: a CSV log into each store, users warm on the first request,
re-runs store nothing twice."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
import redis

from recserve.cli import main
from recserve.importer import derived_id, latest_rows
from service.app import create_server
from service.settings import Settings
from service.store.base import open_store
from service.trends import RedisTrends


@pytest.fixture(scope="module")
def log_csv(tmp_path_factory, small_log) -> tuple[Path, pd.DataFrame]:
    """The synthetic log as a user's own CSV export would look (ISO-free: unix seconds)."""
    data = small_log.interactions
    frame = pd.DataFrame({
        "uid": data.users.ids[data.user],
        "sku": data.items.ids[data.item],
        "ts": data.timestamp,
        "kind": np.asarray(data.event_types, dtype=object)[data.event_type],
    })  # fmt: skip
    path = tmp_path_factory.mktemp("log") / "events.csv"
    frame.to_csv(path, index=False)
    return path, frame


def _import(path: Path, store: str, *extra: str) -> int:
    return main([
        "import-events", "--data", str(path), "--format", "csv", "--store", store,
        "--columns", "user=uid,item=sku,timestamp=ts,event_type=kind", "--no-progress", *extra,
    ])  # fmt: skip


@pytest.fixture(params=["file", "redis", "redis-cluster"])
def store_url(request, tmp_path) -> str:
    if request.param == "file":
        return f"file://{tmp_path / 'store'}"
    if request.param == "redis":
        return request.getfixturevalue("redis_url")
    url = request.getfixturevalue("redis_cluster")
    redis.RedisCluster.from_url(url.replace("redis+cluster", "redis")).flushall()
    return url


def test_imported_users_are_personalised_on_their_first_request(
    log_csv, store_url, led_bundle, capsys
):
    path, frame = log_csv
    assert _import(path, store_url) == 0
    assert "imported" in capsys.readouterr().out
    settings = Settings(bundle=str(led_bundle), store=store_url, grpc_port=0, http_port=0)
    server = create_server(settings).start()
    try:
        users = frame["uid"].drop_duplicates().sample(20, random_state=0)
        with httpx.Client(base_url=f"http://127.0.0.1:{server.http_port}") as http:
            for user in users:
                answer = http.get(f"/v1/recommendations/{user}").json()
                assert answer["personalized"], answer
                held = http.get(f"/v1/users/{user}/history").json()["events"]
                mine = frame[frame["uid"] == user].tail(settings.max_history)
                assert [e["item_id"] for e in held] == mine["sku"].tolist()
                assert [e["timestamp"] for e in held] == mine["ts"].tolist()
    finally:
        server.stop(grace=0.5)


def test_a_second_run_stores_nothing_and_leaves_trends_alone(log_csv, store_url, capsys):
    path, frame = log_csv
    assert _import(path, store_url, "--max-history", "7") == 0
    first = capsys.readouterr().out
    store = open_store(store_url, 7)
    try:
        before = [store.recent(u, 7) for u in frame["uid"].unique()[:30]]
        trends = RedisTrends(store.client, 3600.0) if hasattr(store, "client") else None
        counts = trends.top(50, float(frame["ts"].max())) if trends else None
    finally:
        store.close()
    assert _import(path, store_url, "--max-history", "7") == 0
    second = capsys.readouterr().out
    assert "already stored (skipped) 0" in first
    assert "imported                    0" in second
    store = open_store(store_url, 7)
    try:
        assert [store.recent(u, 7) for u in frame["uid"].unique()[:30]] == before
        if trends is not None:
            again = RedisTrends(store.client, 3600.0).top(50, float(frame["ts"].max()))
            assert again[0] == counts[0] and np.allclose(again[1], counts[1])
            assert len(counts[0]) == 50  # the import fed them in the first place
    finally:
        store.close()


def test_latest_rows_keeps_each_users_last_events_in_log_order(small_log):
    data = small_log.interactions
    rows = latest_rows(data, 3)
    expected = pd.Series(np.arange(len(data.user))).groupby(data.user).tail(3).to_numpy()
    assert rows.tolist() == sorted(expected.tolist())


def test_the_id_of_a_row_depends_on_every_field_and_nothing_else():
    base = derived_id("u", "i", 1.5, "view", 1.0)
    assert base == derived_id("u", "i", 1.5, "view", 1.0)
    changed = [derived_id("v", "i", 1.5, "view", 1.0), derived_id("u", "j", 1.5, "view", 1.0),
               derived_id("u", "i", 1.6, "view", 1.0), derived_id("u", "i", 1.5, "buy", 1.0),
               derived_id("u", "i", 1.5, "view", 2.0)]  # fmt: skip
    assert base not in changed and len(set(changed)) == 5


def test_trends_fed_per_item_equal_trends_fed_event_by_event(small_log):
    from recserve.importer import add_trends, to_events
    from service.trends import MemoryTrends

    data = small_log.interactions
    events = to_events(data, np.arange(0, len(data.user), 7))
    one_by_one, per_item = MemoryTrends(3600.0), MemoryTrends(3600.0)
    for first in range(0, len(events), 500):
        part = events[first : first + 500]
        one_by_one.add([e.item_id for e in part], [e.timestamp for e in part], [1.0] * len(part))
        add_trends(per_item, part)
    now = float(data.timestamp.max())
    expected, got = one_by_one.top(30, now), per_item.top(30, now)
    assert got[0] == expected[0]
    np.testing.assert_allclose(got[1], expected[1], rtol=1e-9)
