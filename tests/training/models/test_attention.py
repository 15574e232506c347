"""The attention-CF model (sections 4.1-4.3) against numpy, and its training loop."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bundle.history import Sequences
from training.models.attention import AttentionNetwork
from training.registry import create

TINY = {"depth": 2, "hidden": 16, "history": 8, "max_epochs": 3, "negatives": 20,
        "item2vec.epochs": 1, "item2vec.dim": 8}  # fmt: skip


def _numpy_attention(net: AttentionNetwork, history: list[int], candidate: int):
    """phi . z_K and the last layer's p_K for one user and one candidate, by eq. 3."""
    table = net.table.detach().numpy()
    lin = lambda layer, x: x @ layer.weight.detach().numpy().T + layer.bias.detach().numpy()  # noqa: E731
    k_, d_ = net.depth, net.hidden
    x = table[history]
    z = lin(net.h, table[candidate])
    for k in range(k_):
        keys = lin(net.f, x)[:, k * d_ : (k + 1) * d_]
        values = lin(net.g, x)[:, k * d_ : (k + 1) * d_]
        logits = keys @ z
        p = np.exp(logits - logits.max())
        p /= p.sum()
        z = z + p @ values
    return float((net.phi.weight.detach().numpy() @ z)[0]), p


def test_the_network_is_eq_3_with_padding_ignored():
    torch.manual_seed(0)
    table = np.random.default_rng(0).normal(size=(12, 5)).astype(np.float32)
    net = AttentionNetwork(table, depth=3, hidden=4, fine_tune=False)
    with torch.no_grad():
        net.phi.weight.normal_()
        for layer in (net.f, net.g, net.h):
            layer.bias.normal_()
    histories = [[3, 7, 1], [5, 2, 9, 11]]
    items = torch.tensor([[3, 7, 1, 0], [5, 2, 9, 11]])
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1]], dtype=torch.float32)
    candidates = torch.tensor([[4, 6], [8, 3]])
    with torch.no_grad():
        logits, weights = net(items, mask, candidates)
    for row, history in enumerate(histories):
        for col in range(2):
            want, p = _numpy_attention(net, history, int(candidates[row, col]))
            assert logits[row, col].item() == pytest.approx(want, abs=1e-5)
            np.testing.assert_allclose(weights[row, col, : len(history)], p, atol=1e-6)
    assert weights[0, :, 3].abs().max() == 0.0  # padding gets no weight


def test_with_a_sink_the_history_weights_sum_to_less_than_one():
    table = np.random.default_rng(1).normal(size=(6, 4)).astype(np.float32)
    net = AttentionNetwork(table, depth=2, hidden=4, fine_tune=False, sink=True)
    with torch.no_grad():
        net.sink_key.fill_(1.0)
        _, weights = net(torch.tensor([[1, 2]]), torch.ones(1, 2), torch.tensor([[3]]))
    assert 0.0 < weights.sum().item() < 1.0


def test_recency_is_counted_from_the_latest_event_whatever_the_padding_side():
    table = np.random.default_rng(2).normal(size=(6, 4)).astype(np.float32)
    net = AttentionNetwork(table, depth=1, hidden=4, fine_tune=False, history=4)
    with torch.no_grad():
        net.recency[0] = torch.tensor([5.0, 0.0, 0.0, 0.0])  # favour the latest event
        left = net(torch.tensor([[1, 2, 3, 0]]), torch.tensor([[1.0, 1, 1, 0]]),
                   torch.tensor([[4]]))  # fmt: skip
        right = net(torch.tensor([[0, 1, 2, 3]]), torch.tensor([[0.0, 1, 1, 1]]),
                    torch.tensor([[4]]))  # fmt: skip
    assert left[0].item() == pytest.approx(right[0].item(), abs=1e-5)
    assert left[1][0, 0].argmax().item() == 2 and right[1][0, 0].argmax().item() == 3


@pytest.fixture(scope="module")
def fitted(small_log):
    return create("attention", **TINY, sink=True, recency=True).fit(small_log.interactions)


def test_training_improves_the_holdout_objective(fitted):
    history = fitted.fit_info()["history"]
    assert fitted.fit_info()["best_valid"] > history[0]["valid"]


def test_scoring_every_item_equals_scoring_them_as_candidates(fitted, small_log):
    seqs = small_log.interactions.sequences().take(np.arange(5))
    now = np.zeros(5)
    everything = fitted.score(seqs, now)
    some = np.array([[0, 5, 17]] * 5)
    np.testing.assert_allclose(fitted.score_candidates(seqs, now, some), everything[:, [0, 5, 17]],
                               rtol=1e-5, atol=1e-5)  # fmt: skip
    assert np.isfinite(fitted.score(Sequences.from_lists([[]]), np.zeros(1))).all()
