"""Headless locust runs against real servers on loopback, summarised in one table.

For each store (the embedded file store, Redis) a ``recserve serve`` process is
started on the bundle, then the REST and the gRPC locust scenarios
(``locustfile_rest.py``, ``locustfile_grpc.py``) run against it one after the
other, bounded in clients, duration and request count. Locust's own CSV, JSON
and HTML reports are written beside the JSON summary; the table has the aggregate
RPS, p50/p95/p99 and failure count of each run, and the burst check of the
scenario (a trending burst mid-run must put its item at #1).

    python -m loadtest.locust_run --stores file,redis://127.0.0.1:6379/14 \\
        --users 20 --duration 30 --out reports/locust

The Redis database named in the URL is flushed before the run.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
LOCUSTFILES = {"rest": HERE / "locustfile_rest.py", "grpc": HERE / "locustfile_grpc.py"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """``recserve serve`` in a subprocess, ready once ``/readyz`` answers 200."""

    def __init__(self, bundle: Path, store: str) -> None:
        self.grpc_port, self.http_port = _free_port(), _free_port()
        self.log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (lives as long as the server)
        args = [
            sys.executable, "-m", "service", "--bundle", str(bundle), "--store", store,
            "--grpc-port", str(self.grpc_port), "--http-port", str(self.http_port),
        ]  # fmt: skip
        self.process = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.log.seek(0)
                code, output = self.process.returncode, self.log.read()
                raise SystemExit(f"server exited with {code}:\n{output}")
            try:
                with urllib.request.urlopen(f"{self.http_url}/readyz", timeout=1) as reply:
                    if reply.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise SystemExit("server not ready within 60 s")

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def stop(self) -> int:
        self.process.terminate()
        return self.process.wait(timeout=30)


def _percentile(histogram: dict[float, int], q: float) -> float:
    """Locust keeps response times as a histogram of rounded milliseconds."""
    total, seen = sum(histogram.values()), 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= q * total:
            return value
    return float("nan")


def _summarise(entries: list[dict[str, Any]]) -> dict[str, Any]:
    histogram: dict[float, int] = {}
    for entry in entries:
        for value, count in entry["response_times"].items():
            histogram[float(value)] = histogram.get(float(value), 0) + count
    requests = sum(e["num_requests"] for e in entries)
    span = max(e["last_request_timestamp"] for e in entries) - min(e["start_time"] for e in entries)
    return {
        "requests": requests,
        "failures": sum(e["num_failures"] for e in entries),
        "rps": requests / span if span > 0 else float("nan"),
        **{f"p{q}_ms": _percentile(histogram, q / 100) for q in (50, 95, 99)},
    }


def _aggregate(json_path: Path) -> dict[str, Any]:
    """Locust's final ``--json-file`` stats: all requests together, and per name."""
    entries = json.loads(json_path.read_text())
    burst = [e for e in entries if e["name"] == "burst check"]
    return {
        **_summarise(entries),
        "burst_checked": bool(burst) and burst[0]["num_requests"] > 0,
        "burst_failures": burst[0]["num_failures"] if burst else None,
        "per_request": {e["name"]: _summarise([e]) for e in entries},
    }


def run_locust(
    api: str, host: str, bundle: Path, prefix: Path, burst_row: int, args: argparse.Namespace
) -> None:
    env = {
        **os.environ,
        "LOCUST_BUNDLE": str(bundle.resolve()),
        "LOCUST_MAX_REQUESTS": str(args.max_requests),
        "LOCUST_BURST_AT": str(args.duration / 2),
        "LOCUST_BURST_ITEM_ROW": str(burst_row),
    }
    command = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILES[api]), "--headless",
        "-u", str(args.users), "-r", str(args.spawn_rate), "-t", f"{args.duration}s",
        "--host", host, "--csv", str(prefix), "--html", f"{prefix}.html",
        "--json-file", str(prefix),
        "--only-summary", "--stop-timeout", "5", "--loglevel", "WARNING",
    ]  # fmt: skip
    # Locust exits 1 when any request failed: the table reports that, so the
    # exit code is not an error here; a missing report is.
    # the locustfiles import ``loadtest.scenario``: run from the repository root
    subprocess.run(command, env=env, cwd=HERE.parent, check=False, timeout=args.duration + 120)
    if not Path(f"{prefix}_stats.csv").exists():
        raise SystemExit(f"locust wrote no report for {api} ({prefix}_stats.csv)")


