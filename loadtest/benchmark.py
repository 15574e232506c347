"""Serving benchmark of one model kind: stage latencies in process, then gRPC end to end
against a do-nothing server.

1. Exports a synthetic 100K-item catalogue of the model (``--model led|predictor|
   attrec|hrnn``, its own architecture with clustered, trained-looking parameters)
   as a real bundle (``loadtest.catalog``), and fills 1,000 users with
   50-event histories.
2. In process (no transport, user cache off: every call encodes and searches):
   p50/p99 of each stage of the request path and of the whole Recommend call,
   and the recall@10 of the served top-10 against exact search over all items;
   then the whole call again with the user cache on (the server's default), which
   a call reuses until the user's next event.
   Events are interleaved with requests as in production: before a share
   ``--events-per-request`` (default 0.5) of the requests the user records one
   event (RecordEvents timed as a whole). For a stateful bundle (LED, HRNN-meta)
   also the p50 of one ``step`` and of one ``readout`` on their own.
3. End to end: the real server and a do-nothing gRPC server, each in its own
   process, loaded by the same closed-loop generator (another process, the same
   event mix) in the same run; throughput ratio and latency percentiles, and each
   server's CPU per request (``/proc``; the generator shares the cores, so req/s
   moves with it, while CPU per request is the server's own cost).

    python -m loadtest.benchmark --model attrec --json reports/serving_attrec.json
    python -m loadtest.benchmark --model led+rerank --rerank-param depth=4

``+rerank`` exports the attention re-ranker (``training.models.attention``, 64-d
item vectors, the given settings) as the bundle's second stage; the ``rerank``
stage then re-scores the top 100 candidates against the 50-event history.

Targets: search+rerank p50 < 0.3 ms at recall@10 >= 0.95, an uncached Recommend
in process < 0.3 ms (the contract issue, for each model); the rerank stage p50 <
0.3 ms (the re-ranker issue); gRPC throughput >=
70% of the null server's and p99 < 5 ms at that load (the service issue, LED).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from loadtest.catalog import MODELS, USERS, build_bundle
from service.app import Server
from service.core.types import EventInput, RecommendRequest
from service.settings import Settings
from training.jobs.source import parse_value
from training.report import format_table

HISTORY = 50


def seed_events(service: Any, histories: list[np.ndarray], now: float) -> None:
    for user, rows in enumerate(histories):
        events = [
            EventInput(f"user-{user:05d}", f"item-{r:06d}", now - (len(rows) - i), "view")
            for i, r in enumerate(rows)
        ]
        result = service.record_events(events)
        assert result.accepted == len(rows), result.errors[:3]


def stage_latencies(
    bundle: Path,
    histories: list[np.ndarray],
    requests: int,
    events_per_request: float,
    cache_mb: float = 0.0,
) -> dict[str, Any]:
    """Per-stage and whole-call microseconds; ``cache_mb`` 0 (no user cache): every
    request encodes and searches, so each stage is measured."""
    settings = Settings(bundle=str(bundle), store="memory://", max_history=HISTORY,
                        user_cache_mb=cache_mb)  # fmt: skip
    server = Server(settings)
    server.bundles.load()
    server.refresher.refresh()
    seed_events(server.service, histories, time.time())
    server.metrics.samples = {}
    recall_hits, recall_total = 0, 0
    bundle = server.bundles.current
    vectors = bundle.vectors
    rng = np.random.default_rng(0)
    calls, records = [], []
    for n in range(requests):
        user = int(rng.integers(USERS))
        name = f"user-{user:05d}"
        if rng.random() < events_per_request:
            item = f"item-{int(rng.integers(len(vectors))):06d}"
            started = time.perf_counter()
            server.service.record_events([EventInput(name, item, time.time(), "view")])
            records.append(time.perf_counter() - started)
        now = time.time()
        started = time.perf_counter()
        reply = server.service.recommend(RecommendRequest(name, 10, now=now))
        calls.append(time.perf_counter() - started)
        if n < 300:  # served top-10 vs exact top-10 over every unseen item
            if bundle.reranker is not None:  # the retrieval answer: a re-ranker reorders it
                reply = server.service.recommend(RecommendRequest(name, 10, now=now, rerank_n=0))
            context = bundle.user_context((name,))
            history, stamps = _history_batch(server, user, now)
            if bundle.states is not None:  # the served query: the state's readout
                state = server.service.states.load(bundle, name)
                query = bundle.states.readout(state, now, context)
            else:
                query = bundle.encoder.encode(history, stamps, context)[0]
            scores = vectors @ query
            scores[np.unique(history.item)] = -np.inf
            exact = set(np.argsort(-scores)[:10].tolist())
            served = {int(i.item_id[5:]) for i in reply.items}
            recall_hits += len(exact & served)
            recall_total += 10
    samples = {k: np.array(v) * 1e6 for k, v in server.metrics.samples.items()}
    samples["recommend (whole call)"] = np.array(calls) * 1e6
    if records:
        samples["record one event (whole call)"] = np.array(records) * 1e6
    server.metrics.samples = None
    if bundle.states is not None:
        samples |= _state_graphs(server, bundle, rng)
    server.store.close()
    stages = {
        k: {"p50_us": float(np.percentile(v, 50)), "p99_us": float(np.percentile(v, 99))}
        for k, v in samples.items()
    }
    n = min(len(samples[k]) for k in ("retrieve", "score", "select"))
    search_rerank = samples["retrieve"][:n] + samples["score"][:n] + samples["select"][:n]
    stages["search+rerank"] = {
        "p50_us": float(np.percentile(search_rerank, 50)),
        "p99_us": float(np.percentile(search_rerank, 99)),
    }
    cache = server.service.cache
    hits = cache.hits / max(cache.hits + cache.misses, 1)
    return {"stages": stages, "served_recall@10": recall_hits / max(recall_total, 1),
            "cache_hit_share": hits}  # fmt: skip


def _state_graphs(server: Server, bundle: Any, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Microseconds of one ``step`` (one event) and one ``readout``, on users' states."""
    from bundle.history import Sequences

    states, step, readout = bundle.states, [], []
    for _ in range(2000):
        name = f"user-{int(rng.integers(USERS)):05d}"
        state = server.service.states.load(bundle, name)
        context = bundle.user_context((name,))
        event = Sequences.single(np.array([int(rng.integers(len(bundle.vectors)))]),
                                 np.array([time.time()]))  # fmt: skip
        started = time.perf_counter()
        states.advance(state, event, context)
        step.append(time.perf_counter() - started)
        started = time.perf_counter()
        states.readout(state, time.time(), context)
        readout.append(time.perf_counter() - started)
    return {"state step (one event)": np.array(step) * 1e6,
            "state readout": np.array(readout) * 1e6}  # fmt: skip


