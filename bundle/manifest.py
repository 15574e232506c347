"""``manifest.json`` as typed, frozen dataclasses, read with field-named errors.

The manifest says everything the server must know before it serves a bundle:
the model, the encoder's inputs (``bundle.inputs`` vocabulary) and outputs,
the history policy, the HNSW parameters and measured recall, and what the
model *means* (``Semantics``): how a cold-start query is formed, how a
similar-items query is formed from an item's row, and the weight of the live
trend term on this model's score scale. Optional parts: a user table (models
with per-user parameters), a re-ranker (a second stage over the candidates),
an item encoder (item vectors from metadata, for items registered while serving),
and a stateful encoder (``step`` and ``readout`` graphs: RecordEvents advances
a user's state, Recommend reads it out).
"""

from __future__ import annotations

import json
import types
import typing
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from itertools import pairwise
from typing import Any

import numpy as np

from bundle.errors import ManifestError
from bundle.format import (
    ENCODER,
    FORMAT_VERSION,
    ITEM_ENCODER,
    KNOWN_FORMATS,
    RERANKER,
    USER_TABLE,
    USERS,
)  # fmt: skip
from bundle.history import HistoryPolicy
from bundle.inputs import FILLS, NOW_DEPENDENT
from bundle.state import READOUT_FILLS, STEP_FILLS


@dataclass(frozen=True)
class FileEntry:
    sha256: str
    bytes: int


@dataclass(frozen=True)
class InputSpec:
    """One encoder input: its ONNX name and how the server fills it (``bundle.inputs``)."""

    name: str
    fill: str
    dtype: str = ""

    def __post_init__(self) -> None:
        if self.fill not in FILLS:
            raise ValueError(f"unknown fill {self.fill!r}; known: {sorted(FILLS)}")
        expected = FILLS[self.fill].dtype
        if self.dtype == "":
            object.__setattr__(self, "dtype", expected)
        elif self.dtype != expected:
            raise ValueError(f"fill {self.fill!r} is {expected}, not {self.dtype}")

    @property
    def per_event(self) -> bool:
        return FILLS[self.fill].per == "event"


OUTPUT_ROLES = ("user_vector", "history_weights")


@dataclass(frozen=True)
class OutputSpec:
    """An encoder output: ``user_vector`` (batch, dim), the query of the inner-product
    search; ``history_weights`` (batch, history), how much each history event drove it."""

    name: str
    role: str = "user_vector"
    dim: int = 0

    def __post_init__(self) -> None:
        if self.role not in OUTPUT_ROLES:
            raise ValueError(f"unknown output role {self.role!r}; known: {OUTPUT_ROLES}")


@dataclass(frozen=True)
class EncoderSpec:
    inputs: tuple[InputSpec, ...]
    outputs: tuple[OutputSpec, ...]
    history: HistoryPolicy = field(default_factory=HistoryPolicy)
    file: str = ENCODER

    def __post_init__(self) -> None:
        names = [e.name for e in self.inputs] + [o.name for o in self.outputs]
        if len(set(names)) != len(names):
            raise ValueError(f"input and output names must be unique, got {names}")
        if [o.role for o in self.outputs].count("user_vector") != 1:
            raise ValueError("exactly one output must have the role user_vector")

    @property
    def user_output(self) -> OutputSpec:
        return next(o for o in self.outputs if o.role == "user_vector")

    @property
    def dim(self) -> int:
        return self.user_output.dim

    @property
    def now_dependent(self) -> bool:
        """True when the user vector depends on the query time, not only the history."""
        return any(e.fill in NOW_DEPENDENT for e in self.inputs)

    @property
    def needs_users(self) -> bool:
        return any(FILLS[e.fill].per in ("user", "user_vector") and e.fill != "seconds_since_last"
                   for e in self.inputs)  # fmt: skip


@dataclass(frozen=True)
class ProjectionBlock:
    """``width`` coordinates multiplied by ``scale``, or dropped (``keep`` false)."""

    width: int
    scale: float = 1.0
    keep: bool = True


