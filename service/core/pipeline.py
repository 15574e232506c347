"""The request path, transport-free: both front doors call ``RecommendationService``.

Recommend runs named stage objects (``service.core.stages``), each timed into
``recserve_pipeline_stage_seconds{stage=...}``:

    history -> encode -> retrieve -> score -> rerank -> select

(``rerank`` works for a bundle with a second stage and passes otherwise)

through an explicit fallback chain for who answers:

    1. the user: their history maps to at least one bundle item;
    2. the bundle's cold-start source (``service.core.cold_start``: a fixed query
       or popularity), flagged ``personalized=False`` with the reason
       (``no_history``, ``no_known_items``).

``select`` may send the call back to ``retrieve`` with a wider search when the
request's filters leave fewer than k items.
"""

from __future__ import annotations

import logging
import threading
import time

import numpy as np

from bundle.errors import BundleError
from bundle.loader import Bundle
from service.bundle_manager import BundleManager
from service.core.cold_start import ColdStart
from service.core.errors import NotFound, NotReady
from service.core.explain import encoder_explanations, reranker_explanations
from service.core.live_items import ItemInput, LiveItems, PutItemsResult, validate_items
from service.core.memo import MemoCache
from service.core.rows import to_history
from service.core.stages import retrieve
from service.core.stages.base import Call, Stage
from service.core.stages.encode import EncodeStage
from service.core.stages.history import HistoryStage
from service.core.stages.rerank import RerankStage, rerank_width
from service.core.stages.retrieve import RetrieveStage
from service.core.stages.score import ScoreStage
from service.core.stages.select import SelectStage, top_k
from service.core.states import StateKeeper
from service.core.types import (
    EventInput,
    Explanation,
    Recommendations,
    RecommendRequest,
    RecordResult,
    ScoredItem,
)
from service.core.validation import check_count, check_id, check_recommend, validate_events
from service.metrics import Metrics
from service.settings import Settings
from service.store.base import EventStore, StoredEvent
from service.store.errors import StoreUnavailable
from service.trends import TrendRefresher, TrendStore

