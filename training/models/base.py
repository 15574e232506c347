"""The interfaces every recommender implements, and what a servable one adds.

``Recommender`` is what the evaluation harness needs: ``fit`` on training
events and ``score`` every item for batches of histories. ``RetrievalModel``
is what serving needs on top: the score is an inner product of a user vector
and item vectors, ``score(u, j) = <encode_user(u), item_vectors()[j]>``, so the
exporter turns the user side into ``encoder.onnx`` and the item side into an
HNSW index (ARCHITECTURE.md, "Models as maximum-inner-product search").
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np

from bundle.history import HistoryPolicy, Sequences
from bundle.inputs import UserContext, build_inputs
from bundle.manifest import ColdStart, EncoderSpec, IndexForm, ItemQuery
from training.data.interactions import Interactions


class Validator(Protocol):
    """Scores a fitted model on validation users (injected by the job that trains it,
    so models never import the evaluator); larger is better."""

    @property
    def metric(self) -> str: ...

    def __call__(self, model: Recommender) -> float: ...


class Recommender(ABC):
    """Maps (history, time[, user]) to a score for every item.

    ``fit`` learns from training events (``validation`` may drive early
    stopping); ``score`` is called on batches of fold-in histories and returns
    a (B, n_items) float array where larger means more recommended. It must not
    exclude seen items itself: the evaluator does that, uniformly for all.
    """

    name: str = "recommender"
    # Hyper-parameter grid searched on the validation set by ``training.tuning``.
    search_space: ClassVar[dict[str, tuple[Any, ...]]] = {}
    # Catalogues larger than this compare the grid on the sub-problem of this many most
    # popular items, then fit the best point once on every item (None: never narrowed).
    tuning_items: ClassVar[int | None] = None

    @classmethod
    def fit_grid(
        cls, models: Sequence[Recommender], train: Interactions, validation: Validator | None
    ) -> Iterator[Recommender]:
        """Fit the models of a tuning grid, yielding each once fitted. Models override
        this to share work across the grid (EASE: one Gram matrix for every lambda)."""
        for model in models:
            yield model.fit(train, validation)

    @abstractmethod
    def fit(
        self, train: Interactions, validation: Validator | None = None, progress: bool = False
    ) -> Recommender:
        """Learn from ``train``; returns self. ``progress`` shows a progress bar."""

    @abstractmethod
    def score(
        self, history: Sequences, now: np.ndarray, users: np.ndarray | None = None
    ) -> np.ndarray:
        """(B, n_items) scores for B history rows queried at times ``now`` (B,).

        ``users`` (B,) are the rows' dense training user indices (-1 for a user
        the training data did not have), for models with per-user parameters.
        """

    @property
    def validation_metric(self) -> str:
        """The validation metric this model early-stops on (``Validator.metric``)."""
        return "ndcg@10"

    def params(self) -> dict[str, Any]:
        """Hyper-parameters, for reports."""
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}

    def fit_info(self) -> dict[str, Any]:
        """What training did (epochs, best epoch, ...), for reports; empty by default."""
        return {}

    def write_artifacts(self, folder: Path, prefix: str = "") -> list[Path]:
        """Write pictures of what was learned beside the metrics (none by default)."""
        return []


class Servable(Recommender):
    """A recommender ``recserve train`` can checkpoint and ``recserve export`` can serve:
    ``state``/``from_state`` round-trip the learned arrays through a checkpoint
    without pickling objects."""

    @abstractmethod
    def state(self) -> dict[str, np.ndarray]:
        """Learned arrays to checkpoint."""

    @abstractmethod
    def config_dict(self) -> dict[str, Any]:
        """Constructor keyword arguments, JSON-serialisable."""

    @classmethod
    @abstractmethod
    def from_state(cls, config: dict[str, Any], arrays: dict[str, np.ndarray]) -> Servable:
        """Rebuild a fitted model from ``config_dict()`` and ``state()``."""


@dataclass(frozen=True)
class StatefulModules:
    """What a stateful model exports beside its one-pass encoder (``bundle.state``):
    torch modules and the ``(name, fill)`` of each of their inputs, in argument
    order. Stepping a history event by event, then reading out, must give the
    one-pass encoder's user vector (the exporter checks it)."""

    state_dim: int
    step: Any
    step_inputs: tuple[tuple[str, str], ...]
    readout: Any
    readout_inputs: tuple[tuple[str, str], ...]
    # seconds since the last event at which the readout can change (StatefulSpec):
    # None when it reads the time continuously, () when it does not read it
    readout_edges: tuple[float, ...] | None = None


@dataclass(frozen=True)
class ItemEncoderModule:
    """What a model with a metadata decoder exports to vector items it never saw: a torch
    module mapping encoded item features (B, F) to item vectors in the served layout,
    the feature schema that encodes them (``bundle.features``), and its own items'
    encoded features and whether each had training events (the exporter checks the
    graph on them)."""

    module: Any
    schema: dict[str, Any]
    features: np.ndarray  # (I, F) float32
    trained: np.ndarray  # (I,) bool


