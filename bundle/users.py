"""The optional user table: per-user parameters (``users.npy``) named by ``users.tsv``.

Models with per-user parameters (AttRec's long-term vector U_u) export them
here rather than inside the ONNX graph, so the table is memory-mapped and a
user's row is read per request into the ``user_vector`` input. Users the model
never saw get zeros and ``user_known = 0``; the encoder then applies the
fall-back the manifest's ``users.unknown`` documents.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path

import numpy as np

from bundle.errors import BundleError
from bundle.inputs import UserContext


@dataclass(frozen=True)
class UserTable:
    ids: np.ndarray  # (U,) object external user ids
    row_of: dict[str, int]
    vectors: np.ndarray  # (U, d) float32, read-only

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    @classmethod
    def read(cls, vectors_path: Path, ids_path: Path, count: int, dim: int) -> UserTable:
        try:
            vectors = np.load(vectors_path, mmap_mode="r", allow_pickle=False)
        except ValueError as error:
            raise BundleError(f"{vectors_path}: not a numpy array ({error})") from None
        if vectors.shape != (count, dim) or vectors.dtype != np.float32:
            found = f"{vectors.dtype}{vectors.shape}"
            raise BundleError(f"{vectors_path}: {found}, manifest says float32{(count, dim)}")
        with open(ids_path, newline="", encoding="utf-8") as handle:
            ids = np.array([r["user_id"] for r in csv.DictReader(handle, delimiter="\t")], object)
        if len(ids) != count:
            raise BundleError(f"{ids_path}: {len(ids)} users, manifest says {count}")
        # a plain (read-only) array over the mapping: every slice of a np.memmap builds
        # another memmap object, on the request path
        return cls(ids, {u: k for k, u in enumerate(ids)}, np.asarray(vectors))

    @staticmethod
    def write(folder: Path, ids: Sequence[str], vectors: np.ndarray, vectors_name: str,
              ids_name: str) -> None:  # fmt: skip
        np.save(folder / vectors_name, np.ascontiguousarray(vectors, dtype=np.float32))
        with open(folder / ids_name, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
            writer.writerow(["row", "user_id"])
            writer.writerows(enumerate(ids))

    def rows(self, user_ids: Sequence[str]) -> np.ndarray:
        """(n,) int64 rows of external user ids, -1 for users without a row."""
        lookup = map(self.row_of.get, user_ids, repeat(-1))
        return np.fromiter(lookup, dtype=np.int64, count=len(user_ids))

    def context(self, rows: np.ndarray) -> UserContext:
        """The ``user_vector``/``user_known`` inputs of users at ``rows`` (-1: unknown)."""
        return UserContext.from_table(self.vectors, rows)
