"""Fault injection against a real server process on its own Redis (a private
redis-server on a free loopback port): Redis frozen (SIGSTOP) and stopped during
a stream of calls, Redis unreachable at start-up, a trend update that fails
after the history was stored."""

import shutil
import signal
import subprocess
import threading
import time

import grpc
import httpx
import pytest
import redis
from grpc_health.v1 import health_pb2, health_pb2_grpc
from recserve_client.rpc import recommender_pb2 as pb

from tests.conftest import free_port, serve_until_exit, wait_for_redis


class PrivateRedis:
    def __init__(self, port: int, folder) -> None:
        self.port, self.folder = port, folder
        self.url = f"redis://127.0.0.1:{port}/0"
        self.start()

    def start(self) -> None:
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--dir", str(self.folder)]  # fmt: skip
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL)
        wait_for_redis(self.port)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)  # a frozen one cannot exit
            self.process.terminate()
            self.process.wait(timeout=10)


@pytest.fixture()
def private_redis(tmp_path):
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is needed for the Redis fault tests")
    server = PrivateRedis(free_port(), tmp_path)
    yield server
    server.stop()


def record(stub, user: str, item: str, timeout: float = 5.0):
    event = pb.Event(user_id=user, item_id=item, event_type="view")
    return stub.RecordEvents(pb.RecordEventsRequest(events=[event]), timeout=timeout)


def health(channel) -> float:
    """Seconds the gRPC health check took to answer SERVING."""
    started = time.perf_counter()
    reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING
    return time.perf_counter() - started


def metric(url: str, line_start: str) -> float:
    for line in httpx.get(url + "/metrics").text.splitlines():
        if line.startswith(line_start):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_a_frozen_redis_fails_calls_fast_and_never_freezes_the_server(
    replicas, led_bundle, private_redis
):
    server = replicas(led_bundle, private_redis.url, RECSERVE_STORE_TIMEOUT_S="0.3")
    stub = server.stub()
    acknowledged = [f"item-{k:05d}" for k in range(1, 6)]
    for item in acknowledged:
        assert record(stub, "ann", item).accepted == 1
    # a stream of Recommend calls from other clients while Redis freezes
    stop, failures = threading.Event(), []

    def stream() -> None:
        own = server.stub()
        while not stop.is_set():
            try:
                own.Recommend(pb.RecommendRequest(user_id="ann", k=5), timeout=5)
            except grpc.RpcError as error:
                failures.append((error.code(), error.details()))

    callers = [threading.Thread(target=stream) for _ in range(4)]
    for caller in callers:
        caller.start()
    time.sleep(0.3)
    private_redis.process.send_signal(signal.SIGSTOP)
    try:
        time.sleep(0.5)
        assert max(health(server.channel) for _ in range(5)) < 0.5
        started = time.perf_counter()
        with pytest.raises(grpc.RpcError) as refused:
            stub.Recommend(pb.RecommendRequest(user_id="ann", k=5), timeout=5)
        assert time.perf_counter() - started < 1.5
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        assert refused.value.details() == "history store unavailable (timed out); retry later"
        with pytest.raises(grpc.RpcError) as refused:
            record(stub, "ann", "item-00099")
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        rest = httpx.get(server.url + "/v1/recommendations/ann", timeout=5)
        assert rest.status_code == 503
        assert rest.json() == {"detail": "history store unavailable (timed out); retry later"}
        assert httpx.get(server.url + "/healthz", timeout=1).status_code == 200
        assert httpx.get(server.url + "/readyz", timeout=3).status_code == 503
    finally:
        private_redis.process.send_signal(signal.SIGCONT)
    time.sleep(0.5)
    stop.set()
    for caller in callers:
        caller.join(timeout=10)
    assert failures and {code for code, _ in failures} == {grpc.StatusCode.UNAVAILABLE}
    assert all("127.0.0.1" not in text and "Error" not in text for _, text in failures)
    # recovered without a restart; nothing acknowledged was lost
    reply = stub.GetUserHistory(pb.GetUserHistoryRequest(user_id="ann"))
    assert [e.item_id for e in reply.events][:5] == acknowledged
    assert stub.Recommend(pb.RecommendRequest(user_id="ann", k=5)).personalized
    assert httpx.get(server.url + "/readyz").status_code == 200
    outcome = (
        'recserve_api_requests_total{client="anonymous",method="Recommend",outcome="unavailable",'
    )
    assert metric(server.url, outcome + 'transport="grpc"}') >= 1
    assert metric(server.url, outcome + 'transport="http"}') == 1
    assert metric(server.url, "recserve_trends_refresh_errors_total") >= 1


