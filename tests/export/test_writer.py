import json

import numpy as np
import onnxruntime as ort
import pytest

from bundle.format import sha256
from export.errors import ExportError
from export.index_build import RecallError
from export.writer import ExportConfig, write_bundle
from training.checkpoint import load_checkpoint


def test_bundle_has_every_file_with_its_checksum(led_bundle):
    manifest = json.loads((led_bundle / "manifest.json").read_text())
    assert set(manifest["files"]) == {
        "encoder.onnx",
        "items.npy",
        "index.hnsw",
        "items.tsv",
        "step.onnx",
        "readout.onnx",
    }
    assert manifest["format_version"] == 2
    for name, entry in manifest["files"].items():
        assert sha256(led_bundle / name) == entry["sha256"]
        assert (led_bundle / name).stat().st_size == entry["bytes"]
    assert manifest["model"]["kind"] == "led"
    assert manifest["name"] == "led" and manifest["version"] == "1"
    assert manifest["dim"] == 17 and manifest["item_count"] == 200
    assert manifest["offline_metrics"]["results"]["recall@10"] >= 0
    assert manifest["users"] is None  # LED has no per-user parameters
    assert manifest["offline_metrics"]["protocol"] == "user-holdout"


def test_index_recall_against_exact_search_is_recorded_and_high(led_bundle):
    index = json.loads((led_bundle / "manifest.json").read_text())["index"]
    assert index["recall_at_10"] >= 0.95
    assert 0 < index["recall_at_100"] <= 1
    assert index["form"]["space"] == "ip" and index["queries"] > 10


def test_onnx_encoder_matches_torch_for_any_batch_and_history_length(led_bundle, led_checkpoint):
    checkpoint = load_checkpoint(led_checkpoint)
    module = checkpoint.model.export_encoder()
    session = ort.InferenceSession(
        str(led_bundle / "encoder.onnx"), providers=["CPUExecutionProvider"]
    )
    rng = np.random.default_rng(0)
    import torch

    for batch, length in [(1, 1), (3, 7), (64, 150)]:
        items = rng.integers(0, 200, size=(batch, length)).astype(np.int64)
        weights = (rng.random((batch, length)) < 0.8).astype(np.float32)
        onnx_out = session.run(None, {"items": items, "weights": weights})
        with torch.no_grad():
            torch_out = module(torch.from_numpy(items), torch.from_numpy(weights))
        for served, expected in zip(onnx_out, torch_out, strict=True):  # user vector, shares
            assert np.abs(served - expected.numpy()).max() < 1e-4
    checks = json.loads((led_bundle / "manifest.json").read_text())["checks"]
    assert checks["onnx_vs_torch_max_abs_error"] < 1e-4
    assert checks["served_vs_model_max_abs_error"] < 1e-4


def test_step_and_readout_graphs_take_one_user_with_every_shape_fixed(led_bundle):
    for name in ("step.onnx", "readout.onnx"):
        session = ort.InferenceSession(str(led_bundle / name), providers=["CPUExecutionProvider"])
        shapes = {i.name: i.shape for i in session.get_inputs()}
        assert shapes["state"] == [1, 17], name  # no symbolic batch axis left to track
        assert all(all(isinstance(d, int) for d in s) and s[0] == 1 for s in shapes.values())


def test_items_tsv_carries_ids_and_categories(led_bundle, small_log):
    lines = (led_bundle / "items.tsv").read_text().splitlines()
    assert lines[0].split("\t")[:4] == ["row", "item_id", "categories", "count"]
    first = lines[1].split("\t")
    assert first[0] == "0" and first[1] == small_log.interactions.items.ids[0]
    assert first[2].startswith("cat-") and int(first[3]) > 0


def test_an_existing_bundle_is_never_overwritten(led_bundle, led_checkpoint):
    before = (led_bundle / "manifest.json").read_text()
    with pytest.raises(ExportError, match="immutable"):
        write_bundle(load_checkpoint(led_checkpoint), led_bundle)
    assert (led_bundle / "manifest.json").read_text() == before


def test_unreachable_recall_fails_and_leaves_nothing(tmp_path, led_checkpoint):
    out = tmp_path / "led" / "2"
    with pytest.raises(RecallError, match="recall@10 stayed below"):
        write_bundle(load_checkpoint(led_checkpoint), out, ExportConfig(target_recall=1.01))
    assert not out.exists()
    assert list((tmp_path / "led").iterdir()) == []
