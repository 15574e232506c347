"""Open a bundle: verify it against its manifest, then load it read-only.

``Bundle.load`` refuses anything it cannot trust, with a ``BundleError`` that
names the bundle and the file: a missing manifest or file, a checksum or
size mismatch (truncated copy), an unknown format version, arrays whose shape
disagrees with the manifest. A refused bundle never replaces a serving one.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import repeat
from pathlib import Path

import numpy as np

from service.encoder import Encoder
from service.manifest import (
    ENCODER,
    FORMAT_VERSION,
    INDEX,
    ITEM_TABLE,
    ITEMS,
    MANIFEST,
    REQUIRED_FILES,
    Manifest,
    sha256,
)


class BundleError(Exception):
    """A bundle that cannot be served; the message says which file and why."""


def resolve_bundle(path: str | Path) -> Path:
    """``bundles/<name>/<version>`` as given, or the newest complete version under
    ``bundles/<name>/`` (versions compare numerically when they are numbers)."""
    path = Path(path)
    if (path / MANIFEST).exists():
        return path
    if not path.is_dir():
        raise BundleError(f"{path}: no such bundle folder")
    versions = [p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")]
    complete = [p for p in versions if (p / MANIFEST).exists()]
    if not complete:
        raise BundleError(f"{path}: no bundle here (no {MANIFEST}, no version folder with one)")
    return max(complete, key=lambda p: _version_key(p.name))


def _version_key(name: str) -> tuple[tuple[int, int | str], ...]:
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"[.\-_]", name)
    )


def verify(path: Path) -> Manifest:
    """Check the manifest and every file's size and SHA-256; return the manifest."""
    manifest_path = path / MANIFEST
    if not manifest_path.exists():
        raise BundleError(f"{path}: incomplete bundle, {MANIFEST} is missing")
    try:
        manifest = Manifest.from_dict(json.loads(manifest_path.read_text()))
    except (ValueError, TypeError) as error:
        raise BundleError(f"{manifest_path}: unreadable manifest ({error})") from None
    if manifest.format_version != FORMAT_VERSION:
        raise BundleError(
            f"{path}: bundle format {manifest.format_version}, this server reads {FORMAT_VERSION}"
        )
    for name in REQUIRED_FILES:
        if name not in manifest.files:
            raise BundleError(f"{path}: manifest does not list {name}")
    for name, entry in manifest.files.items():
        file = path / name
        if not file.exists():
            raise BundleError(f"{path}: incomplete bundle, {name} is missing")
        size = file.stat().st_size
        if size != entry["bytes"]:
            raise BundleError(f"{file}: {size} bytes, manifest says {entry['bytes']} (truncated?)")
        if sha256(file) != entry["sha256"]:
            raise BundleError(f"{file}: checksum mismatch, the file is damaged")
    return manifest


NO_CODES = np.zeros(0, dtype=np.int64)
NO_CODES.setflags(write=False)


@dataclass(frozen=True)
class ItemTable:
    """External ids and category sets of the bundle's items, by row."""

    ids: np.ndarray  # (I,) object
    row_of: dict[str, int]
    categories: tuple[str, ...]  # vocabulary
    category_matrix: np.ndarray  # (I, C) bool: item has category
    category_code: dict[str, int]  # vocabulary -> column of category_matrix
    row_categories: list[tuple[str, ...]]  # each row's categories, for replies

    @classmethod
    def read(cls, path: Path, item_count: int) -> ItemTable:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle, delimiter="\t"))
        if len(rows) != item_count:
            raise BundleError(f"{path}: {len(rows)} items, manifest says {item_count}")
        ids = np.array([r["item_id"] for r in rows], dtype=object)
        per_item = [frozenset(filter(None, (r.get("categories") or "").split("|"))) for r in rows]
        vocabulary = tuple(sorted(set().union(*per_item))) if per_item else ()
        code = {c: k for k, c in enumerate(vocabulary)}
        matrix = np.zeros((item_count, len(vocabulary)), dtype=bool)
        for row, cats in enumerate(per_item):  # load time, once per bundle
            matrix[row, [code[c] for c in cats]] = True
        row_categories = [tuple(sorted(c)) for c in per_item]
        return cls(ids, {i: k for k, i in enumerate(ids)}, vocabulary, matrix, code, row_categories)

    def rows(self, item_ids: Sequence[str]) -> np.ndarray:
        """(n,) int64 rows of external ids, -1 for unknown ones (C-level dict lookups)."""
        lookup = map(self.row_of.get, item_ids, repeat(-1))
        return np.fromiter(lookup, dtype=np.int64, count=len(item_ids))

    def category_codes(self, names: Sequence[str]) -> np.ndarray:
        if not names:
            return NO_CODES
        return np.array([self.category_code[n] for n in names], dtype=np.int64)


@dataclass(frozen=True)
class Bundle:
    """A verified, loaded bundle; immutable, shared by concurrent requests."""

    path: Path
    manifest: Manifest
    vectors: np.ndarray  # (I, D) float32, bias folded into the last column
    items: ItemTable
    index: object  # hnswlib.Index
    encoder: Encoder

    @property
    def version(self) -> str:
        return f"{self.manifest.name}/{self.manifest.version}"

    @cached_property
    def cacheable(self) -> bool:
        """True when the user vector depends on the history only (not on the query time)."""
        return all(e["fill"] != "age_seconds" for e in self.manifest.encoder["inputs"])

    @property
    def default_event_type(self) -> str:
        """``view`` when the model knows it, else its first event type."""
        types = self.manifest.event_types
        return "view" if "view" in types else (types[0] if types else "interaction")

    @cached_property
    def _event_codes(self) -> dict[str, int]:
        return {name: k for k, name in enumerate(self.manifest.event_types)}

    def event_type_codes(self, names: Sequence[str]) -> np.ndarray:
        """(n,) int64 codes of event type names in the manifest's vocabulary (0 if unknown)."""
        lookup = map(self._event_codes.get, names, repeat(0))
        return np.fromiter(lookup, dtype=np.int64, count=len(names))

    @classmethod
    def load(
        cls, path: str | Path, providers: Sequence[str] | None = None, threads: int = 1
    ) -> Bundle:
        import hnswlib

        folder = resolve_bundle(path)
        manifest = verify(folder)
        try:
            vectors = np.load(folder / ITEMS, allow_pickle=False)
        except ValueError as error:
            raise BundleError(f"{folder / ITEMS}: not a numpy array ({error})") from None
        expected = (manifest.item_count, manifest.dim)
        if vectors.shape != expected or vectors.dtype != np.float32:
            raise BundleError(
                f"{folder / ITEMS}: {vectors.dtype}{vectors.shape}, manifest says float32{expected}"
            )
        vectors.setflags(write=False)
        items = ItemTable.read(folder / ITEM_TABLE, manifest.item_count)
        index = hnswlib.Index(space=manifest.index["space"], dim=manifest.dim)
        try:
            index.load_index(str(folder / INDEX), max_elements=manifest.item_count)
        except RuntimeError as error:
            raise BundleError(f"{folder / INDEX}: cannot load the HNSW index ({error})") from None
        index.set_ef(int(manifest.index["ef_search"]))
        try:
            encoder = Encoder(folder / ENCODER, manifest.encoder, providers, threads)
        except Exception as error:  # onnxruntime raises its own exception types
            raise BundleError(f"{folder / ENCODER}: cannot load the encoder ({error})") from None
        if encoder.dim != manifest.dim:
            raise BundleError(
                f"{folder}: encoder output dim {encoder.dim} != item dim {manifest.dim}"
            )
        return cls(folder, manifest, vectors, items, index, encoder)
