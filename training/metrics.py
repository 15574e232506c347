"""Ranking metrics over a batch of users, vectorised with numpy.

Definitions (per user with at least one target; averages are over those users):

- ``hr@K``: 1 if any target is in the top K.
- ``recall@K``: hits / min(K, |T|) (Liang et al. 2018, the Mult-VAE / LED
  definition: a user with more than K targets can still reach 1).
- ``precision@K``: hits / K (the predictor paper, eq. 1).
- ``ndcg@K``: DCG of the hits / ideal DCG of min(K, |T|) hits, gain 1/log2(rank+2).
- ``mrr``: 1 / rank of the best-ranked target in the full ranking (no cut-off).
- ``pcc@K``: |union over users of (top K ∩ T)| / number of items (the predictor
  paper's product converted coverage, eq. 2).
- ``coverage@K``: fraction of the catalogue in at least one user's top K.

Targets are a set: duplicate target events count once. Ties are broken by the
lower item index, so results are deterministic. Excluded items (score ``-inf``)
are never counted as recommended, even when K exceeds the candidates left.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from bundle.history import Sequences

METRICS_AT_K = ("ndcg", "hr", "recall", "precision", "pcc", "coverage")


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """(B, min(k, n)) item indices by descending score, ties to the lower index."""
    b, n = scores.shape
    k = min(k, n)
    if k == n:
        return np.argsort(-scores, axis=1, kind="stable")
    kth = -np.partition(-scores, k - 1, axis=1)[:, k - 1]
    above = scores > kth[:, None]
    tied = scores == kth[:, None]
    need = k - above.sum(axis=1)
    chosen = above | (tied & (np.cumsum(tied, axis=1) <= need[:, None]))
    cols = np.nonzero(chosen)[1].reshape(b, k)  # ascending index within each row
    values = np.take_along_axis(scores, cols, axis=1)
    order = np.argsort(-values, axis=1, kind="stable")
    return np.take_along_axis(cols, order, axis=1)


def target_matrix_keys(targets: Sequences, n_items: int) -> np.ndarray:
    """Sorted unique keys ``row * n_items + item`` of the target set."""
    return np.unique(targets.row_ids() * n_items + targets.item.astype(np.int64))


@dataclass
class MetricAccumulator:
    """Adds up per-user metrics batch by batch; ``result()`` gives the averages."""

    ks: tuple[int, ...]
    n_items: int
    users: int = 0
    skipped_users: int = 0
    _sums: dict[str, float] = field(default_factory=dict)
    _converted: dict[int, np.ndarray] = field(default_factory=dict)
    _recommended: dict[int, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.ks or min(self.ks) < 1:
            raise ValueError("K values must be >= 1")
        self.ks = tuple(sorted(set(self.ks)))
        for k in self.ks:
            self._converted[k] = np.zeros(self.n_items, dtype=bool)
            self._recommended[k] = np.zeros(self.n_items, dtype=bool)

    def add(self, scores: np.ndarray, targets: Sequences) -> None:
        """Score one batch: ``scores`` (B, n_items) with ``-inf`` on excluded
        items, ``targets`` B rows of target items."""
        if scores.shape != (len(targets), self.n_items):
            raise ValueError(f"scores shape {scores.shape} != ({len(targets)}, {self.n_items})")
        keys = target_matrix_keys(targets, self.n_items)
        n_targets = np.bincount(keys // self.n_items, minlength=len(targets))
        has_target = n_targets > 0
        self.users += int(has_target.sum())
        self.skipped_users += int((~has_target).sum())
        kmax = max(self.ks)
        items = top_k(scores, kmax)
        rows = np.arange(len(targets))[:, None]
        valid = np.isfinite(np.take_along_axis(scores, items, axis=1))
        hits = np.isin(rows * self.n_items + items, keys) & valid
        width = items.shape[1]
        discount = 1.0 / np.log2(np.arange(2, kmax + 2))
        ideal = np.concatenate([[0.0], np.cumsum(discount)])
        for k in self.ks:
            kk = min(k, width)
            h = hits[:, :kk]
            n_hit = h.sum(axis=1)
            denom = np.minimum(k, n_targets)
            self._add("hr", k, (n_hit > 0)[has_target])
            self._add("recall", k, (n_hit / np.maximum(denom, 1))[has_target])
            self._add("precision", k, (n_hit / k)[has_target])
            dcg = (h * discount[:kk]).sum(axis=1)
            self._add("ndcg", k, (dcg / np.maximum(ideal[denom], 1e-12))[has_target])
            self._converted[k][items[:, :kk][h]] = True
            self._recommended[k][items[:, :kk][valid[:, :kk]]] = True
        self._sums["mrr"] = self._sums.get("mrr", 0.0) + float(
            _reciprocal_rank(scores, keys, self.n_items)[has_target].sum()
        )

    def _add(self, name: str, k: int, values: np.ndarray) -> None:
        key = f"{name}@{k}"
        self._sums[key] = self._sums.get(key, 0.0) + float(values.sum())

    def result(self) -> dict[str, float]:
        out: dict[str, float] = {}
        n = max(self.users, 1)
        for k in self.ks:
            for name in ("ndcg", "hr", "recall", "precision"):
                out[f"{name}@{k}"] = self._sums.get(f"{name}@{k}", 0.0) / n
            out[f"pcc@{k}"] = float(self._converted[k].mean()) if self.n_items else 0.0
            out[f"coverage@{k}"] = float(self._recommended[k].mean()) if self.n_items else 0.0
        out["mrr"] = self._sums.get("mrr", 0.0) / n
        return out


def _reciprocal_rank(scores: np.ndarray, keys: np.ndarray, n_items: int) -> np.ndarray:
    """(B,) 1/rank of each row's best target, 0 when every target is excluded."""
    b = scores.shape[0]
    rows, cols = keys // n_items, keys % n_items
    target_scores = scores[rows, cols]
    best = np.full(b, -np.inf)
    np.maximum.at(best, rows, target_scores)
    is_best = target_scores == best[rows]
    best_item = np.full(b, n_items)
    np.minimum.at(best_item, rows[is_best], cols[is_best])
    above = (scores > best[:, None]).sum(axis=1)
    tied_before = ((scores == best[:, None]) & (np.arange(n_items) < best_item[:, None])).sum(
        axis=1
    )
    rr = 1.0 / (above + tied_before + 1.0)
    rr[~np.isfinite(best)] = 0.0
    return rr
