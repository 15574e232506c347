"""Users' states of a stateful bundle (LED's running sum) on a real bundle and store: the
window of item rows a state keeps beside its vector, stepped and recomputed."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import numpy as np
import pytest

from bundle.state import UserState
from service.app import Server
from service.core.rows import window_rows
from service.core.states import state_key
from service.core.types import EventInput, RecommendRequest
from service.settings import Settings

MAX_HISTORY = 8


@pytest.fixture()
def server(led_bundle) -> Iterator[Server]:
    server = Server(Settings(bundle=str(led_bundle), store="memory://", max_history=MAX_HISTORY))
    server.bundles.load()
    assert server.bundles.current.states is not None
    yield server
    server.store.close()


def _outcomes(server: Server) -> dict[str, float]:
    counter = server.metrics.user_states
    return {k: counter.labels(k)._value.get() for k in ("current", "stepped", "recomputed")}


def test_a_stepped_state_keeps_the_rows_of_the_stored_events_past_max_history(server):
    bundle, now = server.bundles.current, time.time()
    ids = [bundle.items.ids[r] for r in range(0, 40, 3)]
    ids[4] = ids[9] = "not-in-the-bundle"
    for n, item in enumerate(ids):
        assert server.service.record_events([EventInput("u", item, now - 100 + n, "view")]).accepted
        state = server.service.states.load(bundle, "u")
        stored = server.store.recent("u", MAX_HISTORY)
        assert state.events == sum(i != "not-in-the-bundle" for i in ids[: n + 1])
        np.testing.assert_array_equal(state.window, window_rows(bundle, stored))
    assert len(state.window) == MAX_HISTORY and (state.window == -1).sum() == 1
    reply = server.service.recommend(RecommendRequest("u", 20, now=now))
    assert not {i.item_id for i in reply.items} & {e.item_id for e in stored}


def test_recommend_reads_the_seen_items_from_a_current_state_without_a_new_step(server):
    bundle, now = server.bundles.current, time.time()
    events = [EventInput("v", bundle.items.ids[r], now - 10 + r, "view") for r in range(5)]
    server.service.record_events(events)
    before = _outcomes(server)
    reply = server.service.recommend(RecommendRequest("v", 10, now=now))
    after = _outcomes(server)
    assert after["current"] == before["current"] + 1
    assert after["stepped"] == before["stepped"] and after["recomputed"] == before["recomputed"]
    assert reply.personalized and not {i.item_id for i in reply.items} & {
        bundle.items.ids[r] for r in range(5)
    }


def test_a_state_stored_without_its_window_gets_it_from_the_events_not_a_recompute(server):
    bundle, now = server.bundles.current, time.time()
    server.service.record_events([EventInput("w", bundle.items.ids[r], now - 5 + r, "view")
                                  for r in range(3)])  # fmt: skip
    state = server.service.states.load(bundle, "w")
    head, body = state.to_bytes().split(b"\n", 1)
    events, last, cursor, _ = json.loads(head)
    old = json.dumps([events, last, cursor]).encode() + b"\n" + body[: 4 * len(state.vector)]
    server.store.put_state("w", state_key(bundle), old)
    assert server.service.states.load(bundle, "w").window is None
    before = _outcomes(server)
    server.service.recommend(RecommendRequest("w", 10, now=now))
    assert _outcomes(server)["recomputed"] == before["recomputed"]
    np.testing.assert_array_equal(server.service.states.load(bundle, "w").window, [0, 1, 2])


def test_state_bytes_round_trip_and_refuse_a_wrong_length():
    state = UserState(np.arange(4, dtype=np.float32), 3, 12.5, ("u", "i", 12.5, "view", 1.0, ""),
                      np.array([5, -1, 7], np.int32))  # fmt: skip
    back = UserState.from_bytes(state.to_bytes(), 4)
    assert back is not None and back.events == 3 and back.last_time == 12.5
    assert back.cursor == state.cursor
    np.testing.assert_array_equal(back.vector, state.vector)
    np.testing.assert_array_equal(back.window, state.window)
    assert UserState.from_bytes(state.to_bytes()[:-1], 4) is None
    assert UserState.from_bytes(state.to_bytes(), 5) is None
