"""recserve-client against real servers: in-process over loopback gRPC, and server
processes that are paused (deadlines) or restarted (retries, no duplicates)."""

from __future__ import annotations

import asyncio
import signal
import threading
import time

import grpc
import pytest
from recserve_client import AsyncClient, Client, Event, RecserveError, RetryPolicy

from service.auth import new_token
from tests.conftest import free_port
from tests.service.conftest import running

ITEMS = [f"item-{i:05d}" for i in range(1, 7)]


@pytest.fixture(scope="module")
def server(led_bundle):
    with running(led_bundle) as started:
        yield started


def test_events_recorded_through_the_client_personalise_its_next_recommendation(server):
    with Client(f"127.0.0.1:{server.grpc_port}", timeout=5) as client:
        assert client.recommend("client-u1", k=3).fallback_reason == "no_history"
        events = [Event("client-u1", item, timestamp=1e9 + n, event_type="view")
                  for n, item in enumerate(ITEMS)]  # fmt: skip
        result = client.record_events(events)
        assert (result.accepted, result.duplicates, result.errors) == (6, 0, ())
        answer = client.recommend("client-u1", k=5, exclude_item_ids=["item-00100"])
        assert answer.personalized and len(answer.items) == 5
        assert not {*ITEMS, "item-00100"} & set(answer.item_ids)
        assert answer.model_version.startswith("led/")
        history = client.user_history("client-u1")
        assert [e.item_id for e in history] == ITEMS
        assert [e.event_id for e in history] == [e.event_id for e in events]
        assert len(client.similar_items(ITEMS[0], k=4).items) == 4
        assert len(client.trending(k=2)) == 2


def test_sending_the_same_events_again_is_acknowledged_and_stored_once(server):
    with Client(f"127.0.0.1:{server.grpc_port}", timeout=5) as client:
        events = [Event("client-u2", item) for item in ITEMS[:3]]
        assert len({e.event_id for e in events}) == 3  # generated, one per event
        assert client.record_events(events).duplicates == 0
        again = client.record_events(events)
        assert (again.accepted, again.duplicates) == (3, 3)
        assert len(client.user_history("client-u2")) == 3


def test_a_rejected_event_names_its_field_and_the_others_are_kept(server):
    with Client(f"127.0.0.1:{server.grpc_port}", timeout=5) as client:
        result = client.record_events([Event("client-u3", ITEMS[0]), Event("", ITEMS[1])])
        assert result.accepted == 1
        assert [(e.index, e.field) for e in result.errors] == [(1, "user_id")]


def test_a_bad_argument_raises_at_once_with_the_field_and_is_not_retried(server):
    client = Client(f"127.0.0.1:{server.grpc_port}", timeout=5)
    with client, pytest.raises(RecserveError) as raised:
        client.recommend("client-u1", k=0)
    assert raised.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "k" in raised.value.details and raised.value.attempts == 1


def test_the_category_filter_reaches_the_server(server, led_bundle):
    from bundle.loader import Bundle

    items = Bundle.load(led_bundle).items
    category = items.categories[0]
    with Client(f"127.0.0.1:{server.grpc_port}", timeout=5) as client:
        answer = client.recommend("client-u1", k=5, include_categories=[category])
        assert answer.items and all(category in i.categories for i in answer.items)
        with pytest.raises(RecserveError, match="categor"):
            client.recommend("client-u1", k=5, exclude_categories=["no-such-category"])


def test_the_async_client_makes_the_same_calls(server):
    async def session() -> tuple:
        async with AsyncClient(f"127.0.0.1:{server.grpc_port}", timeout=5) as client:
            events = [Event("client-async", item) for item in ITEMS[:4]]
            first = await client.record_events(events)
            second = await client.record_events(events)
            answer = await client.recommend("client-async", k=3)
            history = await client.user_history("client-async")
            with pytest.raises(RecserveError) as raised:
                await client.recommend("client-async", k=0)
            return first, second, answer, history, raised.value

    first, second, answer, history, error = asyncio.run(session())
    assert (first.duplicates, second.duplicates) == (0, 4)
    assert answer.personalized and len(history) == 4
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT


def test_a_token_is_sent_as_a_bearer_header(led_bundle, tmp_path):
    token, line = new_token("front-end", "read,write")
    (tmp_path / "tokens").write_text(line + "\n")
    with running(led_bundle, tokens_file=str(tmp_path / "tokens")) as guarded:
        target = f"127.0.0.1:{guarded.grpc_port}"
        with Client(target, token=token, timeout=5) as client:
            assert client.record_events([Event("client-t", ITEMS[0])]).accepted == 1
        with Client(target, timeout=5) as anonymous, pytest.raises(RecserveError) as raised:
            anonymous.recommend("client-t")
    assert raised.value.code == grpc.StatusCode.UNAUTHENTICATED


def test_nobody_listening_is_retried_with_backoff_until_the_deadline():
    policy = RetryPolicy(attempts=100, initial_backoff_s=0.01, max_backoff_s=0.05)
    with Client(f"127.0.0.1:{free_port()}", timeout=0.5, retry=policy) as client:
        started = time.perf_counter()
        with pytest.raises(RecserveError) as raised:
            client.trending()
        took = time.perf_counter() - started
    assert raised.value.code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
    assert raised.value.attempts > 2
    assert took < 1.0  # the deadline covers every attempt


def test_a_paused_server_costs_the_caller_its_deadline_and_no_more(replicas, led_bundle, tmp_path):
    replica = replicas(led_bundle, f"file://{tmp_path / 'store'}")
    with Client(f"127.0.0.1:{replica.grpc_port}", timeout=5) as client:
        client.trending()  # connected
        replica.process.send_signal(signal.SIGSTOP)
        try:
            started = time.perf_counter()
            with pytest.raises(RecserveError) as raised:
                client.recommend("client-p", timeout=0.5)
            took = time.perf_counter() - started
        finally:
            replica.process.send_signal(signal.SIGCONT)
        assert raised.value.code == grpc.StatusCode.DEADLINE_EXCEEDED
        assert 0.45 < took < 1.5
        assert client.recommend("client-p", k=2).items  # it answers again after SIGCONT


def test_a_write_during_a_restart_is_retried_onto_the_new_server_and_stored_once(
    replicas, led_bundle, tmp_path
):
    store = f"file://{tmp_path / 'store'}"
    first = replicas(led_bundle, store)
    ports = {"grpc_port": first.grpc_port, "http_port": first.http_port}
    policy = RetryPolicy(attempts=1000, initial_backoff_s=0.05, max_backoff_s=0.2)
    events = [Event("client-r", item, timestamp=1e9 + n) for n, item in enumerate(ITEMS)]
    with Client(f"127.0.0.1:{first.grpc_port}", timeout=60, retry=policy) as client:
        assert client.record_events(events[:3]).accepted == 3
        first.stop()
        restarted: list = []
        later = threading.Timer(1.0, lambda: restarted.append(replicas(led_bundle, store, **ports)))
        later.start()
        started = time.perf_counter()
        result = client.record_events(events)  # the first three are retries of stored events
        later.join()
        assert time.perf_counter() - started > 0.9  # it waited for the new server
        assert (result.accepted, result.duplicates) == (6, 3)
        assert [e.item_id for e in client.user_history("client-r")] == ITEMS
