"""Write a bundle folder from a checkpoint, checking it before it is published.

Steps (any failure leaves no bundle behind):

1. ``items.npy``: the model's item vectors, bias folded in as the last column.
2. ``index.hnsw``: HNSW over those vectors; recall@10 vs exact search on the
   validation users' real vectors must reach the target (``index_build``).
3. ``encoder.onnx``: the torch encoder exported; onnxruntime must match torch
   (max abs error < ``tolerance``) on real validation histories, with inputs
   built by the *server's* input builder, and must match the model's own
   ``encode_user``, so what was checked is what will be served.
4. ``items.tsv``: external id and metadata of every row.
5. ``manifest.json`` with the SHA-256 of every file, written last; the folder
   is built under a hidden temporary name and renamed into place in one step,
   then loaded back with the server's loader as a final check.

A bundle is immutable: an existing ``out`` folder is never overwritten.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from export.errors import ExportError
from export.index_build import build_index
from export.onnx_export import export_onnx, torch_outputs
from service.core.types import HistoryBatch
from service.encoder import CPU, Encoder, build_inputs
from service.manifest import ENCODER, INDEX, ITEM_TABLE, ITEMS, MANIFEST, Manifest, file_entry
from training.checkpoint import Checkpoint
from training.data.interactions import Sequences


@dataclass(frozen=True)
class ExportConfig:
    target_recall: float = 0.95
    tolerance: float = 1e-4
    max_check_users: int = 1000
    threads: int = 2


def validation_histories(
    checkpoint: Checkpoint, limit: int
) -> tuple[Sequences, HistoryBatch, np.ndarray]:
    """The checkpoint's real (non-empty) validation histories, for the model and as
    the server sees them, with their query times."""
    rows = np.flatnonzero(checkpoint.validation.lengths > 0)[:limit]
    seqs = checkpoint.validation.take(rows)
    batch = HistoryBatch(
        seqs.indptr,
        seqs.item.astype(np.int64),
        seqs.timestamp,
        seqs.event_type.astype(np.int64),
        seqs.value,
    )
    return seqs, batch, checkpoint.validation_now[rows]


def write_bundle(
    checkpoint: Checkpoint, out: str | Path, config: ExportConfig = ExportConfig()
) -> Path:
    """Write and publish bundle ``out`` (``.../<name>/<version>``); returns its path."""
    out = Path(out)
    if out.exists():
        raise ExportError(f"{out} exists: bundles are immutable, choose a new version folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        manifest = _write_files(checkpoint, staging, out, config)
        (staging / MANIFEST).write_text(manifest.to_json())
        os.rename(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    from service.bundle import Bundle

    Bundle.load(out, providers=[CPU])  # the server's own loader accepts it
    return out


def _write_files(checkpoint: Checkpoint, folder: Path, out: Path, config: ExportConfig) -> Manifest:
    model = checkpoint.model
    vectors = np.ascontiguousarray(model.item_vectors(), dtype=np.float32)
    np.save(folder / ITEMS, vectors)
    seqs, batch, now = validation_histories(checkpoint, config.max_check_users)
    spec = model.encoder_spec()
    inputs = build_inputs(spec, batch, now)
    queries = model.encode_user(seqs, now)
    index, index_info = build_index(vectors, queries, config.target_recall, threads=config.threads)
    index.save_index(str(folder / INDEX))  # type: ignore[attr-defined]
    module = model.export_encoder()
    export_onnx(module, spec, inputs, folder / ENCODER)
    served = Encoder(folder / ENCODER, spec, providers=[CPU]).encode(batch, now)
    parity = float(np.abs(served - torch_outputs(module, spec, inputs)).max())
    agreement = float(np.abs(served - queries).max())
    if parity > config.tolerance:
        raise ExportError(f"onnxruntime differs from torch by {parity:.2e} > {config.tolerance}")
    if agreement > config.tolerance:
        raise ExportError(
            f"served user vectors differ from the model's encode_user by {agreement:.2e}: "
            "the server's history policy does not match the model's"
        )
    _write_item_table(checkpoint, folder / ITEM_TABLE)
    files = {name: file_entry(folder / name) for name in (ENCODER, ITEMS, INDEX, ITEM_TABLE)}
    return Manifest(
        name=out.parent.name,
        version=out.name,
        model={"kind": checkpoint.kind, "config": model.config_dict()},
        dim=int(vectors.shape[1]),
        item_count=int(vectors.shape[0]),
        encoder={**spec, "file": ENCODER},
        index=index_info,
        event_types=list(checkpoint.event_types),
        offline_metrics=_offline_metrics(checkpoint),
        checks={
            "onnx_vs_torch_max_abs_error": parity,
            "served_vs_model_max_abs_error": agreement,
            "histories_checked": len(batch),
        },
        files=files,
        created_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    )


def _write_item_table(checkpoint: Checkpoint, path: Path) -> None:
    """``row, item_id, categories`` plus the data's other item columns."""
    table = pd.DataFrame({"row": np.arange(len(checkpoint.items)), "item_id": checkpoint.items.ids})
    features = checkpoint.item_features
    table["categories"] = (
        "" if features is None or "categories" not in features else features["categories"]
    )
    if features is not None:
        for column in features.columns.drop("categories", errors="ignore"):
            table[column] = features[column].to_numpy()
    table.to_csv(path, sep="\t", index=False)


def _offline_metrics(checkpoint: Checkpoint) -> dict[str, Any]:
    report = checkpoint.metrics
    return {
        "protocol": report.get("protocol"),
        "split": report.get("split", {}),
        "results": report.get("results", {}).get(checkpoint.kind, {}),
    }
