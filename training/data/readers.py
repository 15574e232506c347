"""Readers that turn interaction files into ``Interactions``.

Formats (``--format``):

- ``movielens``: ``u.data`` (ML-100K, tab separated) or ``ratings.dat``
  (ML-1M/10M, ``::`` separated), with ``u.item``/``u.user`` or
  ``movies.dat``/``users.dat`` beside them as features.
- ``recbole``: RecBole atomic files, a folder ``<name>/`` holding
  ``<name>.inter`` and optionally ``<name>.item`` / ``<name>.user``; headers are
  ``field:type``. ``rating`` becomes the event value, ``event_type`` the type.
- ``csv`` / ``parquet``: one event per row with a column mapping
  (``user=...,item=...,timestamp=...[,event_type=...][,value=...]``).

Timestamps: unix seconds (or milliseconds, ``timestamp_unit="ms"``), ISO-8601
text (``2024-05-01T12:00:00Z``; no zone means UTC) or parquet datetimes.

Item and user metadata files (``FeatureFiles``: CSV or Parquet, keyed by an id
column) attach to a log of any format, replacing the format's own tables: a
``categories`` column (a list, or text split at ``|``, ``,`` or ``;``) becomes
the items' categories, every other column a feature. Every problem is raised as
``DataFormatError`` naming file, line and column: never a bare pandas traceback.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import pandas as pd

from training.data.errors import DataFormatError
from training.data.interactions import Interactions

FORMATS = ("movielens", "recbole", "csv", "parquet")
CATEGORY_COLUMNS = ("categories", "category", "class", "genres", "genre")
UNITS = {"s": 1.0, "ms": 1e-3}  # seconds per unit of a numeric timestamp


@dataclass(frozen=True)
class ColumnMap:
    """Which source column holds each event field (``None``: absent)."""

    user: str = "user_id"
    item: str = "item_id"
    timestamp: str = "timestamp"
    event_type: str | None = None
    value: str | None = None

    @classmethod
    def parse(cls, spec: str | None) -> ColumnMap:
        """Parse ``"user=uid,item=iid,timestamp=ts,event_type=kind,value=v"``."""
        if not spec:
            return cls()
        known = {f.name for f in fields(cls)}
        mapping: dict[str, str] = {}
        for part in spec.split(","):
            key, sep, column = part.partition("=")
            key = key.strip()
            if not sep or key not in known or not column.strip():
                raise ValueError(
                    f"--columns: bad entry {part!r}; expected FIELD=COLUMN with FIELD in "
                    f"{sorted(known)}"
                )
            mapping[key] = column.strip()
        return cls(**mapping)


@dataclass(frozen=True)
class FeatureFiles:
    """Item and user metadata files beside an event log (CSV or Parquet, by suffix)."""

    items: str | None = None
    users: str | None = None
    item_key: str = "item_id"  # the id column of the items file
    user_key: str = "user_id"
    categories: str | None = None  # the items file's category column (default: a known name)

    def attach(self, data: Interactions, sep: str = ",") -> Interactions:
        """``data`` with these files' tables in place of its own."""
        items = users = None
        if self.items:
            items = _feature_file(Path(self.items), self.item_key, sep)
            if self.categories and self.categories not in items.columns:
                raise DataFormatError(self.items, f"missing column '{self.categories}'", line=1)
            column = self.categories or next((c for c in CATEGORY_COLUMNS if c in items), None)
            if column is not None:  # canonical even when it is called 'categories' already
                items = _with_categories(items, column, r"[|,;]")
        if self.users:
            users = _feature_file(Path(self.users), self.user_key, sep)
        return data.with_features(items, users)


