"""FastAPI app: the same operations as gRPC, for debugging and integration.

Routes convert query/body <-> domain types and call the same
``RecommendationService`` as the gRPC servicer. Errors: 422 names the field,
404 unknown item, 503 not ready or a store unavailable (the message names the
store's role), 500 anything else (logged with its traceback; the client gets
no internals). Every answer is counted by outcome (``service.metrics.outcome``).
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Path, Query, Request, Response, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.security import HTTPAuthorizationCredentials as Credentials
from fastapi.security import HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool
from starlette.convertors import Convertor, register_url_convertor

from bundle.errors import BundleError
from service.api import schemas as s
from service.api.body import json_request_body, parse_json_body
from service.api.docs import install_docs, openapi
from service.api.limits import Limits
from service.auth import ANONYMOUS, REFUSED, Forbidden, Tokens, Unauthenticated, authorize
from service.bundle_manager import BundleManager
from service.core.errors import InvalidArgument, NotFound, NotReady
from service.core.live_items import ItemInput
from service.core.pipeline import RecommendationService
from service.core.types import EventInput, Explanation, RecommendRequest, ScoredItem
from service.core.validation import ID_PATTERN
from service.metrics import Metrics, http_outcome
from service.ratelimit import RateLimited, RateLimiter
from service.store.errors import StoreUnavailable

log = logging.getLogger("recserve.http")
BEARER = HTTPBearer(auto_error=False, description="a token of the server's tokens file")


class _AnyText(Convertor[str]):
    """A path segment that may hold anything, '/' and line breaks included (``path`` stops
    at a line break): every id reaches validation, which names the field in a 422."""

    regex = r"[\s\S]*"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


class _ItemToRegister(_AnyText):
    """An id of ``PUT /v1/items/{id}``: any text that does not end in ``/similar``, so a
    PUT on ``/v1/items/{id}/similar`` is a method that route does not allow (405, Allow:
    GET), not the registration of an item named ``.../similar``."""

    regex = r"[\s\S]*(?<!/similar)"


register_url_convertor("id", _AnyText())
register_url_convertor("registered_id", _ItemToRegister())


def _items(items: list[ScoredItem]) -> list[s.ScoredItemOut]:
    return [
        s.ScoredItemOut(
            item_id=i.item_id,
            score=i.score,
            categories=list(i.categories),
            explanation=_explanation(i.explanation),
        )
        for i in items
    ]


def _explanation(e: Explanation | None) -> s.ExplanationOut | None:
    if e is None:
        return None
    items = [s.ExplainedItemOut(item_id=h, weight=w) for h, w in e.items]
    return s.ExplanationOut(kind=e.kind, items=items, rest=e.rest)


LARGE_BODY = 64 << 10  # bytes: RecordEvents bodies from this size are parsed one at a time

ERRORS = {
    400: "the body is not readable as JSON (e.g. not UTF-8)",
    401: "no valid bearer token (when a tokens file is configured)",
    403: "the token lacks the scope this call needs",
    404: "unknown item",
    409: "bundle refused; the serving one stays",
    413: "request body over max_body_bytes",
    429: "over the client's request rate (rate_limit_per_s); Retry-After says when",
    503: "not ready: no bundle yet, or a store unavailable (retry later)",
}


LIST_PARAMETERS = frozenset({"exclude", "include_category", "exclude_category"})


def single_valued(request: Request) -> None:
    """A query parameter that takes one value, given twice, is refused (FastAPI would
    silently keep the last one)."""
    keys = [key for key, _ in request.query_params.multi_items()]
    for key in set(keys) - LIST_PARAMETERS:
        if keys.count(key) > 1:
            raise InvalidArgument(f"query.{key}", "given more than once")


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` of a route: its error codes, each with its body."""
    out: dict[int | str, dict[str, Any]] = {
        code: {"model": s.ErrorOut, "description": ERRORS[code]} for code in codes
    }
    out[422] = {"model": s.ValidationOut, "description": "a field is invalid (named in loc)"}
    return out


