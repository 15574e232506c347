"""Trained-model checkpoints: everything ``recserve export`` needs, no pickles.

A checkpoint folder holds:

    model.json        format version, model kind (registry name), constructor config
    model.npz         the learned arrays (``RetrievalModel.state()``)
    items.txt         external item id of each row (``IdMap``)
    item_features.tsv item metadata by row (categories, ...), when the data had some
    event_types.json  event type names, in code order
    validation.npz    real validation histories (the exporter's parity and recall checks)
    metrics.json      offline metrics, same ``results`` shape as ``recserve evaluate``
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from training.data.interactions import IdMap, Interactions, Sequences
from training.data.splits import EvalSet
from training.models.base import RetrievalModel

FORMAT_VERSION = 1


@dataclass(frozen=True)
class Checkpoint:
    path: Path
    kind: str
    model: RetrievalModel
    items: IdMap
    item_features: pd.DataFrame | None
    event_types: tuple[str, ...]
    validation: Sequences
    validation_now: np.ndarray
    metrics: dict[str, Any]


def save_checkpoint(
    path: str | Path,
    model: RetrievalModel,
    data: Interactions,
    validation: EvalSet,
    metrics: dict[str, Any],
) -> Path:
    """Write ``model`` and what export needs from ``data`` into folder ``path``."""
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    header = {
        "format_version": FORMAT_VERSION,
        "kind": model.name,
        "config": model.config_dict(),
        "n_items": data.n_items,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    (folder / "model.json").write_text(json.dumps(header, indent=2) + "\n")
    arrays: dict[str, Any] = dict(model.state())
    np.savez(folder / "model.npz", **arrays)
    data.items.save(folder / "items.txt")
    if data.item_features is not None:
        data.item_features.to_csv(folder / "item_features.tsv", sep="\t", index=False)
    (folder / "event_types.json").write_text(json.dumps(list(data.event_types)) + "\n")
    hist = validation.history
    np.savez(
        folder / "validation.npz",
        indptr=hist.indptr,
        item=hist.item,
        timestamp=hist.timestamp,
        event_type=hist.event_type,
        value=hist.value,
        now=validation.now,
    )
    (folder / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return folder


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read a checkpoint folder back; the model comes out fitted."""
    from training.registry import create

    folder = Path(path)
    header_path = folder / "model.json"
    if not header_path.exists():
        raise FileNotFoundError(f"{folder}: not a checkpoint (no model.json); run `recserve train`")
    header = json.loads(header_path.read_text())
    if header.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"{folder}: checkpoint format {header.get('format_version')} is not supported "
            f"(expected {FORMAT_VERSION})"
        )
    kind = header["kind"]
    cls = type(create(kind, **header["config"]))
    if not issubclass(cls, RetrievalModel):
        raise ValueError(
            f"{folder}: model {kind!r} is not a retrieval model; it cannot be exported"
        )
    with np.load(folder / "model.npz") as arrays:
        model = cls.from_state(header["config"], dict(arrays))
    features_path = folder / "item_features.tsv"
    features = (
        pd.read_csv(features_path, sep="\t", dtype=str, keep_default_na=False)
        if features_path.exists()
        else None
    )
    with np.load(folder / "validation.npz") as v:
        validation = Sequences(v["indptr"], v["item"], v["timestamp"], v["event_type"], v["value"])
        now = v["now"]
    metrics_path = folder / "metrics.json"
    return Checkpoint(
        path=folder,
        kind=kind,
        model=model,
        items=IdMap.load(folder / "items.txt"),
        item_features=features,
        event_types=tuple(json.loads((folder / "event_types.json").read_text())),
        validation=validation,
        validation_now=now,
        metrics=json.loads(metrics_path.read_text()) if metrics_path.exists() else {},
    )
