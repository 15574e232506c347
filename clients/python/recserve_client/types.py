"""What the client sends and receives: plain, frozen, typed values (no protobuf)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field


def new_event_id() -> str:
    """A fresh random event id (UUID4, 32 hex digits)."""
    return uuid.uuid4().hex


@dataclass(frozen=True)
class Event:
    """One user event. ``event_id`` is generated when the event is created, so
    sending the same ``Event`` again (a retry) is stored once by the server."""

    user_id: str
    item_id: str
    timestamp: float | None = None  # unix seconds; server time when None
    event_type: str = ""  # empty: the server's default type
    value: float | None = None  # 1 when None
    event_id: str = field(default_factory=new_event_id)


@dataclass(frozen=True)
class Explanation:
    """Which history items drove a recommended item (asked for with ``explain=True``)."""

    kind: str  # "additive" | "attention" | "leave-one-out"
    items: tuple[tuple[str, float], ...]  # (history item id, weight), largest first
    rest: float | None = None  # additive: the part of the score no history item explains


@dataclass(frozen=True)
class ScoredItem:
    item_id: str
    score: float
    categories: tuple[str, ...] = ()
    explanation: Explanation | None = None


@dataclass(frozen=True)
class Recommendations:
    items: tuple[ScoredItem, ...]
    model_version: str  # "<bundle name>/<version>" of the model that answered
    personalized: bool  # False: the cold-start fallback answered
    fallback_reason: str  # "no_history", "no_known_items" or "" when personalised

    @property
    def item_ids(self) -> list[str]:
        return [item.item_id for item in self.items]


@dataclass(frozen=True)
class SimilarItems:
    items: tuple[ScoredItem, ...]
    model_version: str


@dataclass(frozen=True)
class EventError:
    """An event the server rejected: its position in the call and the field at fault."""

    index: int
    field: str
    message: str


@dataclass(frozen=True)
class RecordResult:
    accepted: int  # valid events acknowledged (retries of a stored event_id included)
    duplicates: int  # of the accepted, retries of an event_id already stored
    errors: tuple[EventError, ...]


@dataclass(frozen=True)
class Item:
    """An item to register while serving (``put_items``): its id and metadata."""

    item_id: str
    categories: tuple[str, ...] = ()
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PutItemsResult:
    stored: int  # registrations written
    live: int  # of those, recommended by the serving bundle from their metadata now
    known: int  # of those, already items of the serving bundle
