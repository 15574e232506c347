"""torch user encoder -> ONNX graph with dynamic batch (and history) axes."""

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
    """Export ``module(*inputs in spec order)`` with torch.export (dynamo) to ONNX.

    Axis 0 of every input is the dynamic ``batch``; axis 1 of the per-event
    inputs the dynamic ``history`` length, so one file serves any batch and
    history size. Outputs are named as ``spec.outputs``.
    """
    import torch
    from torch.export import Dim

    names = [entry.name for entry in spec.inputs]
    batch, history = Dim("batch"), Dim("history")
    dynamic = {e.name: ({0: batch, 1: history} if e.per_event else {0: batch}) for e in spec.inputs}
    args = tuple(torch.from_numpy(example[name]) for name in names)
    quiet = logging.getLogger("torch.onnx")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            program = torch.onnx.export(
                module,
                args,
                input_names=names,
                output_names=[o.name for o in spec.outputs],
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
