"""The request path, transport-free: both front doors call ``RecommendationService``.

Recommend is an explicit fallback chain:

    personalised:  history -> encode -> retrieve -> rescore -> select
    fallback:      (no usable history) null user vector [0, ..., 0, 1]
                   -> retrieve -> rescore -> select

The null vector scores every item by its learned bias (LED sec. 6.2), and the
trend term is added as for everyone, so a cold user gets the trend- and
bias-ranked answer, flagged ``personalized=False``. Each stage is timed into
``recserve_pipeline_stage_seconds{stage=...}``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from service.bundle import Bundle
from service.bundle_manager import BundleManager
from service.core.errors import NotFound, NotReady
from service.core.stages import history, rescore, retrieve, select
from service.core.types import (
    EventInput,
    Recommendations,
    RecommendRequest,
    RecordResult,
    ScoredItem,
)
from service.core.validation import check_count, check_id, check_recommend, validate_events
from service.metrics import Metrics
from service.settings import Settings
from service.store.base import EventStore, StoredEvent
from service.trends import TrendRefresher, TrendStore


@dataclass(frozen=True)
class _TrendView:
    """The trend snapshot laid over one bundle's rows."""

    snapshot_at: float
    bundle: Bundle
    rows: np.ndarray  # trending items known to the bundle, most trending first
    bias: np.ndarray  # (I,) trend term per row


