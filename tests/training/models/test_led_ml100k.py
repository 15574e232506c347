"""LED on MovieLens-100K with its own protocol (user-holdout): the issue's quality bar."""

import pytest

from training.data.readers import load_interactions
from training.data.splits import split
from training.evaluate import EvalConfig, Validation, evaluate
from training.registry import create
from training.tuning import tune

pytestmark = pytest.mark.slow


def test_led_reaches_93_percent_of_ease_recall_at_20(ml100k):
    data = load_interactions(ml100k, "recbole")
    parts = split(data, "user-holdout", seed=0)
    config = EvalConfig(ks=(20, 50, 100))
    ease = evaluate(tune("ease", parts, config).model, parts.test, data.n_items, config)
    pop = evaluate(create("popularity").fit(parts.train), parts.test, data.n_items, config)
    led_model = create("led")  # defaults: RSVD, project, BPR
    validation = Validation(parts.valid, data.n_items, led_model.validation_metric, config)
    led_model.fit(parts.train, validation)
    led = evaluate(led_model, parts.test, data.n_items, config)
    assert led["recall@20"] >= 0.93 * ease["recall@20"], (led["recall@20"], ease["recall@20"])
    assert led["recall@20"] > 1.8 * pop["recall@20"]
    assert led_model.fit_info()["best_epoch"] > 0  # training improved on the RSVD start
