"""gRPC servicer of ``recserve.v1.Recommender``: proto <-> domain, nothing else."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import grpc

from service.core.errors import InvalidArgument, NotFound, NotReady
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


class RecommenderServicer(rpc.RecommenderServicer):
    def __init__(self, service: RecommendationService, metrics: Metrics) -> None:
        self.service = service
        self.metrics = metrics

    def _call(
        self, method: str, request: Any, context: grpc.ServicerContext, work: Callable[[], T]
    ) -> T:
        start = time.perf_counter()
        outcome = "ok"
        try:
            if request is MALFORMED:
                raise InvalidArgument("request", "not a valid protobuf message")
            return work()
        except (InvalidArgument, NotFound, NotReady) as error:
            outcome = type(error).__name__
            context.abort(CODES[type(error)], str(error))
            raise  # unreachable: abort raises
        finally:
            self.metrics.requests.labels("grpc", method, outcome).inc()
            self.metrics.request_seconds.labels("grpc", method).observe(time.perf_counter() - start)

    def Recommend(self, request: pb.RecommendRequest, context: grpc.ServicerContext) -> Any:
        def work() -> pb.RecommendResponse:
            result: Recommendations = self.service.recommend(
                RecommendRequest(
                    user_id=request.user_id,
                    k=request.k,
                    exclude_item_ids=tuple(request.exclude_item_ids),
                    include_categories=tuple(request.filter.include),
                    exclude_categories=tuple(request.filter.exclude),
                    now=request.now if request.HasField("now") else None,
                )
            )
            return pb.RecommendResponse(
                items=_items(result.items),
                model_version=result.model_version,
                personalized=result.personalized,
                fallback_reason=result.fallback_reason,
            )

        return self._call("Recommend", request, context, work)

    def RecordEvents(self, request: pb.RecordEventsRequest, context: grpc.ServicerContext) -> Any:
        def work() -> pb.RecordEventsResponse:
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
            result = self.service.record_events(events)
            errors = [
                pb.EventError(index=x.index, field=x.field, message=x.message)
                for x in result.errors
            ]
            return pb.RecordEventsResponse(accepted=result.accepted, errors=errors)

        return self._call("RecordEvents", request, context, work)

    def GetUserHistory(
        self, request: pb.GetUserHistoryRequest, context: grpc.ServicerContext
    ) -> Any:
        def work() -> pb.GetUserHistoryResponse:
            events = self.service.user_history(request.user_id, request.limit)
            return pb.GetUserHistoryResponse(events=[_event(e) for e in events])

        return self._call("GetUserHistory", request, context, work)

    def SimilarItems(self, request: pb.SimilarItemsRequest, context: grpc.ServicerContext) -> Any:
        def work() -> pb.SimilarItemsResponse:
            result = self.service.similar_items(request.item_id, request.k)
            return pb.SimilarItemsResponse(
                items=_items(result.items), model_version=result.model_version
            )

        return self._call("SimilarItems", request, context, work)

    def GetTrending(self, request: pb.GetTrendingRequest, context: grpc.ServicerContext) -> Any:
        def work() -> pb.GetTrendingResponse:
            return pb.GetTrendingResponse(items=_items(self.service.trending(request.k)))

        return self._call("GetTrending", request, context, work)
