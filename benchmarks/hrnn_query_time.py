"""HRNN-meta's query-time context on MovieLens-100K (sec. 4.2, Table 2): the same histories
asked 60 seconds and one day after their last event.

Trains the defaults on the leave-last-out split (early stopping on the validation
users), scores the test users (HR@50, MRR: a seed beside the README's seed 0), then
asks every test user's history at both times and reports how many top-10s differ
and how much of each top 10 shares a genre with the user's last film, against the
same share for the film the user actually rated next. First, the log's own signal:
how often consecutive events share a genre, by the gap between them (what the
time-delta input can learn from).

    python -m benchmarks.hrnn_query_time --seeds 1,2 --json reports/hrnn_query_time.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from training.data.interactions import Interactions
from training.data.readers import load_interactions
from training.data.splits import EvalSet, split
from training.evaluate import EvalConfig, Validation, evaluate
from training.models.base import Recommender
from training.registry import create
from training.report import format_table

GAPS = {"60 s": 60.0, "1 day": 86400.0}
# gap buckets of consecutive events, in seconds: [low, high)
GAP_BUCKETS = {"same second": (0, 1), "1 s - 10 min": (1, 601), "10 min - 1 h": (601, 3601),
               "1 h - 1 day": (3601, 86401), "over 1 day": (86401, np.inf)}  # fmt: skip


def genre_matrix(data: Interactions) -> np.ndarray:
    """(I, G) bool: the genres of each item (its ``categories`` cell, '|'-separated)."""
    assert data.item_features is not None and "categories" in data.item_features
    cells = data.item_features["categories"].fillna("").astype(str).tolist()
    names = sorted({g for cell in cells for g in cell.split("|") if g})
    column = {g: k for k, g in enumerate(names)}
    matrix = np.zeros((len(cells), len(names)), dtype=bool)
    for row, cell in enumerate(cells):
        for g in cell.split("|"):
            if g:
                matrix[row, column[g]] = True
    return matrix


def continuity_by_gap(data: Interactions, genres: np.ndarray) -> dict[str, dict[str, float]]:
    """Per gap bucket: how many consecutive event pairs of a user, and the share whose
    two items have a genre in common."""
    seqs = data.sequences()
    after = np.ones(len(seqs.item), dtype=bool)
    after[seqs.indptr[:-1]] = False  # a user's first event follows nothing
    later = np.flatnonzero(after)
    gaps = seqs.timestamp[later] - seqs.timestamp[later - 1]
    shared = (genres[seqs.item[later]] & genres[seqs.item[later - 1]]).any(axis=1)
    out = {}
    for name, (low, high) in GAP_BUCKETS.items():
        inside = (gaps >= low) & (gaps < high)
        out[name] = {"pairs": int(inside.sum()), "share": float(shared[inside].mean())}
    return out


def query_time(model: Recommender, test: EvalSet, genres: np.ndarray) -> dict[str, Any]:
    history = test.history
    last = history.item[history.indptr[1:] - 1]
    top: dict[str, np.ndarray] = {}
    for name, gap in GAPS.items():
        scores = model.score(history, history.last_times() + gap, test.users)
        scores[history.row_ids(), history.item] = -np.inf  # seen items are not answers
        top[name] = np.argsort(-scores, axis=1)[:, :10]
    shares = {
        name: float((genres[rows] & genres[last][:, None, :]).any(axis=2).mean())
        for name, rows in top.items()
    }
    target = test.targets.item[test.targets.indptr[:-1]]
    a, b = top.values()
    return {
        "differ": float(np.mean([set(x) != set(y) for x, y in zip(a, b, strict=True)])),
        "genre_share": shares,
        "target_genre_share": float((genres[target] & genres[last]).any(axis=1).mean()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/ml-100k")
    parser.add_argument("--format", default="recbole")
    parser.add_argument("--seeds", default="1")
    parser.add_argument("--max-epochs", type=int, default=60)
    parser.add_argument("--json", default="reports/hrnn_query_time.json")
    args = parser.parse_args()
    data = load_interactions(args.data, args.format)
    genres = genre_matrix(data)
    continuity = continuity_by_gap(data, genres)
    print(
        format_table(
            ["gap to the previous event", "pairs", "share a genre"],
            [[k, str(v["pairs"]), f"{v['share']:.3f}"] for k, v in continuity.items()],
        )
    )
    config = EvalConfig(ks=(10, 50))
    out: dict[str, Any] = {"continuity_by_gap": continuity, "runs": {}}
    rows = []
    for seed in (int(s) for s in args.seeds.split(",")):
        started = time.perf_counter()
        parts = split(data, "leave-last-out", seed=seed)
        counts = np.bincount(parts.train.item, minlength=data.n_items)
        model = create("hrnn", **{"train.seed": seed, "max_epochs": args.max_epochs})
        model.fit(parts.train, Validation(parts.valid, data.n_items, model.validation_metric,
                                          config, counts))  # fmt: skip
        quality = evaluate(model, parts.test, data.n_items, config, counts)
        context = query_time(model, parts.test, genres)
        seconds = time.perf_counter() - started
        out["runs"][str(seed)] = {**quality, **context, "seconds": seconds}
        share = context["genre_share"]
        rows.append([str(seed), f"{quality['hr@50']:.4f}", f"{quality['mrr']:.4f}",
                     f"{context['differ']:.2f}", f"{share['60 s']:.3f}", f"{share['1 day']:.3f}",
                     f"{context['target_genre_share']:.3f}", f"{seconds:.0f}"])  # fmt: skip
        print(rows[-1], flush=True)
    print(format_table(["seed", "HR@50", "MRR", "top-10 differ", "genre share 60 s",
                        "genre share 1 day", "next film's", "seconds"], rows))  # fmt: skip
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
