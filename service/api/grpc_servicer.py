"""gRPC servicer of ``recserve.v1.Recommender`` (grpc.aio): proto <-> domain, nothing else.

Recommend runs inline on the event loop: it is CPU-bound and short, and
handing it to a thread cost more (GIL hand-offs) than it saved; measured, see
README "Serving benchmark". The other calls run in a worker thread (they may
wait on Redis or disk) so the event loop keeps serving.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, TypeVar

import grpc

from service.core.errors import InvalidArgument, NotFound, NotReady, ServiceError
from service.core.pipeline import RecommendationService
from service.core.types import EventInput, Recommendations, RecommendRequest, ScoredItem
from service.metrics import Metrics
from service.rpc import recommender_pb2 as pb
from service.rpc import recommender_pb2_grpc as rpc
from service.store.base import StoredEvent

T = TypeVar("T")
MALFORMED = object()  # what the lenient deserializer returns for undecodable bytes

CODES = {
    InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    NotFound: grpc.StatusCode.NOT_FOUND,
    NotReady: grpc.StatusCode.UNAVAILABLE,
}


def _items(items: list[ScoredItem]) -> list[pb.ScoredItem]:
    return [pb.ScoredItem(item_id=i.item_id, score=i.score, categories=i.categories) for i in items]


def _event(e: StoredEvent) -> pb.Event:
    return pb.Event(
        user_id=e.user_id,
        item_id=e.item_id,
        timestamp=e.timestamp,
        event_type=e.event_type,
        value=e.value,
    )


def to_request(request: pb.RecommendRequest) -> RecommendRequest:
    return RecommendRequest(
        user_id=request.user_id,
        k=request.k,
        exclude_item_ids=tuple(request.exclude_item_ids),
        include_categories=tuple(request.filter.include),
        exclude_categories=tuple(request.filter.exclude),
        now=request.now if request.HasField("now") else None,
    )


def to_reply(result: Recommendations) -> pb.RecommendResponse:
    return pb.RecommendResponse(
        items=_items(result.items),
        model_version=result.model_version,
        personalized=result.personalized,
        fallback_reason=result.fallback_reason,
    )


class RecommenderServicer(rpc.RecommenderServicer):
    def __init__(self, service: RecommendationService, metrics: Metrics) -> None:
        self.service = service
        self.metrics = metrics
        self._requests: dict[tuple[str, str], Any] = {}
        self._latency: dict[str, Any] = {}

    async def _call(self, method: str, request: Any, context: Any, work: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        outcome = "ok"
        try:
            if request is MALFORMED:
                raise InvalidArgument("request", "not a valid protobuf message")
            return await work()
        except ServiceError as error:
            outcome = type(error).__name__
            await context.abort(CODES.get(type(error), grpc.StatusCode.INTERNAL), str(error))
        finally:
            self._count(method, outcome, time.perf_counter() - start)

    def _count(self, method: str, outcome: str, seconds: float) -> None:
        counter = self._requests.get((method, outcome))
        if counter is None:
            counter = self._requests[(method, outcome)] = self.metrics.requests.labels(
                "grpc", method, outcome
            )
        histogram = self._latency.get(method)
        if histogram is None:
            histogram = self._latency[method] = self.metrics.request_seconds.labels("grpc", method)
        counter.inc()
        histogram.observe(seconds)

    async def Recommend(self, request: Any, context: Any) -> Any:
        async def work() -> pb.RecommendResponse:
            return to_reply(self.service.recommend(to_request(request)))

        return await self._call("Recommend", request, context, work)

    async def RecordEvents(self, request: Any, context: Any) -> Any:
        async def work() -> pb.RecordEventsResponse:
            events = [
                EventInput(
                    e.user_id,
                    e.item_id,
                    e.timestamp if e.HasField("timestamp") else None,
                    e.event_type,
                    e.value if e.HasField("value") else None,
                )
                for e in request.events
            ]
            result = await asyncio.to_thread(self.service.record_events, events)
            errors = [
                pb.EventError(index=x.index, field=x.field, message=x.message)
                for x in result.errors
            ]
            return pb.RecordEventsResponse(accepted=result.accepted, errors=errors)

        return await self._call("RecordEvents", request, context, work)

    async def GetUserHistory(self, request: Any, context: Any) -> Any:
        async def work() -> pb.GetUserHistoryResponse:
            events = await asyncio.to_thread(
                self.service.user_history, request.user_id, request.limit
            )
            return pb.GetUserHistoryResponse(events=[_event(e) for e in events])

        return await self._call("GetUserHistory", request, context, work)

    async def SimilarItems(self, request: Any, context: Any) -> Any:
        async def work() -> pb.SimilarItemsResponse:
            result = self.service.similar_items(request.item_id, request.k)
            return pb.SimilarItemsResponse(
                items=_items(result.items), model_version=result.model_version
            )

        return await self._call("SimilarItems", request, context, work)

    async def GetTrending(self, request: Any, context: Any) -> Any:
        async def work() -> pb.GetTrendingResponse:
            items = await asyncio.to_thread(self.service.trending, request.k)
            return pb.GetTrendingResponse(items=_items(items))

        return await self._call("GetTrending", request, context, work)
