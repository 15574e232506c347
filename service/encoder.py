"""The user encoder: a user's recent events -> ONNX inputs -> user vector.

The manifest says which inputs the encoder takes and how each is filled from
the events (``fill``: item_rows, mask, age_seconds, event_types, values) and
how the history is cut (``distinct_items``: keep each item's latest event;
``max_length``: keep the latest events). The same builder is used by the
exporter's parity check, so what was checked is what is served.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from service.core.types import HistoryBatch

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"


@dataclass(frozen=True)
class HistoryPolicy:
    max_length: int
    distinct_items: bool

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> HistoryPolicy:
        history = spec.get("history", {})
        return cls(int(history.get("max_length", 200)), bool(history.get("distinct_items", False)))


def cut_history(batch: HistoryBatch, policy: HistoryPolicy) -> HistoryBatch:
    """Apply the manifest's history policy, vectorised over the batch."""
    if len(batch) == 1:  # one Recommend call: the same cut without per-user bookkeeping
        return _cut_one(batch, policy)
    user = batch.user_of_event()
    index = np.arange(len(batch.rows))
    if policy.distinct_items and len(index):
        # latest event of each (user, item): first occurrence in the reversed order
        key = user * (int(batch.rows.max()) + 1) + batch.rows
        _, first_reversed = np.unique(key[::-1], return_index=True)
        index = np.sort(len(index) - 1 - first_reversed)
    kept_user = user[index]
    counts = np.bincount(kept_user, minlength=len(batch))
    from_end = np.cumsum(counts)[kept_user] - np.arange(len(index))  # 1 for a user's latest
    index = index[from_end <= policy.max_length]
    lengths = np.bincount(user[index], minlength=len(batch))
    indptr = np.zeros(len(batch) + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    return HistoryBatch(
        indptr,
        batch.rows[index],
        batch.timestamps[index],
        batch.event_types[index],
        batch.values[index],
    )


def _cut_one(batch: HistoryBatch, policy: HistoryPolicy) -> HistoryBatch:
    n = len(batch.rows)
    index = np.arange(n)
    if policy.distinct_items and n:
        _, first_reversed = np.unique(batch.rows[::-1], return_index=True)
        index = np.sort(n - 1 - first_reversed)
    index = index[max(0, len(index) - policy.max_length) :]
    if len(index) == n:
        return batch
    return HistoryBatch(
        np.array([0, len(index)], dtype=np.int64),
        batch.rows[index],
        batch.timestamps[index],
        batch.event_types[index],
        batch.values[index],
    )


def _source(fill: str, batch: HistoryBatch, now: np.ndarray, user: np.ndarray) -> np.ndarray:
    """The per-event values of one input kind (see ``HISTORY_FILLS`` in training)."""
    if fill == "item_rows":
        return batch.rows
    if fill == "mask":
        return np.ones(len(batch.rows), dtype=np.float32)
    if fill == "age_seconds":
        return np.maximum(np.asarray(now, np.float64)[user] - batch.timestamps, 0.0)
    if fill == "event_types":
        return batch.event_types
    if fill == "values":
        return batch.values
    raise ValueError(f"unknown encoder input fill {fill!r}")


def build_inputs(
    spec: dict[str, Any],
    batch: HistoryBatch,
    now: np.ndarray,
    policy: HistoryPolicy | None = None,
) -> dict[str, np.ndarray]:
    """Padded (B, L) arrays for every encoder input named in ``spec``."""
    batch = cut_history(batch, policy or HistoryPolicy.from_spec(spec))
    b, n = len(batch), len(batch.rows)
    user = batch.user_of_event()
    out = {}
    if b == 1:  # the common case, one Recommend call: no scatter needed
        for entry in spec["inputs"]:
            values = _source(entry["fill"], batch, now, user) if n else np.zeros(1)
            out[entry["name"]] = np.asarray(values, dtype=entry["dtype"])[None, :]
        return out
    width = max(1, int(batch.lengths.max()) if b else 1)
    position = np.arange(n) - np.repeat(batch.indptr[:-1], batch.lengths)
    for entry in spec["inputs"]:
        dense = np.zeros((b, width), dtype=entry["dtype"])
        dense[user, position] = _source(entry["fill"], batch, now, user)
        out[entry["name"]] = dense
    return out


def choose_providers(prefer_gpu: bool = True) -> list[str]:
    """CUDA first when onnxruntime-gpu and a GPU are present, else CPU."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    return [CUDA, CPU] if prefer_gpu and CUDA in available else [CPU]


class Encoder:
    """An onnxruntime session over ``encoder.onnx`` plus the input builder."""

    def __init__(
        self,
        path: str | Path,
        spec: dict[str, Any],
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
        self.provider = self.session.get_providers()[0]
        self.output = spec["output"]["name"]
        self.dim = int(spec["output"]["dim"])
        self.policy = HistoryPolicy.from_spec(spec)

    def encode(self, batch: HistoryBatch, now: np.ndarray) -> np.ndarray:
        """(B, D) float32 user vectors."""
        inputs = build_inputs(self.spec, batch, now, self.policy)
        (users,) = self.session.run([self.output], inputs)
        return np.asarray(users, dtype=np.float32)
