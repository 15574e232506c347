"""Closed-loop gRPC load generator: C concurrent callers for D seconds.

Each caller sends Recommend for a random user (from ``--users`` ids) as soon
as its previous call returns; latencies are wall-clock per call. With
``--events-per-request R`` the user first records an event (a view of a random
one of ``--items`` items) before a share R of the requests, as in production:
``qps`` still counts Recommend calls, ``events`` the RecordEvents calls. Bounded in
time and count, loopback only. Prints one JSON object:
``{"qps", "p50_ms", "p99_ms", "requests", "errors", "seconds"}``.

    python -m loadtest.grpc_load --target 127.0.0.1:50051 --concurrency 8 --duration 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time

import grpc
import numpy as np
from recserve_client.rpc import recommender_pb2 as pb
from recserve_client.rpc import recommender_pb2_grpc as rpc


async def run(
    target: str,
    concurrency: int,
    duration: float,
    users: int,
    k: int,
    limit: int,
    events_per_request: float = 0.0,
    items: int = 100_000,
) -> dict:
    latencies: list[float] = []
    errors = events = 0
    deadline = time.perf_counter() + duration
    async with grpc.aio.insecure_channel(target) as channel:
        stub = rpc.RecommenderStub(channel)
        await stub.Recommend(pb.RecommendRequest(user_id="warm-up", k=k))

        async def caller(seed: int) -> None:
            nonlocal errors, events
            rng = random.Random(seed)
            while time.perf_counter() < deadline and len(latencies) < limit:
                user = f"user-{rng.randrange(users):05d}"
                request = pb.RecommendRequest(user_id=user, k=k)
                start = time.perf_counter()
                try:
                    if rng.random() < events_per_request:
                        event = pb.Event(user_id=user, item_id=f"item-{rng.randrange(items):06d}",
                                         timestamp=time.time(), event_type="view")  # fmt: skip
                        await stub.RecordEvents(pb.RecordEventsRequest(events=[event]), timeout=10)
                        events += 1
                        start = time.perf_counter()
                    await stub.Recommend(request, timeout=10)
                    latencies.append(time.perf_counter() - start)
                except grpc.aio.AioRpcError:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(caller(s) for s in range(concurrency)))
        elapsed = time.perf_counter() - started
    lat = np.array(latencies) * 1000
    return {
        "qps": len(lat) / elapsed,
        "p50_ms": float(np.percentile(lat, 50)) if len(lat) else None,
        "p99_ms": float(np.percentile(lat, 99)) if len(lat) else None,
        "requests": len(lat),
        "errors": errors,
        "events": events,
        "seconds": elapsed,
        "concurrency": concurrency,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", required=True)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--max-requests", type=int, default=1_000_000)
    parser.add_argument("--events-per-request", type=float, default=0.0)
    parser.add_argument("--items", type=int, default=100_000)
    args = parser.parse_args()
    load = (args.target, args.concurrency, args.duration, args.users, args.k, args.max_requests)
    result = asyncio.run(run(*load, args.events_per_request, args.items))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
