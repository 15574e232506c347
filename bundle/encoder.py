"""The user encoder at run time: an onnxruntime session over ``encoder.onnx``.

``Encoder.encode`` builds the inputs with ``bundle.inputs.build_inputs`` (the
manifest's fills and history policy) and returns the user vectors; the
exporter runs this same class on validation histories before it publishes a
bundle, so what was checked is what is served.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bundle.history import Sequences
from bundle.inputs import UserContext, build_inputs
from bundle.manifest import EncoderSpec

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"


def choose_providers(prefer_gpu: bool = True) -> list[str]:
    """CUDA first when onnxruntime-gpu and a GPU are present, else CPU."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    return [CUDA, CPU] if prefer_gpu and CUDA in available else [CPU]


class Encoder:
    """An onnxruntime session over one encoder graph plus its input builder."""

    def __init__(
        self,
        path: str | Path,
        spec: EncoderSpec,
        providers: Sequence[str] | None = None,
        threads: int = 1,
    ) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.spec = spec
        self.session = ort.InferenceSession(
            str(path), options, providers=list(providers or choose_providers())
        )
        self.providers = self.session.get_providers()
        self.provider = self.providers[0]
        self.output = spec.user_output.name
        declared = {e.name for e in spec.inputs}
        graph = {i.name for i in self.session.get_inputs()}
        if declared != graph:
            raise ValueError(f"graph inputs {sorted(graph)} != manifest inputs {sorted(declared)}")
        outputs = {o.name for o in self.session.get_outputs()}
        missing = {o.name for o in spec.outputs} - outputs
        if missing:
            raise ValueError(f"graph lacks the declared output(s) {sorted(missing)}")
        self.dim = spec.dim

    def run(
        self,
        history: Sequences,
        now: np.ndarray,
        users: UserContext | None = None,
        outputs: Sequence[str] | None = None,
    ) -> dict[str, np.ndarray]:
        """Every requested output (default: all declared) by name."""
        names = list(outputs or [o.name for o in self.spec.outputs])
        inputs = build_inputs(self.spec, history, now, users)
        return dict(zip(names, self.session.run(names, inputs), strict=True))

    def encode(
        self, history: Sequences, now: np.ndarray, users: UserContext | None = None
    ) -> np.ndarray:
        """(B, D) float32 user vectors."""
        inputs = build_inputs(self.spec, history, now, users)
        (vectors,) = self.session.run([self.output], inputs)
        return np.asarray(vectors, dtype=np.float32)
