"""Domain types shared by the stages of the request path."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from service.bundle import ItemTable


@dataclass(frozen=True)
class HistoryBatch:
    """Events of B users in CSR layout, oldest first, items as bundle rows.

    Row ``b`` owns ``rows[indptr[b]:indptr[b+1]]`` and the same slice of the
    other arrays. Events on items the bundle does not know are already removed.
    """

    indptr: np.ndarray  # (B+1,) int64
    rows: np.ndarray  # (E,) int64 item rows
    timestamps: np.ndarray  # (E,) float64 unix seconds
    event_types: np.ndarray  # (E,) int64 codes of the bundle's event type vocabulary
    values: np.ndarray  # (E,) float32

    def __len__(self) -> int:
        return len(self.indptr) - 1

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.indptr)

    def user_of_event(self) -> np.ndarray:
        return np.repeat(np.arange(len(self), dtype=np.int64), self.lengths)

    @classmethod
    def single(
        cls,
        rows: np.ndarray,
        timestamps: np.ndarray,
        event_types: np.ndarray | None = None,
        values: np.ndarray | None = None,
    ) -> HistoryBatch:
        n = len(rows)
        return cls(
            np.array([0, n], dtype=np.int64),
            np.asarray(rows, dtype=np.int64),
            np.asarray(timestamps, dtype=np.float64),
            np.zeros(n, np.int64) if event_types is None else np.asarray(event_types, np.int64),
            np.ones(n, np.float32) if values is None else np.asarray(values, np.float32),
        )


@dataclass(frozen=True)
class RecommendRequest:
    user_id: str
    k: int
    exclude_item_ids: tuple[str, ...] = ()
    include_categories: tuple[str, ...] = ()
    exclude_categories: tuple[str, ...] = ()
    now: float | None = None


@dataclass(frozen=True)
class ScoredItem:
    item_id: str
    score: float
    categories: tuple[str, ...] = ()


@dataclass(frozen=True)
class Recommendations:
    """The answer as bundle rows and scores, best first; ``items`` spells it out.

    Transports that can write rows directly (gRPC, ``service.api.grpc_wire``)
    never build the per-item objects.
    """

    rows: np.ndarray  # (n,) int64 bundle rows
    scores: np.ndarray  # (n,) float32
    table: ItemTable  # the bundle's item table the rows index
    model_version: str
    personalized: bool
    fallback_reason: str = ""

    @property
    def items(self) -> list[ScoredItem]:
        ids, cats = self.table.ids, self.table.row_categories
        return [
            ScoredItem(ids[r], s, cats[r])
            for r, s in zip(self.rows.tolist(), self.scores.tolist(), strict=True)
        ]


@dataclass(frozen=True)
class EventInput:
    """An event as a caller sent it; ``None`` fields take their defaults."""

    user_id: str
    item_id: str
    timestamp: float | None = None
    event_type: str = ""
    value: float | None = None


@dataclass(frozen=True)
class EventError:
    index: int
    field: str
    message: str


@dataclass(frozen=True)
class RecordResult:
    accepted: int
    errors: list[EventError]
