"""The bundle contract: file names, format version and ``manifest.json``.

A bundle is a folder ``bundles/<name>/<version>/`` written once by
``recserve export`` and never modified; the manifest lists every file with its
SHA-256 so the server can refuse a damaged or incomplete copy.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
ENCODER = "encoder.onnx"
ITEMS = "items.npy"
INDEX = "index.hnsw"
ITEM_TABLE = "items.tsv"
RERANKER = "reranker.onnx"
REQUIRED_FILES = (ENCODER, ITEMS, INDEX, ITEM_TABLE)


def sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class Manifest:
    """Everything a server needs to know about a bundle before loading it.

    ``encoder`` holds the ONNX user encoder's inputs (name, dtype, how the
    server fills each from a user's events) and output; ``index`` the HNSW
    parameters and the recall measured against exact search at export.
    """

    name: str
    version: str
    model: dict[str, Any]  # {"kind": ..., "config": {...}}
    dim: int
    item_count: int
    encoder: dict[str, Any]
    index: dict[str, Any]
    event_types: list[str]
    offline_metrics: dict[str, Any] = field(default_factory=dict)
    checks: dict[str, Any] = field(default_factory=dict)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    created_at: str = ""
    format_version: int = FORMAT_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Manifest:
        known = set(cls.__dataclass_fields__)
        missing = {"name", "version", "model", "dim", "item_count", "encoder", "index"} - set(
            values
        )
        if missing:
            raise ValueError(f"manifest lacks {sorted(missing)}")
        return cls(**{k: v for k, v in values.items() if k in known})


def file_entry(path: Path) -> dict[str, Any]:
    return {"sha256": sha256(path), "bytes": path.stat().st_size}