@dataclass(frozen=True)
class Projection:
    """A blockwise linear map from the model's vectors to the index's vectors."""

    blocks: tuple[ProjectionBlock, ...]

    @property
    def width(self) -> int:
        return sum(b.width for b in self.blocks)

    def apply(self, vectors: np.ndarray) -> np.ndarray:
        """(..., width) -> (..., kept width) float32."""
        parts, start = [], 0
        for b in self.blocks:
            if b.keep:
                parts.append(vectors[..., start : start + b.width] * np.float32(b.scale))
            start += b.width
        return np.ascontiguousarray(np.concatenate(parts, axis=-1), dtype=np.float32)


INDEX_SPACES = ("ip", "l2")


@dataclass(frozen=True)
class IndexForm:
    """How the HNSW index sees the model: ``ip`` over the item vectors themselves (the
    default), or another space over projections of items and queries whose ranking
    is the model's inner product (e.g. ``l2`` for a metric-learning model, AttRec)."""

    space: str = "ip"
    items: Projection | None = None  # None: the item vectors as they are
    queries: Projection | None = None  # None: the user vector as it is

    def __post_init__(self) -> None:
        if self.space not in INDEX_SPACES:
            raise ValueError(f"index space must be one of {INDEX_SPACES}, got {self.space!r}")

    def item_vectors(self, vectors: np.ndarray) -> np.ndarray:
        return vectors if self.items is None else self.items.apply(vectors)

    def query_vectors(self, queries: np.ndarray) -> np.ndarray:
        return queries if self.queries is None else self.queries.apply(queries)


@dataclass(frozen=True)
class IndexInfo:
    """HNSW parameters (``export.index_build``), the index's form and the recall@k of
    its top k against the exact top k of the model's own scores."""

    M: int
    ef_construction: int
    ef_search: int
    recall_at_10: float
    recall_at_100: float
    queries: int
    form: IndexForm = field(default_factory=IndexForm)

    @property
    def space(self) -> str:
        return self.form.space


@dataclass(frozen=True)
class QueryBlock:
    """``width`` coordinates of a query formed from an item row: row * scale + shift."""

    width: int
    scale: float = 1.0
    shift: float = 0.0


@dataclass(frozen=True)
class ItemQuery:
    """How a similar-items query is formed from item j's row x_j, block by block, so that
    <query, x_i> ranks items i by the model's own item-item similarity."""

    blocks: tuple[QueryBlock, ...]

    @property
    def width(self) -> int:
        return sum(b.width for b in self.blocks)

    def apply(self, row: np.ndarray) -> np.ndarray:
        scale = np.concatenate([np.full(b.width, b.scale, np.float32) for b in self.blocks])
        shift = np.concatenate([np.full(b.width, b.shift, np.float32) for b in self.blocks])
        return (np.asarray(row, np.float32) * scale + shift).astype(np.float32)


COLD_KINDS = ("query", "popularity")


@dataclass(frozen=True)
class ColdStart:
    """What a user without a usable history gets: ``query`` ranks items by <query, x_j>
    (e.g. the item bias alone); ``popularity`` by the items' training counts."""

    kind: str
    query: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in COLD_KINDS:
            raise ValueError(f"cold_start.kind must be one of {COLD_KINDS}, got {self.kind!r}")
        if (self.kind == "query") != bool(self.query):
            raise ValueError("cold_start.query is given exactly when kind is 'query'")


@dataclass(frozen=True)
class TrendSemantics:
    """The live trend term ``beta * log(alpha + decayed count)`` on this model's score
    scale: ``beta`` chosen at export on validation users (``calibration`` records how)."""

    beta: float
    alpha: float = 1.0
    half_life_s: float = 3600.0
    calibration: dict[str, Any] = field(default_factory=dict)


EXPLANATIONS = ("additive", "attention", "leave-one-out")


@dataclass(frozen=True)
class Semantics:
    """What the vectors mean. ``explanation`` says how a recommendation is explained:
    ``additive`` (the user vector is sum_i w_i q_i with w the encoder's
    ``history_weights`` and q_i the similar-items query of history item i, so
    w_i <q_i, x_j> is item i's exact share of the score), ``attention`` (the
    encoder's ``history_weights`` are the model's own attention over the history)
    or ``leave-one-out`` (the score change when an event is left out, computed
    only when asked)."""

    cold_start: ColdStart
    similar_items: ItemQuery
    trend: TrendSemantics
    score: str = "inner product <user vector, item vector>"
    explanation: str = "leave-one-out"

    def __post_init__(self) -> None:
        if self.explanation not in EXPLANATIONS:
            raise ValueError(f"explanation must be one of {EXPLANATIONS}")


