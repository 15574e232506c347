"""LED against EASE and popularity on the LED protocol (user-holdout), with ablations.

For every split seed, EASE (tuned on the validation users) is the reference
measured in the same run; each LED variant changes one setting of the default
(RSVD init, project fine-tuning, BPR, 1000 uniform negatives) and is reported
as its Recall@20 ratio to EASE. Prints a table, writes JSON.

    python -m benchmarks.led_ablation --data ../shared/data/ml-100k --seeds 0,1,2 \
        --json reports/led_ablation.json

``--quick`` runs the default LED only (the issue's 0.93 x EASE check).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from training.data.readers import load_interactions
from training.data.splits import split
from training.evaluate import EvalConfig, Validation, evaluate
from training.registry import create
from training.report import format_table
from training.tuning import tune

VARIANTS: dict[str, dict[str, Any]] = {
    "led (rsvd, project, bpr, N=1000)": {},
    "init random, project": {"init": "random"},
    "init random, full": {"init": "random", "tuning": "full"},
    "init item2vec, project": {"init": "item2vec"},
    "rsvd, full": {"tuning": "full"},
    "loss ns": {"loss": "ns"},
    "loss css": {"loss": "css"},
    "loss softmax (full)": {"loss": "softmax"},
    "negatives 10": {"negatives": 10},
    "negatives 100": {"negatives": 100},
    "P random init (paper)": {"projection_init": "random"},
}
METRICS = ("recall@20", "recall@50", "ndcg@100")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/ml-100k")
    parser.add_argument("--format", default="recbole")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--quick", action="store_true", help="default LED only")
    parser.add_argument("--json", default="reports/led_ablation.json")
    args = parser.parse_args()
    data = load_interactions(args.data, args.format)
    config = EvalConfig(ks=(20, 50, 100))
    variants = {"led (rsvd, project, bpr, N=1000)": {}} if args.quick else VARIANTS
    runs: dict[str, list[dict[str, float]]] = {}
    for seed in (int(s) for s in args.seeds.split(",")):
        parts = split(data, "user-holdout", seed=seed)
        reference = tune("ease", parts, config).model
        ease = evaluate(reference, parts.test, data.n_items, config)
        pop = evaluate(create("popularity").fit(parts.train), parts.test, data.n_items, config)
        runs.setdefault("ease (reference)", []).append({**ease, "seconds": 0.0})
        runs.setdefault("popularity", []).append({**pop, "seconds": 0.0})
        for name, params in variants.items():
            started = time.perf_counter()
            model = create("led", **params)
            model.fit(parts.train, Validation(parts.valid, data.n_items, model.validation_metric))
            result = evaluate(model, parts.test, data.n_items, config)
            result["seconds"] = time.perf_counter() - started
            result["ratio"] = result["recall@20"] / ease["recall@20"]
            runs.setdefault(name, []).append(result)
            print(
                f"seed {seed} {name}: recall@20 {result['recall@20']:.4f} "
                f"({result['ratio']:.3f} x EASE) {result['seconds']:.0f} s",
                flush=True,
            )
    rows, summary = [], {}
    for name, results in runs.items():
        mean = {k: float(np.mean([r[k] for r in results])) for k in results[0] if k != "users"}
        ease_r20 = np.mean([r["recall@20"] for r in runs["ease (reference)"]])
        mean["ratio"] = mean["recall@20"] / ease_r20
        summary[name] = {"mean": mean, "per_seed": results}
        rows.append(
            [
                name,
                *(f"{mean[m]:.4f}" for m in METRICS),
                f"{mean['ratio']:.3f}",
                f"{mean['seconds']:.0f}",
            ]
        )
    header = ["model", *METRICS, "R@20 / EASE", "train s"]
    print(format_table(header, rows))
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    report = {"data": args.data, "protocol": "user-holdout", "seeds": args.seeds, "runs": summary}
    Path(args.json).write_text(json.dumps(report, indent=2, default=float) + "\n")


if __name__ == "__main__":
    main()
