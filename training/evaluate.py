"""Offline evaluation: score a model on an ``EvalSet`` and the ``evaluate`` job.

``evaluate()`` ranks all items by default (or the targets among N sampled
negatives drawn from popularity**gamma, the attention-CF paper's protocol),
removes each user's input items from the ranking (and from the targets, which
could not be recommended anyway), and averages ``training.metrics``.

``EvaluateJob`` is what ``recserve evaluate`` runs: load, split, fit every
model on the training part, score the test part, print a table, write JSON.
Run ``python -m training.evaluate --help`` for the flags.
"""

from __future__ import annotations

import ast
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from training.data.interactions import Interactions
from training.data.readers import ColumnMap, load_interactions
from training.data.sampling import AliasSampler, popularity_distribution, sample_negatives
from training.data.splits import EvalSet, Split, split
from training.metrics import MetricAccumulator
from training.models.base import Recommender
from training.report import format_results


@dataclass(frozen=True)
class EvalConfig:
    """How to rank: cut-offs, seen-item exclusion, full or sampled candidates."""

    ks: tuple[int, ...] = (10, 20, 50)
    exclude_seen: bool = True
    negatives: int = 0  # 0: full ranking over all items
    gamma: float = 1.0  # sampled negatives ~ popularity ** gamma (0: uniform)
    batch_size: int = 512
    seed: int = 0


