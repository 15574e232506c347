"""The weight of the live trend term on a model's own score scale, chosen on validation users.

The server ranks by ``<q, x_j> + beta * log(alpha + c_j(now))`` (HRNN-meta
sec. 3.2). Models score on different scales (LED's inner products are ~10,
AttRec's negated distances ~1), so one server-wide beta would be too strong
for one model and too weak for another. At export, each beta of ``GRID`` is
tried on the validation users, with the decayed counts the server's trend
store would have held at each user's query time (``training.trends``), and
the best by ``metric`` is written into the manifest; ties go to the smaller
beta, and 0 wins where trends do not help.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp

from bundle.manifest import TrendSemantics
from training.data.splits import EvalSet
from training.evaluate import exclude_seen
from training.metrics import MetricAccumulator

GRID = (0.0, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)


def calibrate_trend(
    scores: Callable[[np.ndarray], np.ndarray],
    n_items: int,
    users: EvalSet,
    counts: sp.csr_matrix,
    half_life: float,
    alpha: float = 1.0,
    metric: str = "ndcg@10",
    grid: tuple[float, ...] = GRID,
) -> TrendSemantics:
    """``scores(rows)`` the model's (len(rows), I) scores of rows of ``users`` (V rows;
    -inf for items it does not rank), ``counts`` (V, I) their decayed counts; the best
    beta of ``grid`` by ``metric`` (ndcg@K, hr@K, recall@K or mrr)."""

    def trend(rows: np.ndarray) -> np.ndarray:
        return np.log(alpha + counts[rows].toarray()).astype(np.float32)

    beta, calibration = best_weight(scores, trend, n_items, users, metric, grid)
    return TrendSemantics(beta=beta, alpha=alpha, half_life_s=half_life, calibration=calibration)


def best_weight(
    base: Callable[[np.ndarray], np.ndarray],
    extra: Callable[[np.ndarray], np.ndarray],
    n_items: int,
    users: EvalSet,
    metric: str = "ndcg@10",
    grid: tuple[float, ...] = GRID,
    batch: int = 128,
) -> tuple[float, dict[str, object]]:
    """The weight w of ``grid`` for which ``base + w * extra`` (both (len(rows), I) for
    rows of ``users``) ranks the users' targets best by ``metric``; ties go to the
    smaller w. Returns w and what was measured."""
    _, _, k = metric.partition("@")
    ks = (int(k),) if k else (10,)
    accumulators = [MetricAccumulator(ks, n_items) for _ in grid]
    for start in range(0, len(users), batch):
        rows = np.arange(start, min(start + batch, len(users)))
        part = users.take(rows)
        model, added = base(rows), extra(rows)
        for w, acc in zip(grid, accumulators, strict=True):
            ranked = model + w * added
            ranked[~np.isfinite(ranked)] = -np.inf
            targets = exclude_seen(ranked, part.history, part.targets)
            acc.add(ranked, targets)
    values = [float(np.nan_to_num(acc.result().get(metric, 0.0))) for acc in accumulators]
    best = int(np.argmax(values))  # the first maximum: the smallest weight among ties
    return float(grid[best]), {
        "metric": metric,
        "users": len(users),
        "grid": {f"{b:g}": round(float(v), 6) for b, v in zip(grid, values, strict=True)},
    }
