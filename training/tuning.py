"""Hyper-parameter selection on the validation set (grid search).

A model declares ``search_space`` (name -> candidate values); parameters the
user fixed are left out of the grid. Every combination is fitted on the
training events (``Recommender.fit_grid``, which a model may override to share
work across the grid) and scored on the validation users; the best is kept.
The test set is never looked at here.

Two things keep a grid affordable on a real catalogue (25,000 items x 30,000
users, ``make bench-evaluate``):

- the grid is compared on at most ``max_users`` validation users, sampled
  with the evaluation seed (the standard error of NDCG over 5,000 users is
  about 0.003, below the gaps that separate grid points);
- a model that declares ``tuning_items`` (EASE: one cubic-cost inversion per
  point) compares its grid on the sub-problem of that many most popular
  training items (training events, validation histories and targets
  restricted to them) and the best point is then fit once on every item.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from bundle.history import Sequences
from training.data.interactions import IdMap, Interactions
from training.data.splits import EvalSet, Split
from training.evaluate import EvalConfig, Validation, evaluate
from training.models.base import Recommender
from training.registry import create

MAX_USERS = 5_000  # validation users that compare grid points (0: all)


@dataclass(frozen=True)
class TuningResult:
    model: Recommender
    params: dict[str, Any]
    metric: str
    trials: list[dict[str, Any]]
    users: int = 0  # validation users the grid was compared on
    items: int = 0  # catalogue the grid was compared on


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
    max_users: int = MAX_USERS,
) -> TuningResult:
    """Fit ``name`` for each grid point, keep the best on ``metric`` over validation users.

    ``metric`` defaults to NDCG at the largest K (NDCG@100 for the LED
    protocol, as the LED paper's appendix 9.2 selects checkpoints).
    """
    fixed = dict(fixed or {})
    metric = metric or f"ndcg@{max(config.ks)}"
    extra_k = () if metric == "mrr" else (_k_of(metric),)
    valid_config = replace(config, ks=tuple(sorted({*config.ks, *extra_k})))
    probe = create(name, **fixed)
    candidates = grid(type(probe).search_space, fixed)
    sampled = valid = sample_users(parts.valid, max_users, config.seed)
    train, n_items = parts.train, parts.train.n_items
    if len(candidates) == 1:
        model = create(name, **candidates[0])
        model.fit(train, _validation(model, valid, n_items, config, train))
        return TuningResult(model, candidates[0], metric, [], len(valid), n_items)
    narrowed = probe.tuning_items is not None and n_items > probe.tuning_items
    if narrowed:
        assert probe.tuning_items is not None
        keep = most_popular(train, probe.tuning_items)
        valid = restrict_eval(valid, keep, n_items)
        train, n_items = restrict_items(train, keep), len(keep)
    counts = np.bincount(train.item, minlength=n_items)
    models = [create(name, **params) for params in candidates]
    validation = _validation(probe, valid, n_items, config, train)
    best: tuple[float, Recommender, dict[str, Any]] | None = None
    trials = []
    fitted = type(probe).fit_grid(models, train, validation)
    for params, model in zip(candidates, fitted, strict=True):
        value = evaluate(model, valid, n_items, valid_config, counts)[metric]
        trials.append({"params": params, metric: value})
        if best is None or value > best[0]:
            best = (value, model, params)
    assert best is not None
    _, model, params = best
    if narrowed:  # the chosen point, fit once on every item
        model = create(name, **params)
        full = parts.train
        model.fit(full, _validation(model, sampled, full.n_items, config, full))
    return TuningResult(model, params, metric, trials, len(valid), n_items)


def _validation(
    model: Recommender,
    valid: EvalSet,
    n_items: int,
    config: EvalConfig,
    train: Interactions | None = None,
) -> Validation:
    counts = None if train is None else np.bincount(train.item, minlength=n_items)
    return Validation(valid, n_items, model.validation_metric, config, counts)


def sample_users(eval_set: EvalSet, max_users: int, seed: int) -> EvalSet:
    """At most ``max_users`` rows of ``eval_set``, drawn without replacement, in order
    (all of them when ``max_users`` is 0 or not smaller)."""
    if max_users <= 0 or len(eval_set) <= max_users:
        return eval_set
    rows = np.random.default_rng(seed).choice(len(eval_set), size=max_users, replace=False)
    return eval_set.take(np.sort(rows))


def most_popular(train: Interactions, n: int) -> np.ndarray:
    """The ``n`` items with the most training events, ascending item index."""
    counts = np.bincount(train.item, minlength=train.n_items)
    return np.sort(np.argsort(-counts, kind="stable")[:n])


def _remap(keep: np.ndarray, n_items: int) -> np.ndarray:
    remap = np.full(n_items, -1, dtype=np.int64)
    remap[keep] = np.arange(len(keep))
    return remap


def restrict_items(train: Interactions, keep: np.ndarray) -> Interactions:
    """The training events on ``keep`` items, re-indexed ``0..len(keep)-1``."""
    remap = _remap(keep, train.n_items)
    mask = remap[train.item] >= 0
    features = train.item_features
    return dataclasses.replace(
        train,
        user=train.user[mask],
        item=remap[train.item[mask]].astype(train.item.dtype),
        timestamp=train.timestamp[mask],
        event_type=train.event_type[mask],
        value=train.value[mask],
        items=IdMap(train.items.ids[keep]),
        item_features=None if features is None else features.iloc[keep].reset_index(drop=True),
    )


def restrict_eval(eval_set: EvalSet, keep: np.ndarray, n_items: int) -> EvalSet:
    """Histories and targets of ``eval_set`` (over ``n_items``) on ``keep`` items,
    re-indexed like ``restrict_items`` (users left without a target are skipped by
    the metrics)."""
    remap = _remap(keep, n_items)

    def on_kept(seqs: Sequences) -> Sequences:
        kept = seqs.select(remap[seqs.item] >= 0)
        return dataclasses.replace(kept, item=remap[kept.item].astype(kept.item.dtype))

    history, targets = on_kept(eval_set.history), on_kept(eval_set.targets)
    return EvalSet(eval_set.users, history, targets, eval_set.now)


def _k_of(metric: str) -> int:
    _, _, k = metric.partition("@")
    if not k.isdigit():
        raise ValueError(f"tuning metric must be mrr or NAME@K, e.g. ndcg@10; got {metric!r}")
    return int(k)
