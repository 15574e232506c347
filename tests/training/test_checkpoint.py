import json

import numpy as np
import pytest

from training.checkpoint import load_checkpoint


def test_checkpoint_roundtrip_rebuilds_the_fitted_model(led_checkpoint, small_log):
    checkpoint = load_checkpoint(led_checkpoint)
    assert checkpoint.kind == "led"
    assert list(checkpoint.items.ids) == list(small_log.interactions.items.ids)
    assert checkpoint.event_types == ("click", "purchase", "view")
    assert checkpoint.item_features["category"].str.startswith("cat-").all()
    assert len(checkpoint.validation) > 0
    vectors = checkpoint.model.item_vectors()
    assert vectors.shape == (small_log.interactions.n_items, 17)
    metrics = json.loads((led_checkpoint / "metrics.json").read_text())
    assert set(metrics["results"]) == {"led"}
    assert metrics["models"]["led"]["training"]["epochs"] >= 1
    validation = checkpoint.validation
    users = checkpoint.model.encode_user(validation.history, validation.now, validation.users)
    assert np.isfinite(users).all()
    assert len(validation.targets) == len(validation) and len(validation.targets.item) > 0
    assert list(checkpoint.users.ids) == list(small_log.interactions.users.ids)
    counts = np.bincount(small_log.interactions.item, minlength=len(checkpoint.item_counts))
    assert (checkpoint.item_counts <= counts).all() and checkpoint.item_counts.sum() > 0
    trends = checkpoint.validation_trends
    assert trends.shape == (len(validation), len(checkpoint.items))
    assert checkpoint.trend_half_life == 3600.0 and trends.nnz > 0


def test_loading_something_else_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a checkpoint"):
        load_checkpoint(tmp_path)
    (tmp_path / "model.json").write_text(json.dumps({"format_version": 99, "kind": "led"}))
    with pytest.raises(ValueError, match="format 99"):
        load_checkpoint(tmp_path)
