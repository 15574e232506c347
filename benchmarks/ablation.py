"""One model's variants against references on one protocol, over seeds (of the split and the model).

Each variant changes some settings of the model's defaults, is trained with
early stopping on the validation users (the model's own metric) and scored on
the test users; the references (tuned baselines) are measured in the same run
on the same splits. The table reports the mean over seeds of each metric and
the ratio of ``ratio_metric`` to the first reference (or to ``target``, a
paper's published figure). ``models.<name>.tables`` JSON keeps every seed.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from training.data.readers import load_interactions
from training.data.splits import split
from training.evaluate import EvalConfig, Validation, evaluate
from training.registry import create
from training.report import format_table
from training.tuning import tune


@dataclass
class Ablation:
    data: str
    format: str
    protocol: str
    model: str
    variants: dict[str, dict[str, Any]]
    metrics: tuple[str, ...]
    ks: tuple[int, ...]
    references: tuple[str, ...] = ()
    seeds: tuple[int, ...] = (0,)
    ratio_metric: str = ""
    target: float | None = None  # the ratio's denominator instead of the first reference
    runs: dict[str, list[dict[str, float]]] = field(default_factory=dict)

    def run(self) -> dict[str, Any]:
        data = load_interactions(self.data, self.format)
        config = EvalConfig(ks=self.ks)
        for seed in self.seeds:
            parts = split(data, self.protocol, seed=seed)
            counts = np.bincount(parts.train.item, minlength=data.n_items)
            for name in self.references:
                model = tune(name, parts, config).model
                result = evaluate(model, parts.test, data.n_items, config, counts)
                self._add(f"{name} (reference)", {**result, "seconds": 0.0}, seed)
            for name, params in self.variants.items():
                started = time.perf_counter()
                # the seed is the split's and the model's (leave-last-out splits are fixed)
                model = create(self.model, **{"train.seed": seed, **params})
                validation = Validation(
                    parts.valid, data.n_items, model.validation_metric, config, counts
                )
                model.fit(parts.train, validation)
                result = evaluate(model, parts.test, data.n_items, config, counts)
                result["valid"] = model.fit_info().get("best_valid", float("nan"))
                self._add(name, {**result, "seconds": time.perf_counter() - started}, seed)
        summary = self.summary()
        print(self.table(summary["means"]))
        return summary

    def _add(self, name: str, result: dict[str, float], seed: int) -> None:
        self.runs.setdefault(name, []).append(result)
        shown = " ".join(f"{m} {result[m]:.4f}" for m in self.metrics)
        print(f"seed {seed} {name}: {shown} ({result['seconds']:.0f} s)", flush=True)

    def summary(self) -> dict[str, Any]:
        means = {
            name: {k: float(np.mean([r[k] for r in runs])) for k in runs[0] if k != "users"}
            for name, runs in self.runs.items()
        }
        return {
            "data": self.data,
            "protocol": self.protocol,
            "model": self.model,
            "seeds": list(self.seeds),
            "target": self.target,
            "means": means,
            "runs": self.runs,
        }

    def table(self, means: dict[str, dict[str, float]]) -> str:
        if self.target is not None:
            base, label = self.target, f"{self.ratio_metric} / paper"
        else:
            base = means[f"{self.references[0]} (reference)"][self.ratio_metric]
            label = f"{self.ratio_metric} / {self.references[0]}"
        rows = []
        for name, mean in means.items():
            ratio = f"{mean[self.ratio_metric] / base:.3f}" if self.ratio_metric else ""
            cells = [f"{mean[m]:.4f}" for m in self.metrics]
            rows.append([name, *cells, ratio, f"{mean['seconds']:.0f}"])
        return format_table(["model", *self.metrics, label, "train s"], rows)

    def write(self, path: str) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(self.summary(), indent=2, default=float) + "\n")