def load_interactions(
    path: str | Path,
    fmt: str,
    columns: ColumnMap | None = None,
    sep: str = ",",
    timestamp_unit: str = "s",
) -> Interactions:
    """Read ``path`` in format ``fmt`` into ``Interactions`` (``timestamp_unit``: ``s``
    or ``ms``, of numeric timestamps in csv/parquet)."""
    if timestamp_unit not in UNITS:
        raise ValueError(f"timestamp unit: {timestamp_unit!r}; known: {', '.join(UNITS)}")
    unit = UNITS[timestamp_unit]
    cols = columns or ColumnMap()
    readers: dict[str, Callable[[Path], Interactions]] = {
        "movielens": _read_movielens,
        "recbole": _read_recbole,
        "csv": lambda p: _from_frame(_read_text_table(p, sep), p, cols, 2, unit=unit),
        "parquet": lambda p: _from_frame(_read_parquet(p), p, cols, 1, unit=unit),
    }
    if fmt not in readers:
        raise DataFormatError(path, f"unknown format {fmt!r}; known formats: {', '.join(FORMATS)}")
    path = Path(path)
    if not path.exists():
        raise DataFormatError(path, "no such file or folder")
    return readers[fmt](path)


# --- generic table -> Interactions ------------------------------------------------------


def _from_frame(
    frame: pd.DataFrame,
    path: Path,
    columns: ColumnMap,
    first_line: int,
    item_features: pd.DataFrame | None = None,
    user_features: pd.DataFrame | None = None,
    unit: float = 1.0,
) -> Interactions:
    """Validate the mapped columns of ``frame`` and build ``Interactions``.

    ``first_line`` is the file line of the frame's first row (2 below a header),
    so errors point at the line an editor shows.
    """
    if frame.empty:
        raise DataFormatError(path, "no events: the file has a header but no rows")
    required = {"user": columns.user, "item": columns.item, "timestamp": columns.timestamp}
    optional = {"event_type": columns.event_type, "value": columns.value}
    for name in [*required.values(), *(c for c in optional.values() if c)]:
        if name not in frame.columns:
            found = ", ".join(map(str, frame.columns))
            raise DataFormatError(
                path, f"missing column '{name}' (found: {found})", line=first_line - 1 or None
            )
    for name in (columns.user, columns.item):
        _require_present(frame[name], path, name, first_line)
    timestamps = _timestamps(frame[columns.timestamp], path, columns.timestamp, first_line, unit)
    values = None
    if columns.value:
        values = _numeric(frame[columns.value], path, columns.value, first_line)
    event_types = None
    if columns.event_type:
        _require_present(frame[columns.event_type], path, columns.event_type, first_line)
        event_types = frame[columns.event_type].astype(str).to_numpy()
    return Interactions.build(
        frame[columns.user].to_numpy(),
        frame[columns.item].to_numpy(),
        timestamps,
        event_types=event_types,
        values=values,
        item_features=item_features,
        user_features=user_features,
        source=str(path),
    )


def _require_present(column: pd.Series, path: Path, name: str, first_line: int) -> None:
    missing = column.isna().to_numpy() | (column.astype(str).str.strip() == "").to_numpy()
    if missing.any():
        row = int(np.flatnonzero(missing)[0])
        raise DataFormatError(path, "missing value", line=row + first_line, column=name)


def _timestamps(
    column: pd.Series, path: Path, name: str, first_line: int, unit: float
) -> np.ndarray:
    """Unix seconds of a timestamp column: numbers (times ``unit``), ISO-8601 text or
    datetimes, whichever the first row is; the first cell that is not is reported by
    line."""
    if not pd.api.types.is_datetime64_any_dtype(column):
        if pd.notna(pd.to_numeric(column.iloc[:1], errors="coerce")).all():  # as the first row
            return _numeric(column, path, name, first_line) * unit
        stamps = pd.to_datetime(column, utc=True, format="ISO8601", errors="coerce")
        if stamps.isna().any():
            row = int(np.flatnonzero(stamps.isna().to_numpy())[0])
            raise DataFormatError(
                path,
                f"value {column.iloc[row]!r} is neither a number nor an ISO-8601 time",
                line=row + first_line,
                column=name,
            )
        column = stamps
    stamps = pd.to_datetime(column, utc=True)
    if stamps.isna().any():
        row = int(np.flatnonzero(stamps.isna().to_numpy())[0])
        raise DataFormatError(path, "missing timestamp", line=row + first_line, column=name)
    seconds = (stamps - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)
    return seconds.to_numpy(dtype=np.float64)