def test_a_stopped_redis_gives_unavailable_and_the_server_recovers_when_it_returns(
    replicas, led_bundle, private_redis
):
    server = replicas(led_bundle, private_redis.url)
    stub = server.stub()
    assert record(stub, "bob", "item-00001").accepted == 1
    private_redis.stop()
    with pytest.raises(grpc.RpcError) as refused:
        record(stub, "bob", "item-00002")
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    assert refused.value.details() == "history store unavailable (cannot connect); retry later"
    time.sleep(0.5)
    ready = httpx.get(server.url + "/readyz").json()
    assert ready["ready"] is False and ready["store"] is False
    assert metric(server.url, "recserve_trends_snapshot_age_seconds") >= 0.4
    private_redis.start()  # a new, empty Redis on the same port
    assert record(stub, "bob", "item-00003").accepted == 1
    reply = stub.GetUserHistory(pb.GetUserHistoryRequest(user_id="bob"))
    assert [e.item_id for e in reply.events] == ["item-00003"]
    deadline = time.time() + 5
    while httpx.get(server.url + "/readyz").status_code != 200:
        assert time.time() < deadline, "not ready again after Redis came back"
        time.sleep(0.1)


def test_a_failed_trend_update_after_the_history_write_is_counted_not_reported(
    replicas, led_bundle, private_redis
):
    server = replicas(led_bundle, private_redis.url)
    client = redis.Redis(port=private_redis.port)
    client.delete("rs:{trend}:scores")
    client.set("rs:{trend}:scores", "not a sorted set")  # every trend update now fails
    stub = server.stub()
    assert record(stub, "cy", "item-00007").accepted == 1  # the history was stored
    reply = stub.GetUserHistory(pb.GetUserHistoryRequest(user_id="cy"))
    assert [e.item_id for e in reply.events] == ["item-00007"]
    assert metric(server.url, "recserve_trends_update_errors_total") == 1


@pytest.mark.parametrize(
    ("store", "reason"),
    [
        (
            "redis://127.0.0.1:{closed}/0",
            "Error 111 connecting to 127.0.0.1:{closed}. Connection refused.",
        ),
        ("redis://127.0.0.1:6379/99999", "DB index is out of range"),
        ("redis+cluster://127.0.0.1:6379", "Cluster mode is not enabled on this node"),
    ],
    ids=["unreachable", "wrong-db", "not-a-cluster"],
)
def test_a_bad_redis_at_start_up_stops_with_one_line_and_status_2(led_bundle, store, reason):
    closed = free_port()
    store = store.format(closed=closed)
    started = serve_until_exit(led_bundle, store)
    assert started.returncode == 2
    lines = started.stderr.strip().splitlines()
    assert len(lines) == 1, started.stderr
    assert lines[0].startswith(f"recserve serve: error: store {store}: cannot open it (")
    assert lines[0].endswith(f"{reason.format(closed=closed)})")


def test_a_redis_that_lost_its_scripts_still_stores_each_event_id_once(redis_url):
    from service.store.base import StoredEvent, open_store

    store = open_store(redis_url, 10)
    try:
        first = StoredEvent("u", "item-00001", 1.0, "view", 1.0, "e1")
        assert store.append([first]) == [first]
        store.client.script_flush()  # as after a Redis restart: NOSCRIPT on the next call
        second = StoredEvent("u", "item-00002", 2.0, "view", 1.0, "e2")
        assert store.append([first, second]) == [second]
        assert [e.event_id for e in store.recent("u", 10)] == ["e1", "e2"]
    finally:
        store.close()
