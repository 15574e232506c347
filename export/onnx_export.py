"""torch modules (user encoders, re-rankers) -> ONNX graphs with dynamic axes."""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from bundle.manifest import EncoderSpec

OPSET = 18


def export_onnx(module: Any, spec: EncoderSpec, example: dict[str, np.ndarray], path: Path) -> None:
    """Export a user encoder ``module(*inputs in spec order)`` to ONNX.

    Axis 0 of every input is the dynamic ``batch``; axis 1 of the per-event
    inputs the dynamic ``history`` length, so one file serves any batch and
    history size. Outputs are named as ``spec.outputs``.
    """
    axes = {e.name: ({0: "batch", 1: "history"} if e.per_event else {0: "batch"})
            for e in spec.inputs}  # fmt: skip
    export_graph(module, {e.name: example[e.name] for e in spec.inputs}, axes,
                 [o.name for o in spec.outputs], path)  # fmt: skip


def export_graph(
    module: Any,
    example: dict[str, np.ndarray],
    axes: dict[str, dict[int, str]],
    outputs: list[str],
    path: Path,
) -> None:
    """Export ``module(*example.values())`` with torch.export (dynamo) to ONNX, the
    inputs named and ordered as ``example``; ``axes`` names each input's dynamic
    axes (one name, one dimension shared by every input that uses it)."""
    import torch
    from torch.export import Dim

    dims = {name: Dim(name) for spec in axes.values() for name in spec.values()}
    dynamic = {name: {axis: dims[d] for axis, d in axes[name].items()} for name in example}
    args = tuple(torch.from_numpy(array) for array in example.values())
    quiet = logging.getLogger("torch.onnx")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            program = torch.onnx.export(
                module,
                args,
                input_names=list(example),
                output_names=outputs,
                dynamic_shapes=dynamic,
                opset_version=OPSET,
                dynamo=True,
                verbose=False,
            )
            if program is None:
                raise RuntimeError("torch.onnx.export returned no program")
            program.save(str(path))
    finally:
        quiet.setLevel(level)


def torch_outputs(
    module: Any, spec: EncoderSpec, inputs: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """What the torch module computes on the same inputs as onnxruntime, by output name."""
    import torch

    with torch.no_grad():
        out = module(*(torch.from_numpy(inputs[e.name]) for e in spec.inputs))
    out = out if isinstance(out, (tuple, list)) else (out,)
    return {o.name: t.numpy() for o, t in zip(spec.outputs, out, strict=True)}