def build_http_app(
    service: RecommendationService,
    bundles: BundleManager,
    metrics: Metrics,
    tokens: Tokens | None = None,
    exposes: str = "all",
    limiter: RateLimiter | None = None,
) -> FastAPI:
    """The REST API. ``exposes``: ``all`` routes on one port, or, with an admin
    listener, ``public`` (no /admin) or ``admin`` (/admin, health, readiness)."""
    app = FastAPI(
        title="recserve",
        version="1",
        description="Real-time recommendations: record events, get personalised top-k.",
        docs_url=None,  # served below from the installed swagger-ui-bundle: no CDN
        redoc_url=None,
    )
    settings = service.settings
    app.router.dependencies.append(Depends(single_valued))
    install_docs(app)
    app.openapi = lambda: openapi(app, bundles, (s.EventsIn,))  # type: ignore[method-assign]

    app.add_middleware(Limits, max_body=service.settings.max_body_bytes)

    @app.exception_handler(RequestValidationError)
    async def malformed(_: Request, error: RequestValidationError) -> JSONResponse:
        """One 422 shape for every validation error, the offending value never echoed."""
        detail = [
            {"loc": [str(p) for p in e["loc"]], "msg": e["msg"], "type": e["type"]}
            for e in error.errors()[:20]
        ]
        return JSONResponse({"detail": detail}, status_code=422)

    @app.exception_handler(InvalidArgument)
    async def invalid(_: Request, error: InvalidArgument) -> JSONResponse:
        detail = [{"loc": error.field.split("."), "msg": error.message, "type": "value_error"}]
        return JSONResponse({"detail": detail}, status_code=422)

    @app.exception_handler(NotFound)
    async def not_found(_: Request, error: NotFound) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=404)

    def need(scope: str) -> Any:
        """A route dependency: the caller's token must grant ``scope`` (declared in the
        OpenAPI document only when tokens are configured)."""
        if tokens is None:

            def anonymous(request: Request) -> None:
                request.state.client = ANONYMOUS
                if limiter is not None:
                    limiter.take(ANONYMOUS)

            return Depends(anonymous)

        def check(request: Request, _: Annotated[Credentials | None, Security(BEARER)]) -> None:
            try:
                request.state.client = authorize(
                    tokens, request.headers.get("authorization"), scope
                )
            except Forbidden as error:
                request.state.client = error.client
                raise
            if limiter is not None:
                limiter.take(request.state.client)

        return Depends(check)

    ID = Path(
        pattern=ID_PATTERN,
        max_length=settings.max_id_length,
        description="an id: any text without control characters; may contain / (as is or %2F)",
    )
    read, write, admin = need("read"), need("write"), need("admin")
    auth = (401, 403) if tokens is not None else ()
    limited = (429,) if limiter is not None else ()

    @app.exception_handler(Unauthenticated)
    async def unauthenticated(_: Request, error: Unauthenticated) -> JSONResponse:
        return JSONResponse(
            {"detail": str(error)}, status_code=401, headers={"WWW-Authenticate": "Bearer"}
        )

    @app.exception_handler(RateLimited)
    async def rate_limited(_: Request, error: RateLimited) -> JSONResponse:
        retry = str(max(1, round(error.retry_after)))
        return JSONResponse({"detail": str(error)}, status_code=429, headers={"Retry-After": retry})

    @app.exception_handler(Forbidden)
    async def forbidden(_: Request, error: Forbidden) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=403)

    @app.exception_handler(NotReady)
    @app.exception_handler(StoreUnavailable)
    async def unavailable(_: Request, error: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=503)

    @app.middleware("http")
    async def measure(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        start = time.perf_counter()
        try:
            response = await call_next(request)
        except Exception:
            log.exception("%s %s failed", request.method, request.url.path)
            detail = {"detail": "internal error; the server log has the details"}
            response = JSONResponse(detail, status_code=500)
        route = request.scope.get("route")
        method = getattr(route, "name", "unmatched")
        client = getattr(request.state, "client", REFUSED if response.status_code == 401 else "-")
        outcome = http_outcome(response.status_code)
        metrics.requests.labels("http", method, outcome, client).inc()
        metrics.request_seconds.labels("http", method).observe(time.perf_counter() - start)
        return response

    @app.get(
        "/v1/recommendations/{user_id:id}",
        response_model=s.RecommendationsOut,
        name="Recommend",
        dependencies=[read],
        responses=errors(*auth, *limited, 503),
    )
    def recommend(
        user_id: Annotated[str, ID],
        k: Annotated[int, Query(ge=1, le=settings.max_k, description="number of items")] = 10,
        exclude: Annotated[list[str], Query(description="item ids never to return")] = [],  # noqa: B006
        include_category: Annotated[list[str], Query()] = [],  # noqa: B006
        exclude_category: Annotated[list[str], Query()] = [],  # noqa: B006
        now: Annotated[float | None, Query(description="query time, unix seconds")] = None,
        rerank_n: Annotated[
            int | None,
            Query(
                ge=0,
                le=settings.max_rerank_n,
                description="candidates the bundle's re-ranker re-scores (0: none; default: "
                "the server's)",
            ),
        ] = None,
        explain: Annotated[
            bool, Query(description="explain each item: the history items that drove it")
        ] = False,
    ) -> s.RecommendationsOut:
        request = RecommendRequest(
            user_id, k, tuple(exclude), tuple(include_category), tuple(exclude_category), now,
            rerank_n, explain,
        )  # fmt: skip
        result = service.recommend(request)
        return s.RecommendationsOut(
            user_id=user_id,
            items=_items(result.items),
            model_version=result.model_version,
            personalized=result.personalized,
            fallback_reason=result.fallback_reason,
        )

    large_bodies = asyncio.Semaphore(1)

    def record_body(raw: bytes, content_type: str | None) -> s.RecordEventsOut:
        body = parse_json_body(s.EventsIn, raw, content_type)
        events = [
            EventInput(e.user_id, e.item_id, e.timestamp, e.event_type, e.value, e.event_id)
            for e in body.events
        ]
        result = service.record_events(events)
        errors = [
            s.EventErrorOut(index=x.index, field=x.field, message=x.message) for x in result.errors
        ]
        return s.RecordEventsOut(
            accepted=result.accepted, errors=errors, duplicates=result.duplicates
        )

    @app.post(
        "/v1/events",
        response_model=s.RecordEventsOut,
        name="RecordEvents",
        dependencies=[write],
        responses=errors(400, *auth, *limited, 413, 503),
        openapi_extra=json_request_body(s.EventsIn),
    )
    async def record(request: Request) -> s.RecordEventsOut:
        # read here (Limits caps it), parsed on a worker thread: a 1 MiB body takes tens
        # of milliseconds, which on the event loop would stall every request on the port
        raw = await request.body()
        content_type = request.headers.get("content-type")
        if len(raw) < LARGE_BODY:
            return await run_in_threadpool(record_body, raw, content_type)
        async with large_bodies:  # one at a time: fewer threads for the loops to wait on
            return await run_in_threadpool(record_body, raw, content_type)

    ItemIn = s.item_in(settings.max_id_length)

    @app.put(
        "/v1/items/{item_id:registered_id}",
        response_model=s.PutItemOut,
        name="PutItem",
        dependencies=[write],
        responses=errors(400, *auth, *limited, 503),
    )
    def put_item(item_id: Annotated[str, ID], body: ItemIn) -> s.PutItemOut:  # type: ignore[valid-type]
        """Register an item with its metadata (``PutItems`` for one item): a bundle with an
        item encoder recommends it from its metadata on every replica within
        ``live_items_refresh_s``."""
        values: Any = body  # a model built for this server's limits (schemas.item_in)
        attributes = tuple(sorted(values.attributes.items()))
        item = ItemInput(item_id, tuple(values.categories), attributes)
        result = service.put_items([item])
        return s.PutItemOut(item_id=item_id, live=result.live > 0, known=result.known > 0)

    @app.get(
        "/v1/users/{user_id:id}/history",
        response_model=s.HistoryOut,
        name="GetUserHistory",
        dependencies=[read],
        responses=errors(*auth, *limited, 503),
    )
    def user_history(
        user_id: Annotated[str, ID],
        limit: Annotated[
            int, Query(ge=0, le=settings.max_history, description="latest events (0: all)")
        ] = 0,
    ) -> s.HistoryOut:
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
                    event_id=e.event_id,
                )
                for e in events
            ],
        )

    @app.get(
        "/v1/items/{item_id:id}/similar",
        response_model=s.SimilarOut,
        name="SimilarItems",
        dependencies=[read],
        responses=errors(*auth, *limited, 404, 503),
    )
    def similar(
        item_id: Annotated[str, ID], k: Annotated[int, Query(ge=1, le=settings.max_k)] = 10
    ) -> s.SimilarOut:
        result = service.similar_items(item_id, k)
        return s.SimilarOut(
            item_id=item_id, items=_items(result.items), model_version=result.model_version
        )

    @app.get(
        "/v1/trending",
        response_model=s.TrendingOut,
        name="GetTrending",
        dependencies=[read],
        responses=errors(*auth, *limited, 503),
    )
    def trending(k: Annotated[int, Query(ge=1, le=settings.max_k)] = 10) -> s.TrendingOut:
        return s.TrendingOut(items=_items(service.trending(k)))

    @app.get("/healthz", name="healthz")
    def healthz() -> dict[str, str]:
        return {"status": "alive"}

    def readiness() -> s.ReadyOut:
        """Ready = a bundle serves, the store answers, the trends are fresh enough."""
        bundle = bundles.current
        store_ok = service.store.ping()
        age = service.refresher.age
        trends_ok = age <= service.settings.ready_max_trend_age_s
        return s.ReadyOut(
            ready=bundle is not None and store_ok and trends_ok,
            bundle=bundles.version,
            items=bundle.manifest.item_count if bundle else 0,
            encoder_provider=bundle.encoder.provider if bundle else "",
            store=store_ok,
            trend_age_s=round(age, 3),
            trends=trends_ok,
            last_error=bundles.last_error,
        )

    @app.get(
        "/readyz",
        response_model=s.ReadyOut,
        name="readyz",
        responses={503: {"model": s.ReadyOut, "description": "not ready (the body says why)"}},
    )
    def readyz(response: Response) -> s.ReadyOut:
        out = readiness()
        response.status_code = 200 if out.ready else 503
        return out

    @app.get(
        "/metrics",
        name="metrics",
        response_class=PlainTextResponse,
        responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text"}},
    )
    def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.post(
        "/admin/reload",
        response_model=s.ReadyOut,
        name="reload",
        dependencies=[admin],
        responses=errors(400, *auth, *limited, 409, 413),
    )
    def reload(body: s.ReloadIn | None = None) -> JSONResponse:
        try:
            bundles.load_version(body.version if body else None)
        except BundleError as error:
            detail = f"bundle refused, still serving {bundles.version}: {error}"
            return JSONResponse({"detail": bundles.public(detail)}, 409)
        return JSONResponse(readiness().model_dump())

    if exposes != "all":  # one listener of two: the public API, or the admin API
        admin_only = exposes == "admin"
        app.router.routes[:] = [
            route
            for route in app.router.routes
            if getattr(route, "path", "").startswith("/admin") == admin_only
            or getattr(route, "path", "") in ("/healthz", "/readyz")
        ]
    return app
