"""The request path, transport-free: both front doors call ``RecommendationService``.

Recommend runs named stage objects (``service.core.stages``), each timed into
``recserve_pipeline_stage_seconds{stage=...}``:

    history -> encode -> retrieve -> score -> select   (-> rerank: a bundle with a
                                                            second stage adds it)

through an explicit fallback chain for who answers:

    1. the user: their history maps to at least one bundle item;
    2. the bundle's cold-start source (``service.core.cold_start``: a fixed query
       or popularity), flagged ``personalized=False`` with the reason
       (``no_history``, ``no_known_items``).

``select`` may send the call back to ``retrieve`` with a wider search when the
request's filters leave fewer than k items.
"""

from __future__ import annotations

import threading
import time

from bundle.loader import Bundle
from service.bundle_manager import BundleManager
from service.core.cold_start import ColdStart
from service.core.errors import NotFound, NotReady
from service.core.memo import MemoCache
from service.core.stages import retrieve
from service.core.stages.base import Call, Stage
from service.core.stages.encode import EncodeStage
from service.core.stages.history import HistoryStage
from service.core.stages.retrieve import RetrieveStage
from service.core.stages.score import ScoreStage
from service.core.stages.select import SelectStage, top_k
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
        self.cache = MemoCache(settings.user_cache_size)
        self.cold = ColdStart()
        self.history = HistoryStage(store, settings.max_history, self.cache, metrics)
        self.encode = EncodeStage()
        self.score = ScoreStage(settings, refresher, metrics)
        # retrieve -> score -> select repeat when select widens the search
        self.ranking: tuple[Stage, ...] = (RetrieveStage(), self.score, SelectStage(metrics))
        self._timers = {
            stage.name: metrics.stage_timer(stage.name)
            for stage in (self.history, self.encode, *self.ranking)
        }
        # The compute part of Recommend holds the GIL most of the time and releases it
        # in short bursts (onnxruntime, hnswlib); running it one request at a time
        # avoids a convoy of worker threads fighting for the GIL at every release.
        self._compute = threading.Lock()
        self._answers = {
            True: metrics.recommendations.labels("personalized"),
            False: metrics.recommendations.labels("fallback"),
        }

    def bundle(self) -> Bundle:
        bundle = self.bundles.current
        if bundle is None:
            raise NotReady("no bundle loaded yet")
        return bundle

    def _run(self, stage: Stage, call: Call) -> None:
        start = time.perf_counter()
        stage.run(call)
        self._timers[stage.name](time.perf_counter() - start)

    # --- Recommend ----------------------------------------------------------------------

    def recommend(self, request: RecommendRequest) -> Recommendations:
        """The stages for one request, through the fallback chain."""
        bundle = self.bundle()  # held for the whole call: a hot swap cannot change it
        check_recommend(request, self.settings, bundle.items.category_code)
        now = time.time() if request.now is None else request.now
        wanted = min(request.k * self.settings.overfetch, bundle.manifest.item_count)
        call = Call(request, bundle, now, wanted)
        self._run(self.history, call)
        personalized = call.memo is not None
        if call.memo is None:  # the chain's next link: the bundle's cold-start source
            call.memo = self.cold.source(bundle)
        with self._compute:
            self._run(self.encode, call)
            while not call.done:
                for stage in self.ranking:
                    self._run(stage, call)
        self._answers[personalized].inc()
        return Recommendations(
            call.rows, call.scores, bundle.items, bundle.version, personalized, call.reason
        )

    # --- the other calls ----------------------------------------------------------------

    def record_events(self, events: list[EventInput]) -> RecordResult:
        bundle = self.bundles.current
        types = bundle.manifest.event_types if bundle else ()
        default = bundle.default_event_type if bundle else "view"
        accepted, errors = validate_events(
            events, self.settings, types or (default,), default, time.time()
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
        """The items nearest to ``item_id`` by the model's own item-item similarity
        (the bundle's ``semantics.similar_items`` query from the item's row)."""
        bundle = self.bundle()
        check_id("item_id", item_id, self.settings)
        check_count("k", k, 1, self.settings.max_k)
        row = bundle.items.row_of.get(item_id)
        if row is None:
            raise NotFound(f"item {item_id!r} is not in bundle {bundle.version}")
        query = bundle.manifest.semantics.similar_items.apply(bundle.vectors[row])
        start = time.perf_counter()
        candidates = retrieve.search(bundle, query, (k + 1) * self.settings.overfetch)
        self._timers["retrieve"](time.perf_counter() - start)
        candidates = candidates[candidates != row]
        scores = bundle.vectors[candidates] @ query
        rows, scores = top_k(candidates, scores, k)
        return Recommendations(rows, scores, bundle.items, bundle.version, False)

    def trending(self, k: int) -> list[ScoredItem]:
        check_count("k", k, 1, self.settings.max_k)
        ids, counts = self.trends.top(k, time.time())
        bundle = self.bundles.current
        items = []
        for item, count in zip(ids, counts.tolist(), strict=True):
            row = bundle.items.row_of.get(item) if bundle else None
            cats = bundle.items.row_categories[row] if bundle and row is not None else ()
            items.append(ScoredItem(item, float(count), cats))
        return items
