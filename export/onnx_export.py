"""torch user encoder -> ``encoder.onnx`` with dynamic batch and history length."""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np

OPSET = 18


def export_onnx(
    module: Any, spec: dict[str, Any], example: dict[str, np.ndarray], path: Path
) -> None:
    """Export ``module(*inputs in spec order)`` with torch.export (dynamo) to ONNX.

    Axis 0 of every input is the dynamic ``batch`` and axis 1 the dynamic
    ``history`` length, so one file serves any batch and history size.
    """
    import torch
    from torch.export import Dim

    names = [entry["name"] for entry in spec["inputs"]]
    batch, history = Dim("batch"), Dim("history")
    dynamic = {name: {0: batch, 1: history} for name in names}
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
                output_names=[spec["output"]["name"]],
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


def torch_outputs(module: Any, spec: dict[str, Any], inputs: dict[str, np.ndarray]) -> np.ndarray:
    """What the torch module computes on the same inputs as onnxruntime."""
    import torch

    with torch.no_grad():
        args = [torch.from_numpy(inputs[e["name"]]) for e in spec["inputs"]]
        return module(*args).numpy()
