"""A small training loop: Adam, shuffled batches, early stopping on validation.

``fit_with_early_stopping`` runs epochs of ``step(rows, rng) -> loss`` over a
shuffled table of ``n_rows`` training rows, scores the validation users every
``eval_every`` epochs with the injected ``validate``, keeps the best parameters and stops
after ``patience`` evaluations without improvement (LED appendix 9.2 selects
the checkpoint with the best validation NDCG@100). Optionally it clips the gradient
norm and decays the learning rate on plateaus (the attention-CF paper, section 4.3).
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

DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class TrainConfig:
    """The optimisation loop shared by every torch model (nested as ``<model>.train``)."""

    lr: float = 1e-3
    batch_size: int = 512
    max_epochs: int = 200
    eval_every: int = 1
    patience: int = 10
    eval_metric: str = "ndcg@10"  # validation metric for early stopping
    optimizer: str = "adam"  # adam | adagrad
    initial_accumulator: float = 0.0  # adagrad's starting sum of squared gradients
    clip_norm: float = 0.0  # scale the gradient to this norm when it exceeds it (0: never)
    lr_decay: float = 1.0  # multiply the learning rate by this after every ...
    decay_patience: int = 5  # ... this many evaluations in a row without improvement
    seed: int = 0
    device: str = "auto"  # auto: CUDA when available, else CPU
    epoch_rows: int = 0  # training rows an epoch draws (without replacement; 0: every row)

    def __post_init__(self) -> None:
        if self.optimizer not in ("adam", "adagrad"):
            raise ValueError(f"optimizer must be adam or adagrad, got {self.optimizer!r}")
        if self.device not in DEVICES:
            raise ValueError(f"device must be one of {DEVICES}, got {self.device!r}")
        if min(self.batch_size, self.max_epochs, self.eval_every, self.patience,
               self.decay_patience) < 1:  # fmt: skip
            raise ValueError(
                "batch_size, max_epochs, eval_every, patience and decay_patience must be >= 1"
            )
        if self.epoch_rows < 0:
            raise ValueError("epoch_rows must be >= 0 (0: every row)")
        if not 0.0 < self.lr_decay <= 1.0 or self.clip_norm < 0:
            raise ValueError("lr_decay must be in (0, 1] and clip_norm >= 0")


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA when torch sees a GPU, else CPU; ``cuda`` without one is refused."""
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' asked for, but torch sees no CUDA GPU")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


@dataclass
class TrainLog:
    epochs: int = 0
    best_epoch: int = 0
    best_metric: float = float("-inf")
    seconds: float = 0.0
    train_seconds: float = 0.0  # in training steps only (no validation)
    history: list[dict[str, float]] = field(default_factory=list)
    rows: int = 0  # training rows of the data
    epoch_rows: int = 0  # rows each epoch trained on (fewer with ``TrainConfig.epoch_rows``)


@dataclass
class Plan:
    """What a model hands the loop: the module, how many training rows an epoch
    shuffles, the loss of a batch of rows, and optional extras."""

    module: torch.nn.Module
    n_rows: int
    step: Callable[[np.ndarray, np.random.Generator], torch.Tensor]
    param_groups: list[dict[str, Any]] | None = None  # per-parameter learning rates
    after_step: Callable[[], None] | None = None  # e.g. norm clipping (AttRec eq. 12)


def fit_with_early_stopping(
    plan: Plan,
    validate: Callable[[], float] | None,
    config: TrainConfig,
    progress: bool = False,
    desc: str = "train",
) -> TrainLog:
    """Train ``plan.module`` in place; on return it holds the best validated parameters.

    The untrained module is validated first (epoch 0), so a pre-trained start
    that training cannot improve on is kept rather than lost.
    """
    module = plan.module
    if plan.n_rows < 1:
        raise ValueError("no training rows (every user has too few events?)")
    rng = np.random.default_rng(config.seed)
    torch.manual_seed(config.seed)
    groups = plan.param_groups or [{"params": [p for p in module.parameters() if p.requires_grad]}]
    if config.optimizer == "adagrad":
        optimizer: torch.optim.Optimizer = torch.optim.Adagrad(
            groups, lr=config.lr, initial_accumulator_value=config.initial_accumulator
        )
    else:
        optimizer = torch.optim.Adam(groups, lr=config.lr)
    log = TrainLog(rows=plan.n_rows, epoch_rows=min(config.epoch_rows or plan.n_rows, plan.n_rows))
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
        epoch_started = time.perf_counter()
        order = rng.permutation(plan.n_rows)[: log.epoch_rows]
        losses = []
        for start in range(0, len(order), config.batch_size):
            loss = plan.step(order[start : start + config.batch_size], rng)
            optimizer.zero_grad()
            loss.backward()
            if config.clip_norm > 0:
                torch.nn.utils.clip_grad_norm_(module.parameters(), config.clip_norm)
            optimizer.step()
            if plan.after_step is not None:
                plan.after_step()
            losses.append(float(loss.detach()))
        log.epochs = epoch
        log.train_seconds += time.perf_counter() - epoch_started
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
                if config.lr_decay < 1.0 and waited % config.decay_patience == 0:
                    for group in optimizer.param_groups:
                        group["lr"] *= config.lr_decay
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
