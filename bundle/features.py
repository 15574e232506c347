"""Metadata columns as numbers: one ``Field`` per usable column of a feature table.

HRNN-meta (sec. 2.2-2.3) feeds item features (categories, other metadata)
and user features (age, ...) to its network. ``FeatureSchema.fit`` reads a
feature table (``Interactions.item_features`` / ``user_features``) and keeps:

- ``categories``: a ``|``-separated multi-valued column, multi-hot over its
  values seen at least ``min_count`` times, scaled to sum to one per row;
- ``category``: a text column with at most ``max_vocabulary`` distinct values
  (gender, occupation), one-hot;
- ``number``: a numeric column, standardised (missing values at the mean).

Text columns with more distinct values (titles) and identifier-like columns
(named ``id``, ``*_id``, ``*_code``, ``zip*``) are dropped: they identify a row
rather than describe it. ``encode`` turns any frame with the
same columns into a (rows, width) float32 matrix whose column blocks are the
fields in order (``slices``), so a field-aware network can read each block
with its own weights. The schema round-trips through ``to_dict`` for
checkpoints and bundles.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

KINDS = ("categories", "category", "number")
IDENTIFIER = re.compile(r"(^id$|_id$|_code$|^zip)", re.IGNORECASE)


@dataclass(frozen=True)
class Field:
    name: str
    kind: str
    vocabulary: tuple[str, ...] = ()
    mean: float = 0.0
    std: float = 1.0

    @property
    def width(self) -> int:
        return 1 if self.kind == "number" else len(self.vocabulary)

    def encode(self, column: pd.Series) -> np.ndarray:
        """(rows, width) float32 block of this field."""
        if self.kind == "number":
            values = pd.to_numeric(column, errors="coerce").to_numpy(np.float64)
            values = np.where(np.isnan(values), self.mean, values)
            return ((values - self.mean) / self.std).astype(np.float32)[:, None]
        index = {v: k for k, v in enumerate(self.vocabulary)}
        out = np.zeros((len(column), self.width), np.float32)
        for row, value in enumerate(column.tolist()):
            hits = [index[v] for v in _values(value, self.kind) if v in index]
            if hits:
                out[row, hits] = 1.0 / len(hits)
        return out


def _values(value: object, kind: str) -> list[str]:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return []
    text = str(value)
    return [v for v in text.split("|") if v] if kind == "categories" else [text]


@dataclass(frozen=True)
class FeatureSchema:
    fields: tuple[Field, ...] = ()

    @property
    def width(self) -> int:
        return sum(f.width for f in self.fields)

    @property
    def slices(self) -> list[tuple[int, int]]:
        """(start, stop) of each field's block of columns."""
        out, start = [], 0
        for f in self.fields:
            out.append((start, start + f.width))
            start += f.width
        return out

    @classmethod
    def fit(
        cls, frame: pd.DataFrame | None, max_vocabulary: int = 100, min_count: int = 2
    ) -> FeatureSchema:
        if frame is None or len(frame) == 0:
            return cls()
        fields = []
        for name in frame.columns:
            if IDENTIFIER.search(str(name)):
                continue
            column = frame[name]
            numeric = pd.to_numeric(column, errors="coerce")
            present = column.notna() & (column.astype(str).str.strip() != "")
            if name != "categories" and present.any() and numeric[present].notna().mean() > 0.9:
                values = numeric.to_numpy(np.float64)
                mean = float(np.nanmean(values))
                std = float(np.nanstd(values)) or 1.0
                fields.append(Field(str(name), "number", mean=mean, std=std))
                continue
            kind = "categories" if name == "categories" else "category"
            counts = Counter(v for value in column.tolist() for v in _values(value, kind))
            vocabulary = tuple(sorted(v for v, c in counts.items() if c >= min_count))
            if kind == "category" and not 1 < len(counts) <= max_vocabulary:
                continue
            if vocabulary:
                fields.append(Field(str(name), kind, vocabulary))
        return cls(tuple(fields))

    def encode(self, frame: pd.DataFrame | None, rows: int) -> np.ndarray:
        """(rows, width) float32; zeros for a missing frame or column."""
        out = np.zeros((rows, self.width), np.float32)
        if frame is None:
            return out
        for f, (start, stop) in zip(self.fields, self.slices, strict=True):
            if f.name in frame.columns:
                out[:, start:stop] = f.encode(frame[f.name].reset_index(drop=True))
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"fields": [vars(f) | {"vocabulary": list(f.vocabulary)} for f in self.fields]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureSchema:
        return cls(tuple(Field(**(f | {"vocabulary": tuple(f["vocabulary"])}))
                         for f in data.get("fields", [])))  # fmt: skip
