"""A small training loop: Adam, shuffled batches, early stopping on validation.

``fit_with_early_stopping`` runs epochs of ``step(rows, rng) -> loss`` over a
shuffled table of ``n_rows`` training rows, scores the validation users every
``eval_every`` epochs with ``evaluate``, keeps the best parameters and stops
after ``patience`` evaluations without improvement (LED appendix 9.2 selects
the checkpoint with the best validation NDCG@100).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from tqdm import tqdm


@dataclass(frozen=True)
class TrainConfig:
    lr: float = 1e-3
    batch_size: int = 512
    max_epochs: int = 200
    eval_every: int = 1
    patience: int = 10
    seed: int = 0


@dataclass
class TrainLog:
    epochs: int = 0
    best_epoch: int = 0
    best_metric: float = float("-inf")
    seconds: float = 0.0
    history: list[dict[str, float]] = field(default_factory=list)


def fit_with_early_stopping(
    module: torch.nn.Module,
    n_rows: int,
    step: Callable[[np.ndarray, np.random.Generator], torch.Tensor],
    validate: Callable[[], float] | None,
    config: TrainConfig,
    progress: bool = False,
    desc: str = "train",
    param_groups: list[dict[str, Any]] | None = None,
) -> TrainLog:
    """Train ``module`` in place; on return it holds the best validated parameters.

    The untrained module is validated first (epoch 0), so a pre-trained start
    that training cannot improve on is kept rather than lost. ``param_groups``
    gives per-parameter learning rates (default: every trainable parameter at
    ``config.lr``).
    """
    if n_rows < 1:
        raise ValueError("no training rows (every user has fewer than 2 items?)")
    rng = np.random.default_rng(config.seed)
    torch.manual_seed(config.seed)
    groups = param_groups or [{"params": [p for p in module.parameters() if p.requires_grad]}]
    optimizer = torch.optim.Adam(groups, lr=config.lr)
    log = TrainLog()
    best_state = copy.deepcopy(module.state_dict())
    waited = 0
    if validate is not None:
        module.eval()
        with torch.no_grad():
            log.best_metric = validate()
        log.history.append({"epoch": 0.0, "valid": log.best_metric})
    started = time.perf_counter()
    bar = tqdm(total=config.max_epochs, desc=desc, disable=not progress)
    for epoch in range(1, config.max_epochs + 1):
        module.train()
        order = rng.permutation(n_rows)
        losses = []
        for start in range(0, n_rows, config.batch_size):
            loss = step(order[start : start + config.batch_size], rng)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(float(loss.detach()))
        log.epochs = epoch
        entry = {"epoch": float(epoch), "loss": float(np.mean(losses))}
        if validate is not None and epoch % config.eval_every == 0:
            module.eval()
            with torch.no_grad():
                metric = validate()
            entry["valid"] = metric
            if metric > log.best_metric:
                log.best_metric, log.best_epoch, waited = metric, epoch, 0
                best_state = copy.deepcopy(module.state_dict())
            else:
                waited += 1
        log.history.append(entry)
        bar.set_postfix({k: round(v, 4) for k, v in entry.items() if k != "epoch"})
        bar.update()
        if validate is not None and waited >= config.patience:
            break
    bar.close()
    if validate is not None:
        module.load_state_dict(best_state)
    else:
        log.best_epoch = log.epochs
    module.eval()
    log.seconds = time.perf_counter() - started
    return log