def _store_label(store: str) -> str:
    return "redis" if store.startswith("redis") else store.split(":", 1)[0]


def _flush_redis(url: str) -> None:
    import redis

    redis.Redis.from_url(url).flushdb()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--bundle", type=Path, default=Path("bundles/demo/1"),
        help="bundle to serve (default: the demo bundle, built if missing)",
    )  # fmt: skip
    parser.add_argument(
        "--stores", default="file,redis://127.0.0.1:6379/14",
        help="comma-separated: file (embedded, in a temp dir), memory, redis://HOST:PORT/DB",
    )  # fmt: skip
    parser.add_argument("--apis", default="rest,grpc")
    parser.add_argument("--users", type=int, default=20, help="concurrent locust users")
    parser.add_argument("--spawn-rate", type=int, default=10)
    parser.add_argument("--duration", type=int, default=30, help="seconds per run")
    parser.add_argument("--max-requests", type=int, default=100_000, help="per run")
    parser.add_argument("--out", type=Path, default=Path("reports/locust"))
    args = parser.parse_args(argv)

    if not (args.bundle / "manifest.json").exists():
        if args.bundle != Path("bundles/demo/1"):
            raise SystemExit(f"--bundle: no manifest.json in {args.bundle}")
        from recserve.demo import prepare

        prepare(Path("."), seed=0)
    args.out.mkdir(parents=True, exist_ok=True)

    results: dict[str, dict[str, Any]] = {}
    burst_row = 0
    for store in args.stores.split(","):
        label = _store_label(store)
        with tempfile.TemporaryDirectory() as scratch:
            url = {"file": f"file://{scratch}/store"}.get(store, store)
            if url.startswith("redis"):
                _flush_redis(url)
            server = ServerProcess(args.bundle, url)
            try:
                for api in args.apis.split(","):
                    # each run bursts its own item, so one run's burst cannot pass another's check
                    burst_row += 1
                    host = server.http_url if api == "rest" else f"127.0.0.1:{server.grpc_port}"
                    prefix = args.out / f"{label}_{api}"
                    print(f"locust: {api} against the {label} store ...", flush=True)
                    run_locust(api, host, args.bundle, prefix, burst_row, args)
                    results[f"{label}/{api}"] = _aggregate(Path(f"{prefix}.json"))
            finally:
                code = server.stop()
            results_for_store = [r for k, r in results.items() if k.startswith(label + "/")]
            for result in results_for_store:
                result["server_exit_code"] = code

    header = f"{'run':<12} {'requests':>9} {'fail':>5} {'rps':>8} {'p50 ms':>7} {'p95 ms':>7} "
    print("\n" + header + f"{'p99 ms':>7}  burst")
    for name, r in results.items():
        burst = "n/a" if not r["burst_checked"] else ("ok" if r["burst_failures"] == 0 else "FAIL")
        print(
            f"{name:<12} {r['requests']:>9} {r['failures']:>5} {r['rps']:>8.1f} "
            f"{r['p50_ms']:>7.1f} {r['p95_ms']:>7.1f} {r['p99_ms']:>7.1f}  {burst}"
        )
    summary = {
        "bundle": str(args.bundle),
        "users": args.users,
        "duration_s": args.duration,
        "max_requests": args.max_requests,
        "results": results,
    }
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"\nreports in {args.out}/ (summary.json; per run <store>_<api>.html, .json, _stats.csv)")
    failed = any(r["failures"] or r["server_exit_code"] for r in results.values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