class RetrievalModel(Servable):
    """A recommender that serves as inner-product search.

    Scores equal ``encode_user(history, now, users) @ item_vectors().T``, and
    ``encode_user`` runs the very module that becomes ``encoder.onnx`` on the
    inputs the server builds (``bundle.inputs.build_inputs`` with the
    ``encoder_spec``), so offline and served user vectors cannot drift apart.
    """

    @abstractmethod
    def encoder_spec(self) -> EncoderSpec:
        """Encoder inputs (``bundle.inputs`` fills), outputs and history policy."""

    @abstractmethod
    def export_encoder(self) -> Any:
        """A torch module mapping the ``encoder_spec`` inputs, in order, to its outputs
        (the user vector first), on the CPU and in eval mode."""

    @abstractmethod
    def item_vectors(self) -> np.ndarray:
        """(n_items, D) float32 item vectors, any item bias folded in."""

    @abstractmethod
    def semantics(self) -> tuple[ColdStart, ItemQuery]:
        """What the vectors mean: the cold-start query (or popularity) and how a
        similar-items query is formed from an item row."""

    def explanation(self) -> str:
        """How its recommendations are explained (``bundle.manifest.Semantics``):
        leave-one-out unless the model declares an exact form."""
        return "leave-one-out"

    def index_form(self) -> IndexForm:
        """How the HNSW index sees the vectors (default: inner product over them as
        they are); a form whose ranking differs from the model's fails the exporter's
        recall check."""
        return IndexForm()

    def user_table(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Per-user parameters, or None: (n_users, d) by dense user index and (n_users,)
        bool, true for the users training gave parameters (the others are unknown)."""
        return None

    def user_fallback(self) -> str:
        """What the encoder does for a user without a row in ``user_table``."""
        return ""

    def stateful(self) -> StatefulModules | None:
        """The ``step`` and ``readout`` modules when the user side is a recurrence the
        server can advance per event; None: every Recommend runs the one-pass encoder."""
        return None

    def item_encoder(self) -> ItemEncoderModule | None:
        """Item vectors from metadata alone, or None: items registered while serving
        (``PutItems``) then wait for a bundle that knows them."""
        return None

    def user_context(self, users: np.ndarray | None, batch: int) -> UserContext | None:
        """The ``user_vector``/``user_known`` inputs for dense user indices (-1: unknown)."""
        found = self.user_table()
        if found is None:
            return None
        table, trained = found
        rows = np.full(batch, -1, np.int64) if users is None else np.asarray(users, np.int64)
        rows = np.where((rows >= 0) & trained[np.maximum(rows, 0)], rows, -1)
        return UserContext.from_table(table, rows)

    def encoder_inputs(
        self, history: Sequences, now: np.ndarray, users: np.ndarray | None = None
    ) -> dict[str, np.ndarray]:
        """The arrays the server would feed ``encoder.onnx`` for these rows."""
        context = self.user_context(users, len(history))
        return build_inputs(self.encoder_spec(), history, now, context)

    def encode_user(
        self, history: Sequences, now: np.ndarray, users: np.ndarray | None = None
    ) -> np.ndarray:
        """(B, D) float32 user vectors: the export module on the server's inputs."""
        import torch

        spec = self.encoder_spec()
        inputs = self.encoder_inputs(history, now, users)
        with torch.no_grad():
            out = self.export_encoder()(*(torch.from_numpy(inputs[e.name]) for e in spec.inputs))
        vectors = out[0] if isinstance(out, (tuple, list)) else out
        return np.asarray(vectors.numpy(), dtype=np.float32)

    def score(
        self, history: Sequences, now: np.ndarray, users: np.ndarray | None = None
    ) -> np.ndarray:
        return self.encode_user(history, now, users) @ self.item_vectors().T


class Reranker(Servable):
    """A second stage: scores given candidate items for each history.

    Its score is query-dependent (the user's history is read differently for
    every candidate), so it cannot be an inner-product search; it re-scores the
    top candidates of a retrieval model (``training.models.cascade`` offline,
    the server's ``rerank`` stage online). ``score`` ranks every item by
    scoring them all as candidates, chunk by chunk, for the evaluation harness.
    """

    score_chunk: ClassVar[int] = 512  # candidates per call of ``score_candidates``

    @abstractmethod
    def score_candidates(
        self,
        history: Sequences,
        now: np.ndarray,
        candidates: np.ndarray,
        users: np.ndarray | None = None,
    ) -> np.ndarray:
        """(B, C) float32 scores of the (B, C) int64 candidate items of each row."""

    def score(
        self, history: Sequences, now: np.ndarray, users: np.ndarray | None = None
    ) -> np.ndarray:
        n_items = self.n_items
        out = np.empty((len(history), n_items), dtype=np.float32)
        for start in range(0, n_items, self.score_chunk):
            items = np.arange(start, min(start + self.score_chunk, n_items), dtype=np.int64)
            candidates = np.broadcast_to(items, (len(history), len(items)))
            out[:, items] = self.score_candidates(history, now, candidates, users)
        return out

    @property
    @abstractmethod
    def n_items(self) -> int:
        """The size of the catalogue the model was fitted on."""

    @abstractmethod
    def history_policy(self) -> HistoryPolicy:
        """Which events of a history the re-ranker reads (the server cuts them alike)."""

    @abstractmethod
    def export_module(self, rows: np.ndarray) -> Any:
        """A torch module (history (B, H) int64, mask (B, H) float32, candidates (B, C)
        int64) -> (scores (B, C), weights (B, C, H)) over another item table: row r of
        it is this model's item ``rows[r]`` (-1: an item it does not know)."""
