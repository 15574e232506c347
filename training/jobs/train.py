"""``recserve train <model>``: train one servable model and write its checkpoint.

Refuses a model that cannot be served before any work (naming those that
can); loads and splits the log; trains with early stopping on the validation
users (the model's own metric, CUDA when available); scores the test users;
writes the checkpoint ``recserve export`` turns into a bundle.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from training.data.splits import next_event
from training.evaluate import EvalConfig, Validation, evaluate
from training.jobs.evaluate import jsonable
from training.jobs.source import DataSource, SplitSpec
from training.models.base import Servable
from training.report import format_results


@dataclass
class TrainJob:
    model: str
    source: DataSource
    out: str  # checkpoint folder
    split: SplitSpec = field(default_factory=lambda: SplitSpec("user-holdout"))
    params: dict[str, Any] = field(default_factory=dict)  # the model's --param values
    device: str | None = None  # auto | cpu | cuda; None: the model config's train.device
    eval: EvalConfig = field(default_factory=lambda: EvalConfig(ks=(20, 50, 100)))
    trend_half_life_s: float = 3600.0  # the server's default, for the trend-weight check
    progress: bool = True

    def run(self) -> dict[str, Any]:
        from training.checkpoint import save_checkpoint
        from training.registry import check_servable, create

        started = time.perf_counter()
        check_servable(self.model)
        params = dict(self.params)
        if self.device is not None:
            params["device"] = self.device
        model = create(self.model, **params)  # a bad parameter fails before loading data
        data = self.source.load()
        parts = self.split.apply(data)
        counts = np.bincount(parts.train.item, minlength=data.n_items)
        validation = Validation(
            parts.valid, data.n_items, model.validation_metric, self.eval, counts
        )
        model.fit(parts.train, validation, progress=self.progress)
        fitted = time.perf_counter()
        metrics = evaluate(model, parts.test, data.n_items, self.eval, counts, self.progress)
        users = metrics.pop("users")
        metrics.pop("skipped_users")
        report = {
            "dataset": data.stats(),
            "protocol": self.split.protocol,
            "split": parts.describe(),
            "evaluation": asdict(self.eval),
            "results": {self.model: metrics},
            "models": {
                self.model: {
                    "params": jsonable(model.params()),
                    "fit_seconds": round(fitted - started, 3),
                    "users": users,
                    "training": jsonable(model.fit_info()),
                }
            },
            "seconds": round(time.perf_counter() - started, 3),
        }
        print(format_results({self.model: metrics}, self.eval.ks))
        assert isinstance(model, Servable)  # check_servable made sure
        # the export checks (and the trend weight) need the validation users' next events
        checks = next_event(parts.valid) if self.split.protocol == "user-holdout" else parts.valid
        folder = save_checkpoint(
            self.out, model, data, parts.train, checks, report, self.trend_half_life_s
        )
        for path in model.write_artifacts(folder):
            print(f"wrote {path}")
        print(f"checkpoint written to {folder} ({report['seconds']:.1f} s)")
        return report
