"""FastAPI app: the same operations as gRPC, for debugging and integration.

Routes convert query/body <-> domain types and call the same
``RecommendationService`` as the gRPC servicer. Errors: 422 names the field,
404 unknown item, 503 not ready.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import FastAPI, Query, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bundle.errors import BundleError
from service.api import schemas as s
from service.bundle_manager import BundleManager
from service.core.errors import InvalidArgument, NotFound, NotReady
from service.core.pipeline import RecommendationService
from service.core.types import EventInput, RecommendRequest, ScoredItem
from service.metrics import Metrics


def _items(items: list[ScoredItem]) -> list[s.ScoredItemOut]:
    return [
        s.ScoredItemOut(item_id=i.item_id, score=i.score, categories=list(i.categories))
        for i in items
    ]


def build_http_app(
    service: RecommendationService, bundles: BundleManager, metrics: Metrics
) -> FastAPI:
    app = FastAPI(
        title="recserve",
        version="1",
        description="Real-time recommendations: record events, get personalised top-k.",
    )

    @app.exception_handler(InvalidArgument)
    async def invalid(_: Request, error: InvalidArgument) -> JSONResponse:
        detail = [{"loc": error.field.split("."), "msg": error.message, "type": "value_error"}]
        return JSONResponse({"detail": detail}, status_code=422)

    @app.exception_handler(NotFound)
    async def not_found(_: Request, error: NotFound) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=404)

    @app.exception_handler(NotReady)
    async def not_ready(_: Request, error: NotReady) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=503)

    @app.middleware("http")
    async def measure(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        start = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        method = getattr(route, "name", "unmatched")
        metrics.requests.labels("http", method, str(response.status_code)).inc()
        metrics.request_seconds.labels("http", method).observe(time.perf_counter() - start)
        return response

    @app.get("/v1/recommendations/{user_id}", response_model=s.RecommendationsOut, name="Recommend")
    def recommend(
        user_id: str,
        k: Annotated[int, Query(description="number of items")] = 10,
        exclude: Annotated[list[str], Query(description="item ids never to return")] = [],  # noqa: B006
        include_category: Annotated[list[str], Query()] = [],  # noqa: B006
        exclude_category: Annotated[list[str], Query()] = [],  # noqa: B006
        now: Annotated[float | None, Query(description="query time, unix seconds")] = None,
    ) -> s.RecommendationsOut:
        result = service.recommend(
            RecommendRequest(
                user_id, k, tuple(exclude), tuple(include_category), tuple(exclude_category), now
            )
        )
        return s.RecommendationsOut(
            user_id=user_id,
            items=_items(result.items),
            model_version=result.model_version,
            personalized=result.personalized,
            fallback_reason=result.fallback_reason,
        )

    @app.post("/v1/events", response_model=s.RecordEventsOut, name="RecordEvents")
    def record(body: s.EventsIn) -> s.RecordEventsOut:
        events = [
            EventInput(e.user_id, e.item_id, e.timestamp, e.event_type, e.value)
            for e in body.events
        ]
        result = service.record_events(events)
        errors = [
            s.EventErrorOut(index=x.index, field=x.field, message=x.message) for x in result.errors
        ]
        return s.RecordEventsOut(accepted=result.accepted, errors=errors)

    @app.get("/v1/users/{user_id}/history", response_model=s.HistoryOut, name="GetUserHistory")
    def user_history(user_id: str, limit: int = 0) -> s.HistoryOut:
        events = service.user_history(user_id, limit)
        return s.HistoryOut(
            user_id=user_id,
            events=[
                s.EventOut(
                    user_id=e.user_id,
                    item_id=e.item_id,
                    timestamp=e.timestamp,
                    event_type=e.event_type,
                    value=e.value,
                )
                for e in events
            ],
        )

    @app.get("/v1/items/{item_id}/similar", response_model=s.SimilarOut, name="SimilarItems")
    def similar(item_id: str, k: int = 10) -> s.SimilarOut:
        result = service.similar_items(item_id, k)
        return s.SimilarOut(
            item_id=item_id, items=_items(result.items), model_version=result.model_version
        )

    @app.get("/v1/trending", response_model=s.TrendingOut, name="GetTrending")
    def trending(k: int = 10) -> s.TrendingOut:
        return s.TrendingOut(items=_items(service.trending(k)))

    @app.get("/healthz", name="healthz")
    def healthz() -> dict[str, str]:
        return {"status": "alive"}

    @app.get("/readyz", response_model=s.ReadyOut, name="readyz")
    def readyz(response: Response) -> s.ReadyOut:
        bundle = bundles.current
        store_ok = service.store.ping()
        ready = bundle is not None and store_ok
        response.status_code = 200 if ready else 503
        return s.ReadyOut(
            ready=ready,
            bundle=bundles.version,
            items=bundle.manifest.item_count if bundle else 0,
            encoder_provider=bundle.encoder.provider if bundle else "",
            store=store_ok,
            last_error=bundles.last_error,
        )

    @app.get("/metrics", name="metrics")
    def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.post("/admin/reload", response_model=s.ReadyOut, name="reload")
    def reload(body: s.ReloadIn | None = None) -> JSONResponse:
        try:
            bundle = bundles.load(body.path if body else None)
        except BundleError as error:
            return JSONResponse(
                {"detail": f"bundle refused, still serving {bundles.version}: {error}"}, 409
            )
        out = s.ReadyOut(
            ready=True,
            bundle=bundle.version,
            items=bundle.manifest.item_count,
            encoder_provider=bundle.encoder.provider,
            store=service.store.ping(),
        )
        return JSONResponse(out.model_dump())

    return app