class RecommendationService:
    def __init__(
        self,
        settings: Settings,
        store: EventStore,
        trends: TrendStore,
        refresher: TrendRefresher,
        bundles: BundleManager,
        metrics: Metrics,
    ) -> None:
        self.settings = settings
        self.store = store
        self.trends = trends
        self.refresher = refresher
        self.bundles = bundles
        self.metrics = metrics
        self._view: _TrendView | None = None

    # --- helpers ------------------------------------------------------------------------

    def bundle(self) -> Bundle:
        bundle = self.bundles.current
        if bundle is None:
            raise NotReady("no bundle loaded yet")
        return bundle

    def _trend_view(self, bundle: Bundle) -> _TrendView:
        snap = self.refresher.snapshot
        view = self._view
        if view is not None and view.snapshot_at == snap.taken_at and view.bundle is bundle:
            return view
        rows = bundle.items.rows(snap.item_ids)
        known = rows >= 0
        s = self.settings
        bias = rescore.trend_bias(
            bundle.manifest.item_count, rows[known], snap.counts[known], s.trend_beta, s.trend_alpha
        )
        view = _TrendView(snap.taken_at, bundle, rows[known], bias)
        self._view = view  # benign race: concurrent builders produce equal views
        self.metrics.trend_lag.set(max(0.0, time.time() - snap.taken_at))
        return view

    def _items(self, bundle: Bundle, rows: np.ndarray, scores: np.ndarray) -> list[ScoredItem]:
        ids = bundle.items.ids
        return [
            ScoredItem(ids[r], float(s), bundle.items.categories_of(int(r)))
            for r, s in zip(rows.tolist(), scores.tolist(), strict=True)
        ]

    # --- Recommend ----------------------------------------------------------------------

    def recommend(self, request: RecommendRequest) -> Recommendations:
        bundle = self.bundle()  # held for the whole request: a hot swap cannot change it
        check_recommend(request, self.settings, bundle.items.categories)
        m = self.metrics
        now = time.time() if request.now is None else request.now
        with m.stage("history"):
            events = history.fetch(self.store, request.user_id, self.settings.max_history)
            batch, unknown = history.to_batch(bundle, events)
        if unknown:
            m.unknown_items.inc(unknown)
        if len(batch.rows):
            with m.stage("encode"):
                query = bundle.encoder.encode(batch, np.array([now]))[0]
            personalized, reason = True, ""
        else:
            query = np.zeros(bundle.manifest.dim, dtype=np.float32)
            query[-1] = 1.0  # null user: bias only (LED sec. 6.2)
            personalized, reason = False, "no_known_items" if events else "no_history"
        m.recommendations.labels("personalized" if personalized else "fallback").inc()
        rows, scores = self._rank(bundle, request, query, batch.rows)
        return Recommendations(
            self._items(bundle, rows, scores), bundle.version, personalized, reason
        )

    def _rank(
        self, bundle: Bundle, request: RecommendRequest, query: np.ndarray, seen: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        m, s = self.metrics, self.settings
        view = self._trend_view(bundle)
        excluded = np.concatenate([seen, bundle.items.rows(request.exclude_item_ids)])
        codes = {c: k for k, c in enumerate(bundle.items.categories)}
        include = np.array([codes[c] for c in request.include_categories], dtype=np.int64)
        exclude = np.array([codes[c] for c in request.exclude_categories], dtype=np.int64)
        with m.stage("retrieve"):
            wanted = request.k * s.overfetch + len(excluded)
            candidates = retrieve.search(bundle, query, wanted)
            candidates = retrieve.with_trending(candidates, view.rows[: s.trend_candidates])
        with m.stage("rescore"):
            scores = rescore.exact_scores(bundle.vectors, candidates, query, view.bias)
        with m.stage("select"):
            keep = select.allowed(bundle, candidates, excluded, include, exclude)
            if keep.sum() < request.k and len(candidates) < bundle.manifest.item_count:
                # filters emptied the candidate pool: score every item exactly
                m.exhaustive.inc()
                candidates = np.arange(bundle.manifest.item_count)
                scores = rescore.exact_scores(bundle.vectors, candidates, query, view.bias)
                keep = select.allowed(bundle, candidates, excluded, include, exclude)
            return select.top_k(candidates[keep], scores[keep], request.k)

    # --- the other calls ----------------------------------------------------------------

    def record_events(self, events: list[EventInput]) -> RecordResult:
        bundle = self.bundles.current
        types = bundle.manifest.event_types if bundle else []
        default = bundle.default_event_type if bundle else "view"
        accepted, errors = validate_events(
            events, self.settings, types or [default], default, time.time()
        )
        if accepted:
            self.store.append(accepted)  # durable before we answer
            self.trends.add(
                [e.item_id for e in accepted],
                [e.timestamp for e in accepted],
                [1.0] * len(accepted),
            )
        self.metrics.events.labels("accepted").inc(len(accepted))
        self.metrics.events.labels("rejected").inc(len(errors))
        for error in errors:
            self.metrics.rejected_events.labels(error.field).inc()
        return RecordResult(len(accepted), errors)

    def user_history(self, user_id: str, limit: int) -> list[StoredEvent]:
        check_id("user_id", user_id, self.settings)
        check_count("limit", limit, 0, self.settings.max_history)
        return self.store.recent(user_id, limit or self.settings.max_history)

    def similar_items(self, item_id: str, k: int) -> Recommendations:
        bundle = self.bundle()
        check_id("item_id", item_id, self.settings)
        check_count("k", k, 1, self.settings.max_k)
        row = bundle.items.row_of.get(item_id)
        if row is None:
            raise NotFound(f"item {item_id!r} is not in bundle {bundle.version}")
        query = bundle.vectors[row].copy()
        query[-1] = 0.0  # compare embeddings, not popularity
        with self.metrics.stage("retrieve"):
            candidates = retrieve.search(bundle, query, k + 1)
        candidates = candidates[candidates != row]
        scores = bundle.vectors[candidates] @ query
        rows, scores = select.top_k(candidates, scores, k)
        return Recommendations(self._items(bundle, rows, scores), bundle.version, False)

    def trending(self, k: int) -> list[ScoredItem]:
        check_count("k", k, 1, self.settings.max_k)
        ids, counts = self.trends.top(k, time.time())
        bundle = self.bundles.current
        items = []
        for item, count in zip(ids, counts.tolist(), strict=True):
            row = bundle.items.row_of.get(item) if bundle else None
            cats = bundle.items.categories_of(row) if bundle and row is not None else ()
            items.append(ScoredItem(item, float(count), cats))
        return items
