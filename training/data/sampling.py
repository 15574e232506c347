"""Negative sampling: Walker's alias method over a smoothed popularity.

``AliasSampler`` draws from a categorical distribution in O(1) per sample
(Kronmal & Peterson 1979; used by the attention-CF paper, sec. 4.2, and by
HRNN-meta's importance sampling). ``popularity_distribution`` gives the
``counts ** gamma`` weights of the attention-CF paper's eq. 5: gamma = 1 is
the empirical distribution, 0.75 the word2vec smoothing, 0 uniform.
"""

from __future__ import annotations

import numpy as np


def popularity_distribution(counts: np.ndarray, gamma: float) -> np.ndarray:
    """(n,) probabilities proportional to ``counts ** gamma`` (gamma = 0: uniform)."""
    counts = np.asarray(counts, dtype=np.float64)
    weights = np.ones_like(counts) if gamma == 0 else np.power(counts, gamma)
    total = weights.sum()
    if total <= 0:
        return np.full(len(counts), 1.0 / len(counts))
    return weights / total


class AliasSampler:
    """Draws indices ``0..n-1`` with probabilities ``p`` in O(1) each.

    Building the tables is O(n) (Vose's variant); sampling is two vectorised
    lookups: pick a column uniformly, keep it with ``prob[col]`` else take
    ``alias[col]``.
    """

    def __init__(self, p: np.ndarray) -> None:
        p = np.asarray(p, dtype=np.float64)
        if p.ndim != 1 or len(p) == 0 or (p < 0).any() or p.sum() <= 0:
            raise ValueError("AliasSampler needs a non-empty, non-negative weight vector")
        n = len(p)
        scaled = p * (n / p.sum())
        prob = np.ones(n)
        alias = np.arange(n)
        small = list(np.flatnonzero(scaled < 1.0))
        large = list(np.flatnonzero(scaled >= 1.0))
        # O(n) table construction; runs once per sampler, never per draw.
        while small and large:
            s, g = small.pop(), large.pop()
            prob[s], alias[s] = scaled[s], g
            scaled[g] -= 1.0 - scaled[s]
            (small if scaled[g] < 1.0 else large).append(g)
        self.prob = prob
        self.alias = alias
        self.p = p / p.sum()

    def __len__(self) -> int:
        return len(self.prob)

    def sample(self, rng: np.random.Generator, size: int | tuple[int, ...]) -> np.ndarray:
        col = rng.integers(0, len(self.prob), size=size)
        keep = rng.random(size=size) < self.prob[col]
        return np.where(keep, col, self.alias[col])


def sample_negatives(
    sampler: AliasSampler,
    rng: np.random.Generator,
    n: int,
    forbidden: np.ndarray,
    max_rounds: int = 50,
) -> np.ndarray:
    """(B, n) draws per row avoiding that row's forbidden items.

    ``forbidden`` is a (B, n_items) boolean mask (the user's positives). Rejected
    draws are redrawn in vectorised rounds; a row whose allowed mass is tiny may
    keep a forbidden draw after ``max_rounds``, which is reported as an error.
    """
    b = forbidden.shape[0]
    out = sampler.sample(rng, (b, n))
    rows = np.arange(b)[:, None]
    for _ in range(max_rounds):
        bad = forbidden[rows, out]
        if not bad.any():
            return out
        out[bad] = sampler.sample(rng, int(bad.sum()))
    raise ValueError("could not draw negatives outside the users' positives; catalogue too small")
