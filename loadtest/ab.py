"""Before/after of bundles of one model kind, served alternately in one process.

This host's speed moves by 2x between runs of the same hour, so two runs of
``loadtest.benchmark`` cannot tell a 10 % change. Here every bundle gets its own
in-process server (memory store, no user cache, the same seeded users), and the
bundles take turns: each round sends the same calls (one Recommend each, a
RecordEvents of one event before a share of them) to every bundle in turn (in
the reverse order every other round, so that going first is no one's lot), and
the result is each bundle's median over the rounds of its per-round p50, with
its ratio to the first bundle's.

    python -m loadtest.ab --model hrnn OLD_BUNDLE NEW_BUNDLE

Build the old bundle at the old commit (``git worktree add``) with
``python -m loadtest.benchmark --model M --bundle PATH`` or
``loadtest.catalog.build_bundle``; both must be the same synthetic catalogue
(same ``--items``), whose users and items the calls name.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from loadtest.benchmark import HISTORY, seed_events
from loadtest.catalog import MODELS, USERS, build_bundle
from service.app import Server
from service.core.types import EventInput, RecommendRequest
from service.settings import Settings
from training.report import format_table

WARMUP_ROUNDS = 2


def _server(bundle: Path, histories: list[np.ndarray]) -> Server:
    settings = Settings(bundle=str(bundle), store="memory://", max_history=HISTORY,
                        user_cache_mb=0)  # fmt: skip
    server = Server(settings)
    server.bundles.load()
    server.refresher.refresh()
    seed_events(server.service, histories, time.time())
    return server


def compare(
    bundles: list[Path],
    histories: list[np.ndarray],
    n_items: int,
    rounds: int = 12,
    calls: int = 300,
    events_per_request: float = 0.5,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Per bundle, in order: the median over the rounds (after the warm-up ones) of the
    per-round p50 of Recommend and of RecordEvents, in µs, and their ratios to the
    first bundle's."""
    servers = [_server(b, histories) for b in bundles]
    rng = np.random.default_rng(seed)
    recommend: list[list[float]] = [[] for _ in bundles]
    record: list[list[float]] = [[] for _ in bundles]
    try:
        for r in range(rounds + WARMUP_ROUNDS):
            users = [f"user-{int(u):05d}" for u in rng.integers(USERS, size=calls)]
            items = [f"item-{int(i):06d}" for i in rng.integers(n_items, size=calls)]
            events = rng.random(calls) < events_per_request
            order = list(range(len(servers)))[:: 1 if r % 2 == 0 else -1]
            for k in order:  # the same calls to every bundle in turn, every other round reversed
                service, recs, reads = servers[k].service, [], []
                for user, item, event in zip(users, items, events, strict=True):
                    if event:
                        started = time.perf_counter()
                        service.record_events([EventInput(user, item, time.time(), "view")])
                        recs.append(time.perf_counter() - started)
                    started = time.perf_counter()
                    service.recommend(RecommendRequest(user, 10, now=time.time()))
                    reads.append(time.perf_counter() - started)
                if r >= WARMUP_ROUNDS:
                    recommend[k].append(float(np.median(reads)) * 1e6)
                    if recs:
                        record[k].append(float(np.median(recs)) * 1e6)
    finally:
        for server in servers:
            server.store.close()
    reads_p50 = [float(np.median(r)) for r in recommend]
    records_p50 = [float(np.median(r)) if r else None for r in record]
    out = []
    for k, bundle in enumerate(bundles):
        first, this = records_p50[0], records_p50[k]
        out.append({
            "bundle": str(bundle),
            "recommend_p50_us": reads_p50[k],
            "recommend_ratio": reads_p50[k] / reads_p50[0],
            "record_events_p50_us": this,
            "record_events_ratio": None if first is None or this is None else this / first,
        })  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundles", nargs="+", type=Path, help="bundle folders; the first is the "
                        "reference")  # fmt: skip
    parser.add_argument("--model", default="led", choices=sorted(MODELS),
                        help="the synthetic catalogue the bundles were built from")  # fmt: skip
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--calls", type=int, default=300, help="Recommend calls per round")
    parser.add_argument("--events-per-request", type=float, default=0.5)
    parser.add_argument("--json", default=None, help="default reports/ab_<model>.json")
    args = parser.parse_args()
    missing = [str(b) for b in args.bundles if not (b / "manifest.json").exists()]
    if missing:
        parser.error(f"bundles: no manifest.json in {', '.join(missing)}")
    _, histories = build_bundle(args.bundles[0], args.model, n_items=args.items, history=HISTORY)
    results = compare(args.bundles, histories, args.items, args.rounds, args.calls,
                      args.events_per_request)  # fmt: skip

    def cell(value: float | None, digits: int = 0) -> str:
        return "-" if value is None else f"{value:.{digits}f}"

    rows = [[r["bundle"], cell(r["recommend_p50_us"]), cell(r["recommend_ratio"], 2),
             cell(r["record_events_p50_us"]), cell(r["record_events_ratio"], 2)]
            for r in results]  # fmt: skip
    print(format_table(["bundle", "Recommend p50 µs", "ratio", "RecordEvents p50 µs", "ratio"],
                       rows))  # fmt: skip
    out = Path(args.json or f"reports/ab_{args.model}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    settings = {"model": args.model, "items": args.items, "rounds": args.rounds,
                "calls": args.calls, "events_per_request": args.events_per_request}  # fmt: skip
    out.write_text(json.dumps({"settings": settings, "bundles": results}, indent=2))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
