"""The base of every torch retrieval model: typed nested config, device, early stopping.

A subclass declares its ``config_type`` (a frozen dataclass with a ``train:
TrainConfig`` field), builds a ``Plan`` for the training loop (``plan``) and
copies what it learned into numpy arrays and its export module (``freeze``).
This base runs the loop on CUDA when available (CPU otherwise, or as
``train.device`` says), validates with the ``Validator`` the training job
injects, and keeps the parameters of the best validation epoch.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import asdict
from typing import Any, ClassVar

import numpy as np
import torch

from training.config import build
from training.data.interactions import Interactions
from training.models.base import RetrievalModel, Validator
from training.trainer import Plan, TrainLog, fit_with_early_stopping, resolve_device


class TorchRetrievalModel(RetrievalModel):
    config_type: ClassVar[type]

    def __init__(self, **params: Any) -> None:
        self.config: Any = build(self.config_type, params, self.name)
        self.train_log: TrainLog | None = None

    @property
    def validation_metric(self) -> str:
        return str(self.config.train.eval_metric)

    def params(self) -> dict[str, Any]:
        return self.config_dict()

    def config_dict(self) -> dict[str, Any]:
        return asdict(self.config)

    def fit_info(self) -> dict[str, Any]:
        if self.train_log is None:
            return {}
        log = self.train_log
        return {
            "epochs": log.epochs,
            "best_epoch": log.best_epoch,
            "best_valid": log.best_metric,
            "metric": self.validation_metric,
            "seconds": round(log.seconds, 3),
            "train_seconds": round(log.train_seconds, 3),
            "rows": log.rows,
            "epoch_rows": log.epoch_rows,
            "device": str(self._device) if hasattr(self, "_device") else "cpu",
            "history": log.history,
        }

    def fit(
        self, train: Interactions, validation: Validator | None = None, progress: bool = False
    ) -> TorchRetrievalModel:
        self._device = resolve_device(self.config.train.device)
        torch.manual_seed(self.config.train.seed)
        plan = self.plan(train, self._device)
        plan.module.to(self._device)

        def validate() -> float:
            assert validation is not None
            self.freeze(plan.module)
            return validation(self)

        self.train_log = fit_with_early_stopping(
            plan, validate if validation is not None else None, self.config.train, progress,
            self.name,
        )  # fmt: skip
        self.freeze(plan.module)
        return self

    @abstractmethod
    def plan(self, train: Interactions, device: torch.device) -> Plan:
        """The training module, rows, loss step (tensors on ``device``) and extras."""

    @abstractmethod
    def freeze(self, module: torch.nn.Module) -> None:
        """Copy the learned parameters to numpy (CPU) and rebuild the export module."""


def to_numpy(tensor: torch.Tensor) -> np.ndarray:
    """A detached float32 CPU copy."""
    return tensor.detach().to("cpu", torch.float32).numpy().copy()
