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
from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np

from service.bundle import Bundle
from service.bundle_manager import BundleManager
from service.core.errors import InvalidArgument, NotFound, NotReady, ServiceError
from service.core.stages import history, rescore, retrieve, select
from service.core.types import (
    EventInput,
    HistoryBatch,
    Recommendations,
    RecommendRequest,
    RecordResult,
    ScoredItem,
)
from service.core.user_cache import EncodedUser, UserVectorCache
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
        self._view: _TrendView | None = None
        self._null_memo: dict[tuple[str, int], np.ndarray] = {}
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
        ids, cats = bundle.items.ids, bundle.items.row_categories
        return [
            ScoredItem(ids[r], s, cats[r])
            for r, s in zip(rows.tolist(), scores.tolist(), strict=True)
        ]

    # --- Recommend ----------------------------------------------------------------------

    def recommend(self, request: RecommendRequest) -> Recommendations:
        (result,) = self.recommend_many([request])
        if isinstance(result, ServiceError):
            raise result
        return result

    def recommend_many(
        self, requests: list[RecommendRequest]
    ) -> list[Recommendations | ServiceError]:
        """Answer several Recommend calls at once (the gRPC server batches concurrent
        calls): one store round trip, one ONNX run and one HNSW query for the batch,
        then per-request re-scoring and filtering. A bad request fails alone."""
        bundle = self.bundle()  # held for the whole batch: a hot swap cannot change it
        results: list[Recommendations | ServiceError | None] = [None] * len(requests)
        batch: list[int] = []
        for index, request in enumerate(requests):
            try:
                check_recommend(request, self.settings, bundle.items.category_code)
                batch.append(index)
            except InvalidArgument as error:
                results[index] = error
        if batch:
            todo = [requests[i] for i in batch]
            for index, answer in zip(batch, self._recommend_valid(bundle, todo), strict=True):
                results[index] = answer
        return [r for r in results if r is not None]

    def _recommend_valid(
        self, bundle: Bundle, requests: list[RecommendRequest]
    ) -> list[Recommendations]:
        m, s = self.metrics, self.settings
        wall = time.time()
        nows = [wall if r.now is None else r.now for r in requests]
        with m.stage("history"):
            histories = self.store.recent_many([r.user_id for r in requests], s.max_history)
        with self._compute:
            users = self._encode_many(bundle, requests, histories, nows)
            queries = np.tile(self._null_query(bundle), (len(requests), 1))
            for row, user in enumerate(users):
                if user is not None and user.query is not None:
                    queries[row] = user.query
            wanted = [r.k * s.overfetch for r in requests]
            first = self._candidates(bundle, users, queries, wanted)
            answers = []
            for row, request in enumerate(requests):
                user = users[row]
                personalized = user is not None and user.query is not None
                seen = user.seen if user is not None else np.zeros(0, dtype=np.int64)
                rows, scores = self._rank(bundle, request, queries[row], seen, first[row])
                reason = (
                    "" if personalized else ("no_known_items" if histories[row] else "no_history")
                )
                self._answers[personalized].inc()
                answers.append(
                    Recommendations(
                        self._items(bundle, rows, scores), bundle.version, personalized, reason
                    )
                )
        return answers

    def _candidates(
        self,
        bundle: Bundle,
        users: list[EncodedUser | None],
        queries: np.ndarray,
        wanted: list[int],
    ) -> list[np.ndarray]:
        """HNSW candidates per request. They depend on the query vector alone, so they
        are kept with the cached user (and for the null user, per bundle) and the
        search runs only for queries not seen before, all in one call."""
        found: list[np.ndarray | None] = []
        for user, n in zip(users, wanted, strict=True):
            memo = self._null_memo if user is None or user.query is None else user.candidates
            found.append(memo.get((bundle.version, n)))
        missing = [row for row, hit in enumerate(found) if hit is None]
        if missing:
            with self.metrics.stage("retrieve"):
                labels = retrieve.search_many(
                    bundle, queries[missing], max(wanted[row] for row in missing)
                )
            for row, result in zip(missing, labels, strict=True):
                user, n = users[row], wanted[row]
                memo = self._null_memo if user is None or user.query is None else user.candidates
                memo[(bundle.version, n)] = found[row] = result[:n]
        return [f for f in found if f is not None]

    @staticmethod
    def _null_query(bundle: Bundle) -> np.ndarray:
        """The null user [0, ..., 0, 1]: items ranked by their bias alone (LED sec. 6.2)."""
        query = np.zeros(bundle.manifest.dim, dtype=np.float32)
        query[-1] = 1.0
        return query

    def _encode_many(
        self,
        bundle: Bundle,
        requests: list[RecommendRequest],
        histories: list[list[StoredEvent]],
        nows: list[float],
    ) -> list[EncodedUser | None]:
        """Each user's vector and seen rows; cached users skip encoding, the others
        are encoded together in one ONNX run. None for an empty history."""
        out: list[EncodedUser | None] = [None] * len(requests)
        misses: list[tuple[int, Hashable | None]] = []
        for row, (request, events) in enumerate(zip(requests, histories, strict=True)):
            if not events:
                continue
            key = (
                UserVectorCache.key(bundle.version, request.user_id, events)
                if bundle.cacheable
                else None
            )
            cached = self.cache.get(key) if key is not None else None
            self._cache_outcome[cached is not None].inc()
            if cached is not None:
                out[row] = cached
            else:
                misses.append((row, key))
        if not misses:
            return out
        with self.metrics.stage("encode"):
            parts = [history.to_batch(bundle, histories[row]) for row, _ in misses]
            batch = HistoryBatch.concat([b for b, _ in parts])
            encoded = bundle.encoder.encode(batch, np.array([nows[row] for row, _ in misses]))
        for (row, key), (part, unknown), vector in zip(misses, parts, encoded, strict=True):
            if unknown:
                self.metrics.unknown_items.inc(unknown)
            user = EncodedUser(vector if len(part.rows) else None, part.rows, unknown)
            out[row] = user
            if key is not None:
                self.cache.put(key, user)
        return out

    def _rank(
        self,
        bundle: Bundle,
        request: RecommendRequest,
        query: np.ndarray,
        seen: np.ndarray,
        candidates: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Exact scores of the HNSW candidates (plus trending items), filters, top k.

        When filters or seen items leave fewer than k candidates, the search is
        repeated four times wider, and past ``MAX_ANN`` an exact scan of every
        item answers (counted in ``recserve_recommend_exhaustive_total``).
        """
        m, s = self.metrics, self.settings
        items = bundle.items
        count = bundle.manifest.item_count
        view = self._trend_view(bundle)
        blocked = seen
        if request.exclude_item_ids:
            extra = items.rows(request.exclude_item_ids)
            blocked = np.concatenate([seen, extra[extra >= 0]])
        blocked = np.sort(blocked)
        include = items.category_codes(request.include_categories)
        exclude = items.category_codes(request.exclude_categories)
        wanted = len(candidates)
        while True:
            candidates = retrieve.with_trending(candidates, view.rows[: s.trend_candidates])
            with m.stage("rescore"):
                scores = rescore.exact_scores(bundle.vectors, candidates, query, view.bias)
            with m.stage("select"):
                keep = select.allowed(items, candidates, blocked, include, exclude)
                if keep.sum() >= request.k or len(candidates) == count:
                    return select.top_k(candidates[keep], scores[keep], request.k)
            wanted *= 4
            if wanted > MAX_ANN or wanted >= count:
                m.exhaustive.inc()
                candidates = np.arange(count)
            else:
                with m.stage("retrieve"):
                    candidates = retrieve.search_many(bundle, query[None, :], wanted)[0]

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
            candidates = retrieve.search_many(bundle, query[None, :], k + 1)[0]
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
            cats = bundle.items.row_categories[row] if bundle and row is not None else ()
            items.append(ScoredItem(item, float(count), cats))
        return items
