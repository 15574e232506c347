"""Stage ``rerank``: the bundle's second stage re-scores the best candidates.

For a bundle with a re-ranker (``bundle.reranker``, e.g. the attention model
over pre-trained item embeddings), the top ``n`` of the scored pool are
re-scored against the user's history and ranked by

    score_j = reranker(history, j) + blend * z_j + beta_r * log(alpha_r + c_j(now))

with z the retrieval scores standardized over the re-scored candidates and the
re-ranker's own calibrated weights (``manifest.reranker``: ``blend``, ``trend``).
Every other pool item keeps its retrieval order below them, so the select
stage's filters and widening work unchanged. ``n`` is the request's
``rerank_n``, else the server's ``rerank_n``, else the bundle's default,
capped by ``max_rerank_n``; 0 turns it off. Cold-start answers are not
re-ranked (there is no history to attend over).

The retrieval order answers when the re-ranker fails or takes longer than
``rerank_budget_ms``; both are counted in ``recserve_rerank_total{outcome}``.
The re-ranker's scores of one pool are kept with the user's memo, so a
repeated call pays only for the trend term.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from bundle.reranker import standardized
from service.core.memo import Reranked
from service.core.stages.base import Call
from service.core.stages.score import ScoreStage
from service.metrics import Metrics
from service.settings import Settings

log = logging.getLogger("recserve")


def rerank_width(call: Call, settings: Settings) -> int:
    """How many candidates this call re-ranks (0: none)."""
    spec = call.bundle.manifest.reranker
    if spec is None or call.bundle.reranker is None:
        return 0
    asked = call.request.rerank_n
    n = asked if asked is not None else settings.rerank_n
    return min(spec.candidates if n is None else n, settings.max_rerank_n)


def top_rows(scores: np.ndarray, n: int) -> np.ndarray:
    """Positions of the ``n`` highest scores (all when there are fewer), in no order."""
    if n >= len(scores):
        return np.arange(len(scores))
    return np.argpartition(-scores, n - 1)[:n]


class RerankStage:
    name = "rerank"

    def __init__(self, settings: Settings, score: ScoreStage, metrics: Metrics) -> None:
        self.settings = settings
        self.score = score
        self.budget = settings.rerank_budget_ms / 1000.0
        self._outcome = {o: metrics.rerank.labels(o) for o in ("done", "error", "over_budget")}

    def run(self, call: Call) -> None:
        memo, bundle = call.memo, call.bundle
        n = rerank_width(call, self.settings)
        if not n or memo is None or memo.history is None or not len(call.pool):
            return
        assert bundle.reranker is not None and bundle.manifest.reranker is not None
        spec = bundle.manifest.reranker
        scores = call.scores
        top = top_rows(scores, n)
        rows = call.pool[top]
        found = memo.reranked
        if found is None or not np.array_equal(found.rows, rows):
            start = time.perf_counter()
            try:
                logits, weights = bundle.reranker.run(memo.history, rows)
            except Exception as error:  # the retrieval order answers; never the whole call
                self._outcome["error"].inc()
                log.warning("re-ranker of %s failed: %s", bundle.version, error)
                return
            if time.perf_counter() - start > self.budget:
                self._outcome["over_budget"].inc()
                return
            found = Reranked(rows, logits[0], weights[0])
            memo.reranked = found
        self._outcome["done"].inc()
        call.reranked = found
        view = self.score.view(bundle)
        trend = spec.trend
        second = found.scores + np.float32(trend.beta) * np.log(
            np.float32(trend.alpha) + view.counts[rows]
        )
        if spec.blend:
            second = second + np.float32(spec.blend) * standardized(scores[top])
        rest = np.ones(len(scores), dtype=bool)
        rest[top] = False
        ranked = np.empty_like(scores)
        ranked[top] = second
        if rest.any():  # below the re-ranked ones, in their retrieval order
            others = scores[rest]
            ranked[rest] = others - (others.max() - second.min() + np.float32(1.0))
        call.scores = ranked
