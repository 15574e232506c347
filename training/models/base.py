"""The interface every recommender (baseline or learned) implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from training.data.interactions import Interactions, Sequences
from training.data.splits import EvalSet


class Recommender(ABC):
    """Maps (history, time) to a score for every item.

    ``fit`` learns from training events (``valid`` may drive early stopping);
    ``score`` is called on batches of fold-in histories and must return a
    (B, n_items) float array where larger means more recommended. It must not
    exclude seen items itself: the evaluator does that, uniformly for all.
    """

    name: str = "recommender"
    # Hyper-parameter grid searched on the validation set by ``training.tuning``.
    search_space: ClassVar[dict[str, tuple[Any, ...]]] = {}

    @abstractmethod
    def fit(
        self, train: Interactions, valid: EvalSet | None = None, progress: bool = False
    ) -> Recommender:
        """Learn from ``train``; returns self. ``progress`` shows a progress bar."""

    @abstractmethod
    def score(self, history: Sequences, now: np.ndarray) -> np.ndarray:
        """(B, n_items) scores for B history rows queried at times ``now`` (B,)."""

    def params(self) -> dict[str, Any]:
        """Hyper-parameters, for reports."""
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}

    def fit_info(self) -> dict[str, Any]:
        """What training did (epochs, best epoch, ...), for reports; empty by default."""
        return {}


# What the server can put into an encoder input, per history position (B, L):
#   item_rows    item row indices (int64), 0 on padding
#   mask         1.0 on real events, 0.0 on padding (float32)
#   age_seconds  now - event time, in seconds (float32)
#   event_types  event type codes of the bundle's vocabulary (int64)
#   values       event values (float32)
HISTORY_FILLS = ("item_rows", "mask", "age_seconds", "event_types", "values")


def history_input(name: str, dtype: str, fill: str) -> dict[str, Any]:
    """Manifest entry of a (batch, history) encoder input filled from the user's events."""
    if fill not in HISTORY_FILLS:
        raise ValueError(f"unknown encoder input fill {fill!r}; known: {HISTORY_FILLS}")
    return {"name": name, "dtype": dtype, "shape": ["batch", "history"], "fill": fill}


class RetrievalModel(Recommender):
    """A recommender that serves as inner-product search (ARCHITECTURE.md).

    Scores must equal ``encode_user(history, now) @ item_vectors().T``: the
    user side becomes ``encoder.onnx`` and the item side ``items.npy`` plus the
    HNSW index of a bundle. ``state``/``from_state`` round-trip the learned
    arrays through a checkpoint without pickling objects.
    """

    @abstractmethod
    def encode_user(self, history: Sequences, now: np.ndarray) -> np.ndarray:
        """(B, D) user vectors (a trailing 1 carries the item bias)."""

    @abstractmethod
    def item_vectors(self) -> np.ndarray:
        """(n_items, D) float32 item vectors (a trailing column holds the bias)."""

    @abstractmethod
    def export_encoder(self) -> Any:
        """A torch module mapping the ``encoder_spec`` inputs to (B, D) user vectors."""

    @abstractmethod
    def encoder_spec(self) -> dict[str, Any]:
        """Encoder inputs for the manifest: names, dtypes, shapes, how the server fills them."""

    @abstractmethod
    def state(self) -> dict[str, np.ndarray]:
        """Learned arrays to checkpoint."""

    @abstractmethod
    def config_dict(self) -> dict[str, Any]:
        """Constructor keyword arguments, JSON-serialisable."""

    @classmethod
    @abstractmethod
    def from_state(cls, config: dict[str, Any], arrays: dict[str, np.ndarray]) -> RetrievalModel:
        """Rebuild a fitted model from ``config_dict()`` and ``state()``."""

    def score(self, history: Sequences, now: np.ndarray) -> np.ndarray:
        return self.encode_user(history, now) @ self.item_vectors().T
