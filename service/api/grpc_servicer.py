"""gRPC servicer of ``recserve.v1.Recommender`` (grpc.aio): proto <-> domain, nothing else.

Recommend and SimilarItems run inline on the event loop: they are CPU-bound
and short, and handing them to a thread cost more (GIL hand-offs) than it
saved; measured, see README "Serving benchmark". Recommend reads the store,
so on a store that waits on the network (Redis) it runs in a worker thread
too. Their replies are written as bytes from bundle rows
(``service.api.grpc_wire``). RecordEvents of a few events runs inline on a
store whose writes never wait (memory), in a worker thread otherwise (an
fsync, Redis, a large batch). The other calls run in a worker thread (they
may wait on Redis or disk) so the event loop (and the health service) keeps
answering. Errors become status codes with the outcome counted; an unexpected
one is logged with its traceback and reaches the client as INTERNAL without
internals.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import grpc
from recserve_client.rpc import recommender_pb2 as pb
from recserve_client.rpc import recommender_pb2_grpc as rpc

from bundle.loader import Bundle
from service.api.grpc_wire import ReplyWriter
from service.auth import ANONYMOUS, REFUSED, Forbidden, Tokens, Unauthenticated, authorize
from service.core.errors import InvalidArgument, NotFound, NotReady, ServiceError
from service.core.live_items import ItemInput
from service.core.pipeline import RecommendationService
from service.core.types import EventInput, RecommendRequest, ScoredItem
from service.metrics import Metrics
from service.ratelimit import RateLimited, RateLimiter
from service.store.base import StoredEvent
from service.store.errors import StoreUnavailable

log = logging.getLogger("recserve.grpc")

MALFORMED = object()  # what the lenient deserializer returns for undecodable bytes

CODES = {  # error -> (status code, outcome label)
    InvalidArgument: (grpc.StatusCode.INVALID_ARGUMENT, "invalid"),
    NotFound: (grpc.StatusCode.NOT_FOUND, "not_found"),
    NotReady: (grpc.StatusCode.UNAVAILABLE, "unavailable"),
    StoreUnavailable: (grpc.StatusCode.UNAVAILABLE, "unavailable"),
    Unauthenticated: (grpc.StatusCode.UNAUTHENTICATED, "unauthenticated"),
    Forbidden: (grpc.StatusCode.PERMISSION_DENIED, "forbidden"),
    RateLimited: (grpc.StatusCode.RESOURCE_EXHAUSTED, "rate_limited"),
}
SCOPES = {  # the scope each method needs (health and reflection are other services: open)
    "Recommend": "read", "SimilarItems": "read", "GetTrending": "read",
    "GetUserHistory": "read", "RecordEvents": "write", "PutItems": "write",
}  # fmt: skip
INTERNAL = (grpc.StatusCode.INTERNAL, "internal")
INLINE_EVENTS = 16  # a larger RecordEvents runs in a worker thread: it would hold the loop


def _items(items: list[ScoredItem]) -> list[pb.ScoredItem]:
    return [pb.ScoredItem(item_id=i.item_id, score=i.score, categories=i.categories) for i in items]


def _event(e: StoredEvent) -> pb.Event:
    return pb.Event(
        user_id=e.user_id,
        item_id=e.item_id,
        timestamp=e.timestamp,
        event_type=e.event_type,
        value=e.value,
        event_id=e.event_id,
    )


def to_request(request: pb.RecommendRequest) -> RecommendRequest:
    return RecommendRequest(
        user_id=request.user_id,
        k=request.k,
        exclude_item_ids=tuple(request.exclude_item_ids),
        include_categories=tuple(request.filter.include),
        exclude_categories=tuple(request.filter.exclude),
        now=request.now if request.HasField("now") else None,
        rerank_n=request.rerank_n if request.HasField("rerank_n") else None,
        explain=request.explain,
    )


class RecommenderServicer(rpc.RecommenderServicer):
    def __init__(
        self,
        service: RecommendationService,
        metrics: Metrics,
        tokens: Tokens | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.service = service
        self.metrics = metrics
        self.tokens = tokens
        self.limiter = limiter
        self.replies = ReplyWriter()
        self._requests: dict[tuple[str, str, str], Any] = {}
        self._latency: dict[str, Any] = {}

    def prepare(self, bundle: Bundle) -> None:
        """Get ready to answer from ``bundle`` before it serves (BundleManager hook)."""
        self.replies.prepare(bundle)

    async def _call(
        self,
        method: str,
        request: Any,
        context: Any,
        work: Callable[[Any], Any],
        threaded: bool = False,
    ) -> Any:
        """Run ``work(request)`` inline or in a worker thread; errors become status codes."""
        start = time.perf_counter()
        outcome, client = "ok", REFUSED
        try:
            if self.tokens is None:
                client = ANONYMOUS
            else:
                header = dict(context.invocation_metadata() or ()).get("authorization")
                client = authorize(self.tokens, header, SCOPES[method])
            if self.limiter is not None:
                self.limiter.take(client)
            if request is MALFORMED:
                raise InvalidArgument("request", "not a valid protobuf message")
            return (await asyncio.to_thread(work, request)) if threaded else work(request)
        except (ServiceError, StoreUnavailable, Unauthenticated, Forbidden, RateLimited) as error:
            code, outcome = CODES.get(type(error), INTERNAL)
            if isinstance(error, Forbidden):
                client = error.client
            await context.abort(code, str(error))
        except Exception:
            code, outcome = INTERNAL
            log.exception("%s failed", method)
            await context.abort(code, "internal error; the server log has the details")
        finally:
            self._count(method, outcome, client, time.perf_counter() - start)

    def _count(self, method: str, outcome: str, client: str, seconds: float) -> None:
        counter = self._requests.get((method, outcome, client))
        if counter is None:
            counter = self._requests[(method, outcome, client)] = self.metrics.requests.labels(
                "grpc", method, outcome, client
            )
        histogram = self._latency.get(method)
        if histogram is None:
            histogram = self._latency[method] = self.metrics.request_seconds.labels("grpc", method)
        counter.inc()
        histogram.observe(seconds)

    # Each RPC: the wire types -> domain call -> the wire types (or bytes, see module doc).

    async def Recommend(self, request: Any, context: Any) -> Any:
        threaded = not self.service.store.in_process
        return await self._call("Recommend", request, context, self._recommend, threaded)

    def _recommend(self, request: pb.RecommendRequest) -> bytes:
        return self.replies.recommend(self.service.recommend(to_request(request)))

    async def RecordEvents(self, request: Any, context: Any) -> Any:
        events = len(getattr(request, "events", ()))  # MALFORMED has none
        threaded = self.service.store.writes_wait or events > INLINE_EVENTS
        return await self._call("RecordEvents", request, context, self._record, threaded)

    def _record(self, request: pb.RecordEventsRequest) -> pb.RecordEventsResponse:
        events = [
            EventInput(
                e.user_id,
                e.item_id,
                e.timestamp if e.HasField("timestamp") else None,
                e.event_type,
                e.value if e.HasField("value") else None,
                e.event_id,
            )
            for e in request.events
        ]
        result = self.service.record_events(events)
        errors = [
            pb.EventError(index=x.index, field=x.field, message=x.message) for x in result.errors
        ]
        return pb.RecordEventsResponse(
            accepted=result.accepted, errors=errors, duplicates=result.duplicates
        )

    async def PutItems(self, request: Any, context: Any) -> Any:
        return await self._call("PutItems", request, context, self._put_items, threaded=True)

    def _put_items(self, request: pb.PutItemsRequest) -> pb.PutItemsResponse:
        items = [
            ItemInput(i.item_id, tuple(i.categories), tuple(sorted(i.attributes.items())))
            for i in request.items
        ]
        result = self.service.put_items(items)
        return pb.PutItemsResponse(stored=result.stored, live=result.live, known=result.known)

    async def GetUserHistory(self, request: Any, context: Any) -> Any:
        return await self._call("GetUserHistory", request, context, self._history, threaded=True)

    def _history(self, request: pb.GetUserHistoryRequest) -> pb.GetUserHistoryResponse:
        events = self.service.user_history(request.user_id, request.limit)
        return pb.GetUserHistoryResponse(events=[_event(e) for e in events])

    async def SimilarItems(self, request: Any, context: Any) -> Any:
        return await self._call("SimilarItems", request, context, self._similar)

    def _similar(self, request: pb.SimilarItemsRequest) -> bytes:
        return self.replies.similar(self.service.similar_items(request.item_id, request.k))

    async def GetTrending(self, request: Any, context: Any) -> Any:
        return await self._call("GetTrending", request, context, self._trending, threaded=True)

    def _trending(self, request: pb.GetTrendingRequest) -> pb.GetTrendingResponse:
        return pb.GetTrendingResponse(items=_items(self.service.trending(request.k)))
