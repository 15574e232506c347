"""Sampled and full losses of LED (sec. 4.3), as negated log-likelihoods.

Positives come flat: ``pos`` (P,) scores of every target item of the batch and
``rows`` (P,) the user row each belongs to (no padding, so long timelines cost
nothing for the others). Negatives are shared per user: ``neg`` (B, N) with
``neg_mask`` (B, N), 0 where a sampled negative is in fact one of the user's
items. Losses are averaged over positives, so they do not scale with the
batch size or the number of targets.
"""

from __future__ import annotations

import math

import torch
from torch.nn.functional import logsigmoid

LOSSES = ("bpr", "ns", "css", "softmax")


def bpr(
    pos: torch.Tensor, rows: torch.Tensor, neg: torch.Tensor, neg_mask: torch.Tensor
) -> torch.Tensor:
    """-(1/N) sum_n log sigma(s(u, i) - s(u, n)) per positive i (Rendle et al. 2009)."""
    weight = neg_mask[rows]  # (P, N)
    diff = pos[:, None] - neg[rows]
    per_positive = -(logsigmoid(diff) * weight).sum(-1) / weight.sum(-1).clamp_min(1.0)
    return per_positive.mean()


def negative_sampling(
    pos: torch.Tensor, rows: torch.Tensor, neg: torch.Tensor, neg_mask: torch.Tensor
) -> torch.Tensor:
    """-log sigma(s(u, i)) - mean_n log(1 - sigma(s(u, n))) (Mikolov et al. 2013).

    The negatives' term is averaged rather than summed so that positives and
    negatives weigh alike whatever N (the attention-CF paper's sec. 4.2 weighting).
    """
    negative = -(logsigmoid(-neg) * neg_mask).sum(-1) / neg_mask.sum(-1).clamp_min(1.0)  # (B,)
    return (-logsigmoid(pos) + negative[rows]).mean()


def complementary_sum_sampling(
    pos: torch.Tensor,
    rows: torch.Tensor,
    neg: torch.Tensor,
    neg_mask: torch.Tensor,
    n_items: int,
) -> torch.Tensor:
    """Multinomial likelihood with Z estimated by CSS (Botev et al. 2017):

    Z_i = exp(s(u, i)) + (I - 1) / N * sum_n exp(s(u, n)),
    loss_i = -(s(u, i) - log Z_i), computed with log-sum-exp.
    """
    n = neg_mask.sum(-1).clamp_min(1.0)  # (B,)
    log_scale = math.log(max(n_items - 1, 1)) - torch.log(n)
    masked = neg.masked_fill(neg_mask == 0, float("-inf"))
    neg_term = torch.logsumexp(masked, dim=-1) + log_scale  # (B,)
    log_z = torch.logaddexp(pos, neg_term[rows])
    return (log_z - pos).mean()


def full_softmax(all_scores: torch.Tensor, rows: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
    """Exact multinomial likelihood over every item (small catalogues only)."""
    return -torch.log_softmax(all_scores, dim=-1)[rows, items].mean()
