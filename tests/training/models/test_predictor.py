"""The predictor / soft-split auto-encoder against the paper's equations on dense arrays."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bundle.history import Sequences
from training.data.splits import split
from training.evaluate import EvalConfig, Validation, evaluate
from training.models.predictor import (
    BUCKETS,
    DAY,
    Predictor,
    PredictorConfig,
    PredictorNetwork,
)
from training.registry import create

P = 12


def _model(decay: str, **config) -> Predictor:
    rng = np.random.default_rng(1)
    net = PredictorNetwork(P, PredictorConfig(decay=decay, hidden=(5, 4), **config), 2.0)
    with torch.no_grad():
        for parameter in net.parameters():
            parameter.copy_(torch.from_numpy(rng.normal(size=parameter.shape).astype(np.float32)))
    arrays = {k: v.numpy() for k, v in net.state_dict().items()}
    arrays["bucket_days"] = np.array(2.0)
    return Predictor.from_state({"decay": decay, "hidden": (5, 4), **config}, arrays)


def _dense_forward(model: Predictor, items, days) -> np.ndarray:
    """Eq. 3 with A_0 the dense (P,) time-decayed multi-hot vector (eqs. 4-5)."""
    s = {k: v.numpy() for k, v in model._network.state_dict().items()}
    relu = lambda v: np.maximum(v, 0)  # noqa: E731
    a0 = np.zeros(P, np.float32)
    if model.config.decay == "parametric":
        a0[items] = 1.0 / (1.0 + np.asarray(days) / model.config.t_i)  # eq. 5
    else:  # eq. 4: Act(sum_i V_{i+32p} wf_i + wb) over each item's bucket encoding
        encoding = np.zeros((P, BUCKETS), np.float32)
        encoding[items, np.minimum(np.asarray(days) // 2.0, BUCKETS - 1).astype(int)] = 1.0
        a0 = relu(encoding @ s["kernel"] + s["kernel_bias"])
    a1 = relu(s["first"].T @ a0 + s["first_bias"])
    a2 = relu(s["layers.0.weight"] @ a1 + s["layers.0.bias"])
    return s["out"] @ a2 + s["out_bias"]  # the output layer before its sigmoid


@pytest.mark.parametrize("decay", ["parametric", "learned"])
def test_served_scores_are_the_output_layer_of_the_dense_network(decay):
    model = _model(decay, formulation="soft-split")
    items, days = [1, 4, 7], [3.0, 10.0, 70.0]
    history = Sequences.single(np.array(items), np.array(days) * -DAY)
    scores = model.score(history, np.zeros(1))[0]
    np.testing.assert_allclose(scores, _dense_forward(model, items, days), rtol=1e-4, atol=1e-4)
    # the output sigmoid is monotone: the same ranking as the predicted probabilities
    expected = 1 / (1 + np.exp(-_dense_forward(model, items, days)))
    assert np.argsort(-scores).tolist() == np.argsort(-expected).tolist()


def test_formulations_set_the_paper_s_decays_and_weights():
    predictor = PredictorConfig(formulation="predictor")
    ew = PredictorConfig(formulation="ew", input_decay_days=5.0)
    soft = PredictorConfig(formulation="soft-split")
    assert predictor.t_i == 1e6 and predictor.weights == (0.0, 0.0, 1.0, 1.0)
    assert ew.t_i == 1e6 and ew.weights == (1.0, 1.0, 1.0, 0.0)  # no decay, wp0 = 0
    assert soft.t_i == 40.0 and soft.output_decay_days == 4.0 and soft.weights[3] == 0.0


def test_the_cold_start_query_is_the_network_on_an_empty_history():
    model = _model("parametric")
    cold, similar = model.semantics()
    np.testing.assert_allclose(
        np.asarray(cold.query) @ model.item_vectors().T, _dense_forward(model, [], []), rtol=1e-4
    )
    assert similar.width == model.item_vectors().shape[1]


def test_the_learned_decay_curve_is_saved_as_a_picture(tmp_path):
    (path,) = _model("learned").write_artifacts(tmp_path, "run.")
    assert path.name == "run.decay.png" and path.read_bytes()[:4] == b"\x89PNG"


def test_predictor_learns_the_next_period_beyond_popularity(small_log):
    data = small_log.interactions
    parts = split(data, "temporal")
    config = EvalConfig(ks=(10,))
    model = create("predictor", hidden=(32, 16), windows=4, lr=0.01, max_epochs=15)
    model.fit(parts.train, Validation(parts.valid, data.n_items, model.validation_metric, config))
    ours = evaluate(model, parts.test, data.n_items, config)
    pop = evaluate(create("popularity").fit(parts.train), parts.test, data.n_items, config)
    assert ours["precision@10"] > pop["precision@10"], (ours, pop)
