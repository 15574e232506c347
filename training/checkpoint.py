"""Trained-model checkpoints: everything ``recserve export`` needs, no pickles.

A checkpoint folder holds:

    model.json        format version, model kind (registry name), constructor config
    model.npz         the learned arrays (``Servable.state()``)
    items.txt         external item id of each row (``IdMap``)
    users.txt         external user id of each dense training user index
    item_counts.npy   training events per item (the popularity cold start)
    item_features.tsv item metadata by row (categories, ...), when the data had some
    event_types.json  event type names, in code order
    validation.npz    validation users asked for future events (user-holdout's are put
                      in ``next_event`` form): histories, targets, user indices,
                      query times and the decayed trend counts at those times (the
                      exporter's parity, recall and trend-weight checks)
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
import scipy.sparse as sp

from bundle.history import Sequences
from training.data.interactions import IdMap, Interactions
from training.data.splits import EvalSet
from training.models.base import Servable
from training.trends import decayed_counts

FORMAT_VERSION = 2


@dataclass(frozen=True)
class Checkpoint:
    path: Path
    kind: str
    model: Servable
    items: IdMap
    users: IdMap
    item_counts: np.ndarray  # (I,) training events per item
    item_features: pd.DataFrame | None
    event_types: tuple[str, ...]
    validation: EvalSet
    validation_trends: sp.csr_matrix  # (V, I) decayed counts at each validation query time
    trend_half_life: float
    metrics: dict[str, Any]


def save_checkpoint(
    path: str | Path,
    model: Servable,
    data: Interactions,
    train: Interactions,
    validation: EvalSet,
    metrics: dict[str, Any],
    trend_half_life: float = 3600.0,
) -> Path:
    """Write ``model`` and what export needs from ``data`` (the whole log's ids and
    features), ``train`` (counts, trends) and ``validation`` into folder ``path``."""
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
    np.savez(folder / "model.npz", **dict(model.state()))  # type: ignore[arg-type]
    data.items.save(folder / "items.txt")
    data.users.save(folder / "users.txt")
    np.save(folder / "item_counts.npy", np.bincount(train.item, minlength=data.n_items))
    if data.item_features is not None:
        data.item_features.to_csv(folder / "item_features.tsv", sep="\t", index=False)
    (folder / "event_types.json").write_text(json.dumps(list(data.event_types)) + "\n")
    trends = decayed_counts(train, validation.now, trend_half_life)
    hist, targ = validation.history, validation.targets
    np.savez(
        folder / "validation.npz",
        indptr=hist.indptr, item=hist.item, timestamp=hist.timestamp,
        event_type=hist.event_type, value=hist.value,
        target_indptr=targ.indptr, target_item=targ.item, target_timestamp=targ.timestamp,
        users=validation.users, now=validation.now,
        trend_indptr=trends.indptr, trend_indices=trends.indices, trend_data=trends.data,
        trend_half_life=np.array(trend_half_life),
    )  # fmt: skip
    (folder / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return folder


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read a checkpoint folder back; the model comes out fitted."""
    from training.registry import model_class

    folder = Path(path)
    header_path = folder / "model.json"
    if not header_path.exists():
        raise FileNotFoundError(f"{folder}: not a checkpoint (no model.json); run `recserve train`")
    header = json.loads(header_path.read_text())
    if header.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"{folder}: checkpoint format {header.get('format_version')} is not supported "
            f"(expected {FORMAT_VERSION}); train the model again with this version"
        )
    kind = header["kind"]
    cls = model_class(kind)
    if not issubclass(cls, Servable):
        raise ValueError(f"{folder}: model {kind!r} cannot be served")
    with np.load(folder / "model.npz") as arrays:
        model = cls.from_state(header["config"], dict(arrays))
    features_path = folder / "item_features.tsv"
    features = (
        pd.read_csv(features_path, sep="\t", dtype=str, keep_default_na=False)
        if features_path.exists()
        else None
    )
    items = IdMap.load(folder / "items.txt")
    with np.load(folder / "validation.npz") as v:
        history = Sequences(v["indptr"], v["item"], v["timestamp"], v["event_type"], v["value"])
        n = len(v["target_item"])
        targets = Sequences(
            v["target_indptr"], v["target_item"], v["target_timestamp"],
            np.zeros(n, np.int8), np.ones(n, np.float32),
        )  # fmt: skip
        validation = EvalSet(v["users"], history, targets, v["now"])
        trends = sp.csr_matrix(
            (v["trend_data"], v["trend_indices"], v["trend_indptr"]),
            shape=(len(validation), len(items)),
        )
        half_life = float(v["trend_half_life"])
    metrics_path = folder / "metrics.json"
    return Checkpoint(
        path=folder,
        kind=kind,
        model=model,
        items=items,
        users=IdMap.load(folder / "users.txt"),
        item_counts=np.load(folder / "item_counts.npy"),
        item_features=features,
        event_types=tuple(json.loads((folder / "event_types.json").read_text())),
        validation=validation,
        validation_trends=trends,
        trend_half_life=half_life,
        metrics=json.loads(metrics_path.read_text()) if metrics_path.exists() else {},
    )
