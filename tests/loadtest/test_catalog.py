"""The serving benchmark's synthetic catalogues export as real bundles for every model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from loadtest.catalog import MODELS, build_bundle


@pytest.mark.parametrize("model", sorted(MODELS))
def test_synthetic_catalogue_of_every_model_exports_with_a_searchable_index(
    model: str, tmp_path: Path
) -> None:
    bundle, histories = build_bundle(tmp_path / model, model, n_items=3000, clusters=30)
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["model"]["kind"] == model
    assert manifest["item_count"] == 3000
    assert manifest["index"]["recall_at_10"] >= 0.95  # the exporter's own target
    assert len(histories) == 1000 and all(len(h) == 50 for h in histories)
    assert all(np.all((h >= 0) & (h < 3000)) for h in histories)
