"""Locust: the gRPC API (generated stubs) under the shared traffic mix.

    locust -f loadtest/locustfile_grpc.py --headless -u 20 -r 10 -t 30s \
        --host 127.0.0.1:50051 --csv reports/locust_grpc --html reports/locust_grpc.html
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

import grpc
import grpc.experimental.gevent as grpc_gevent
from locust import User, between, events, task
from recserve_client.rpc import recommender_pb2 as pb
from recserve_client.rpc import recommender_pb2_grpc as rpc

from loadtest import scenario

# gRPC's C core does its own I/O: without this a blocking call stalls every
# simulated user of the process (locust runs its users as gevent greenlets).
grpc_gevent.init_gevent()


@events.init.add_listener
def _bound(environment, **_kwargs):  # type: ignore[no-untyped-def]
    scenario.count_and_stop(environment)


class GrpcClient(User):
    """A locust User that speaks gRPC: each call is timed and reported to locust."""

    wait_time = between(0.001, 0.01)

    def on_start(self) -> None:
        self.rng = random.Random()
        self.channel = grpc.insecure_channel(self.host)
        self.stub = rpc.RecommenderStub(self.channel)

    def on_stop(self) -> None:
        self.channel.close()

    def call(self, name: str, method: Callable[..., Any], request: Any,
             check: Callable[[Any], str | None] | None = None) -> Any:  # fmt: skip
        start = time.perf_counter()
        reply, error = None, None
        try:
            reply = method(request, timeout=5)
            problem = check(reply) if check else None
            if problem:
                error = AssertionError(problem)
        except grpc.RpcError as failure:
            error = failure
        self.environment.events.request.fire(
            request_type="grpc",
            name=name,
            response_time=(time.perf_counter() - start) * 1000,
            response_length=reply.ByteSize() if reply is not None else 0,
            exception=error,
            context={},
        )
        return reply

    @task(6)
    def recommend(self) -> None:
        request = pb.RecommendRequest(user_id=scenario.pick_user(self.rng), k=10)
        self.call("Recommend", self.stub.Recommend, request)

    @task(3)
    def record(self) -> None:
        event = pb.Event(user_id=scenario.pick_user(self.rng), item_id=scenario.pick_item(self.rng),
                         event_type=scenario.pick_event_type(self.rng))  # fmt: skip
        self.call("RecordEvents", self.stub.RecordEvents, pb.RecordEventsRequest(events=[event]),
                  lambda r: None if r.accepted == 1 else f"rejected: {r.errors}")  # fmt: skip

    @task(1)
    def history(self) -> None:
        request = pb.GetUserHistoryRequest(user_id=scenario.pick_user(self.rng), limit=20)
        self.call("GetUserHistory", self.stub.GetUserHistory, request)

    @task(1)
    def trending(self) -> None:
        if scenario.Burst.due():
            self.burst()
        self.call("GetTrending", self.stub.GetTrending, pb.GetTrendingRequest(k=10))

    def burst(self) -> None:
        item = scenario.Burst.item
        burst = [pb.Event(user_id=f"burst-{k}", item_id=item) for k in range(scenario.BURST_EVENTS)]
        self.call("burst", self.stub.RecordEvents, pb.RecordEventsRequest(events=burst))
        time.sleep(scenario.BURST_SETTLE_S)  # gevent-patched: other users keep running
        top = scenario.BURST_TOP
        self.call("burst check", self.stub.GetTrending, pb.GetTrendingRequest(k=top),
                  lambda r: None if item in {i.item_id for i in r.items}
                  else f"burst item {item} is not in the top {top} trending")  # fmt: skip
