"""Stage ``score``: exact model scores of the candidates and the trending items, plus
the real-time trend term.

    score_j = <q, x_j> + beta * log(alpha + c_j(now))

``x_j`` is the model's item vector with its bias folded in (the bundle's
semantics), ``c_j`` the item's decayed event count (HRNN-meta sec. 3.2, eq. 5:
multiplying the model's probability by the item's exposure share adds its
log), ``beta`` the bundle's calibrated weight of that term on its own score
scale (a server setting may override it). Counts of items outside the trend
snapshot are 0, so they share the lowest trend term and keep their model order.

The static index cannot know a sudden hit, so the top trending items join the
candidates (ARCHITECTURE.md). The union and its model scores depend on the
user and the trending set only: they are kept with the memo until the
trending set changes; a request adds the current trend term.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bundle.loader import Bundle
from service.core.memo import Pool, UserMemo
from service.core.stages.base import Call
from service.core.stages.select import is_member
from service.settings import Settings
from service.trends import TrendRefresher


def trend_bias(
    item_count: int, rows: np.ndarray, counts: np.ndarray, beta: float, alpha: float
) -> np.ndarray:
    """(I,) float32 trend term for every item row."""
    bias = np.full(item_count, beta * np.log(alpha), dtype=np.float32)
    if len(rows):
        bias[rows] = beta * np.log(alpha + counts)
    return bias


@dataclass(frozen=True)
class TrendView:
    """One trend snapshot laid over one bundle's rows; every request shares it until
    the next snapshot."""

    bias: np.ndarray  # (I,) float32 trend term per row
    counts: np.ndarray  # (I,) float32 decayed count per row (0 outside the snapshot)
    rows: np.ndarray  # (T,) the trending candidates, most trending first
    vectors: np.ndarray  # (T, D) their item vectors, contiguous
    not_trending: np.ndarray  # (I,) bool: row is not in ``rows``

    @classmethod
    def build(
        cls, vectors: np.ndarray, rows: np.ndarray, counts: np.ndarray, top: int,
        beta: float, alpha: float, previous: TrendView | None = None,
    ) -> TrendView:  # fmt: skip
        """From the snapshot's item ``rows`` (most trending first) and their ``counts``;
        the first ``top`` become candidates. When they are the ``previous`` view's
        (same bundle), its arrays are kept, the very same objects, so what was
        derived from the trending set stays valid (``rows`` is its identity)."""
        count = len(vectors)
        candidates = rows[:top]
        bias = trend_bias(count, rows, counts, beta, alpha)
        per_row = np.zeros(count, dtype=np.float32)
        per_row[rows] = counts
        if previous is not None and np.array_equal(previous.rows, candidates):
            return cls(bias, per_row, previous.rows, previous.vectors, previous.not_trending)
        not_trending = np.ones(count, dtype=bool)
        not_trending[candidates] = False
        return cls(bias, per_row, candidates, vectors[candidates], not_trending)


def pool(
    view: TrendView, memo: UserMemo, vectors: np.ndarray, rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The unseen candidates ``rows`` united with the unseen trending items, and their
    model scores; a trending candidate is taken once, from the trending side."""
    fresh = rows[view.not_trending[rows]]
    unseen = ~is_member(view.rows, memo.seen)
    trending = view.rows[unseen]
    if memo.query is not None:  # the trending vectors are contiguous in the view
        trending_scores = (view.vectors @ memo.query)[unseen]
    else:
        trending_scores = memo.model_scores(vectors, trending)
    return (
        np.concatenate((fresh, trending)),
        np.concatenate((memo.model_scores(vectors, fresh), trending_scores)),
    )


class ScoreStage:
    name = "score"

    def __init__(self, settings: Settings, refresher: TrendRefresher) -> None:
        self.settings = settings
        self.refresher = refresher
        self._view: tuple[float, Bundle, TrendView] | None = None

    def trend_terms(self, bundle: Bundle) -> tuple[float, float]:
        """(beta, alpha): the bundle's calibrated trend weight unless the server overrides."""
        trend, s = bundle.manifest.semantics.trend, self.settings
        beta = trend.beta if s.trend_beta is None else s.trend_beta
        alpha = trend.alpha if s.trend_alpha is None else s.trend_alpha
        return beta, alpha

    def view(self, bundle: Bundle) -> TrendView:
        """The current trend snapshot over ``bundle``, rebuilt when either changes."""
        snap = self.refresher.snapshot
        held = self._view
        if held is not None and held[0] == snap.taken_at and held[1] is bundle:
            return held[2]
        rows = bundle.items.rows(snap.item_ids)
        known = rows >= 0
        beta, alpha = self.trend_terms(bundle)
        previous = held[2] if held and held[1] is bundle else None
        view = TrendView.build(
            bundle.vectors, rows[known], snap.counts[known], self.settings.trend_candidates,
            beta, alpha, previous,
        )  # fmt: skip
        self._view = (snap.taken_at, bundle, view)  # a race at worst builds it twice
        return view

    def run(self, call: Call) -> None:
        memo, bundle = call.memo, call.bundle
        assert memo is not None
        view = self.view(bundle)
        found, kept = memo.pool, call.candidates is memo.candidates
        if found is None or found.trending is not view.rows or not kept:
            found = Pool(view.rows, *pool(view, memo, bundle.vectors, call.candidates))
            if kept:  # kept with the candidates it unites
                memo.pool = found
        call.pool = found.rows
        call.scores = found.scores + view.bias[found.rows]
