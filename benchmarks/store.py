"""Embedded store benchmark: append latency as the store grows, start-up replay rate,
and append throughput under each ``fsync`` policy.

    python -m benchmarks.store --json reports/store.json      (make bench-store)

For each size (1K, 100K, 1M stored events by default) a fresh ``file://`` store
is filled in batches of 10,000 events (users of 100 events each), then one
event per call is appended ``--samples`` times, as a RecordEvents call of one
event does: p50/p99 of that call. The 1M store is then closed and reopened:
events replayed per second. Last, ``--samples`` single-event appends under
each fsync policy (``batch``: written to the OS before the acknowledgement,
fsync at most once a second; ``always``: fsync before every acknowledgement).

Target (reliability issue): the append p50 at 1M within 1.5x of the one at 1K.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from service.store.base import StoredEvent
from service.store.file import FileStore
from training.report import format_table

PER_USER = 100


def events(start: int, count: int) -> list[StoredEvent]:
    """Events ``start .. start+count`` of the synthetic stream (user = n // PER_USER)."""
    return [
        StoredEvent(f"user-{n // PER_USER:07d}", f"item-{n % 9973:05d}", 1.7e9 + n, "view", 1.0)
        for n in range(start, start + count)
    ]


def fill(store: FileStore, size: int, label: str) -> None:
    step = 10_000
    for start in tqdm(range(0, size, step), desc=f"fill {label}", unit="batch", leave=False):
        store.append(events(start, min(step, size - start)))


def single_appends(store: FileStore, first: int, samples: int) -> np.ndarray:
    """Seconds of ``samples`` one-event appends (new events after ``first``)."""
    out = np.empty(samples)
    stream = events(first, samples)
    for n, event in enumerate(stream):
        started = time.perf_counter()
        store.append([event])
        out[n] = time.perf_counter() - started
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,100000,1000000", help="stored events")
    parser.add_argument("--samples", type=int, default=3000, help="timed appends per size")
    parser.add_argument("--max-history", type=int, default=200)
    parser.add_argument("--root", default=None, help="scratch folder (default: a temp dir)")
    parser.add_argument("--json", default="reports/store.json")
    args = parser.parse_args()
    root = Path(args.root or tempfile.mkdtemp(prefix="recserve-bench-store-"))
    sizes = [int(s) for s in args.sizes.split(",")]
    report: dict = {"samples": args.samples, "appends": {}, "fsync": {}}
    rows = []
    try:
        for size in sizes:
            folder = root / f"size-{size}"
            shutil.rmtree(folder, ignore_errors=True)
            store = FileStore(str(folder), args.max_history)
            fill(store, size, f"{size:,}")
            took = single_appends(store, size, args.samples) * 1e6
            store.close()
            p50, p99 = float(np.percentile(took, 50)), float(np.percentile(took, 99))
            report["appends"][str(size)] = {"p50_us": p50, "p99_us": p99}
            rows.append([f"{size:,}", f"{p50:.0f}", f"{p99:.0f}"])
        largest = sizes[-1]
        started = time.perf_counter()
        store = FileStore(str(root / f"size-{largest}"), args.max_history)
        seconds = time.perf_counter() - started
        replayed = store.live_events
        store.close()
        report["replay"] = {
            "stored_events": replayed,
            "seconds": seconds,
            "events_per_s": replayed / seconds,
        }
        for policy in ("batch", "always"):
            folder = root / f"fsync-{policy}"
            shutil.rmtree(folder, ignore_errors=True)
            store = FileStore(str(folder), args.max_history, fsync=policy)
            took = single_appends(store, 0, args.samples)
            store.close()
            report["fsync"][policy] = {
                "appends_per_s": len(took) / took.sum(),
                "p50_us": float(np.percentile(took, 50) * 1e6),
            }
    finally:
        if args.root is None:
            shutil.rmtree(root, ignore_errors=True)
    ratio = report["appends"][str(sizes[-1])]["p50_us"] / report["appends"][str(sizes[0])]["p50_us"]
    report["p50_ratio_largest_vs_smallest"] = ratio
    print(format_table(["stored events", "append p50 us", "append p99 us"], rows))
    print(f"\np50 at {sizes[-1]:,} / p50 at {sizes[0]:,}: {ratio:.2f} (target <= 1.5)")
    r = report["replay"]
    print(
        f"start-up replay: {r['stored_events']:,} events in {r['seconds']:.1f} s "
        f"({r['events_per_s']:,.0f} events/s)\n"
    )
    policies = [
        [k, f"{v['appends_per_s']:.0f}", f"{v['p50_us']:.0f}"] for k, v in report["fsync"].items()
    ]
    print(format_table(["fsync", "appends/s (1 event each)", "p50 us"], policies))
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
