"""Hostile HTTP clients vs everyone else: does /healthz stay fast while some clients send
1 MiB bodies back to back or hold connections open by trickling their headers?

    python -m loadtest.hostile --json reports/hostile.json      (make bench-hostile)

A server (subprocess, memory store, a small synthetic LED bundle) is probed with
sequential ``GET /healthz`` calls for ``--duration`` seconds in each scenario:

- ``quiet``: nothing else (the reference);
- ``1 MiB bodies``: another process posts valid 1 MiB RecordEvents bodies (~10K
  events) back to back, ``--posters`` at a time;
- ``slowloris``: another process opens ``--slow`` connections and sends one header
  line per connection every second, never finishing a request.

The table gives the probe's p50/p99/max and p99 as a ratio to ``quiet``; for
slowloris also how many slow connections the server closed and the longest one
held open (``header_timeout_s`` bounds it). Clients run in their own processes so
their Python does not slow the probe.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing as mp
import os
import select
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from loadtest.benchmark import _free_port, _wait_for
from loadtest.catalog import build_bundle
from training.report import format_table

BODY_EVENTS = 10_000


def _one_mib_body(limit: int = 1 << 20) -> bytes:
    """As many valid events as fit in ``limit`` bytes (the default max_body_bytes)."""
    events = [
        {"user_id": f"user-{n % 500:05d}", "item_id": f"item-{n % 2000:06d}",
         "timestamp": 1.7e9 + n, "event_type": "view", "event_id": f"ev-{n:08d}"}
        for n in range(BODY_EVENTS)
    ]  # fmt: skip
    body = json.dumps({"events": events}).encode()
    while len(body) > limit:
        del events[-100:]
        body = json.dumps({"events": events}).encode()
    return body


def _post_bodies(base: str, stop: Any, sent: Any) -> None:
    body = _one_mib_body()
    headers = {"content-type": "application/json"}
    with httpx.Client(base_url=base, timeout=60) as client:
        while not stop.is_set():
            client.post("/v1/events", content=body, headers=headers).raise_for_status()
            with sent.get_lock():
                sent.value += 1


def _slowloris(port: int, connections: int, stop: Any, report: Any) -> None:
    opened: dict[socket.socket, float] = {}
    for _ in range(connections):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(b"GET /healthz HTTP/1.1\r\nhost: x\r\n")
        opened[sock] = time.monotonic()
    closed, held = 0, 0.0
    while not stop.is_set() and opened:
        for sock in list(opened):
            with contextlib.suppress(OSError):  # closed: seen by select below
                sock.sendall(b"x-slow: 1\r\n")
        ready, _, _ = select.select(list(opened), [], [], 1.0)
        for sock in ready:
            try:
                data = sock.recv(4096)
            except OSError:
                data = b""
            if not data or data.startswith(b"HTTP/1.1 408"):
                held = max(held, time.monotonic() - opened.pop(sock))
                closed += 1
                sock.close()
    now = time.monotonic()
    held = max([held] + [now - t for t in opened.values()])
    report.put({"opened": connections, "closed_by_server": closed, "longest_held_s": held})


def _probe(base: str, duration: float) -> dict[str, float]:
    latencies = []
    with httpx.Client(base_url=base, timeout=30) as client:
        client.get("/healthz")
        deadline = time.monotonic() + duration
        while time.monotonic() < deadline:
            start = time.perf_counter()
            client.get("/healthz").raise_for_status()
            latencies.append(time.perf_counter() - start)
            time.sleep(0.005)
    ms = np.array(latencies) * 1000
    return {
        "n": len(ms),
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "max_ms": float(ms.max()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", default="bundles/bench-led-2k/1")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per scenario")
    parser.add_argument("--posters", type=int, default=2, help="concurrent 1 MiB posters")
    parser.add_argument("--slow", type=int, default=200, help="slowloris connections")
    parser.add_argument("--header-timeout-s", type=float, default=10.0)
    parser.add_argument("--json", default="reports/hostile.json")
    args = parser.parse_args()
    bundle, _ = build_bundle(Path(args.bundle), "led", n_items=2000, clusters=40)
    port = _free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1",
           "RECSERVE_MAX_EVENTS_PER_CALL": str(BODY_EVENTS),
           "RECSERVE_HEADER_TIMEOUT_S": str(args.header_timeout_s)}  # fmt: skip
    server = subprocess.Popen(
        [sys.executable, "-m", "service", "--bundle", str(bundle), "--store", "memory",
         "--grpc-port", str(_free_port()), "--http-port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    results: dict[str, Any] = {}
    try:
        _wait_for(server, "Ctrl-C stops")
        results["quiet"] = _probe(base, args.duration)

        stop, sent = mp.Event(), mp.Value("i", 0)
        posters = [
            mp.Process(target=_post_bodies, args=(base, stop, sent)) for _ in range(args.posters)
        ]
        for p in posters:
            p.start()
        time.sleep(1.0)
        results["1 MiB bodies"] = _probe(base, args.duration)
        results["1 MiB bodies"]["bodies_posted"] = sent.value
        stop.set()
        for p in posters:
            p.join(timeout=60)

        stop, report = mp.Event(), mp.Queue()
        loris = mp.Process(target=_slowloris, args=(port, args.slow, stop, report))
        loris.start()
        time.sleep(1.0)
        results["slowloris"] = _probe(base, args.duration)
        time.sleep(max(0.0, args.header_timeout_s + 2 - args.duration - 1))
        stop.set()
        results["slowloris"].update(report.get(timeout=30))
        loris.join(timeout=30)
    finally:
        server.terminate()
        server.wait(timeout=20)

    quiet = results["quiet"]["p99_ms"]
    rows = []
    for name, r in results.items():
        r["p99_ratio"] = r["p99_ms"] / quiet
        rows.append([name, f"{r['p50_ms']:.2f}", f"{r['p99_ms']:.2f}", f"{r['max_ms']:.1f}",
                     f"{r['p99_ratio']:.1f}", str(r["n"])])  # fmt: skip
    header = ["scenario", "healthz p50 ms", "p99 ms", "max ms", "p99 / quiet", "n"]
    print(format_table(header, rows))
    s = results["slowloris"]
    print(
        f"\n1 MiB bodies posted: {results['1 MiB bodies']['bodies_posted']}; slowloris: "
        f"{s['closed_by_server']}/{s['opened']} connections closed by the server, longest "
        f"held {s['longest_held_s']:.1f} s (header_timeout_s {args.header_timeout_s})"
    )
    report_out = {"scenarios": results, "header_timeout_s": args.header_timeout_s,
                  "posters": args.posters, "cpu_count": os.cpu_count()}  # fmt: skip
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report_out, indent=2) + "\n")


if __name__ == "__main__":
    main()
