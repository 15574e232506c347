"""Fault injection against real server processes on the embedded store: ``kill -9``
during concurrent writes over gRPC and REST, and two servers on one store."""

import signal
import threading
import time

import grpc
import httpx
from recserve_client.rpc import recommender_pb2 as pb

from tests.conftest import serve_until_exit


def test_every_acknowledged_event_survives_kill_9_and_retries_are_stored_once(
    replicas, led_bundle, tmp_path
):
    """Six writers (3 gRPC, 3 REST) send events with ids; the server is killed; each
    writer retries the event it got no answer for on the restarted server."""
    store = f"file://{tmp_path / 'store'}"
    server = replicas(led_bundle, store)
    acked: dict[str, list[str]] = {}  # user -> items acknowledged, in order
    unanswered: list[dict] = []  # the event each writer was sending when the kill came
    lock = threading.Lock()
    started = time.time()

    def event(transport: str, worker: int, k: int) -> dict:
        user = f"{transport}{worker}-{k // 50}"
        return {"user_id": user, "item_id": f"item-{k % 300:05d}",
                "timestamp": started + k * 1e-3, "event_id": f"{user}-{k}"}  # fmt: skip

    def grpc_writer(worker: int) -> None:
        stub = server.stub()
        for k in range(100_000):
            sent = event("grpc", worker, k)
            try:
                request = pb.RecordEventsRequest(events=[pb.Event(**sent)])
                reply = stub.RecordEvents(request, timeout=5)
            except grpc.RpcError:
                unanswered.append(sent)  # stored or not: the client cannot know
                return
            assert reply.accepted == 1
            with lock:
                acked.setdefault(sent["user_id"], []).append(sent["item_id"])

    def rest_writer(worker: int) -> None:
        with httpx.Client(base_url=server.url, timeout=5) as client:
            for k in range(100_000):
                sent = event("rest", worker, k)
                try:
                    reply = client.post("/v1/events", json={"events": [sent]})
                except httpx.HTTPError:
                    unanswered.append(sent)
                    return
                assert reply.status_code == 200 and reply.json()["accepted"] == 1
                with lock:
                    acked.setdefault(sent["user_id"], []).append(sent["item_id"])

    writers = [threading.Thread(target=grpc_writer, args=(w,)) for w in range(3)]
    writers += [threading.Thread(target=rest_writer, args=(w,)) for w in range(3)]
    for writer in writers:
        writer.start()
    time.sleep(2.0)
    server.stop(signal.SIGKILL)
    for writer in writers:
        writer.join(timeout=30)
    assert sum(len(v) for v in acked.values()) > 200  # the writes really were under way
    assert len(unanswered) == len(writers)

    restarted = replicas(led_bundle, store)
    with httpx.Client(base_url=restarted.url, timeout=5) as client:
        for sent in unanswered:  # the client's retry after a lost acknowledgement
            reply = client.post("/v1/events", json={"events": [sent]}).json()
            assert reply["accepted"] == 1 and reply["duplicates"] in (0, 1)
            acked.setdefault(sent["user_id"], []).append(sent["item_id"])
        for user, items in acked.items():
            stored = client.get(f"/v1/users/{user}/history").json()["events"]
            # every acknowledged event, in order, once; the retried one once
            assert [e["item_id"] for e in stored] == items, user


def test_a_second_server_on_the_same_store_refuses_in_one_line(replicas, led_bundle, tmp_path):
    store = f"file://{tmp_path / 'store'}"
    first = replicas(led_bundle, store)
    second = serve_until_exit(led_bundle, store)
    assert second.returncode == 2
    assert second.stderr.strip().splitlines()[-1] == (
        f"recserve serve: error: file store {tmp_path / 'store'} is in use by process "
        f"{first.process.pid}: one process per file store (cannot open it); use redis:// to "
        "share a store between replicas"
    )
    assert "Traceback" not in second.stderr


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def test_an_adversarial_k_sweep_stays_within_the_user_cache_budget(replicas, led_bundle):
    budget = 1
    server = replicas(led_bundle, "memory://", RECSERVE_USER_CACHE_MB=str(budget))
    stub = server.stub()
    users = [f"sweep{u}" for u in range(200)]
    items = [f"item-{(7 * n) % 200:05d}" for n in range(8)]
    for user in users:
        events = [pb.Event(user_id=user, item_id=item) for item in items]
        stub.RecordEvents(pb.RecordEventsRequest(events=events))
    for user in users:  # warm: every code path and the bundle's pages touched
        stub.Recommend(pb.RecommendRequest(user_id=user, k=100))
    before = _rss_mb(server.process.pid)
    for k in range(1, 101, 3):
        for user in users:
            stub.Recommend(pb.RecommendRequest(user_id=user, k=k))
    grown = _rss_mb(server.process.pid) - before
    assert grown < budget + 4, f"RSS grew {grown:.0f} MB under a {budget} MB cache budget"
