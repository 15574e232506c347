"""Every event-store backend, opened by URL, for the one contract suite."""

from __future__ import annotations

import pytest

from service.store import open_store


@pytest.fixture(params=["memory", "file", "redis", "redis-cluster"])
def store_url(request, tmp_path) -> str:
    if request.param == "memory":
        return "memory://"
    if request.param == "file":
        return f"file://{tmp_path / 'events'}"
    if request.param == "redis-cluster":
        url = request.getfixturevalue("redis_cluster")
        from service.store.redis import connect

        connect(url).flushall()
        return url
    return request.getfixturevalue("redis_url")


@pytest.fixture()
def open_at(store_url):
    opened = []

    def make(max_history: int = 5):
        store = open_store(store_url, max_history)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()
