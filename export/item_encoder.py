"""Write a model's ``item_encoder.onnx``, checked on the model's own items.

The graph maps encoded item features to item vectors (``bundle.item_encoder``).
The exporter runs it with the server's ``ItemEncoder`` on every item's
features and compares with the torch module; for items without training
events, whose bundle vectors are the decoder at lambda = 1 already, also with
the vectors the bundle serves. A difference above the tolerance refuses the
bundle.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bundle.encoder import CPU
from bundle.format import ITEM_ENCODER
from bundle.item_encoder import INPUT, OUTPUT
from bundle.manifest import ItemEncoderSpec
from export.errors import ExportError
from export.onnx_export import export_graph
from training.models.base import RetrievalModel


def write_item_encoder(
    model: RetrievalModel, folder: Path, vectors: np.ndarray, tolerance: float
) -> ItemEncoderSpec | None:
    """``item_encoder.onnx`` in ``folder`` and its manifest entry, or None for a model
    without one; ``vectors`` are the bundle's item vectors."""
    import onnxruntime as ort
    import torch

    found = model.item_encoder()
    if found is None:
        return None
    features = np.ascontiguousarray(found.features, dtype=np.float32)
    path = folder / ITEM_ENCODER
    export_graph(found.module, {INPUT: features[:2]}, {INPUT: {0: "batch"}}, [OUTPUT], path)
    session = ort.InferenceSession(str(path), providers=[CPU])
    (served,) = session.run([OUTPUT], {INPUT: features})
    with torch.no_grad():
        expected = found.module(torch.from_numpy(features)).numpy()
    parity = float(np.abs(served - expected).max())
    cold = ~np.asarray(found.trained, bool)
    agreement = float(np.abs(served[cold] - vectors[cold]).max()) if cold.any() else 0.0
    if max(parity, agreement) > tolerance:
        raise ExportError(
            f"{ITEM_ENCODER}: differs from torch by {parity:.2e} and from the bundle's vectors "
            f"of items without training events by {agreement:.2e} (tolerance {tolerance})"
        )
    checks = {
        "onnx_vs_torch_max_abs_error": parity,
        "untrained_items_vs_bundle_max_abs_error": agreement,
        "items_checked": len(features),
        "untrained_items": int(cold.sum()),
    }
    return ItemEncoderSpec(found.schema, checks=checks)
