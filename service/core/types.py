"""Domain types shared by the stages of the request path."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from bundle.items import ItemTable


@dataclass(frozen=True)
class RecommendRequest:
    user_id: str
    k: int
    exclude_item_ids: tuple[str, ...] = ()
    include_categories: tuple[str, ...] = ()
    exclude_categories: tuple[str, ...] = ()
    now: float | None = None
    rerank_n: int | None = None  # candidates re-ranked (0: none); None: the server's default
    explain: bool = False  # explain each recommended item (``service.core.explain``)


@dataclass(frozen=True)
class Explanation:
    """Which history items drove one recommended item (``service.core.explain``)."""

    kind: str  # additive | attention | leave-one-out
    items: tuple[tuple[str, float], ...]  # (history item id, weight), largest |weight| first
    rest: float | None = None  # additive: the part of the score no history item explains


@dataclass(frozen=True)
class ScoredItem:
    item_id: str
    score: float
    categories: tuple[str, ...] = ()
    explanation: Explanation | None = None


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
    explanations: tuple[Explanation | None, ...] | None = None  # by item, when asked

    @property
    def items(self) -> list[ScoredItem]:
        ids, cats = self.table.ids, self.table.row_categories
        why = self.explanations or (None,) * len(self.rows)
        return [
            ScoredItem(ids[r], s, cats[r], e)
            for r, s, e in zip(self.rows.tolist(), self.scores.tolist(), why, strict=True)
        ]


@dataclass(frozen=True)
class EventInput:
    """An event as a caller sent it; ``None`` fields take their defaults."""

    user_id: str
    item_id: str
    timestamp: float | None = None
    event_type: str = ""
    value: float | None = None
    event_id: str = ""  # the client's id: a retry of an id the user holds is stored once


@dataclass(frozen=True)
class EventError:
    index: int
    field: str
    message: str


@dataclass(frozen=True)
class RecordResult:
    accepted: int  # valid events acknowledged, retries included
    errors: list[EventError]
    duplicates: int = 0  # of those, retries of an event_id already stored (stored once)
