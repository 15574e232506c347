"""``recserve evaluate`` of every baseline, tuning included, at catalogue scale.

    python -m benchmarks.evaluate_scale --json reports/evaluate_scale.json  (make bench-evaluate)

The synthetic generator writes a 25,000-item, 30,000-user log (about 2 million
events; kept in ``data/synthetic-25k`` for re-runs), and the default
``recserve evaluate`` (popularity, recent-popularity, last-item, itemknn, ease;
leave-last-out; each tuned on its grid) runs on it in this process. Reference,
measured in the same run: one full-ranking pass of the test users with
popularity (scores, seen-item exclusion, top-K metrics: the floor any
evaluation pays), so ``ratio`` is the whole run in such passes.

Target (onboarding issue): under 5 minutes on this 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from training.cli import DEFAULT_MODELS
from training.data.synthetic import SyntheticConfig, generate, write_recbole
from training.evaluate import EvalConfig, evaluate
from training.jobs.evaluate import EvaluateJob
from training.jobs.source import DataSource, SplitSpec
from training.registry import create
from training.report import format_table

TARGET_S = 300.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=30_000)
    parser.add_argument("--items", type=int, default=25_000)
    parser.add_argument("--data", default=None, help="default data/synthetic-<items/1000>k")
    parser.add_argument("--json", default="reports/evaluate_scale.json")
    args = parser.parse_args()
    folder = Path(args.data or f"data/synthetic-{args.items // 1000}k")
    if not folder.exists():
        print(f"generating {args.users:,} users x {args.items:,} items into {folder} ...")
        config = SyntheticConfig(seed=0, n_users=args.users, n_items=args.items)
        write_recbole(generate(config, progress=True).interactions, folder)
    source = DataSource(str(folder), "recbole")
    models = tuple(DEFAULT_MODELS.split(","))
    job = EvaluateJob(source=source, models=models, eval=EvalConfig(ks=(20, 50)), progress=False)

    data = source.load()
    parts = SplitSpec().apply(data)
    start = time.perf_counter()
    popularity = create("popularity").fit(parts.train)
    evaluate(popularity, parts.test, data.n_items, job.eval)
    reference = time.perf_counter() - start

    start = time.perf_counter()
    report = job.run()
    total = time.perf_counter() - start
    rows, models = [], {}
    for name, detail in report["models"].items():
        tuning = detail["tuning"] or {}
        models[name] = {
            "fit_and_tune_s": detail["fit_seconds"],
            "test_eval_s": detail["eval_seconds"],
            "grid_points": len(tuning.get("trials", [])),
            "tuned_on_items": tuning.get("catalogue"),
            "tuned_on_users": tuning.get("validation_users"),
            "params": detail["params"],
            "ndcg@50": report["results"][name]["ndcg@50"],
        }
        m = models[name]
        rows.append([name, f"{m['fit_and_tune_s']:.1f}", f"{m['test_eval_s']:.1f}",
                     str(m["grid_points"]), f"{m['tuned_on_items'] if m['grid_points'] else '-'}",
                     f"{m['ndcg@50']:.4f}"])  # fmt: skip
    print()
    print(format_table(["model", "fit+tune s", "test eval s", "grid", "tuned on items",
                        "ndcg@50"], rows))  # fmt: skip
    print(
        f"\nwhole run {total:.1f} s (target < {TARGET_S:.0f} s: "
        f"{'met' if total < TARGET_S else 'NOT met'}); reference: one popularity "
        f"evaluation pass {reference:.1f} s; ratio {total / reference:.1f} passes"
    )
    out = {
        "dataset": report["dataset"],
        "split": report["split"],
        "models": models,
        "total_s": round(total, 2),
        "reference_popularity_pass_s": round(reference, 2),
        "ratio": round(total / reference, 2),
        "target_s": TARGET_S,
        "met": total < TARGET_S,
    }
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
