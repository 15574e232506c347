"""What every offline job starts from: an event log (``DataSource``) and a protocol
(``SplitSpec``) that cuts it into training events and validation/test users."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

from training.data.interactions import Interactions
from training.data.readers import ColumnMap, FeatureFiles, load_interactions
from training.data.splits import Split, split


@dataclass(frozen=True)
class DataSource:
    """A log on disk: ``format`` movielens | recbole | csv | parquet (``training.data.readers``)."""

    path: str
    format: str
    columns: ColumnMap = field(default_factory=ColumnMap)
    sep: str = ","
    min_value: float | None = None  # keep events with value >= this (e.g. rating 4)
    timestamp_unit: str = "s"  # of numeric timestamps: s | ms
    features: FeatureFiles = field(default_factory=FeatureFiles)  # item/user metadata files

    def load(self) -> Interactions:
        data = load_interactions(
            self.path, self.format, self.columns, self.sep, self.timestamp_unit
        )
        if self.features.items or self.features.users:
            data = self.features.attach(data, self.sep)
        if self.min_value is not None:
            data = data.select(data.value >= self.min_value)
        return data


@dataclass(frozen=True)
class SplitSpec:
    """An evaluation protocol (``training.data.splits``) with its parameters."""

    protocol: str = "leave-last-out"
    seed: int = 0
    params: dict[str, Any] = field(default_factory=dict)

    def apply(self, data: Interactions) -> Split:
        return split(data, self.protocol, seed=self.seed, **dict(self.params))


def parse_model_params(specs: list[str]) -> dict[str, dict[str, Any]]:
    """``["ease.l2=200", "led.loss='bpr'"]`` -> ``{"ease": {"l2": 200}, ...}``."""
    params: dict[str, dict[str, Any]] = {}
    for spec in specs:
        key, sep, raw = spec.partition("=")
        model, dot, name = key.partition(".")
        if not sep or not dot or not model or not name:
            raise ValueError(f"--param {spec!r}: expected MODEL.NAME=VALUE, e.g. ease.l2=200")
        params.setdefault(model, {})[name] = parse_value(raw)
    return params


def parse_value(raw: str) -> Any:
    """A Python literal (``200``, ``0.5``, ``'bpr'``, ``(1, 2)``), else the bare word."""
    try:
        return ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        return raw  # bare words are strings: led.loss=bpr