def _numeric(column: pd.Series, path: Path, name: str, first_line: int) -> np.ndarray:
    """Column as float64; the first non-numeric cell is reported by line."""
    numbers = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(numbers)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataFormatError(
            path,
            f"value {column.iloc[row]!r} is not a number",
            line=row + first_line,
            column=name,
        )
    return numbers


# --- text and parquet tables ----------------------------------------------------------------


def _read_text_table(
    path: Path, sep: str, header: bool = True, names: list[str] | None = None
) -> pd.DataFrame:
    """Read a delimited file as strings; tokenizer and encoding errors name the line."""
    if path.is_dir():
        raise DataFormatError(path, "expected a file, found a folder")
    raw = path.read_bytes()
    if not raw.strip():
        raise DataFormatError(path, "the file is empty")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")  # MovieLens feature files are latin-1
    if len(sep) > 1:  # pandas' C parser takes one character: '::' -> '\t'
        text, sep = text.replace(sep, "\t"), "\t"
    try:
        return pd.read_csv(
            io.StringIO(text),
            sep=sep,
            header=0 if header else None,
            names=names,
            dtype=str,
            keep_default_na=False,
            na_values=[""],
            engine="c",
        )
    except pd.errors.ParserError as error:
        match = re.search(r"line (\d+)", str(error))
        line = int(match.group(1)) if match else None
        raise DataFormatError(path, f"malformed row: {error}".strip(), line=line) from None


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except Exception as error:  # pyarrow raises many types for a damaged file
        raise DataFormatError(path, f"not a readable parquet file ({error})") from None


def _feature_file(path: Path, key: str, sep: str) -> pd.DataFrame:
    """A metadata file keyed by its ``key`` column (parquet by suffix, else delimited)."""
    if not path.exists():
        raise DataFormatError(path, "no such file")
    parquet = path.suffix.lower() in (".parquet", ".pq")
    frame = _read_parquet(path) if parquet else _read_text_table(path, sep)
    return _keyed(frame, path, key, 1 if parquet else 2)


def _keyed(frame: pd.DataFrame, path: Path, key: str, first_line: int) -> pd.DataFrame:
    """A feature table indexed by its (present, string) ``key`` column."""
    if key not in frame.columns:
        found = ", ".join(map(str, frame.columns))
        raise DataFormatError(path, f"missing id column '{key}' (found: {found})", line=1)
    _require_present(frame[key], path, key, first_line)
    return frame.set_index(frame[key].astype(str)).drop(columns=[key])


# --- RecBole atomic files ------------------------------------------------------------------


def _read_recbole(path: Path) -> Interactions:
    inter = path / f"{path.name}.inter" if path.is_dir() else path
    if inter.suffix != ".inter":
        raise DataFormatError(path, "expected a RecBole folder or a .inter file")
    if not inter.exists():
        raise DataFormatError(inter, "no such file (a RecBole folder holds <name>.inter)")
    frame = _read_atomic(inter)
    columns = ColumnMap(
        user="user_id",
        item="item_id",
        timestamp="timestamp",
        event_type="event_type" if "event_type" in frame.columns else None,
        value="rating" if "rating" in frame.columns else None,
    )
    items = _atomic_features(inter.with_suffix(".item"), "item_id")
    users = _atomic_features(inter.with_suffix(".user"), "user_id")
    return _from_frame(frame, inter, columns, 2, _with_categories(items), users)


