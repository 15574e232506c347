import numpy as np
import pytest
import torch

from bundle.history import Sequences
from training.data.splits import split
from training.evaluate import EvalConfig, Validation, evaluate
from training.models.led import LED, LEDConfig, LEDEncoder, LEDNetwork
from training.registry import create


def test_transposition_trick_equals_projecting_every_item():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(30, 6)).astype(np.float32)
    net = LEDNetwork(base, "project", projection_init="random")
    items = torch.tensor([[1, 4, 7, 0]])
    mask = torch.tensor([[1.0, 1.0, 1.0, 0.0]])
    with torch.no_grad():
        trick = net.queries(items, mask) @ net.base.T
        table = net.item_table()
        user = table[[1, 4, 7]].mean(0)
        explicit = user @ table.T
    assert torch.allclose(trick[0], explicit, atol=1e-5)


def test_encode_user_applies_the_served_history_policy():
    rng = np.random.default_rng(1)
    model = LED.from_state(
        {"dim": 4, "max_history": 3},
        {
            "item_table": rng.normal(size=(10, 4)).astype(np.float32),
            "item_bias": np.arange(10, dtype=np.float32),
        },
    )
    history = Sequences.from_lists([[1, 2, 2, 5, 9], [3]])
    users = model.encode_user(history, np.zeros(2))
    # latest occurrence of each item, then the latest 3: {2, 5, 9} and {3}
    table = model.state()["item_table"]
    assert np.allclose(users[0, :4], table[[2, 5, 9]].mean(0), atol=1e-6)
    assert np.allclose(users[1, :4], table[3], atol=1e-6)
    assert np.all(users[:, 4] == 1.0)
    encoder = LEDEncoder(table)
    out, share = encoder(
        torch.tensor([[2, 5, 9], [3, 0, 0]]), torch.tensor([[1.0, 1, 1], [1, 0, 0]])
    )
    assert np.allclose(out.numpy(), users, atol=1e-6)
    # each event's share of the user vector: 1/3 each, and the padding none
    assert np.allclose(share.numpy(), [[1 / 3, 1 / 3, 1 / 3], [1, 0, 0]], atol=1e-6)
    scores = model.score(history, np.zeros(2))
    assert np.allclose(scores, users @ model.item_vectors().T, atol=1e-5)


def test_empty_history_is_the_null_user_ranked_by_bias():
    model = LED.from_state(
        {"dim": 2},
        {
            "item_table": np.ones((3, 2), np.float32),
            "item_bias": np.array([0.1, 0.9, 0.5], np.float32),
        },
    )
    scores = model.score(Sequences.from_lists([[]]), np.zeros(1))
    assert scores.argsort()[0, ::-1].tolist() == [1, 2, 0]


def _validation(parts, model):
    return Validation(parts.valid, parts.train.n_items, model.validation_metric)


def _arrays():
    return {"item_table": np.ones((3, 2), np.float32), "item_bias": np.zeros(3, np.float32)}


@pytest.mark.parametrize(
    "params",
    [
        {"loss": "bpr"},
        {"loss": "css", "tuning": "full"},
        {"loss": "ns", "init": "random", "tuning": "full"},
        {"loss": "softmax"},
    ],
)
def test_led_variants_learn_the_planted_tastes(small_log, params):
    data = small_log.interactions
    parts = split(data, "user-holdout")
    model = create("led", dim=16, max_epochs=10, lr=0.02, negatives=100, **params)
    model.fit(parts.train, _validation(parts, model))
    config = EvalConfig(ks=(20,))
    led = evaluate(model, parts.test, data.n_items, config)
    pop = evaluate(create("popularity").fit(parts.train), parts.test, data.n_items, config)
    assert led["recall@20"] > 1.5 * pop["recall@20"], params
    info = model.fit_info()
    assert 1 <= info["best_epoch"] <= info["epochs"] <= 10


def test_early_stopping_keeps_the_best_validated_epoch(small_log):
    parts = split(small_log.interactions, "user-holdout")
    model = create("led", dim=8, max_epochs=30, lr=0.05, eval_every=1, patience=2, negatives=50)
    model.fit(parts.train, _validation(parts, model))
    history = model.fit_info()["history"]
    best = max(h["valid"] for h in history)
    assert model.fit_info()["best_valid"] == best
    n_items = small_log.interactions.n_items
    again = evaluate(model, parts.valid, n_items, EvalConfig(ks=(100,)))["ndcg@100"]
    assert again == pytest.approx(best, rel=1e-5)


def test_led_config_rejects_bad_values():
    with pytest.raises(ValueError, match="loss must be one of"):
        LED(loss="hinge")
    with pytest.raises(ValueError, match="unknown parameter 'dimension'"):
        LED(dimension=3)


def test_flat_and_dotted_parameters_reach_the_nested_config():
    model = LED(max_epochs=3, **{"train.lr": 0.5, "objective": {"negatives": 7}})
    config: LEDConfig = model.config
    assert (config.train.max_epochs, config.train.lr, config.objective.negatives) == (3, 0.5, 7)
    assert LED.from_state(model.config_dict(), _arrays()).config == config
