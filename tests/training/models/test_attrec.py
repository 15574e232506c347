"""AttRec against plain numpy: the self-attention of eqs. 1-8, the distance of eq. 10, and
its exact mapping to inner-product search (and to the L2 index)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bundle.history import Sequences
from training.data.splits import split
from training.evaluate import EvalConfig, Validation, evaluate
from training.models.attrec import AttRec, time_signal
from training.registry import create

D, L, W = 6, 3, 0.3


@pytest.fixture(scope="module")
def model() -> AttRec:
    rng = np.random.default_rng(0)
    arrays = {
        "U": rng.normal(size=(4, D)).astype(np.float32),
        "V": rng.normal(size=(30, D)).astype(np.float32),
        "X": rng.normal(size=(30, D)).astype(np.float32),
        "trained": np.array([True, True, False, True]),
        "short.project.weight": rng.normal(size=(D, D)).astype(np.float32),
        "short.signal": time_signal(L, D).numpy(),
    }
    return AttRec.from_state({"dim": D, "length": L, "weight": W}, arrays)


def _short_term(model: AttRec, items: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """m_u and each window item's weight, one user, by the equations."""
    X = model.state()["X"]
    project = model.state()["short.project.weight"]
    window = items[-L:]
    n = len(window)
    positions = range(L - n, L)  # the latest item is always position L-1
    signal = time_signal(L, D).numpy()[list(positions)]
    inputs = X[window] + signal  # TE added to query and key (eqs. 7-8)
    q = np.maximum(inputs @ project.T, 0)  # eqs. 2-3, W_Q = W_K
    logits = q @ q.T / math.sqrt(D)
    if n > 1:
        np.fill_diagonal(logits, -np.inf)  # eq. 4's masked diagonal
    s = np.exp(logits - logits.max(1, keepdims=True))
    s /= s.sum(1, keepdims=True)
    a = s @ X[window]  # eq. 5, the items themselves as values
    return a.mean(0), s.mean(0)  # eq. 6


def _distance(model: AttRec, user: np.ndarray, m: np.ndarray) -> np.ndarray:
    state = model.state()
    long = ((user - state["V"]) ** 2).sum(1)
    short = ((m - state["X"]) ** 2).sum(1)
    return W * long + (1 - W) * short  # eq. 10


@pytest.mark.parametrize("items", [[3, 7, 1, 9, 4], [5, 2], [8]])
def test_self_attention_and_its_weights_follow_the_equations(model, items):
    m, weights = _short_term(model, items)
    history = Sequences.from_lists([items])
    inputs = model.encoder_inputs(history, np.zeros(1), np.array([0]))
    import torch

    with torch.no_grad():
        query, attention = model.export_encoder()(*(torch.from_numpy(v) for v in inputs.values()))
    np.testing.assert_allclose(query[0, D : 2 * D].numpy(), 2 * (1 - W) * m, rtol=1e-4, atol=1e-5)
    expected = np.zeros(len(items))
    expected[-L:] = weights
    np.testing.assert_allclose(attention[0].numpy(), expected, rtol=1e-4, atol=1e-6)
    assert attention.sum().item() == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("user", [0, 2, -1])  # trained, untrained, never seen
def test_inner_product_ranks_items_exactly_as_the_distance_of_eq_10(model, user):
    items = [3, 7, 1, 9, 4]
    m, _ = _short_term(model, items)
    state = model.state()
    known = user >= 0 and state["trained"][user]
    u = state["U"][user] if known else state["V"][items].mean(0)  # fold-in: mean of V
    distance = _distance(model, u, m)
    scores = model.score(Sequences.from_lists([items]), np.zeros(1), np.array([user]))[0]
    # -y_uj and <q, x_j> differ by a constant of the user only
    np.testing.assert_allclose(-distance - (-distance).max(), scores - scores.max(), atol=1e-3)
    assert np.argsort(-scores, kind="stable")[:10].tolist() == np.argsort(distance)[:10].tolist()


def test_the_l2_index_form_is_the_distance_of_eq_10(model):
    items = [3, 7, 1, 9, 4]
    query = model.encode_user(Sequences.from_lists([items]), np.zeros(1), np.array([1]))
    form = model.index_form()
    points, point = form.item_vectors(model.item_vectors()), form.query_vectors(query)[0]
    m, _ = _short_term(model, items)
    expected = _distance(model, model.state()["U"][1], m)
    np.testing.assert_allclose(((points - point) ** 2).sum(1), expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("unknown_user", ["fold-in", "short-term"])
@pytest.mark.parametrize("user", [0, 2, -1])  # trained, untrained, never seen
def test_stepping_events_into_the_state_then_reading_out_gives_the_one_pass_query(
    model, unknown_user, user
):
    import torch

    stepped = AttRec.from_state({"dim": D, "length": L, "weight": W,
                                 "unknown_user": unknown_user}, model.state())  # fmt: skip
    modules = stepped.stateful()
    encoder = stepped.export_encoder()
    items = [3, 7, 1, 9, 4, 3, 12]
    state = torch.zeros(1, modules.state_dim)
    for n, item in enumerate(items, start=1):
        state = modules.step(state, torch.tensor([item]))
        inputs = stepped.encoder_inputs(Sequences.from_lists([items[:n]]), np.zeros(1),
                                        np.array([user]))  # fmt: skip
        with torch.no_grad():
            query, _ = encoder(*(torch.from_numpy(v) for v in inputs.values()))
            read = modules.readout(state, *(torch.from_numpy(inputs[k]) for k in ("user", "known")))
        np.testing.assert_allclose(read.numpy(), query.numpy(), rtol=1e-5, atol=1e-6)
    # the state: the sum of V over every event, their count, the last L rows + 1
    V = model.state()["V"]
    np.testing.assert_allclose(state[0, :D].numpy(), V[items].sum(0), rtol=1e-5, atol=1e-5)
    assert state[0, D].item() == len(items)
    assert state[0, D + 1 :].tolist() == [r + 1 for r in items[-L:]]


def test_attrec_learns_the_planted_sequences_beyond_popularity(small_log):
    data = small_log.interactions
    parts = split(data, "leave-last-out")
    model = create("attrec", dim=16, max_epochs=8, batch_size=256)
    config = EvalConfig(ks=(20,))
    model.fit(parts.train, Validation(parts.valid, data.n_items, model.validation_metric, config))
    attrec = evaluate(model, parts.test, data.n_items, config)
    pop = evaluate(create("popularity").fit(parts.train), parts.test, data.n_items, config)
    assert attrec["hr@20"] > 1.3 * pop["hr@20"], (attrec["hr@20"], pop["hr@20"])
    events = np.bincount(parts.train.user, minlength=data.n_users)
    assert (model.user_table()[1] == (events >= 2)).all()  # a window needs two events
