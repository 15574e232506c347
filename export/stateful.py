"""Write a model's ``step`` and ``readout`` graphs, checked against its one-pass encoder.

For a model with ``stateful()`` modules the exporter writes ``step.onnx`` and
``readout.onnx`` and loads them with the server's ``bundle.state.StateEncoder``.
On validation users it steps each history (cut by the encoder's policy, the
state a new bundle recomputes from the stored history) event by event from
the empty state, reads out at the user's query time, and compares with the
one-pass user vectors; a difference above the tolerance refuses the bundle.
A model that declares the time edges of its readout (``readout_edges``: the
server then reuses a user vector until the query time crosses one) has its
readout probed within every interval on a few of those states: a change there
refuses the bundle too.

Both graphs have a static batch of one user: the server steps and reads out
one user at a time, and fixed shapes let onnxruntime fold the exporter's shape
bookkeeping at load (HRNN-meta's readout runs 20 nodes instead of 40).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bundle.encoder import CPU
from bundle.format import READOUT, STEP
from bundle.history import cut_history
from bundle.inputs import UserContext
from bundle.manifest import GraphSpec, StatefulSpec, StateInput
from bundle.state import READOUT_FILLS, STEP_FILLS, StateEncoder, UserState
from export.errors import ExportError
from export.onnx_export import export_graph
from training.data.splits import EvalSet
from training.models.base import RetrievalModel

BATCH = 1  # one user per call: every input's shape is fixed
EDGE_USERS = 10  # users whose readout is probed between the declared time edges
EDGE_TOLERANCE = 1e-6


def _example(
    inputs: tuple[tuple[str, str], ...], fills: dict, state_dim: int, user_dim: int
) -> dict[str, np.ndarray]:
    out = {}
    for name, fill in inputs:
        kind = fills[fill]
        if fill == "state":
            out[name] = np.zeros((BATCH, state_dim), np.float32)
        elif kind.per == "user_vector":
            out[name] = np.zeros((BATCH, user_dim), np.float32)
        else:
            out[name] = np.zeros(BATCH, kind.dtype)
    return out


def _export(
    module: object, inputs: tuple[tuple[str, str], ...], fills: dict, state_dim: int,
    user_dim: int, output: str, path: Path,
) -> GraphSpec:  # fmt: skip
    """Export one graph; its spec lists the inputs the graph kept (an input the module
    never reads is dropped by the exporter, and the server must not feed it)."""
    import onnxruntime as ort

    example = _example(inputs, fills, state_dim, user_dim)
    export_graph(module, example, {name: {} for name in example}, [output], path)
    kept = {i.name for i in ort.InferenceSession(str(path), providers=[CPU]).get_inputs()}
    found = tuple(StateInput(name, fill) for name, fill in inputs if name in kept)
    return GraphSpec(path.name, found, output)


def export_graphs(model: RetrievalModel, folder: Path, user_dim: int) -> StatefulSpec | None:
    """``step.onnx`` and ``readout.onnx`` of ``model`` in ``folder`` (None for a model
    without ``stateful()`` modules); ``user_dim`` is the width of its user vectors."""
    modules = model.stateful()
    if modules is None:
        return None
    width = modules.state_dim
    step = _export(modules.step, modules.step_inputs, STEP_FILLS, width, user_dim,
                   "next_state", folder / STEP)  # fmt: skip
    readout = _export(modules.readout, modules.readout_inputs, READOUT_FILLS, width, user_dim,
                      "query", folder / READOUT)  # fmt: skip
    return StatefulSpec(width, step, readout, readout_edges=modules.readout_edges)


def write_stateful(
    model: RetrievalModel,
    folder: Path,
    check: EvalSet,
    context: UserContext | None,
    queries: np.ndarray,
    tolerance: float,
    max_users: int = 100,
) -> StatefulSpec | None:
    """``step.onnx`` and ``readout.onnx`` in ``folder`` and their manifest entry, or None
    for a model without ``stateful()`` modules; ``queries`` are the one-pass user
    vectors of ``check``'s users (``context`` their user-table rows)."""
    user_dim = 0 if context is None else context.vectors.shape[1]
    spec = export_graphs(model, folder, user_dim)
    if spec is None:
        return None
    states = StateEncoder(folder, spec, [CPU])
    policy = model.encoder_spec().history
    worst, users, drift = 0.0, min(len(check), max_users), 0.0
    for r in range(users):  # offline check, one recurrence per user
        row = None if context is None else UserContext(context.vectors[r : r + 1],
                                                       context.known[r : r + 1])  # fmt: skip
        history = cut_history(check.history.take(np.array([r])), policy)
        state = states.advance(states.empty(), history, row)
        served = states.readout(state, float(check.now[r]), row)
        worst = max(worst, float(np.abs(served - queries[r]).max()))
        if r < EDGE_USERS and state.events and spec.readout_edges is not None:
            drift = max(drift, _drift_between_edges(states, state, row, spec.readout_edges))
    if worst > tolerance:
        raise ExportError(
            f"the stateful graphs, stepped event by event, differ from the one-pass encoder by "
            f"{worst:.2e} > {tolerance}"
        )
    if drift > EDGE_TOLERANCE:
        raise ExportError(
            f"the readout changes by {drift:.2e} between the time edges the model declares "
            "(readout_edges): it would serve stale user vectors"
        )
    checks = {"stateful_vs_encoder_max_abs_error": worst, "histories_checked": users}
    if spec.readout_edges is not None:
        checks["readout_change_between_edges"] = drift
    return StatefulSpec(spec.state_dim, spec.step, spec.readout, checks, spec.readout_edges)


def _drift_between_edges(
    states: StateEncoder, state: UserState, row: UserContext | None, edges: tuple[float, ...]
) -> float:
    """The largest change of the readout of ``state`` between query times within one
    interval of ``edges`` (near both ends and in the middle; past the last edge up to
    100 times it)."""
    bounds = (0.0, *edges)
    ends = (*edges, 100.0 * bounds[-1] if edges else 1e9)
    drift = 0.0
    for low, high in zip(bounds, ends, strict=True):
        probes = [states.readout(state, state.last_time + low + f * (high - low), row)
                  for f in (0.01, 0.5, 0.99)]  # fmt: skip
        drift = max(drift, *(float(np.abs(p - probes[0]).max()) for p in probes[1:]))
    return drift