log = logging.getLogger("recserve")
TRENDING_SCAN = 10_000  # most trending ids read to find k known ones


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
        self.cache = MemoCache(int(settings.user_cache_mb * 2**20))
        self.cold = ColdStart()
        self.states = StateKeeper(store, metrics)
        self.history = HistoryStage(store, settings.max_history, self.cache, metrics, self.states)
        self.live = LiveItems(store, settings)
        self.encode = EncodeStage(self.states)
        self.score = ScoreStage(settings, refresher)
        # retrieve -> score -> rerank -> select repeat when select widens the search
        self.ranking: tuple[Stage, ...] = (
            RetrieveStage(), self.score, RerankStage(settings, self.score, metrics),
            SelectStage(metrics),
        )  # fmt: skip
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
        """The serving bundle, with the items registered while serving that it can vector
        (``service.core.live_items``)."""
        bundle = self.bundles.current
        if bundle is None:
            raise NotReady("no bundle loaded yet")
        return self.live.view(bundle)

    def _run(self, stage: Stage, call: Call) -> None:
        start = time.perf_counter()
        stage.run(call)
        self._timers[stage.name](time.perf_counter() - start)

    # --- Recommend ----------------------------------------------------------------------

    def recommend(self, request: RecommendRequest) -> Recommendations:
        """The stages for one request, through the fallback chain."""
        # the bundle is held for the whole call: a hot swap cannot change it
        return self._recommend(request, self.bundle())

    def _recommend(
        self, request: RecommendRequest, bundle: Bundle, given: list[StoredEvent] | None = None
    ) -> Recommendations:
        check_recommend(request, self.settings, bundle.items.category_code)
        now = time.time() if request.now is None else request.now
        wanted = min(request.k * self.settings.overfetch, bundle.manifest.item_count)
        call = Call(request, bundle, now, wanted)
        call.given = given
        self._run(self.history, call)
        personalized = call.memo is not None
        if personalized and (width := rerank_width(call, self.settings)):
            # the re-ranker reads the best ``width`` unseen items: search past the seen ones
            assert call.memo is not None
            seen = len(call.memo.seen) - 1  # a blocked set ends with its closing row
            call.wanted = min(max(wanted, width + seen), bundle.manifest.item_count)
        if call.memo is None:  # the chain's next link: the bundle's cold-start source
            call.memo = self.cold.source(bundle)
        with self._compute:
            self._run(self.encode, call)
            while not call.done:
                for stage in self.ranking:
                    self._run(stage, call)
        if call.version is not None:  # kept (or re-measured) with what the stages added
            self.cache.put(request.user_id, call.version, call.memo)
        self._answers[personalized].inc()
        why = self._explain(call) if request.explain else None
        return Recommendations(
            call.rows, call.scores, bundle.items, bundle.version, personalized, call.reason, why
        )

    def _explain(self, call: Call) -> tuple[Explanation | None, ...]:
        """Per answer item, which history items drove it (only when asked)."""
        if call.reason:  # the cold-start source answered: no history drove it
            return (None,) * len(call.rows)
        bundle, top = call.bundle, self.settings.explain_items
        history, _ = to_history(bundle, call.events)
        with self._compute:
            found = encoder_explanations(
                bundle, history, call.now, call.request.user_id, call.rows, call.scores, top
            )
            if call.reranked is not None:
                by_row = reranker_explanations(bundle, history, call.reranked, call.rows, top)
                found = [by_row.get(int(r), e) for r, e in zip(call.rows, found, strict=True)]
        return tuple(found)

    def smoke_test(self, bundle: Bundle) -> None:
        """Serve ``bundle`` through the real stages before it goes live (a
        ``BundleManager`` hook): a cold user, a user with a history of the bundle's
        own items, SimilarItems. Each must answer k items with finite scores, the
        second personalised; else ``BundleError`` says which call failed and how."""
        count = bundle.manifest.item_count
        k = min(10, count)
        now = time.time()
        kind = bundle.default_event_type
        history = [
            StoredEvent("smoke-test", bundle.items.ids[r], now - 5 + r, kind, 1.0)
            for r in range(min(5, count))
        ]
        calls = {
            "Recommend for a cold user": lambda: self._recommend(
                RecommendRequest("smoke-test", k, now=now), bundle, []
            ),
            "Recommend for a user with history": lambda: self._recommend(
                RecommendRequest("smoke-test", k, now=now), bundle, history
            ),
            "SimilarItems": lambda: self._similar_items(bundle.items.ids[0], k - 1 or 1, bundle),
        }
        if bundle.states is not None:
            calls["the stateful graphs against the encoder"] = lambda: self._check_states(
                bundle, history, now
            )
        for name, call in calls.items():
            try:
                answer = call()
            except Exception as error:  # any failure refuses the bundle, never the server
                raise BundleError(f"{bundle.path}: smoke test: {name} failed ({error})") from error
            problem = ""
            if not len(answer.rows) and name != "SimilarItems":
                problem = "no items"
            elif not np.isfinite(answer.scores).all():
                problem = "scores that are not finite"
            elif name.endswith("with history") and not answer.personalized:
                problem = f"not personalised ({answer.fallback_reason})"
            if problem:
                raise BundleError(f"{bundle.path}: smoke test: {name} answered {problem}")

    def _check_states(
        self, bundle: Bundle, history: list[StoredEvent], now: float
    ) -> Recommendations:
        """The readout of a state stepped over ``history`` must be the one-pass encoder's
        user vector (what the exporter checked; explanations still use the encoder):
        answers the encoder's top items, or raises naming the difference."""
        assert bundle.states is not None
        mapped, _ = to_history(bundle, history)
        users = bundle.user_context(("smoke-test",))
        state, _ = self.states.catch_up(bundle, None, history, users)
        stepped = bundle.states.readout(state, now, users)
        encoded = bundle.encoder.encode(mapped, np.array([now]), users)[0]
        if stepped.shape != encoded.shape or not np.allclose(stepped, encoded, atol=1e-3):
            raise ValueError("the readout of the stepped state differs from encoder.onnx")
        rows, scores = top_k(np.arange(len(bundle.vectors)), bundle.vectors @ encoded, 10)
        return Recommendations(rows, scores, bundle.items, bundle.version, True)

    # --- the other calls ----------------------------------------------------------------

    def record_events(self, events: list[EventInput]) -> RecordResult:
        bundle = self.bundles.current
        types = bundle.manifest.event_types if bundle else ()
        default = bundle.default_event_type if bundle else "view"
        accepted, errors = validate_events(
            events,
            self.settings,
            (*types, default, *self.settings.event_types),
            default,
            time.time(),
        )
        stored = self.store.append(accepted) if accepted else []  # durable before we answer
        if stored:
            self._add_trends(stored)
            if bundle is not None and bundle.states is not None:
                self._advance_states(bundle, stored)
        duplicates = len(accepted) - len(stored)
        self.metrics.events.labels("accepted").inc(len(stored))
        if duplicates:
            self.metrics.events.labels("duplicate").inc(duplicates)
        self.metrics.events.labels("rejected").inc(len(errors))
        for error in errors:
            self.metrics.rejected_events.labels(error.field).inc()
        return RecordResult(len(accepted), errors, duplicates)

    def _advance_states(self, bundle: Bundle, events: list[StoredEvent]) -> None:
        """Step each user's state of ``bundle`` over their stored events (one ``step``
        per event), so their next Recommend only reads it out. The events are stored
        whatever happens here: a failure is counted and the next read catches up."""
        for user in dict.fromkeys(e.user_id for e in events):
            try:
                history = self.store.recent(user, self.settings.max_history)
                self.states.current(bundle, user, history, compute=self._compute)
            except Exception as error:  # the events are stored: never fail the call here
                self.states.failed(user, error)

    def _add_trends(self, events: list[StoredEvent]) -> None:
        """The trend update of stored events: retried once, then counted and logged. The
        history is stored, so the call succeeds either way (a client retrying a
        reported failure would store the events twice)."""
        items, stamps = [e.item_id for e in events], [e.timestamp for e in events]
        for attempt in (1, 2):
            try:
                self.trends.add(items, stamps, [1.0] * len(events))
                return
            except StoreUnavailable as error:
                if attempt == 2:
                    self.metrics.trend_update_errors.inc(len(events))
                    log.warning("trend update of %d stored events lost: %s", len(events), error)

    def put_items(self, items: list[ItemInput]) -> PutItemsResult:
        """Register items (all or nothing); this replica serves the new ones from its next
        call, the others within ``live_items_refresh_s``."""
        validate_items(items, self.settings)
        return self.live.put(items, self.bundles.current)

    def user_history(self, user_id: str, limit: int) -> list[StoredEvent]:
        check_id("user_id", user_id, self.settings)
        check_count("limit", limit, 0, self.settings.max_history)
        return self.store.recent(user_id, limit or self.settings.max_history)

    def similar_items(self, item_id: str, k: int) -> Recommendations:
        """The items nearest to ``item_id`` by the model's own item-item similarity
        (the bundle's ``semantics.similar_items`` query from the item's row)."""
        return self._similar_items(item_id, k, self.bundle())

    def _similar_items(self, item_id: str, k: int, bundle: Bundle) -> Recommendations:
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
        """The k most trending items *the serving bundle knows*: ids outside the
        catalogue are counted in the trends (a later bundle may know them) but never
        published, so nobody can push arbitrary text onto a public list."""
        check_count("k", k, 1, self.settings.max_k)
        bundle = self.bundle()
        now, n = time.time(), k
        while True:  # ask for more until k known items or the trend store runs out
            ids, counts = self.trends.top(n, now)
            rows = bundle.items.rows(ids)
            known = np.flatnonzero(rows >= 0)
            if len(known) >= k or len(ids) < n or n >= TRENDING_SCAN:
                break
            n = min(n * 4, TRENDING_SCAN)
        table = bundle.items
        return [
            ScoredItem(table.ids[rows[i]], float(counts[i]), table.row_categories[rows[i]])
            for i in known[:k]
        ]
