"""``recserve import-events`` throughput into the embedded store and into Redis.

    python -m benchmarks.import_events --json reports/import.json      (make bench-import)

A synthetic log (``--users`` x ~67 events, the demo generator) is imported into a
fresh ``file://`` store and into a Redis started by the benchmark on a free
loopback port (never the one on 6379), then imported again (nothing is stored
twice; the re-run's time is the cost of checking). Reference, measured in the
same run on the same rows: the store's plain ``append`` without event ids (what
RecordEvents without ids costs), so ``ratio`` is the price of idempotence.

Target (onboarding issue): at least 100,000 events/s into each store.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from loadtest.benchmark import _free_port
from recserve.importer import import_events, latest_rows, to_events
from service.store.base import EventStore, open_store
from service.trends import RedisTrends
from training.data.synthetic import SyntheticConfig, generate
from training.report import format_table


def _start_redis(port: int) -> subprocess.Popen:
    if shutil.which("redis-server") is None:
        raise SystemExit("redis-server is needed")
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return process
        except OSError:
            time.sleep(0.05)
    process.terminate()
    raise SystemExit(f"redis-server did not start on {port}")


def _plain_rate(store: EventStore, events: list[Any], batch: int) -> float:
    plain = [e._replace(event_id="") for e in events]
    start = time.perf_counter()
    for first in range(0, len(plain), batch):
        store.append(plain[first : first + batch])
    return len(plain) / (time.perf_counter() - start)


def measure(name: str, url: str, plain_url: str, log: Any, max_history: int) -> dict[str, Any]:
    store = open_store(url, max_history, timeout=30.0)
    try:
        trends = RedisTrends(store.client, 3600.0) if hasattr(store, "client") else None
        first = import_events(log, store, trends, progress=False)
        again = import_events(log, store, trends, progress=False)
    finally:
        store.close()
    reference = open_store(plain_url, max_history, timeout=30.0)
    try:
        events = to_events(log, latest_rows(log, max_history))
        plain = _plain_rate(reference, events, 20_000)
    finally:
        reference.close()
    rate = first.imported / first.seconds
    return {
        "store": name,
        "events": first.imported,
        "users": first.users,
        "seconds": first.seconds,
        "events_per_s": rate,
        "rerun_seconds": again.seconds,
        "rerun_imported": again.imported,
        "plain_append_per_s": plain,
        "ratio": rate / plain,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--max-history", type=int, default=200)
    parser.add_argument("--json", default="reports/import.json")
    args = parser.parse_args()
    log = generate(SyntheticConfig(seed=0, n_users=args.users, n_items=args.items)).interactions
    port = _free_port()
    redis_process = _start_redis(port)
    tmp = Path(tempfile.mkdtemp(prefix="bench-import-"))
    try:
        rows = [
            measure("file://", f"file://{tmp / 'a'}", f"file://{tmp / 'b'}", log, args.max_history),
            measure(
                "redis://",
                f"redis://127.0.0.1:{port}/0",
                f"redis://127.0.0.1:{port}/1",
                log,
                args.max_history,
            ),
        ]
    finally:
        redis_process.terminate()
        redis_process.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)
    print(
        format_table(
            ["store", "events", "users", "import s", "events/s", "re-run s", "plain append/s",
             "ratio"],
            [[r["store"], f"{r['events']:,}", f"{r['users']:,}", f"{r['seconds']:.2f}",
              f"{r['events_per_s']:,.0f}", f"{r['rerun_seconds']:.2f}",
              f"{r['plain_append_per_s']:,.0f}", f"{r['ratio']:.2f}"] for r in rows],
        )
    )  # fmt: skip
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    report = {"rows": rows, "log_events": len(log.user), "cpu_count": os.cpu_count()}
    path.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
