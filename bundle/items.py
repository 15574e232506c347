"""``items.tsv``: external item ids, categories and training counts, by item row.

Columns: ``row``, ``item_id``, ``categories`` (``|``-separated), ``count``
(events in the training log, the popularity cold start's ranking), then any
other metadata column of the data, kept as text.
"""

from __future__ import annotations

import csv
import hashlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path

import numpy as np

from bundle.errors import BundleError

COLUMNS = ("row", "item_id", "categories", "count")

NO_CODES = np.zeros(0, dtype=np.int64)
NO_CODES.setflags(write=False)


@dataclass(frozen=True)
class ItemTable:
    """External ids, category sets and training counts of a bundle's items, by row."""

    ids: np.ndarray  # (I,) object
    row_of: dict[str, int]
    categories: tuple[str, ...]  # vocabulary
    category_matrix: np.ndarray  # (I, C) bool: item has category
    category_code: dict[str, int]  # vocabulary -> column of category_matrix
    row_categories: list[tuple[str, ...]]  # each row's categories, for replies
    counts: np.ndarray  # (I,) float64 training events per item

    @classmethod
    def read(cls, path: Path, item_count: int) -> ItemTable:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle, delimiter="\t")
            missing = set(COLUMNS) - set(reader.fieldnames or ())
            if missing:
                raise BundleError(f"{path}: missing column(s) {sorted(missing)}")
            rows = list(reader)
        if len(rows) != item_count:
            raise BundleError(f"{path}: {len(rows)} items, manifest says {item_count}")
        # interned, as the embedded store interns its events' ids (service.store.memory)
        ids = np.array([sys.intern(r["item_id"]) for r in rows], dtype=object)
        try:
            counts = np.array([float(r["count"]) for r in rows], dtype=np.float64)
        except ValueError as error:
            raise BundleError(f"{path}: column 'count' is not numeric ({error})") from None
        per_item = [frozenset(filter(None, (r["categories"] or "").split("|"))) for r in rows]
        vocabulary = tuple(sorted(set().union(*per_item))) if per_item else ()
        code = {c: k for k, c in enumerate(vocabulary)}
        matrix = np.zeros((item_count, len(vocabulary)), dtype=bool)
        for row, cats in enumerate(per_item):  # load time, once per bundle
            matrix[row, [code[c] for c in cats]] = True
        row_categories = [tuple(sorted(c)) for c in per_item]
        row_of = {i: k for k, i in enumerate(ids)}
        if len(row_of) != item_count:
            raise BundleError(f"{path}: item ids are not unique")
        return cls(ids, row_of, vocabulary, matrix, code, row_categories, counts)

    @staticmethod
    def write(
        path: Path,
        ids: Sequence[str],
        categories: Sequence[str],
        counts: np.ndarray,
        extra: dict[str, Sequence[str]] | None = None,
    ) -> None:
        """Write ``items.tsv``: ``categories`` as ``|``-joined text per row, ``extra``
        metadata columns kept as text."""
        extra = {k: v for k, v in (extra or {}).items() if k not in COLUMNS}
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
            writer.writerow([*COLUMNS, *extra])
            columns = [list(v) for v in extra.values()]
            for row, (item, cats, count) in enumerate(zip(ids, categories, counts, strict=True)):
                writer.writerow([row, item, cats, int(count), *(c[row] for c in columns)])

    def extended(self, ids: Sequence[str], categories: Sequence[str]) -> ItemTable:
        """This table with items appended (``|``-joined categories each, no training
        events); categories new to the table are appended to its vocabulary."""
        per_item = [tuple(sorted(set(filter(None, c.split("|"))))) for c in categories]
        vocabulary = self.categories + tuple(sorted(set().union(*per_item) - set(self.categories)))
        code = {c: k for k, c in enumerate(vocabulary)}
        matrix = np.zeros((len(self.ids) + len(ids), len(vocabulary)), dtype=bool)
        matrix[: len(self.ids), : len(self.categories)] = self.category_matrix
        for k, cats in enumerate(per_item):  # registration time, a few items
            matrix[len(self.ids) + k, [code[c] for c in cats]] = True
        new_ids = np.array([sys.intern(i) for i in ids], dtype=object)
        all_ids = np.concatenate([self.ids, new_ids])
        row_of = {**self.row_of, **{i: len(self.ids) + k for k, i in enumerate(new_ids)}}
        counts = np.concatenate([self.counts, np.zeros(len(ids))])
        return ItemTable(all_ids, row_of, vocabulary, matrix, code,
                         self.row_categories + per_item, counts)  # fmt: skip

    @property
    def digest(self) -> str:
        """What a second stage aligned to these rows records (``ids_digest``)."""
        return ids_digest(self.ids.tolist())

    def rows(self, item_ids: Sequence[str]) -> np.ndarray:
        """(n,) int64 rows of external ids, -1 for unknown ones (C-level dict lookups)."""
        lookup = map(self.row_of.get, item_ids, repeat(-1))
        return np.fromiter(lookup, dtype=np.int64, count=len(item_ids))

    def category_codes(self, names: Sequence[str]) -> np.ndarray:
        if not names:
            return NO_CODES
        return np.array([self.category_code[n] for n in names], dtype=np.int64)


def ids_digest(ids: Sequence[str]) -> str:
    """SHA-256 of the item ids, one per line, in row order: the identity of a row order."""
    return hashlib.sha256("\n".join(ids).encode("utf-8")).hexdigest()
