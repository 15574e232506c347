"""Prometheus metrics: ``recserve_<subsystem>_<name>_<unit>``, bounded labels only.

Labels are method, transport, stage, outcome or reason, never a user or item
id. Each ``Metrics`` owns its registry, so several servers can live in one
process (tests) without clashing.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info

LATENCY_BUCKETS = (
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
)  # fmt: skip


OUTCOMES = (  # of every API call
    "ok", "invalid", "not_found", "unavailable", "internal", "unauthenticated", "forbidden",
    "too_large", "rate_limited",
)  # fmt: skip


def http_outcome(status: int) -> str:
    """The outcome label of an HTTP status (the gRPC servicer uses the same names)."""
    if status < 400:
        return "ok"
    if status == 404:
        return "not_found"
    if status in (401, 403, 413, 429):
        return {401: "unauthenticated", 403: "forbidden", 413: "too_large", 429: "rate_limited"}[
            status
        ]
    if status < 500:
        return "invalid"
    return "unavailable" if status == 503 else "internal"


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.requests = Counter(
            "recserve_api_requests_total",
            "API calls by outcome (ok | invalid | not_found | unavailable | internal | "
            "unauthenticated | forbidden | too_large | rate_limited) and client (tokens-file name)",
            ["transport", "method", "outcome", "client"],
            registry=r,
        )
        self.request_seconds = Histogram(
            "recserve_api_request_seconds",
            "API call latency inside the server",
            ["transport", "method"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.slow_clients = Counter(
            "recserve_http_timeouts_total",
            "HTTP connections closed with 408 because a request's headers or body came too "
            "slowly (header_timeout_s, body_timeout_s)",
            ["phase"],  # headers | body
            registry=r,
        )
        self.stage_seconds = Histogram(
            "recserve_pipeline_stage_seconds",
            "Time in each stage of the request path",
            ["stage"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.events = Counter("recserve_events_total", "Events received", ["outcome"], registry=r)
        self.rejected_events = Counter(
            "recserve_events_rejected_total", "Rejected events by field", ["field"], registry=r
        )
        self.unknown_items = Counter(
            "recserve_encoder_unknown_items_total",
            "History events skipped for encoding because the bundle does not know the item",
            registry=r,
        )
        self.recommendations = Counter(
            "recserve_recommend_answers_total",
            "Recommend answers by kind",
            ["kind"],  # personalized | fallback
            registry=r,
        )
        self.user_cache = Counter(
            "recserve_cache_user_vectors_total",
            "User-vector cache lookups (hit rate = hit / (hit + miss))",
            ["outcome"],
            registry=r,
        )
        self.live_item_refresh_errors = Counter(
            "recserve_live_items_refresh_errors_total",
            "Failed polls of the store for items registered by PutItems (the last good "
            "registrations keep serving)",
            registry=r,
        )
        self.user_states = Counter(
            "recserve_user_states_total",
            "Users' states of a stateful bundle read or updated: current, stepped (events "
            "added), recomputed (from the stored history), error (an update that failed; "
            "the next read catches up)",
            ["outcome"],
            registry=r,
        )
        self.rerank = Counter(
            "recserve_rerank_total",
            "Re-ranking of personalised answers: done, or the retrieval order answered "
            "because the re-ranker failed (error) or took longer than its budget (over_budget)",
            ["outcome"],
            registry=r,
        )
        self.exhaustive = Counter(
            "recserve_recommend_exhaustive_total",
            "Answers that needed an exact scan because filters emptied the candidates",
            registry=r,
        )
        self.trend_lag = Gauge(
            "recserve_trends_snapshot_age_seconds",
            "Seconds since the last successful trend refresh (the snapshot requests use)",
            registry=r,
        )
        self.trend_refresh_errors = Counter(
            "recserve_trends_refresh_errors_total", "Failed trend refreshes", registry=r
        )
        self.trend_update_errors = Counter(
            "recserve_trends_update_errors_total",
            "Accepted events whose trend update failed after a retry (history was stored)",
            registry=r,
        )
        self.bundle_items = Gauge(
            "recserve_bundle_items", "Items in the serving bundle", registry=r
        )
        self.bundle_info = Info("recserve_bundle", "The serving bundle", registry=r)
        self.bundle_loads = Counter(
            "recserve_bundle_loads_total", "Bundle load attempts", ["outcome"], registry=r
        )
        self.encoder_info = Info("recserve_encoder", "Encoder execution provider", registry=r)
        # Raw stage timings, kept only when a benchmark sets this to {} (never in production).
        self.samples: dict[str, list[float]] | None = None

    def stage_timer(self, name: str) -> Callable[[float], None]:
        """``timer(seconds)`` records one run of stage ``name`` into the stage histogram
        (and into ``samples`` when a benchmark collects them)."""
        child = self.stage_seconds.labels(name)

        def observe(seconds: float) -> None:
            child.observe(seconds)
            if self.samples is not None:
                self.samples.setdefault(name, []).append(seconds)

        return observe
