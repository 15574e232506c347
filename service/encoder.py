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
    user = batch.user_of_event()
    keep = np.ones(len(batch.rows), dtype=bool)
    if policy.distinct_items and len(keep):
        # latest event of each (user, item): scan from the end
        order = np.lexsort((-np.arange(len(user)), batch.rows, user))
        pairs = np.stack([user[order], batch.rows[order]])
        first_in_group = np.ones(len(order), dtype=bool)
        first_in_group[1:] = np.any(pairs[:, 1:] != pairs[:, :-1], axis=0)
        keep[:] = False
        keep[order[first_in_group]] = True
    kept_per_user = np.bincount(user[keep], minlength=len(batch))
    # rank from the end among kept events; keep the latest max_length
    kept_index = np.flatnonzero(keep)
    starts = np.repeat(np.cumsum(kept_per_user) - kept_per_user, kept_per_user)
    from_end = np.repeat(kept_per_user, kept_per_user) - (np.arange(len(kept_index)) - starts)
    kept_index = kept_index[from_end <= policy.max_length]
    lengths = np.bincount(user[kept_index], minlength=len(batch))
    indptr = np.zeros(len(batch) + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    return HistoryBatch(
        indptr,
        batch.rows[kept_index],
        batch.timestamps[kept_index],
        batch.event_types[kept_index],
        batch.values[kept_index],
    )


def build_inputs(
    spec: dict[str, Any], batch: HistoryBatch, now: np.ndarray
) -> dict[str, np.ndarray]:
    """Padded (B, L) arrays for every encoder input named in ``spec``."""
    batch = cut_history(batch, HistoryPolicy.from_spec(spec))
    b = len(batch)
    width = max(1, int(batch.lengths.max()) if b else 1)
    user = batch.user_of_event()
    position = np.arange(len(batch.rows)) - np.repeat(batch.indptr[:-1], batch.lengths)
    ages = np.maximum(np.asarray(now, np.float64)[user] - batch.timestamps, 0.0)
    sources = {
        "item_rows": batch.rows,
        "mask": np.ones(len(batch.rows)),
        "age_seconds": ages,
        "event_types": batch.event_types,
        "values": batch.values,
    }
    out = {}
    for entry in spec["inputs"]:
        dense = np.zeros((b, width), dtype=entry["dtype"])
        dense[user, position] = sources[entry["fill"]]
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

    def encode(self, batch: HistoryBatch, now: np.ndarray) -> np.ndarray:
        """(B, D) float32 user vectors."""
        inputs = build_inputs(self.spec, batch, now)
        (users,) = self.session.run([self.output], inputs)
        return np.asarray(users, dtype=np.float32)
