"""Open a bundle: verify it against its manifest, then load it read-only.

``Bundle.load`` refuses anything it cannot trust or serve, with a
``BundleError`` that names the bundle and the file: a missing manifest or
file, a checksum or size mismatch (truncated copy), a format this version does
not read, arrays or an index whose shape disagrees with the manifest, an
encoder (or stateful graph) whose graph does not match its declared inputs, a
re-ranker aligned to another item table. A refused bundle never replaces a
serving one.
"""

from __future__ import annotations

import hashlib
import re
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from itertools import repeat
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from bundle.encoder import Encoder
from bundle.errors import BundleError
from bundle.format import INDEX, ITEM_TABLE, ITEMS, MANIFEST, REQUIRED_FILES, sha256
from bundle.inputs import UserContext
from bundle.item_encoder import ItemEncoder
from bundle.items import ItemTable
from bundle.manifest import Manifest
from bundle.reranker import Reranker
from bundle.state import StateEncoder
from bundle.users import UserTable

T = TypeVar("T")
VERSION = re.compile(r"\d+(?:[._-]\d+)*")  # 7, 1.2, 20261123-1: other folders are not versions


def resolve_bundle(path: str | Path) -> Path:
    """``bundles/<name>/<version>`` as given, or the newest complete version under
    ``bundles/<name>/``: version folders are numbers (parts separated by ``.-_``,
    compared numerically); any other folder (``backup``, an export's temporary
    ``.12.tmp-1``) is not a version and is ignored."""
    path = Path(path)
    if (path / MANIFEST).exists():
        return path
    if not path.is_dir():
        raise BundleError(f"{path}: no such bundle folder")
    versions = [p for p in path.iterdir() if p.is_dir() and VERSION.fullmatch(p.name)]
    complete = [p for p in versions if (p / MANIFEST).exists()]
    if not complete:
        raise BundleError(f"{path}: no bundle here (no {MANIFEST}, no version folder with one)")
    return max(complete, key=lambda p: _version_key(p.name))


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.split(r"[._-]", name))


def index_dimension(path: Path) -> float:
    """The vector width an hnswlib index file was built for, from its header: six
    little-endian size_t fields, of which the data of an element spans
    ``label_offset - offset_data`` bytes (float32 components)."""
    with open(path, "rb") as handle:
        header = handle.read(48)
    if len(header) < 48:
        raise BundleError(f"{path}: too short for an HNSW index")
    *_, label_offset, offset_data = struct.unpack("<6Q", header)
    return (label_offset - offset_data) / 4


def _graph(where: Path, what: str, load: Callable[[], T]) -> T:
    """``load()`` an onnxruntime-backed part, or ``BundleError`` naming it and why."""
    try:
        return load()
    except Exception as error:  # onnxruntime raises its own exception types
        raise BundleError(f"{where}: cannot load {what} ({error})") from None


def verify(path: Path) -> tuple[Manifest, str]:
    """Check the manifest and every file's size and SHA-256; return the manifest and
    the bundle's content identity (the SHA-256 of ``manifest.json``, which holds
    every file's checksum)."""
    manifest_path = path / MANIFEST
    if not manifest_path.exists():
        raise BundleError(f"{path}: incomplete bundle, {MANIFEST} is missing")
    raw = manifest_path.read_bytes()
    manifest = Manifest.from_json(raw.decode("utf-8", errors="replace"), str(manifest_path))
    required = [*REQUIRED_FILES, manifest.encoder.file]
    if manifest.reranker is not None:
        required.append(manifest.reranker.file)
    if manifest.users is not None:
        required += [manifest.users.vectors, manifest.users.ids]
    if manifest.stateful is not None:
        required += [manifest.stateful.step.file, manifest.stateful.readout.file]
    if manifest.item_encoder is not None:
        required.append(manifest.item_encoder.file)
    for name in required:
        if name not in manifest.files:
            raise BundleError(f"{path}: manifest does not list {name}")
    for name, entry in manifest.files.items():
        file = path / name
        if Path(name).name != name:
            raise BundleError(f"{path}: manifest names a file outside the bundle: {name!r}")
        if not file.exists():
            raise BundleError(f"{path}: incomplete bundle, {name} is missing")
        size = file.stat().st_size
        if size != entry.bytes:
            raise BundleError(f"{file}: {size} bytes, manifest says {entry.bytes} (truncated?)")
        if sha256(file) != entry.sha256:
            raise BundleError(f"{file}: checksum mismatch, the file is damaged")
    return manifest, hashlib.sha256(raw).hexdigest()


