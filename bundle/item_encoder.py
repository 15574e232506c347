"""Item vectors from metadata at run time: an onnxruntime session over ``item_encoder.onnx``.

A model with a metadata decoder (HRNN-meta, eq. 2) can give an item it never
saw in training a vector from its features alone: ``[w(f_j), b(f_j)]``, the
decoder at lambda = 1. The manifest's ``item_encoder`` names the graph and the
feature schema (``bundle.features``) that turns an item's metadata (its
``categories`` and other columns, as text) into the graph's input row, the
same encoding training used.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from bundle.features import FeatureSchema
from bundle.manifest import ItemEncoderSpec

INPUT, OUTPUT = "features", "item_vector"


class ItemEncoder:
    """Item metadata -> (n, D) item vectors in the bundle's item space."""

    def __init__(
        self, folder: Path, spec: ItemEncoderSpec, providers: Sequence[str], threads: int = 1
    ) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.schema = FeatureSchema.from_dict(spec.features)
        self.session = ort.InferenceSession(str(folder / spec.file), options,
                                            providers=list(providers))  # fmt: skip
        inputs = [i.name for i in self.session.get_inputs()]
        outputs = [o.name for o in self.session.get_outputs()]
        if inputs != [INPUT] or OUTPUT not in outputs:
            raise ValueError(f"graph maps {inputs} -> {outputs}, expected [{INPUT}] -> {OUTPUT}")

    def features(self, metadata: Sequence[dict[str, str]]) -> np.ndarray:
        """(n, width) float32 encoded feature rows of ``metadata``."""
        return self.schema.encode(pd.DataFrame(list(metadata)), len(metadata))

    def encode(self, metadata: Sequence[dict[str, str]]) -> np.ndarray:
        """(n, D) float32 item vectors of ``metadata`` rows."""
        if not metadata:
            raise ValueError("no items to encode")
        (vectors,) = self.session.run([OUTPUT], {INPUT: self.features(metadata)})
        return np.asarray(vectors, np.float32)
