"""Synthetic 100K-item bundles of every model kind, with trained-looking parameters.

Item vectors are clustered like trained embeddings (a few hundred topic
centres, items scattered around them, popular topics larger), not uniform
random: HNSW recall and speed on uniform random vectors say little about real
models. User histories of 50 events are drawn from one or two topics. Each
model's parameters are laid out as its checkpoint would hold them
(``from_state``), and the bundle goes through the real exporter (ONNX encoder,
HNSW recall check, manifest), so the benchmark serves exactly what production
would for that model's architecture.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from bundle.history import Sequences
from export.writer import ExportConfig, write_bundle
from training.checkpoint import Checkpoint
from training.data.interactions import IdMap
from training.data.splits import EvalSet
from training.registry import model_class

USERS = 1000


def clustered_catalog(
    n_items: int,
    dim: int,
    clusters: int,
    seed: int = 0,
    cluster: np.ndarray | None = None,
    centres: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(I, d) item vectors, (I,) biases, (I,) cluster of each item; the cluster of each
    item and the (clusters, d) topic centres are drawn unless given."""
    rng = np.random.default_rng(seed)
    if cluster is None:
        size = 1.0 / np.arange(1, clusters + 1) ** 0.8  # some topics are much larger
        cluster = rng.choice(clusters, size=n_items, p=size / size.sum())
    if centres is None:
        centres = rng.normal(size=(clusters, dim)) / np.sqrt(dim)
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


def _led(n_items: int, clusters: int, history: int) -> tuple[dict, dict, np.ndarray]:
    vectors, bias, cluster = clustered_catalog(n_items, 64, clusters)
    config = {"dim": 64, "max_history": history}
    return config, {"item_table": vectors, "item_bias": bias}, cluster


def _predictor(n_items: int, clusters: int, history: int) -> tuple[dict, dict, np.ndarray]:
    """The paper's two hidden layers (256, 128) as training leaves them: the input
    layer's item rows clustered by topic; the last hidden layer sparse (the KL
    sparsity penalty): each topic switches on 16 of its 128 units; the middle layer
    fitted (least squares) so that a topic's users reach their topic's pattern;
    the output layer's item rows around their topic's pattern. The learned decay
    is flat at 1. (With a random middle layer the user vectors point nowhere the
    items are, which no trained model does, and no HNSW index reaches recall 0.95.)"""
    rng = np.random.default_rng(2)
    first, _, cluster = clustered_catalog(n_items, 256, clusters)
    pattern = np.zeros((clusters, 128), np.float32)
    for topic in range(clusters):  # offline set-up
        pattern[topic, rng.choice(128, size=16, replace=False)] = np.abs(rng.normal(size=16))
    pattern /= np.linalg.norm(pattern, axis=1, keepdims=True)
    out, bias, _ = clustered_catalog(n_items, 128, clusters, 1, cluster, centres=pattern)
    topic_first = pd.DataFrame(first).groupby(cluster).mean().to_numpy()
    reached = np.maximum(history * topic_first, 0.0)  # A_1 of a user with one topic
    middle, *_ = np.linalg.lstsq(reached, 3.0 * pattern[np.unique(cluster)], rcond=None)
    arrays = {
        "first": first, "first_bias": np.zeros(256, np.float32),
        "layers.0.weight": np.ascontiguousarray(middle.T, dtype=np.float32),
        "layers.0.bias": np.zeros(128, np.float32),
        "out": out, "out_bias": bias,
        "kernel": np.ones(32, np.float32), "kernel_bias": np.zeros((), np.float32),
        "bucket_days": np.array(1.0),
    }  # fmt: skip
    return {"history": history}, arrays, cluster


def _attrec(n_items: int, clusters: int, history: int) -> tuple[dict, dict, np.ndarray]:
    """The default d and L, V and X of the same topics, users near their topics."""
    from training.models.attrec import AttRecConfig, time_signal

    d, length = AttRecConfig.dim, AttRecConfig.length
    rng = np.random.default_rng(3)
    V, _, cluster = clustered_catalog(n_items, d, clusters)
    X, _, _ = clustered_catalog(n_items, d, clusters, seed=1, cluster=cluster)
    users = V[rng.integers(0, n_items, size=USERS)] + 0.01 * rng.normal(size=(USERS, d))
    arrays = {
        "U": users.astype(np.float32), "V": V, "X": X, "trained": np.ones(USERS, bool),
        "short.project.weight": (rng.normal(size=(d, d)) / np.sqrt(d)).astype(np.float32),
        "short.signal": time_signal(length, d).numpy(),
    }  # fmt: skip
    return {"history": history}, arrays, cluster


