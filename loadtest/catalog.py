"""A synthetic 100K-item bundle with trained-looking vectors, for benchmarks.

Item vectors are clustered like trained embeddings (a few hundred topic
centres, items scattered around them, popular topics larger), not uniform
random: HNSW recall and speed on uniform random vectors say little about real
models. User histories of 50 events are drawn from one or two topics. The
bundle goes through the real exporter (ONNX encoder, HNSW recall check,
manifest), so the benchmark serves exactly what production would.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from bundle.history import Sequences
from export.writer import ExportConfig, write_bundle
from training.checkpoint import Checkpoint
from training.data.interactions import IdMap
from training.data.splits import EvalSet
from training.models.led import LED


def clustered_catalog(
    n_items: int, dim: int, clusters: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(I, d) item vectors, (I,) biases, (I,) cluster of each item."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, dim)) / np.sqrt(dim)
    size = 1.0 / np.arange(1, clusters + 1) ** 0.8  # some topics are much larger
    cluster = rng.choice(clusters, size=n_items, p=size / size.sum())
    spread = 0.5 / np.sqrt(dim)
    vectors = centres[cluster] * rng.lognormal(0, 0.2, size=(n_items, 1))
    vectors += spread * rng.normal(size=(n_items, dim))
    bias = rng.normal(-1.0, 0.5, size=n_items)
    return vectors.astype(np.float32), bias.astype(np.float32), cluster


def user_histories(
    cluster: np.ndarray, n_users: int, length: int, seed: int = 1
) -> list[np.ndarray]:
    """Histories of ``length`` item rows, each user in one or two topics."""
    rng = np.random.default_rng(seed)
    members = pd.Series(np.arange(len(cluster))).groupby(cluster).apply(np.asarray)
    topics = members.index.to_numpy()
    histories = []
    for _ in range(n_users):  # offline set-up
        chosen = rng.choice(topics, size=2, replace=False)
        pool = np.concatenate([members[c] for c in chosen])
        histories.append(rng.choice(pool, size=length, replace=len(pool) < length))
    return histories


def build_bundle(
    out: Path, n_items: int = 100_000, dim: int = 64, clusters: int = 500, history: int = 50
) -> Path:
    """Export the synthetic catalogue as bundle ``out`` (reused when it exists)."""
    if (out / "manifest.json").exists():
        return out
    vectors, bias, cluster = clustered_catalog(n_items, dim, clusters)
    model = LED.from_state(
        {"dim": dim, "max_history": history}, {"item_table": vectors, "item_bias": bias}
    )
    hist = user_histories(cluster, 1000, history)
    validation = Sequences.from_lists([list(h) for h in hist])
    targets = Sequences.from_lists([[int(h[0])] for h in hist])  # a held-out item each
    n = len(hist)
    ids = IdMap(np.array([f"item-{k:06d}" for k in range(n_items)], dtype=object))
    features = pd.DataFrame({"categories": [f"topic-{c:03d}" for c in cluster]})
    checkpoint = Checkpoint(
        path=out,
        kind="led",
        model=model,
        items=ids,
        users=IdMap(np.array([f"user-{k:05d}" for k in range(n)], dtype=object)),
        item_counts=np.ones(n_items, dtype=np.int64),
        item_features=features,
        event_types=("view",),
        validation=EvalSet(
            np.arange(n), validation, targets, np.full(n, float(len(validation.item)))
        ),
        validation_trends=sp.csr_matrix((n, n_items)),
        trend_half_life=3600.0,
        metrics={},
    )
    return write_bundle(checkpoint, out, ExportConfig(target_recall=0.95))
