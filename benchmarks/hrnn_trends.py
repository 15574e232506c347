"""HRNN-meta's item trend decomposition (sec. 3.2) on the synthetic log, which plants
trending items: trained with and without the trend offset, each scored on the temporal
protocol with and without the live trend term ``beta * log(alpha + decayed count)``
that the server adds (beta chosen on the validation users, as ``recserve export`` does).

    python -m benchmarks.hrnn_trends --json reports/hrnn_trends.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from export.calibrate import calibrate_trend
from training.data.splits import EvalSet, split
from training.data.synthetic import SyntheticConfig, generate
from training.evaluate import EvalConfig, Validation, exclude_seen
from training.metrics import MetricAccumulator
from training.models.base import Recommender
from training.registry import create
from training.report import format_table
from training.trends import decayed_counts

METRICS = ("ndcg@10", "hr@10", "hr@50", "mrr")


def scored(model: Recommender, users: EvalSet, trend: np.ndarray, beta: float) -> dict:
    acc = MetricAccumulator((10, 50), trend.shape[1])
    for start in range(0, len(users), 256):
        rows = np.arange(start, min(start + 256, len(users)))
        part = users.take(rows)
        ranked = model.score(part.history, part.now, part.users) + beta * trend[rows]
        acc.add(ranked, exclude_seen(ranked, part.history, part.targets))
    return {m: v for m, v in acc.result().items() if m in METRICS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--half-life", type=float, default=86400.0, help="seconds")
    parser.add_argument("--users", type=int, default=2_000)
    parser.add_argument("--max-epochs", type=int, default=100)
    parser.add_argument("--json", default="reports/hrnn_trends.json")
    args = parser.parse_args()
    data = generate(SyntheticConfig(n_users=args.users)).interactions
    parts = split(data, "temporal")
    n = data.n_items
    counts = np.bincount(parts.train.item, minlength=n)
    before_test = data.select(data.timestamp < parts.test.now[0])  # what the server has seen
    live = np.log(1.0 + decayed_counts(before_test, parts.test.now, args.half_life).toarray())
    valid_counts = decayed_counts(parts.train, parts.valid.now, args.half_life)
    rows, out = [], {"events": len(data), "items": n, "half_life_s": args.half_life, "runs": {}}
    for decomposed in (False, True):
        started = time.perf_counter()
        model = create("hrnn", trend=decomposed, trend_half_life_s=args.half_life,
                       max_epochs=args.max_epochs)  # fmt: skip
        validation = Validation(parts.valid, n, model.validation_metric, EvalConfig(), counts)
        model.fit(parts.train, validation)

        def valid_scores(r: np.ndarray, model: Recommender = model) -> np.ndarray:
            part = parts.valid.take(r)
            return model.score(part.history, part.now, part.users)

        beta = calibrate_trend(valid_scores, n, parts.valid, valid_counts, args.half_life).beta
        name = "trained with the trend offset" if decomposed else "trained without it"
        for label, b in (("no live trend term", 0.0), (f"live trend term, beta {beta:g}", beta)):
            result = scored(model, parts.test, live, b)
            out["runs"][f"{name}, {label}"] = {**result, "beta": b,
                                              "seconds": time.perf_counter() - started}  # fmt: skip
            rows.append([name, label, *(f"{result[m]:.4f}" for m in METRICS)])
    print(format_table(["model", "serving", *METRICS], rows))
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(out, indent=2, default=float) + "\n")


if __name__ == "__main__":
    main()