def _hrnn(n_items: int, clusters: int, history: int) -> tuple[dict, dict, np.ndarray]:
    """The default GRU (hidden 128, 64-d item inputs) with time-delta and feedback inputs,
    no item or user features; item input embeddings and output vectors of the same
    topics, the GRU's weights at their initialisation (a step costs the same whatever
    it learned)."""
    import json

    import torch

    from bundle.features import FeatureSchema
    from training.models.hrnn import HRNNConfig, HRNNNetwork

    c = HRNNConfig(history=history)
    out, bias, cluster = clustered_catalog(n_items, c.hidden, clusters)
    embed, _, _ = clustered_catalog(n_items, c.item_dim, clusters, seed=1, cluster=cluster)
    torch.manual_seed(0)
    none = np.zeros((n_items, 0), np.float32)
    net = HRNNNetwork(n_items, 1, USERS, none, [], [], (1.0, 1.0), c)
    arrays = {f"net.{k}": v.detach().numpy().copy() for k, v in net.state_dict().items()}
    arrays["net.item_embed.weight"][:n_items] = embed
    arrays["net.out_w.weight"], arrays["net.out_b"] = out, bias
    empty = FeatureSchema().to_dict()
    schemas = {"item": empty, "user": empty, "value_stats": [1.0, 1.0], "n_types": 1}
    arrays |= {
        "item_table": none, "user_table": np.zeros((USERS, 0), np.float32),
        "counts": np.ones(n_items, np.int64), "user_counts": np.ones(USERS, np.int64),
        "schemas": np.frombuffer(json.dumps(schemas).encode(), np.uint8).copy(),
    }  # fmt: skip
    return {"history": history}, arrays, cluster


MODELS: dict[str, Callable[[int, int, int], tuple[dict, dict, np.ndarray]]] = {
    "led": _led,
    "predictor": _predictor,
    "attrec": _attrec,
    "hrnn": _hrnn,
}


def reranker_state(
    n_items: int, cluster: np.ndarray, clusters: int, history: int, config: dict[str, Any]
) -> tuple[dict, dict]:
    """The attention re-ranker over 64-d item vectors of the same topics, with its own
    orthogonal initialisation (its latency does not depend on what it learned)."""
    import torch

    from training.models.attention import AttentionConfig, AttentionNetwork

    c = AttentionConfig(history=history, **config)
    table, _, _ = clustered_catalog(n_items, 64, clusters, seed=2, cluster=cluster)
    torch.manual_seed(0)
    net = AttentionNetwork(table, c.depth, c.hidden, False, history if c.recency else 0, c.sink)
    arrays = {k: v.detach().numpy() for k, v in net.state_dict().items()}
    return {"history": history, **config}, arrays


def build_bundle(
    out: Path,
    model: str = "led",
    n_items: int = 100_000,
    clusters: int = 500,
    history: int = 50,
    reranker: dict[str, Any] | None = None,
) -> tuple[Path, list[np.ndarray]]:
    """Export the synthetic catalogue of ``model`` as bundle ``out`` (reused when it
    exists), with the attention re-ranker as its second stage when ``reranker`` (its
    config) is given; returns it with the users' histories (user ``k`` is
    ``user-{k:05d}``)."""
    config, arrays, cluster = MODELS[model](n_items, clusters, history)
    histories = user_histories(cluster, USERS, history)
    if (out / "manifest.json").exists():
        return out, histories
    first = _checkpoint(out, model, model_class(model).from_state(config, arrays), cluster,
                        histories)  # fmt: skip
    second = None
    if reranker is not None:
        settings, state = reranker_state(n_items, cluster, clusters, history, reranker)
        fitted = model_class("attention").from_state(settings, state)
        second = _checkpoint(out, "attention", fitted, cluster, histories)
    return write_bundle(first, out, ExportConfig(target_recall=0.95), second), histories


def _checkpoint(
    out: Path, kind: str, fitted: Any, cluster: np.ndarray, histories: list[np.ndarray]
) -> Checkpoint:
    """What ``recserve train`` would have saved for ``fitted``: ids, counts, topics and
    the users' histories as validation users."""
    n_items = len(cluster)
    validation = Sequences.from_lists([list(h) for h in histories])
    targets = Sequences.from_lists([[int(h[0])] for h in histories])  # a held-out item each
    now = np.full(USERS, float(len(validation.item)))
    return Checkpoint(
        path=out,
        kind=kind,
        model=fitted,
        items=IdMap(np.array([f"item-{k:06d}" for k in range(n_items)], dtype=object)),
        users=IdMap(np.array([f"user-{k:05d}" for k in range(USERS)], dtype=object)),
        item_counts=np.ones(n_items, dtype=np.int64),
        item_features=pd.DataFrame({"categories": [f"topic-{c:03d}" for c in cluster]}),
        event_types=("view",),
        validation=EvalSet(np.arange(USERS), validation, targets, now),
        validation_trends=sp.csr_matrix((USERS, n_items)),
        trend_half_life=3600.0,
        metrics={},
    )
