"""Each API method as a ``Call``: the RPC's name, its request message and how to read
the reply. The sync and async clients only differ in how they run a ``Call``."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from recserve_client.rpc import recommender_pb2 as pb
from recserve_client.types import (
    Event,
    EventError,
    Explanation,
    Item,
    PutItemsResult,
    Recommendations,
    RecordResult,
    ScoredItem,
    SimilarItems,
)

T = TypeVar("T")


@dataclass(frozen=True)
class Call(Generic[T]):
    method: str  # the Recommender RPC, e.g. "Recommend"
    request: Any  # its request message
    read: Callable[[Any], T]  # reply message -> the client's typed value


def recommend(
    user_id: str,
    k: int,
    exclude_item_ids: Iterable[str],
    include_categories: Iterable[str],
    exclude_categories: Iterable[str],
    now: float | None,
    rerank_n: int | None = None,
    explain: bool = False,
) -> Call[Recommendations]:
    request = pb.RecommendRequest(
        user_id=user_id,
        k=k,
        exclude_item_ids=list(exclude_item_ids),
        filter=pb.CategoryFilter(
            include=list(include_categories), exclude=list(exclude_categories)
        ),
    )
    if now is not None:
        request.now = now
    if rerank_n is not None:
        request.rerank_n = rerank_n
    request.explain = explain
    return Call("Recommend", request, _recommendations)


def record_events(events: Iterable[Event]) -> Call[RecordResult]:
    request = pb.RecordEventsRequest(events=[_event_message(e) for e in events])
    return Call("RecordEvents", request, _record_result)


def user_history(user_id: str, limit: int) -> Call[tuple[Event, ...]]:
    request = pb.GetUserHistoryRequest(user_id=user_id, limit=limit)
    return Call("GetUserHistory", request, lambda r: tuple(_event(e) for e in r.events))


def similar_items(item_id: str, k: int) -> Call[SimilarItems]:
    request = pb.SimilarItemsRequest(item_id=item_id, k=k)
    return Call("SimilarItems", request, lambda r: SimilarItems(_items(r.items), r.model_version))


def put_items(items: Iterable[Item]) -> Call[PutItemsResult]:
    request = pb.PutItemsRequest(items=[
        pb.Item(item_id=i.item_id, categories=list(i.categories), attributes=dict(i.attributes))
        for i in items
    ])  # fmt: skip
    return Call("PutItems", request, lambda r: PutItemsResult(r.stored, r.live, r.known))


def trending(k: int) -> Call[tuple[ScoredItem, ...]]:
    return Call("GetTrending", pb.GetTrendingRequest(k=k), lambda r: _items(r.items))


def _event_message(event: Event) -> Any:
    if not isinstance(event, Event):
        raise TypeError(f"record_events takes recserve_client.Event values, got {type(event)}")
    message = pb.Event(
        user_id=event.user_id,
        item_id=event.item_id,
        event_type=event.event_type,
        event_id=event.event_id,
    )
    if event.timestamp is not None:
        message.timestamp = event.timestamp
    if event.value is not None:
        message.value = event.value
    return message


def _event(message: Any) -> Event:
    return Event(
        user_id=message.user_id,
        item_id=message.item_id,
        timestamp=message.timestamp if message.HasField("timestamp") else None,
        event_type=message.event_type,
        value=message.value if message.HasField("value") else None,
        event_id=message.event_id,
    )


def _items(messages: Iterable[Any]) -> tuple[ScoredItem, ...]:
    return tuple(
        ScoredItem(m.item_id, m.score, tuple(m.categories), _explanation(m)) for m in messages
    )


def _explanation(message: Any) -> Explanation | None:
    if not message.HasField("explanation"):
        return None
    e = message.explanation
    rest = e.rest if e.HasField("rest") else None
    return Explanation(e.kind, tuple((i.item_id, i.weight) for i in e.items), rest)


def _recommendations(reply: Any) -> Recommendations:
    return Recommendations(
        _items(reply.items), reply.model_version, reply.personalized, reply.fallback_reason
    )


def _record_result(reply: Any) -> RecordResult:
    errors = tuple(EventError(e.index, e.field, e.message) for e in reply.errors)
    return RecordResult(reply.accepted, reply.duplicates, errors)
