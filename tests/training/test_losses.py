import math

import numpy as np
import pytest
import torch

from training import losses


def _data():
    g = torch.Generator().manual_seed(0)
    pos = torch.randn(5, generator=g)
    rows = torch.tensor([0, 0, 1, 2, 2])
    neg = torch.randn(3, 4, generator=g)
    mask = torch.ones(3, 4)
    mask[1, 2] = 0.0
    return pos, rows, neg, mask


def _sig(x):
    return 1 / (1 + math.exp(-x))


def test_bpr_matches_a_loop():
    pos, rows, neg, mask = _data()
    want = []
    for p, r in zip(pos.tolist(), rows.tolist(), strict=True):
        terms = [
            math.log(_sig(p - n))
            for n, m in zip(neg[r].tolist(), mask[r].tolist(), strict=True)
            if m
        ]
        want.append(-sum(terms) / len(terms))
    assert losses.bpr(pos, rows, neg, mask).item() == pytest.approx(np.mean(want), rel=1e-5)


def test_negative_sampling_matches_a_loop():
    pos, rows, neg, mask = _data()
    want = []
    for p, r in zip(pos.tolist(), rows.tolist(), strict=True):
        negs = [
            math.log(1 - _sig(n))
            for n, m in zip(neg[r].tolist(), mask[r].tolist(), strict=True)
            if m
        ]
        want.append(-math.log(_sig(p)) - sum(negs) / len(negs))
    assert losses.negative_sampling(pos, rows, neg, mask).item() == pytest.approx(
        np.mean(want), rel=1e-5
    )


def test_css_with_every_other_item_as_negative_is_the_exact_softmax():
    scores = torch.randn(2, 6, generator=torch.Generator().manual_seed(1))
    rows = torch.tensor([0, 1])
    targets = torch.tensor([2, 4])
    exact = losses.full_softmax(scores, rows, targets)
    pos = scores[rows, targets]
    neg = torch.stack(
        [torch.cat([scores[0, :2], scores[0, 3:]]), torch.cat([scores[1, :4], scores[1, 5:]])]
    )
    css = losses.complementary_sum_sampling(pos, rows, neg, torch.ones_like(neg), n_items=6)
    assert css.item() == pytest.approx(exact.item(), rel=1e-5)
