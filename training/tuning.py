"""Hyper-parameter selection on the validation set (grid search).

A model declares ``search_space`` (name -> candidate values); parameters the
user fixed are left out of the grid. Every combination is fitted on the
training events and scored on the validation users; the best fitted model is
kept. The test set is never looked at here.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from training.data.splits import Split
from training.evaluate import EvalConfig, Validation, evaluate
from training.models.base import Recommender
from training.registry import create


@dataclass(frozen=True)
class TuningResult:
    model: Recommender
    params: dict[str, Any]
    metric: str
    trials: list[dict[str, Any]]


def grid(space: dict[str, tuple[Any, ...]], fixed: dict[str, Any]) -> list[dict[str, Any]]:
    """Every combination of the free parameters, each merged with ``fixed``."""
    free = {k: v for k, v in space.items() if k not in fixed}
    names = sorted(free)
    combos = itertools.product(*(free[n] for n in names)) if names else [()]
    return [{**fixed, **dict(zip(names, values, strict=True))} for values in combos]


def tune(
    name: str,
    parts: Split,
    config: EvalConfig,
    fixed: dict[str, Any] | None = None,
    metric: str | None = None,
) -> TuningResult:
    """Fit ``name`` for each grid point, keep the best on ``metric`` over validation users.

    ``metric`` defaults to NDCG at the largest K (NDCG@100 for the LED
    protocol, as the LED paper's appendix 9.2 selects checkpoints).
    """
    fixed = dict(fixed or {})
    metric = metric or f"ndcg@{max(config.ks)}"
    n_items = parts.train.n_items
    counts = np.bincount(parts.train.item, minlength=n_items)
    extra_k = () if metric == "mrr" else (_k_of(metric),)
    valid_config = replace(config, ks=tuple(sorted({*config.ks, *extra_k})))
    probe = create(name, **fixed)
    candidates = grid(type(probe).search_space, fixed)
    best: tuple[float, Recommender, dict[str, Any]] | None = None
    trials = []
    for params in candidates:
        model = create(name, **params)
        validation = Validation(parts.valid, n_items, model.validation_metric, config, counts)
        model.fit(parts.train, validation)
        if len(candidates) == 1:
            return TuningResult(model, params, metric, [])
        value = evaluate(model, parts.valid, n_items, valid_config, counts)[metric]
        trials.append({"params": params, metric: value})
        if best is None or value > best[0]:
            best = (value, model, params)
    assert best is not None
    return TuningResult(best[1], best[2], metric, trials)


def _k_of(metric: str) -> int:
    _, _, k = metric.partition("@")
    if not k.isdigit():
        raise ValueError(f"tuning metric must be mrr or NAME@K, e.g. ndcg@10; got {metric!r}")
    return int(k)
