"""File names of a bundle folder, its format version, and checksums.

A bundle is a folder ``bundles/<name>/<version>/`` written once by
``recserve export`` and never modified; ``manifest.json`` lists every file
with its size and SHA-256, so a damaged or incomplete copy is refused.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

# 2: typed manifest with semantics (cold start, similar items, trend scale),
#    user table, multi-output encoders, room for stateful and re-ranker parts.
FORMAT_VERSION = 2
KNOWN_FORMATS = {2}

MANIFEST = "manifest.json"
ENCODER = "encoder.onnx"  # history (+ query-time inputs) -> user vector
ITEMS = "items.npy"  # (I, D) float32 item vectors, bias folded in
INDEX = "index.hnsw"  # hnswlib index over items.npy
ITEM_TABLE = "items.tsv"  # row, external id, categories, training count, metadata
USERS = "users.npy"  # optional (U, d) per-user parameters
USER_TABLE = "users.tsv"  # optional row, external user id
STEP = "step.onnx"  # stateful models: (state, one event) -> state
READOUT = "readout.onnx"  # stateful models: (state, seconds since last event) -> user vector
ITEM_ENCODER = "item_encoder.onnx"  # optional: item metadata -> item vector
RERANKER = "reranker.onnx"  # optional second stage
REQUIRED_FILES = (ENCODER, ITEMS, INDEX, ITEM_TABLE)


def sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()
