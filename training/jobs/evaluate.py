"""``recserve evaluate``: load -> split -> fit each model -> score the test users -> report."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from training.evaluate import EvalConfig, Validation, evaluate
from training.jobs.source import DataSource, SplitSpec
from training.report import format_results
from training.tuning import MAX_USERS


@dataclass
class EvaluateJob:
    """Every model on the same split; each tuned on the validation users over its grid
    (unless ``tune`` is off), then scored on the test users.

    A model is a registered name or ``LABEL=NAME``, so one model runs in several
    variants in one report (``ew=predictor`` with ``--param ew.formulation=ew``);
    ``model_params`` are keyed by label."""

    source: DataSource
    models: tuple[str, ...]
    split: SplitSpec = field(default_factory=SplitSpec)
    eval: EvalConfig = field(default_factory=EvalConfig)
    model_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    json_path: str | None = None
    progress: bool = True
    tune: bool = True
    tune_metric: str | None = None
    valid_users: int = MAX_USERS  # validation users for tuning and early stopping (0: all)

    def run(self) -> dict[str, Any]:
        from training.registry import create
        from training.tuning import sample_users, tune

        started = time.perf_counter()
        names = dict(model_label(m) for m in self.models)
        for label, name in names.items():  # fail on a bad name or parameter before any work
            create(name, **self.model_params.get(label, {}))
        data = self.source.load()
        parts = self.split.apply(data)
        counts = np.bincount(parts.train.item, minlength=data.n_items)
        results: dict[str, dict[str, float]] = {}
        details: dict[str, dict[str, Any]] = {}
        for name, registered in names.items():
            fixed = self.model_params.get(name, {})
            t0 = time.perf_counter()
            tuning: dict[str, Any] | None = None
            if self.tune:
                tuned = tune(
                    registered, parts, self.eval, fixed, self.tune_metric, self.valid_users
                )
                model, tuning = (
                    tuned.model,
                    {
                        "metric": tuned.metric,
                        "trials": tuned.trials,
                        "validation_users": tuned.users,
                        "catalogue": tuned.items,
                    },
                )
            else:
                model = create(registered, **fixed)
                valid = sample_users(parts.valid, self.valid_users, self.eval.seed)
                validation = Validation(
                    valid, data.n_items, model.validation_metric, self.eval, counts
                )
                model.fit(parts.train, validation, progress=self.progress)
            t1 = time.perf_counter()
            metrics = evaluate(model, parts.test, data.n_items, self.eval, counts, self.progress)
            t2 = time.perf_counter()
            details[name] = {
                "params": jsonable(model.params()),
                "fit_seconds": round(t1 - t0, 3),
                "eval_seconds": round(t2 - t1, 3),
                "users": metrics.pop("users"),
                "skipped_users": metrics.pop("skipped_users"),
                "tuning": jsonable(tuning),
                "training": jsonable(model.fit_info()),
            }
            results[name] = metrics
            if self.json_path:
                folder = Path(self.json_path).parent
                folder.mkdir(parents=True, exist_ok=True)
                stem = Path(self.json_path).stem
                written = model.write_artifacts(folder, f"{stem}.{name}.")
                details[name]["artifacts"] = [str(p) for p in written]
        report = {
            "dataset": data.stats(),
            "protocol": self.split.protocol,
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
        return report


def model_label(spec: str) -> tuple[str, str]:
    """``"ew=predictor"`` -> ``("ew", "predictor")``; ``"ease"`` -> ``("ease", "ease")``."""
    label, sep, name = spec.partition("=")
    label, name = label.strip(), name.strip()
    if sep and not (label and name):
        raise ValueError(f"--models {spec!r}: expected NAME or LABEL=NAME")
    return (label, name) if sep else (label, label)


def jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return repr(value)
