"""``recserve evaluate``: load -> split -> fit each model -> score the test users -> report."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from training.data.splits import Split
from training.evaluate import EvalConfig, Validation, evaluate
from training.jobs.source import DataSource, SplitSpec
from training.models.base import Recommender, Reranker
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
        started = time.perf_counter()
        names = dict(model_label(m) for m in self.models)
        for label, name in names.items():  # fail on a bad name or parameter before any work
            self._create(label, name)
        data = self.source.load()
        parts = self.split.apply(data)
        counts = np.bincount(parts.train.item, minlength=data.n_items)
        fitted: dict[str, tuple[Recommender, dict[str, Any] | None]] = {}
        results: dict[str, dict[str, float]] = {}
        details: dict[str, dict[str, Any]] = {}
        for name, registered in names.items():
            t0 = time.perf_counter()
            model, tuning = self._fit(name, registered, parts, counts, fitted)
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

    def _create(self, label: str, name: str) -> Recommender:
        """The unfitted model of ``label``; ``FIRST+SECOND`` is a cascade whose parts take
        the parameters given under their own names and ``rerank_n`` its own."""
        from training.models.cascade import Cascade
        from training.registry import create

        if "+" not in name:
            return create(name, **self.model_params.get(label, {}))
        first_name, _, second_name = name.partition("+")
        first = self._create(first_name, first_name)
        second = self._create(second_name, second_name)
        if not isinstance(second, Reranker) or isinstance(first, Reranker):
            raise ValueError(f"--models {name!r}: expected RETRIEVAL+RERANKER, e.g. led+attention")
        return Cascade(first, second, **self.model_params.get(label, {}))

    def _fit(
        self,
        label: str,
        name: str,
        parts: Split,
        counts: np.ndarray,
        fitted: dict[str, tuple[Recommender, dict[str, Any] | None]],
    ) -> tuple[Recommender, dict[str, Any] | None]:
        """Fit (tuned unless ``tune`` is off) once per label; a cascade reuses its fitted
        parts, so ``led,led+attention`` fits LED once."""
        from training.models.cascade import Cascade
        from training.tuning import sample_users, tune

        if label in fitted:
            return fitted[label]
        if "+" in name:
            first_name, _, second_name = name.partition("+")
            first, _ = self._fit(first_name, first_name, parts, counts, fitted)
            second, _ = self._fit(second_name, second_name, parts, counts, fitted)
            assert isinstance(second, Reranker)
            cascade = Cascade(first, second, **self.model_params.get(label, {}))
            valid = sample_users(parts.valid, self.valid_users, self.eval.seed)
            n_items = parts.train.n_items
            metric = cascade.validation_metric
            cascade.calibrate(Validation(valid, n_items, metric, self.eval, counts))
            found: tuple[Recommender, dict[str, Any] | None] = (cascade, None)
        elif self.tune:
            tuned = tune(
                name, parts, self.eval, self.model_params.get(label, {}), self.tune_metric,
                self.valid_users,
            )  # fmt: skip
            found = tuned.model, {
                "metric": tuned.metric, "trials": tuned.trials,
                "validation_users": tuned.users, "catalogue": tuned.items,
            }  # fmt: skip
        else:
            model = self._create(label, name)
            valid = sample_users(parts.valid, self.valid_users, self.eval.seed)
            n_items = parts.train.n_items
            validation = Validation(valid, n_items, model.validation_metric, self.eval, counts)
            model.fit(parts.train, validation, progress=self.progress)
            found = model, None
        fitted[label] = found
        return found


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