@dataclass(frozen=True)
class UserTableSpec:
    """Per-user parameters (``users.npy``, rows named in ``users.tsv``) read into the
    ``user_vector``/``user_known`` inputs; ``unknown`` says what an unseen user gets."""

    count: int
    dim: int
    unknown: str
    vectors: str = USERS
    ids: str = USER_TABLE


@dataclass(frozen=True)
class StateInput:
    """One input of a stateful graph: its ONNX name and its fill (``bundle.state``)."""

    name: str
    fill: str


@dataclass(frozen=True)
class GraphSpec:
    """A stateful graph: its file, its inputs and the name of its one output."""

    file: str
    inputs: tuple[StateInput, ...]
    output: str

    def check(self, fills: dict[str, Any], role: str) -> None:
        used = [e.fill for e in self.inputs]
        unknown = sorted(set(used) - set(fills))
        if unknown:
            raise ValueError(f"{role} input fill(s) {unknown} unknown; known: {sorted(fills)}")
        if len(set(used)) != len(used) or "state" not in used:
            raise ValueError(f"{role} must read the state once and each fill at most once")


@dataclass(frozen=True)
class StatefulSpec:
    """A stateful encoder (``bundle.state``): ``step`` (state, one event) -> state,
    ``readout`` (state, seconds since the last event) -> the user vector. Stepping a
    history event by event and reading out equals the one-pass encoder (checked at
    export, ``checks``)."""

    state_dim: int
    step: GraphSpec
    readout: GraphSpec
    checks: dict[str, Any] = field(default_factory=dict)
    # Seconds since the last event at which the readout can change: it is constant
    # from one edge to the next and past the last (checked at export), so a user vector
    # is reused until the query time crosses an edge. None: the readout reads the time
    # continuously (never reused); (): it does not read the time.
    readout_edges: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if self.state_dim < 1:
            raise ValueError(f"stateful.state_dim must be >= 1, got {self.state_dim}")
        edges = self.readout_edges
        if edges is not None and (
            any(e <= 0 for e in edges) or any(b <= a for a, b in pairwise(edges))
        ):
            raise ValueError("stateful.readout_edges must be positive and increasing")
        self.step.check(STEP_FILLS, "step")
        self.readout.check(READOUT_FILLS, "readout")


@dataclass(frozen=True)
class ItemEncoderSpec:
    """Item vectors from metadata (``bundle.item_encoder``): ``features`` is the feature
    schema (``bundle.features.FeatureSchema.to_dict``) that encodes an item's metadata
    into the graph's input row."""

    features: dict[str, Any]
    file: str = ITEM_ENCODER
    checks: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelInfo:
    kind: str
    config: dict[str, Any] = field(default_factory=dict)


RERANK_INPUTS = ("history", "mask", "candidates")
RERANK_OUTPUTS = ("scores", "weights")


@dataclass(frozen=True)
class RerankerSpec:
    """A second stage over the retrieval candidates (``reranker.onnx``).

    The graph maps the user's history (item rows, (B, H) int64), its mask ((B, H)
    float32) and candidate item rows ((B, C) int64) to a score per candidate and the
    last layer's attention weights over the history ((B, C, H)). Its item rows are
    this bundle's: ``items_sha256`` is the SHA-256 of the item ids (one per line, in
    row order) it was aligned to, and the loader refuses a bundle whose item table
    differs. The top ``candidates`` by retrieval score are re-scored, ranked by
    ``score + blend * z_j + trend.beta * log(trend.alpha + c_j)`` above every other
    candidate, with z the retrieval scores standardized over the re-scored
    candidates (``bundle.reranker.standardized``) and ``blend`` chosen at export
    on validation users (``blend_calibration``).
    """

    model: ModelInfo
    history: HistoryPolicy
    trend: TrendSemantics
    items_sha256: str
    known_items: int  # rows of the bundle the re-ranker has an embedding for
    candidates: int = 100
    blend: float = 0.0
    blend_calibration: dict[str, Any] = field(default_factory=dict)
    file: str = RERANKER
    checks: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.candidates < 1:
            raise ValueError(f"reranker.candidates must be >= 1, got {self.candidates}")