@dataclass(frozen=True)
class Bundle:
    """A verified, loaded bundle; immutable, shared by concurrent requests."""

    path: Path
    manifest: Manifest
    identity: str  # SHA-256 of manifest.json: the bundle's content, not its name
    vectors: np.ndarray  # (I, D) float32, bias folded in as the manifest's semantics say
    items: ItemTable
    users: UserTable | None
    index: Any  # hnswlib.Index
    encoder: Encoder
    reranker: Reranker | None = None  # the second stage, when the manifest has one
    states: StateEncoder | None = None  # step and readout, when the model is stateful
    item_encoder: ItemEncoder | None = None  # metadata -> item vector, when the model has one
    live: int = 0  # rows at the end registered while serving (not in the HNSW index)

    @property
    def readout_edges(self) -> tuple[float, ...] | None:
        """The time edges of a stateful readout (``StatefulSpec.readout_edges``); None
        when the bundle is not stateful or its readout reads the time continuously."""
        stateful = self.manifest.stateful
        return None if stateful is None else stateful.readout_edges

    @property
    def indexed(self) -> int:
        """Rows the HNSW index holds: the bundle's own items."""
        return self.manifest.item_count - self.live

    def with_live_items(self, ids: Sequence[str], metadata: Sequence[dict[str, str]]) -> Bundle:
        """This bundle with items it does not know appended after its rows, their vectors
        from the item encoder (``service.core.live_items``). The view's identity adds the
        items' digest, so what was cached for the plain bundle is not reused; its first 16
        characters, the users' state key, stay."""
        assert self.item_encoder is not None and not self.live
        vectors = np.concatenate([self.vectors, self.item_encoder.encode(metadata)])
        vectors.setflags(write=False)
        categories = [m.get("categories", "") for m in metadata]
        items = self.items.extended(ids, categories)
        manifest = replace(self.manifest, item_count=len(vectors))
        identity = f"{self.identity}+{items.digest[:16]}"
        return replace(self, manifest=manifest, identity=identity, vectors=vectors, items=items,
                       live=len(ids))  # fmt: skip

    @property
    def version(self) -> str:
        return f"{self.manifest.name}/{self.manifest.version}"

    @property
    def default_event_type(self) -> str:
        """``view`` when the model knows it, else its first event type."""
        types = self.manifest.event_types
        return "view" if "view" in types else (types[0] if types else "interaction")

    @cached_property
    def _event_codes(self) -> dict[str, int]:
        return {name: k for k, name in enumerate(self.manifest.event_types)}

    def event_type_codes(self, names: Sequence[str]) -> np.ndarray:
        """(n,) int64 codes of event type names in the manifest's vocabulary; a type the
        model was not trained on (the store takes any of the server's vocabulary) is
        encoded as the model's default type."""
        default = self._event_codes.get(self.default_event_type, 0)
        lookup = map(self._event_codes.get, names, repeat(default))
        return np.fromiter(lookup, dtype=np.int64, count=len(names))

    def user_context(self, user_ids: Sequence[str]) -> UserContext | None:
        """The per-user encoder inputs of ``user_ids`` (None for a bundle without users)."""
        if self.users is None:
            return None
        return self.users.context(self.users.rows(user_ids))

    @classmethod
    def load(
        cls, path: str | Path, providers: Sequence[str] | None = None, threads: int = 1
    ) -> Bundle:
        import hnswlib

        folder = resolve_bundle(path)
        manifest, identity = verify(folder)
        m = manifest
        try:
            vectors = np.load(folder / ITEMS, allow_pickle=False)
        except ValueError as error:
            raise BundleError(f"{folder / ITEMS}: not a numpy array ({error})") from None
        expected = (m.item_count, m.dim)
        if vectors.shape != expected or vectors.dtype != np.float32:
            raise BundleError(
                f"{folder / ITEMS}: {vectors.dtype}{vectors.shape}, manifest says float32{expected}"
            )
        vectors.setflags(write=False)
        items = ItemTable.read(folder / ITEM_TABLE, m.item_count)
        users = None
        if m.users is not None:
            users = UserTable.read(
                folder / m.users.vectors, folder / m.users.ids, m.users.count, m.users.dim
            )
        form = m.index.form
        points = form.item_vectors(vectors[:1])  # the index's own dimension
        stored_dim = index_dimension(folder / INDEX)
        if stored_dim != points.shape[1]:
            raise BundleError(
                f"{folder / INDEX}: an index of {stored_dim:g}-d vectors, the bundle's index form "
                f"gives {points.shape[1]}-d"
            )
        index = hnswlib.Index(space=form.space, dim=points.shape[1])
        try:
            index.load_index(str(folder / INDEX), max_elements=m.item_count)
        except RuntimeError as error:
            raise BundleError(f"{folder / INDEX}: cannot load the HNSW index ({error})") from None
        if index.get_current_count() != m.item_count:
            raise BundleError(
                f"{folder / INDEX}: {index.get_current_count()} items, manifest says {m.item_count}"
            )
        labels = np.asarray(index.get_ids_list(), dtype=np.int64)
        if len(labels) and (labels.min() < 0 or labels.max() >= m.item_count):
            raise BundleError(f"{folder / INDEX}: labels outside rows 0..{m.item_count - 1}")
        probe = labels[: min(len(labels), 4)]
        points = form.item_vectors(vectors[probe])
        stored = np.asarray(index.get_items(probe)) if len(probe) else points
        if stored.shape != points.shape or not np.allclose(stored, points, atol=1e-6):
            raise BundleError(f"{folder / INDEX}: indexes other vectors than {ITEMS}")
        if m.index.ef_search < 1:
            raise BundleError(f"{folder}: index.ef_search must be >= 1, got {m.index.ef_search}")
        index.set_ef(m.index.ef_search)
        encoder = _graph(
            folder / m.encoder.file,
            "the encoder",
            lambda: Encoder(folder / m.encoder.file, m.encoder, providers, threads),
        )
        providers = encoder.providers
        reranker = None
        if (r := m.reranker) is not None:
            if r.items_sha256 != items.digest:
                raise BundleError(
                    f"{folder / r.file}: aligned to another item table than "
                    f"{ITEM_TABLE} (item ids digest differs)"
                )
            reranker = _graph(
                folder / r.file,
                "the re-ranker",
                lambda: Reranker(folder / r.file, r.history, providers, threads),
            )
        states = None
        if (st := m.stateful) is not None:
            states = _graph(
                folder, "the stateful graphs", lambda: StateEncoder(folder, st, providers, threads)
            )
        item_encoder = None
        if (ie := m.item_encoder) is not None:
            item_encoder = _graph(
                folder / ie.file,
                "the item encoder",
                lambda: ItemEncoder(folder, ie, providers, threads),
            )
        return cls(
            folder, manifest, identity, vectors, items, users, index, encoder, reranker, states,
            item_encoder,
        )  # fmt: skip
