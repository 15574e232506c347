"""The one in-memory representation of an interaction log.

``Interactions`` holds every event as parallel numpy arrays sorted by
(user, timestamp), with string ids mapped to dense indices by two ``IdMap``s
and optional item/user feature tables kept alongside. ``sequences()`` views
the same events per user as ``bundle.history.Sequences`` (a CSR layout), the
history type models consume and the server serves.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from bundle.history import Sequences

DEFAULT_EVENT_TYPE = "interaction"


@dataclass(frozen=True)
class IdMap:
    """External string ids <-> dense indices ``0..n-1``.

    ``ids[k]`` is the external id of index ``k``. Lookups are vectorised with a
    pandas index, so mapping a million ids costs one hash pass.
    """

    ids: np.ndarray  # (n,) object array of str
    _index: pd.Index = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        ids = np.asarray(self.ids, dtype=object)
        object.__setattr__(self, "ids", ids)
        index = pd.Index(ids)
        if not index.is_unique:
            raise ValueError("IdMap ids must be unique")
        object.__setattr__(self, "_index", index)

    @classmethod
    def factorize(cls, values: np.ndarray | pd.Series) -> tuple[IdMap, np.ndarray]:
        """Map raw values to dense codes; ids are sorted so the map is order-independent."""
        codes, uniques = pd.factorize(pd.Series(values).astype(str), sort=True)
        return cls(np.asarray(uniques, dtype=object)), codes.astype(np.int32)

    def __len__(self) -> int:
        return len(self.ids)

    def index_of(self, ids: Any) -> np.ndarray:
        """Dense indices of external ids, ``-1`` where an id is unknown."""
        values = np.atleast_1d(np.asarray(ids, dtype=object)).astype(str)
        return self._index.get_indexer(pd.Index(values))

    def save(self, path: str | Path) -> None:
        """Write one external id per line; the line number (from 0) is the index."""
        Path(path).write_text("".join(f"{i}\n" for i in self.ids), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> IdMap:
        text = Path(path).read_text(encoding="utf-8")
        return cls(np.asarray(text.splitlines(), dtype=object))


@dataclass(frozen=True)
class Interactions:
    """An event log: parallel arrays sorted by (user, timestamp, arrival order).

    ``user`` and ``item`` are dense indices into ``users`` / ``items``;
    ``event_type`` indexes ``event_types``. Feature tables, when present, are
    indexed by dense index and hold the raw columns of the source file.
    """

    user: np.ndarray  # (E,) int32
    item: np.ndarray  # (E,) int32
    timestamp: np.ndarray  # (E,) float64, unix seconds
    event_type: np.ndarray  # (E,) int8
    value: np.ndarray  # (E,) float32
    users: IdMap
    items: IdMap
    event_types: tuple[str, ...] = (DEFAULT_EVENT_TYPE,)
    item_features: pd.DataFrame | None = None
    user_features: pd.DataFrame | None = None
    source: str = ""

    @classmethod
    def build(
        cls,
        user_ids: Any,
        item_ids: Any,
        timestamps: Any,
        *,
        event_types: Any = None,
        values: Any = None,
        item_features: pd.DataFrame | None = None,
        user_features: pd.DataFrame | None = None,
        source: str = "",
    ) -> Interactions:
        """Map external ids to dense indices, sort, and attach feature tables.

        Feature tables are keyed by external id (their index); rows for ids with
        no event are dropped (``stats()`` reports how many) and missing ids get
        empty rows, so ``item_features.loc[k]`` exists for every item ``k``.
        """
        users, user = IdMap.factorize(user_ids)
        items, item = IdMap.factorize(item_ids)
        n = len(user)
        ts = np.asarray(timestamps, dtype=np.float64)
        if event_types is None:
            types: tuple[str, ...] = (DEFAULT_EVENT_TYPE,)
            etype = np.zeros(n, np.int8)
        else:
            codes, uniques = pd.factorize(pd.Series(event_types).astype(str), sort=True)
            if len(uniques) > 127:
                raise ValueError(f"at most 127 event types are supported, got {len(uniques)}")
            types, etype = tuple(str(u) for u in uniques), codes.astype(np.int8)
        vals = np.ones(n, np.float32) if values is None else np.asarray(values, np.float32)
        order = np.lexsort((np.arange(n), ts, user))
        return cls(
            user[order],
            item[order],
            ts[order],
            etype[order],
            vals[order],
            users,
            items,
            types,
            _align_features(item_features, items),
            _align_features(user_features, users),
            source,
        )

    def __len__(self) -> int:
        return len(self.user)

    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_items(self) -> int:
        return len(self.items)

    def sequences(self) -> Sequences:
        """Every user's events as one row per dense user index (empty rows allowed)."""
        indptr = np.zeros(self.n_users + 1, dtype=np.int64)
        np.cumsum(np.bincount(self.user, minlength=self.n_users), out=indptr[1:])
        return Sequences(indptr, self.item, self.timestamp, self.event_type, self.value)

    def with_features(
        self, items: pd.DataFrame | None = None, users: pd.DataFrame | None = None
    ) -> Interactions:
        """These tables (keyed by external id) in place of the log's own (None: keep)."""
        return dataclasses.replace(
            self,
            item_features=self.item_features
            if items is None
            else _align_features(items, self.items),
            user_features=self.user_features
            if users is None
            else _align_features(users, self.users),
        )

    def select(self, mask: np.ndarray) -> Interactions:
        """The events where ``mask`` is true; id maps and features are kept whole."""
        mask = np.asarray(mask, dtype=bool)
        return Interactions(
            self.user[mask],
            self.item[mask],
            self.timestamp[mask],
            self.event_type[mask],
            self.value[mask],
            self.users,
            self.items,
            self.event_types,
            self.item_features,
            self.user_features,
            self.source,
        )

    def of_types(self, names: tuple[str, ...] | list[str]) -> Interactions:
        """Only the events whose type is in ``names`` (all events when empty)."""
        if not names:
            return self
        return self.select(np.isin(self.event_type, [self.event_type_code(n) for n in names]))

    def event_type_code(self, name: str) -> int:
        """Code of an event type name, ``-1`` when the log has no such type."""
        return self.event_types.index(name) if name in self.event_types else -1

    def to_csr(self, binary: bool = True) -> sp.csr_matrix:
        """(n_users, n_items) user-item matrix; counts unless ``binary``."""
        matrix = sp.csr_matrix(
            (np.ones(len(self), np.float32), (self.user, self.item)),
            shape=(self.n_users, self.n_items),
        )
        matrix.sum_duplicates()
        if binary:
            matrix.data[:] = 1.0
        return matrix

    def stats(self) -> dict[str, Any]:
        """Summary figures for reports (counts, density, time span, lengths)."""
        lengths = np.bincount(self.user, minlength=self.n_users)
        types = np.bincount(self.event_type, minlength=len(self.event_types))
        span = (float(self.timestamp.min()), float(self.timestamp.max())) if len(self) else (0, 0)
        return {
            "source": self.source,
            "users": self.n_users,
            "items": self.n_items,
            "events": len(self),
            "density": len(self) / max(1, self.n_users * self.n_items),
            "first_timestamp": span[0],
            "last_timestamp": span[1],
            "events_per_user_median": float(np.median(lengths)) if len(lengths) else 0.0,
            "events_per_user_max": int(lengths.max()) if len(lengths) else 0,
            "event_types": {t: int(c) for t, c in zip(self.event_types, types, strict=True)},
            "item_features": [] if self.item_features is None else list(self.item_features),
            "user_features": [] if self.user_features is None else list(self.user_features),
            "item_feature_rows_without_events": _dropped(self.item_features),
            "user_feature_rows_without_events": _dropped(self.user_features),
        }


def _align_features(table: pd.DataFrame | None, ids: IdMap) -> pd.DataFrame | None:
    """Re-index a feature table from external ids to dense indices 0..n-1."""
    if table is None:
        return None
    table = table.copy()
    table.index = table.index.astype(str)
    table = table[~table.index.duplicated(keep="first")]
    known = ids.index_of(table.index)
    aligned = table.reindex(pd.Index(ids.ids, dtype=object)).reset_index(drop=True)
    aligned.attrs["rows_without_events"] = int((known < 0).sum())
    return aligned


def _dropped(table: pd.DataFrame | None) -> int:
    return 0 if table is None else int(table.attrs.get("rows_without_events", 0))