def _read_atomic(path: Path) -> pd.DataFrame:
    frame = _read_text_table(path, "\t")
    frame.columns = [str(c).split(":", 1)[0] for c in frame.columns]
    return frame


def _atomic_features(path: Path, key: str) -> pd.DataFrame | None:
    if not path.exists():
        return None
    return _keyed(_read_atomic(path), path, key, 2)


def _with_categories(
    features: pd.DataFrame | None, column: str | None = None, split: str = r"[ |,]+"
) -> pd.DataFrame | None:
    """Add the canonical ``categories`` column ('|'-joined) from ``column`` (default: a
    genre/class column, unless the table has ``categories`` already); a cell is a list
    or text split at ``split`` (RecBole and MovieLens tokens: spaces, '|' and ',')."""
    if features is None:
        return None
    if column is None:
        if "categories" in features.columns:
            return features
        column = next((c for c in CATEGORY_COLUMNS if c in features.columns), None)
        if column is None:
            return features
    return features.assign(categories=features[column].map(lambda v: _categories_of(v, split)))


def _categories_of(value: object, split: str) -> str:
    """A cell of a category column as the canonical '|'-joined string."""
    if isinstance(value, (list, tuple, np.ndarray)):
        parts = [str(v).strip() for v in value]
    elif value is None or (isinstance(value, float) and np.isnan(value)):
        parts = []
    else:
        parts = [p.strip() for p in re.split(split, str(value))]
    return "|".join(p for p in parts if p)


# --- MovieLens ---------------------------------------------------------------------------

ML100K_GENRES = (
    "unknown Action Adventure Animation Children's Comedy Crime Documentary Drama Fantasy "
    "Film-Noir Horror Musical Mystery Romance Sci-Fi Thriller War Western"
).split(" ")


def _read_movielens(path: Path) -> Interactions:
    folder = path if path.is_dir() else path.parent
    candidates = [path] if path.is_file() else [folder / "u.data", folder / "ratings.dat"]
    ratings = next((p for p in candidates if p.exists()), None)
    if ratings is None:
        raise DataFormatError(path, "no MovieLens ratings file (u.data or ratings.dat) here")
    names = ["user_id", "item_id", "rating", "timestamp"]
    if ratings.name.endswith(".dat"):
        frame = _read_text_table(ratings, "::", header=False, names=names)
        items, users = _ml1m_features(folder)
    else:
        frame = _read_text_table(ratings, "\t", header=False, names=names)
        items, users = _ml100k_features(folder)
    columns = ColumnMap(value="rating")
    return _from_frame(frame, ratings, columns, 1, _with_categories(items), users)


def _ml100k_features(folder: Path) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    items = users = None
    if (folder / "u.item").exists():
        names = ["item_id", "title", "release_date", "video_release_date", "url", *ML100K_GENRES]
        raw = _read_text_table(folder / "u.item", "|", header=False, names=names).set_index(
            "item_id"
        )
        flags = raw[ML100K_GENRES].to_numpy() == "1"
        genres = np.array(ML100K_GENRES, dtype=object)
        items = raw[["title", "release_date"]].copy()
        items["categories"] = ["|".join(genres[row]) for row in flags]
    if (folder / "u.user").exists():
        names = ["user_id", "age", "gender", "occupation", "zip_code"]
        users = _read_text_table(folder / "u.user", "|", header=False, names=names)
        users = users.set_index("user_id")
    return items, users


def _ml1m_features(folder: Path) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    items = users = None
    if (folder / "movies.dat").exists():
        names = ["item_id", "title", "genres"]
        items = _read_text_table(folder / "movies.dat", "::", header=False, names=names)
        items = items.set_index("item_id")
    if (folder / "users.dat").exists():
        names = ["user_id", "gender", "age", "occupation", "zip_code"]
        users = _read_text_table(folder / "users.dat", "::", header=False, names=names)
        users = users.set_index("user_id")
    return items, users