@dataclass(frozen=True)
class Manifest:
    name: str
    version: str
    model: ModelInfo
    dim: int
    item_count: int
    encoder: EncoderSpec
    index: IndexInfo
    semantics: Semantics
    event_types: tuple[str, ...]
    users: UserTableSpec | None = None
    stateful: StatefulSpec | None = None
    item_encoder: ItemEncoderSpec | None = None
    reranker: RerankerSpec | None = None
    offline_metrics: dict[str, Any] = field(default_factory=dict)
    checks: dict[str, Any] = field(default_factory=dict)
    files: dict[str, FileEntry] = field(default_factory=dict)
    created_at: str = ""
    format_version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        if self.encoder.dim != self.dim:
            raise ValueError(f"encoder output dim {self.encoder.dim} != item dim {self.dim}")
        if self.semantics.similar_items.width != self.dim:
            raise ValueError("semantics.similar_items blocks do not cover the item vectors")
        cold = self.semantics.cold_start
        if cold.kind == "query" and len(cold.query) != self.dim:
            raise ValueError(f"cold_start.query has {len(cold.query)} values, dim is {self.dim}")
        for name, projection in (
            ("items", self.index.form.items),
            ("queries", self.index.form.queries),
        ):
            if projection is not None and projection.width != self.dim:
                raise ValueError(
                    f"index.form.{name} maps {projection.width} coordinates, dim is {self.dim}"
                )
        if self.encoder.needs_users and self.users is None:
            raise ValueError("the encoder reads the user table but the bundle has none")
        if self.stateful is not None and self.users is None:
            graphs = (self.stateful.step, self.stateful.readout)
            if any(e.fill == "user_vector" for g in graphs for e in g.inputs):
                raise ValueError("the stateful graphs read the user table but the bundle has none")
        roles = {o.role for o in self.encoder.outputs}
        if self.semantics.explanation != "leave-one-out" and "history_weights" not in roles:
            raise ValueError(
                f"a {self.semantics.explanation} explanation needs an encoder output with the "
                "role history_weights"
            )

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str, where: str = "manifest") -> Manifest:
        """Parse and check; a format this version does not know is refused first."""
        try:
            values = json.loads(text)
        except ValueError as error:
            raise ManifestError(f"{where}: not JSON ({error})") from None
        if not isinstance(values, dict):
            raise ManifestError(f"{where}: expected a JSON object")
        version = values.get("format_version")
        if version not in KNOWN_FORMATS:
            raise ManifestError(
                f"{where}: bundle format {version!r}, this recserve reads format "
                f"{FORMAT_VERSION}; export the model again with this version"
            )
        return decode(cls, values, where)


def decode(cls: type, value: Any, path: str) -> Any:
    """Build dataclass ``cls`` from parsed JSON, naming the field of the first problem."""
    if not isinstance(value, dict):
        raise ManifestError(f"{path}: expected an object, got {type(value).__name__}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(value) - known)
    if unknown:
        raise ManifestError(f"{path}: unknown field(s) {unknown}")
    kwargs = {
        f.name: _convert(hints[f.name], value[f.name], f"{path}.{f.name}")
        for f in fields(cls)
        if f.name in value
    }
    try:
        return cls(**kwargs)
    except TypeError as error:  # a required field is missing
        raise ManifestError(f"{path}: {error}") from None
    except ValueError as error:
        raise ManifestError(f"{path}: {error}") from None


def _convert(tp: Any, value: Any, path: str) -> Any:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _convert(inner, value, path)
    if is_dataclass(tp):
        return decode(tp, value, path)  # type: ignore[arg-type]
    if origin is tuple:
        if not isinstance(value, list):
            raise ManifestError(f"{path}: expected a list, got {type(value).__name__}")
        return tuple(_convert(args[0], v, f"{path}[{k}]") for k, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise ManifestError(f"{path}: expected an object, got {type(value).__name__}")
        return {k: _convert(args[1], v, f"{path}.{k}") for k, v in value.items()}
    if tp is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, tp) and not (tp is int and isinstance(value, bool)):
        return value
    raise ManifestError(f"{path}: expected {tp.__name__}, got {type(value).__name__}")
