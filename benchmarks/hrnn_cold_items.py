"""Cold-start items as HRNN-meta's Table 7, on MovieLens-100K with genres.

Half of the items, drawn uniformly at random, are held out: training never sees an
event on them, so only their metadata (genres, release year) reaches the model, through
the metadata decoder of eq. 2 with lambda = 1. Each user's timeline is cut at 80 % of
its events: the history is the user's events on the other items before the cut, the
targets are the held-out items the user rated after it, and every model ranks only
held-out items. Reported beside uniform random choice (its expected precision) and two
metadata baselines that need no model: the genres' training popularity, and the
user's own genre shares.

    python -m benchmarks.hrnn_cold_items --json reports/hrnn_cold_items.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from bundle.features import FeatureSchema
from bundle.history import Sequences
from training.data.interactions import Interactions
from training.data.readers import load_interactions
from training.data.splits import split
from training.evaluate import EvalConfig, Validation
from training.metrics import MetricAccumulator
from training.registry import create
from training.report import format_table

KS = (5, 25)
METRICS = ("precision@5", "precision@25", "ndcg@5", "ndcg@25")


def cold_split(data: Interactions, seed: int, cut: float = 0.8):
    """(training log, user rows, histories, targets, query times, cold item mask)."""
    rng = np.random.default_rng(seed)
    cold = np.zeros(data.n_items, dtype=bool)
    cold[rng.permutation(data.n_items)[: data.n_items // 2]] = True
    seqs = data.sequences()
    lengths = np.repeat(seqs.lengths, seqs.lengths)
    before = seqs.positions() < np.floor(cut * lengths)
    is_cold = cold[seqs.item]
    history = seqs.select(before & ~is_cold)
    targets = seqs.select(~before & is_cold)
    users = np.flatnonzero((targets.lengths > 0) & (history.lengths > 0))
    first_after = seqs.indptr[users] + np.floor(cut * seqs.lengths[users]).astype(np.int64)
    now = seqs.timestamp[first_after]
    return (
        data.select(~cold[data.item]),
        users,
        history.take(users),
        targets.take(users),
        now,
        cold,
    )


def restricted(scores: np.ndarray, cold: np.ndarray, targets: Sequences) -> dict[str, float]:
    acc = MetricAccumulator(KS, scores.shape[1])
    acc.add(np.where(cold[None, :], scores, -np.inf), targets)
    return {m: v for m, v in acc.result().items() if m in METRICS}


def genre_matrix(data: Interactions) -> np.ndarray:
    schema = FeatureSchema.fit(data.item_features)
    blocks = {f.name: s for f, s in zip(schema.fields, schema.slices, strict=True)}
    start, stop = blocks["categories"]
    genres = schema.encode(data.item_features, data.n_items)[:, start:stop]
    return (genres > 0).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/ml-100k")
    parser.add_argument("--format", default="recbole")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--param", action="append", default=[], help="hrnn NAME=VALUE")
    parser.add_argument("--json", default="reports/hrnn_cold_items.json")
    args = parser.parse_args()
    data = load_interactions(args.data, args.format)
    train_log, users, history, targets, now, cold = cold_split(data, args.seed)
    rows: dict[str, dict[str, float]] = {}
    n_cold = int(cold.sum())
    per_user = np.array(
        [
            len(set(targets.item[a:b].tolist()))
            for a, b in zip(targets.indptr[:-1], targets.indptr[1:], strict=True)
        ]
    )
    rows["uniform random (expected)"] = {
        "precision@5": float(np.mean(per_user / n_cold)),
        "precision@25": float(np.mean(per_user / n_cold)),
        "ndcg@5": float("nan"),
        "ndcg@25": float("nan"),
    }
    genres = genre_matrix(data)
    counts = np.bincount(train_log.item, minlength=data.n_items).astype(np.float64)
    genre_pop = np.log1p(counts @ genres)  # training events per genre
    popularity = (genres * genre_pop).sum(1) / np.maximum(genres.sum(1), 1)
    rows["genre popularity"] = restricted(np.tile(popularity, (len(users), 1)), cold, targets)
    shares = history.to_csr(data.n_items) @ genres
    shares = shares / np.maximum(shares.sum(1, keepdims=True), 1e-9)
    rows["the user's genre shares"] = restricted(shares @ genres.T, cold, targets)

    params = dict(p.split("=", 1) for p in args.param)
    started = time.perf_counter()
    parts = split(train_log, "leave-last-out", seed=args.seed)
    model = create("hrnn", metadata_decoder=True, **{k: json.loads(v) for k, v in params.items()})
    counts_train = np.bincount(parts.train.item, minlength=data.n_items)
    validation = Validation(
        parts.valid, data.n_items, model.validation_metric, EvalConfig(ks=(10, 50)), counts_train
    )
    model.fit(parts.train, validation)
    scores = model.score(history, now, users)
    rows["hrnn-meta, lambda = 1 on held-out items"] = restricted(scores, cold, targets)
    seconds = time.perf_counter() - started
    table = [[name, *(f"{r[m]:.4f}" for m in METRICS)] for name, r in rows.items()]
    print(format_table(["ranking of held-out items", *METRICS], table))
    out = {
        "users": len(users),
        "cold_items": n_cold,
        "seed": args.seed,
        "rows": rows,
        "hrnn_seconds": seconds,
        "hrnn_fit": model.fit_info(),
    }
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(out, indent=2, default=float) + "\n")


if __name__ == "__main__":
    main()