def evaluate(
    model: Recommender,
    eval_set: EvalSet,
    n_items: int,
    config: EvalConfig = EvalConfig(),
    item_counts: np.ndarray | None = None,
    progress: bool = False,
) -> dict[str, float]:
    """Metrics of ``model`` on ``eval_set`` (see ``training.metrics`` for definitions).

    ``item_counts`` (n_items,) is the training popularity used to draw sampled
    negatives; it is required when ``config.negatives > 0``.
    """
    acc = MetricAccumulator(config.ks, n_items)
    rng = np.random.default_rng(config.seed)
    sampler = None
    if config.negatives > 0:
        if item_counts is None:
            raise ValueError("sampled evaluation needs item_counts")
        sampler = AliasSampler(popularity_distribution(item_counts, config.gamma))
    n_batches = -(-len(eval_set) // config.batch_size)
    for batch in tqdm(
        eval_set.batches(config.batch_size), total=n_batches, desc=model.name, disable=not progress
    ):
        raw = model.score(batch.history, batch.now)
        if raw.shape != (len(batch), n_items):
            raise ValueError(
                f"{model.name}.score returned {raw.shape}, expected ({len(batch)}, {n_items})"
            )
        scores = np.array(raw, dtype=np.float32)
        scores[~np.isfinite(scores)] = np.finfo(np.float32).min
        targets = batch.targets
        rows = np.arange(len(batch))
        if config.exclude_seen:
            seen = batch.history.row_ids() * n_items + batch.history.item
            scores.reshape(-1)[seen] = -np.inf
            target_keys = targets.row_ids() * n_items + targets.item
            targets = targets.select(~np.isin(target_keys, seen))
        if sampler is not None:
            positives = np.zeros((len(batch), n_items), dtype=bool)
            positives.reshape(-1)[batch.history.row_ids() * n_items + batch.history.item] = True
            positives.reshape(-1)[targets.row_ids() * n_items + targets.item] = True
            negatives = sample_negatives(sampler, rng, config.negatives, positives)
            candidates = positives.copy()
            candidates[rows[:, None], negatives] = True
            candidates.reshape(-1)[batch.history.row_ids() * n_items + batch.history.item] = False
            scores[~candidates] = -np.inf
        acc.add(scores, targets)
    result = acc.result()
    result["users"] = acc.users
    result["skipped_users"] = acc.skipped_users
    return result


def parse_model_params(specs: list[str]) -> dict[str, dict[str, Any]]:
    """``["ease.l2=200", "led.loss='bpr'"]`` -> ``{"ease": {"l2": 200}, ...}``."""
    params: dict[str, dict[str, Any]] = {}
    for spec in specs:
        key, sep, raw = spec.partition("=")
        model, dot, name = key.partition(".")
        if not sep or not dot or not model or not name:
            raise ValueError(f"--param {spec!r}: expected MODEL.NAME=VALUE, e.g. ease.l2=200")
        try:
            value = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            value = raw  # bare words are strings: led.loss=bpr
        params.setdefault(model, {})[name] = value
    return params


@dataclass
class EvaluateJob:
    """Load -> split -> fit each model -> evaluate on test -> table + JSON report."""

    data: str
    format: str
    protocol: str
    models: tuple[str, ...]
    eval: EvalConfig = field(default_factory=EvalConfig)
    columns: ColumnMap = field(default_factory=ColumnMap)
    sep: str = ","
    min_value: float | None = None
    seed: int = 0
    split_params: dict[str, Any] = field(default_factory=dict)
    model_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    json_path: str | None = None
    progress: bool = True
    tune: bool = True
    tune_metric: str | None = None
    checkpoint_dir: str | None = None  # save the (single, retrieval) model here

    def load(self) -> Interactions:
        data = load_interactions(self.data, self.format, self.columns, self.sep)
        if self.min_value is not None:
            data = data.select(data.value >= self.min_value)
        return data

    def run(self) -> dict[str, Any]:
        from training.registry import create
        from training.tuning import tune

        started = time.perf_counter()
        for name in self.models:  # fail on a bad name or parameter before any work
            create(name, **self.model_params.get(name, {}))
        data = self.load()
        parts: Split = split(data, self.protocol, seed=self.seed, **self.split_params)
        counts = np.bincount(parts.train.item, minlength=data.n_items)
        results: dict[str, dict[str, float]] = {}
        details: dict[str, dict[str, Any]] = {}
        for name in self.models:
            fixed = self.model_params.get(name, {})
            t0 = time.perf_counter()
            tuning: dict[str, Any] | None = None
            if self.tune:
                tuned = tune(name, parts, self.eval, fixed, self.tune_metric)
                model, tuning = tuned.model, {"metric": tuned.metric, "trials": tuned.trials}
            else:
                model = create(name, **fixed).fit(parts.train, parts.valid, progress=self.progress)
            t1 = time.perf_counter()
            metrics = evaluate(model, parts.test, data.n_items, self.eval, counts, self.progress)
            t2 = time.perf_counter()
            details[name] = {
                "params": _jsonable(model.params()),
                "fit_seconds": round(t1 - t0, 3),
                "eval_seconds": round(t2 - t1, 3),
                "users": metrics.pop("users"),
                "skipped_users": metrics.pop("skipped_users"),
                "tuning": _jsonable(tuning),
                "training": _jsonable(model.fit_info()),
            }
            results[name] = metrics
        report = {
            "dataset": data.stats(),
            "protocol": self.protocol,
            "split": parts.describe(),
            "evaluation": asdict(self.eval),
            "results": results,
            "models": details,
            "seconds": round(time.perf_counter() - started, 3),
        }
        print(format_results(results, self.eval.ks))
        print(
            f"{len(self.models)} models, {parts.describe()['test_users']} test users, "
            f"{report['seconds']:.1f} s"
        )
        if self.json_path:
            Path(self.json_path).parent.mkdir(parents=True, exist_ok=True)
            Path(self.json_path).write_text(json.dumps(report, indent=2) + "\n")
        if self.checkpoint_dir:
            self._save(model, data, parts, report)
        return report

    def _save(self, model: Recommender, data: Interactions, parts: Split, report: dict) -> None:
        from training.checkpoint import save_checkpoint
        from training.models.base import RetrievalModel

        if len(self.models) != 1 or not isinstance(model, RetrievalModel):
            raise ValueError("a checkpoint holds exactly one retrieval model (e.g. led)")
        assert self.checkpoint_dir is not None
        folder = save_checkpoint(self.checkpoint_dir, model, data, parts.valid, report)
        print(f"checkpoint written to {folder}")


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return repr(value)


if __name__ == "__main__":
    from training.cli import main_evaluate

    raise SystemExit(main_evaluate())