def _history_batch(server: Server, user: int, now: float) -> tuple[Any, np.ndarray]:
    from service.core.rows import to_history

    events = server.store.recent(f"user-{user:05d}", HISTORY)
    history, _ = to_history(server.bundles.current, events)
    return history, np.array([now])


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(process: subprocess.Popen, marker: str, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    assert process.stdout is not None
    while time.time() < deadline:
        line = process.stdout.readline()
        if marker in line:
            return
        if process.poll() is not None:
            raise RuntimeError(f"process exited: {line}")
    raise TimeoutError(marker)


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds a process has used (Linux ``/proc``; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _load(
    target: str,
    concurrency: int,
    duration: float,
    events: float,
    items: int,
    server: subprocess.Popen,
) -> dict[str, Any]:
    """One closed-loop run against ``target``, with the CPU the ``server`` process spent
    per Recommend (its RecordEvents included): unlike req/s, not shared with the load
    generator, which runs on the same cores."""
    before = process_cpu_seconds(server.pid)
    out = subprocess.run(
        [sys.executable, "-m", "loadtest.grpc_load", "--target", target,
         "--concurrency", str(concurrency), "--duration", str(duration), "--users", str(USERS),
         "--events-per-request", str(events), "--items", str(items)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    after = process_cpu_seconds(server.pid)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    cpu = None if before is None or after is None else after - before
    result["server_cpu_us_per_request"] = (
        None if cpu is None else cpu / max(result["requests"], 1) * 1e6
    )
    return result


def end_to_end(
    bundle: Path,
    histories: list[np.ndarray],
    levels: list[int],
    duration: float,
    rounds: int,
    cache: bool = True,
    event_share: float = 0.0,
    items: int = 100_000,
) -> dict[int, dict[str, Any]]:
    """For each concurrency level: best-of-``rounds`` runs against the real and the
    null server, interleaved so both see the same machine state."""
    import grpc
    from recserve_client.rpc import recommender_pb2 as pb
    from recserve_client.rpc import recommender_pb2_grpc as rpc

    env = {**os.environ, "PYTHONUNBUFFERED": "1", "RECSERVE_MAX_HISTORY": str(HISTORY)}
    if not cache:
        env["RECSERVE_USER_CACHE_MB"] = "0"
    real_port, null_port = _free_port(), _free_port()
    real = subprocess.Popen(
        [sys.executable, "-m", "service", "--bundle", str(bundle), "--store", "memory",
         "--grpc-port", str(real_port), "--http-port", str(_free_port())],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    null = subprocess.Popen(
        [sys.executable, "-m", "loadtest.null_server", "--port", str(null_port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        _wait_for(real, "Ctrl-C stops")
        _wait_for(null, "ready")
        with grpc.insecure_channel(f"127.0.0.1:{real_port}") as channel:
            stub = rpc.RecommenderStub(channel)
            now = time.time()
            for user, rows in enumerate(histories):
                events = [
                    pb.Event(
                        user_id=f"user-{user:05d}",
                        item_id=f"item-{r:06d}",
                        timestamp=now - (len(rows) - i),
                        event_type="view",
                    )
                    for i, r in enumerate(rows)
                ]
                stub.RecordEvents(pb.RecordEventsRequest(events=events))
        out: dict[int, dict[str, Any]] = {}
        for level in levels:
            runs: dict[str, list[dict[str, Any]]] = {"grpc": [], "null_grpc": []}
            for _ in range(rounds):
                runs["null_grpc"].append(
                    _load(f"127.0.0.1:{null_port}", level, duration, event_share, items, null)
                )
                runs["grpc"].append(
                    _load(f"127.0.0.1:{real_port}", level, duration, event_share, items, real)
                )
            best = {name: max(results, key=lambda r: r["qps"]) for name, results in runs.items()}
            best["ratio"] = best["grpc"]["qps"] / best["null_grpc"]["qps"]
            cpu = {name: [r["server_cpu_us_per_request"] for r in results]
                   for name, results in runs.items()}  # fmt: skip
            if None not in cpu["grpc"] + cpu["null_grpc"]:  # the least CPU per request of each
                best["cpu_ratio"] = min(cpu["null_grpc"]) / min(cpu["grpc"])
            out[level] = best
        return out
    finally:
        for process in (real, null):
            process.terminate()
            process.wait(timeout=20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    kinds = sorted(MODELS) + [f"{m}+rerank" for m in sorted(MODELS)]
    parser.add_argument(
        "--model", default="led", choices=kinds, help="model kind; +rerank adds the attention "
        "re-ranker as the second stage (re-scoring the top 100 against a 50-event history)",
    )  # fmt: skip
    parser.add_argument(
        "--rerank-param", action="append", default=[], metavar="NAME=VALUE",
        help="attention re-ranker setting for +rerank, e.g. depth=4 (repeatable)",
    )  # fmt: skip
    parser.add_argument("--bundle", default=None, help="default bundles/bench-<model>-100k/1")
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=3000, help="in-process requests")
    parser.add_argument(
        "--concurrency", default="1,2,4", help="closed-loop callers, one run per level"
    )
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3, help="best of N runs per server and level")
    parser.add_argument(
        "--no-cache", action="store_true", help="serve with the user-vector cache off"
    )
    parser.add_argument(
        "--events-per-request", type=float, default=0.5,
        help="share of requests before which the user records one event (0: reads only)",
    )  # fmt: skip
    parser.add_argument("--json", default=None, help="default reports/serving_<model>.json")
    args = parser.parse_args()
    started = time.time()
    model, rerank, _ = args.model.partition("+")
    settings = {k: parse_value(v) for k, _, v in (p.partition("=") for p in args.rerank_param)}
    tag = "".join(f"-{k}{v}" for k, v in sorted(settings.items()))
    out = Path(args.bundle or f"bundles/bench-{args.model}{tag}-100k/1")
    bundle, histories = build_bundle(out, model, n_items=args.items, history=HISTORY,
                                     reranker=settings if rerank else None)  # fmt: skip
    manifest = json.loads((bundle / "manifest.json").read_text())
    events = args.events_per_request
    inproc = stage_latencies(bundle, histories, args.requests, events)
    cached = stage_latencies(bundle, histories, args.requests, events,
                             Settings.model_fields["user_cache_mb"].default)  # fmt: skip
    inproc["stages"]["recommend (whole call, user cache on)"] = cached["stages"][
        "recommend (whole call)"
    ]
    levels = [int(c) for c in args.concurrency.split(",")]
    e2e = end_to_end(
        bundle,
        histories,
        levels,
        args.duration,
        args.rounds,
        not args.no_cache,
        events,
        manifest["item_count"],
    )
    main_level = e2e[levels[-1]]
    report = {
        "model": args.model,
        "reranker": manifest.get("reranker") and manifest["reranker"]["model"],
        "catalog": {"items": manifest["item_count"], "dim": manifest["dim"], "history": HISTORY},
        "index": {
            "recall@10": manifest["index"]["recall_at_10"],
            "recall@100": manifest["index"]["recall_at_100"],
            "served_recall@10": inproc["served_recall@10"],
            "M": manifest["index"]["M"],
            "ef_search": manifest["index"]["ef_search"],
        },
        "stages": inproc["stages"],
        "grpc": main_level["grpc"],
        "null_grpc": main_level["null_grpc"],
        "throughput_ratio": main_level["ratio"],
        "cpu_ratio": main_level.get("cpu_ratio"),
        "by_concurrency": {str(level): e2e[level] for level in levels},
        "user_cache": not args.no_cache,
        "in_process_cache_hit_share": cached["cache_hit_share"],
        "events_per_request": events,
        "stateful": manifest.get("stateful") is not None,
        "cpu_count": os.cpu_count(),
        "seconds": time.time() - started,
    }
    rows = [
        [name, f"{v['p50_us']:.0f}", f"{v['p99_us']:.0f}"] for name, v in inproc["stages"].items()
    ]
    print(format_table(["stage (in process)", "p50 us", "p99 us"], rows))
    print()
    rows = []
    for level in levels:
        for name, key in (("recserve", "grpc"), ("do-nothing", "null_grpc")):
            r = e2e[level][key]
            cpu = r["server_cpu_us_per_request"]
            rows.append([str(level), name, f"{r['qps']:.0f}", f"{r['p50_ms']:.2f}",
                         f"{r['p99_ms']:.2f}", str(r["errors"]),
                         "-" if cpu is None else f"{cpu:.0f}"])  # fmt: skip
        cpu_ratio = e2e[level].get("cpu_ratio")
        rows.append([str(level), "ratio", f"{e2e[level]['ratio']:.2f}", "", "", "",
                     "-" if cpu_ratio is None else f"{cpu_ratio:.2f}"])  # fmt: skip
    print(format_table(["callers", "gRPC server", "req/s", "p50 ms", "p99 ms", "errors",
                        "server CPU µs/req"], rows))  # fmt: skip
    print("(ratio: req/s against the do-nothing server's; in the last column, the do-nothing "
          "server's CPU per request over recserve's)")  # fmt: skip
    print(
        f"\n{args.model}: index recall@10 {manifest['index']['recall_at_10']:.3f} "
        f"(ef_search {manifest['index']['ef_search']}), "
        f"served top-10 recall {inproc['served_recall@10']:.3f}"
    )
    path = Path(args.json or f"reports/serving_{args.model}.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
