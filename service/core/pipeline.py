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

import threading
import time

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
from service.core.user_cache import EncodedUser, Pool, UserVectorCache
from service.core.validation import check_count, check_id, check_recommend, validate_events
from service.metrics import Metrics
from service.settings import Settings
from service.store.base import EventStore, StoredEvent
from service.trends import TrendRefresher, TrendStore

MAX_ANN = 4096  # widest HNSW search before an exact scan


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
        self.cache = UserVectorCache(settings.user_cache_size)
        # The compute part of Recommend holds the GIL most of the time and releases it
        # in short bursts (onnxruntime, hnswlib); running it one request at a time
        # avoids a convoy of worker threads fighting for the GIL at every release.
        self._compute = threading.Lock()
        self._view: tuple[float, Bundle, rescore.TrendView] | None = None
        self._null: tuple[str, EncodedUser] | None = None
        self._answers = {
            True: metrics.recommendations.labels("personalized"),
            False: metrics.recommendations.labels("fallback"),
        }
        self._cache_outcome = {
            True: metrics.user_cache.labels("hit"),
            False: metrics.user_cache.labels("miss"),
        }

    # --- helpers ------------------------------------------------------------------------

    def bundle(self) -> Bundle:
        bundle = self.bundles.current
        if bundle is None:
            raise NotReady("no bundle loaded yet")
        return bundle

    def _trend_view(self, bundle: Bundle) -> rescore.TrendView:
        """The current trend snapshot over ``bundle``, rebuilt when either changes."""
        snap = self.refresher.snapshot
        held = self._view
        if held is not None and held[0] == snap.taken_at and held[1] is bundle:
            return held[2]
        rows = bundle.items.rows(snap.item_ids)
        known = rows >= 0
        s = self.settings
        view = rescore.TrendView.build(
            bundle.vectors, rows[known], snap.counts[known], s.trend_candidates,
            s.trend_beta, s.trend_alpha, held[2] if held and held[1] is bundle else None,
        )  # fmt: skip
        self._view = (snap.taken_at, bundle, view)  # a race at worst builds it twice
        self.metrics.trend_lag.set(max(0.0, time.time() - snap.taken_at))
        return view

    def _null_user(self, bundle: Bundle) -> EncodedUser:
        """The null user [0, ..., 0, 1]: items ranked by their bias alone (LED sec. 6.2)."""
        null = self._null
        if null is None or null[0] != bundle.version:
            query = np.zeros(bundle.manifest.dim, dtype=np.float32)
            query[-1] = 1.0
            null = self._null = (bundle.version, EncodedUser(query, select.blocked_set(), 0))
        return null[1]

    # --- Recommend ----------------------------------------------------------------------

    def recommend(self, request: RecommendRequest) -> Recommendations:
        """history -> encode -> retrieve -> rescore -> select, for one request."""
        bundle = self.bundle()  # held for the whole call: a hot swap cannot change it
        check_recommend(request, self.settings, bundle.items.category_code)
        with self.metrics.stage("history"):
            events = self.store.recent(request.user_id, self.settings.max_history)
        with self._compute:
            user = self._encode(bundle, request, events)
            personalized = user is not None
            rows, scores = self._rank(bundle, request, user or self._null_user(bundle))
        self._answers[personalized].inc()
        reason = "" if personalized else ("no_known_items" if events else "no_history")
        return Recommendations(rows, scores, bundle.items, bundle.version, personalized, reason)

    def _encode(
        self, bundle: Bundle, request: RecommendRequest, events: list[StoredEvent]
    ) -> EncodedUser | None:
        """The user's vector and seen rows, from the cache when the history has not
        changed; None when no event maps to a bundle item (the caller falls back)."""
        if not events:
            return None
        key = (
            UserVectorCache.key(bundle.version, request.user_id, events)
            if bundle.cacheable
            else None
        )
        user = self.cache.get(key) if key is not None else None
        self._cache_outcome[user is not None].inc()
        if user is None:
            with self.metrics.stage("encode"):
                batch, unknown = history.to_batch(bundle, events)
                now = np.array([time.time() if request.now is None else request.now])
                vector = bundle.encoder.encode(batch, now)[0] if len(batch.rows) else None
            if unknown:
                self.metrics.unknown_items.inc(unknown)
            user = EncodedUser(vector, select.blocked_set(batch.rows), unknown)
            if key is not None:
                self.cache.put(key, user)
        return user if user.query is not None else None

    def _pool(
        self, bundle: Bundle, user: EncodedUser, query: np.ndarray, view: rescore.TrendView, n: int
    ) -> Pool:
        """The user's pool for n HNSW candidates (every item when n reaches the
        catalogue): the unseen candidates and trending items, with their exact model
        scores <q, x_j>. The candidates depend on the user alone and the pool on the
        user and the trending set, so both are kept with the (cached) user: the search
        runs once per user vector and the union once per trending set. Nothing
        catalogue-sized is kept (an exact scan is redone when needed)."""
        found = user.pools.get(n)
        if found is not None and found[0] is view.rows:
            return found
        keep = n < bundle.manifest.item_count
        with self.metrics.stage("retrieve"):
            candidates = user.candidates.get(n)
            if candidates is None:
                rows = retrieve.search(bundle, query, n) if keep else np.arange(n)
                rows = rows[~select.is_member(rows, user.seen)]
                candidates = (rows, bundle.vectors[rows] @ query)
                if keep:
                    user.candidates[n] = candidates
            found = (view.rows, *retrieve.pool(view, *candidates, query, user.seen))
        if keep:
            user.pools[n] = found
        return found

    def _rank(
        self, bundle: Bundle, request: RecommendRequest, user: EncodedUser
    ) -> tuple[np.ndarray, np.ndarray]:
        """Exact scores of the unseen HNSW candidates plus the trending items, the
        request's exclusions and category filters, top k.

        When those leave fewer than k items, the search is repeated four times
        wider, and past ``MAX_ANN`` every item is scored (counted in
        ``recserve_recommend_exhaustive_total``).
        """
        m, items, query = self.metrics, bundle.items, user.query
        assert query is not None  # the caller passes the null user rather than none
        count = bundle.manifest.item_count
        view = self._trend_view(bundle)
        filtered = bool(
            request.exclude_item_ids or request.include_categories or request.exclude_categories
        )
        if filtered:
            excluded = items.rows(request.exclude_item_ids)
            excluded = select.blocked_set(excluded[excluded >= 0])
            include = items.category_codes(request.include_categories)
            exclude = items.category_codes(request.exclude_categories)
        wanted = min(request.k * self.settings.overfetch, count)
        while True:
            _, pool, model = self._pool(bundle, user, query, view, wanted)
            with m.stage("rescore"):
                scores = rescore.with_trend(view, pool, model)
            with m.stage("select"):
                if filtered:
                    keep = select.allowed(items, pool, excluded, include, exclude)
                    pool, scores = pool[keep], scores[keep]
                if len(pool) >= request.k or wanted == count:
                    return select.top_k(pool, scores, request.k)
            wanted *= 4
            if wanted > MAX_ANN or wanted >= count:
                m.exhaustive.inc()
                wanted = count

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
