"""Typed, nested model configurations built from ``--param NAME=VALUE`` pairs.

A model's config is a frozen dataclass whose fields may be dataclasses too
(``LEDConfig.train: TrainConfig``). Parameters may name a field by its path
(``train.max_epochs=5``) or by its bare name when that name is unique in the
tree (``max_epochs=5``), so the same ``--param max_epochs=N`` bounds every
torch model. Unknown or ambiguous names, and values of the wrong type, are
refused with a message that lists the known ones.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, TypeVar

T = TypeVar("T")


def leaf_paths(cls: type, prefix: str = "") -> dict[str, str]:
    """Dotted path of every non-dataclass field, by path (``train.lr`` -> type name)."""
    hints = typing.get_type_hints(cls)
    out: dict[str, str] = {}
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        if dataclasses.is_dataclass(tp):
            out.update(leaf_paths(tp, f"{prefix}{f.name}."))  # type: ignore[arg-type]
        else:
            out[f"{prefix}{f.name}"] = getattr(tp, "__name__", str(tp))
    return out


def _flatten(params: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def resolve(cls: type, params: dict[str, Any], owner: str) -> dict[str, Any]:
    """``params`` (flat names, dotted paths or nested dicts) keyed by full dotted path."""
    paths = leaf_paths(cls)
    by_name: dict[str, list[str]] = {}
    for path in paths:
        by_name.setdefault(path.rsplit(".", 1)[-1], []).append(path)
    out: dict[str, Any] = {}
    for key, value in _flatten(params).items():
        if key in paths:
            path = key
        elif "." not in key and len(by_name.get(key, [])) == 1:
            path = by_name[key][0]
        elif "." not in key and key in by_name:
            raise ValueError(f"{owner}: parameter {key!r} is ambiguous; use one of {by_name[key]}")
        else:
            raise ValueError(
                f"{owner}: unknown parameter {key!r}; known: {', '.join(sorted(paths))}"
            )
        if path in out:
            raise ValueError(f"{owner}: parameter {path!r} given twice")
        out[path] = value
    return out


def _coerce(tp: Any, value: Any, path: str, owner: str) -> Any:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (tp,) = [a for a in args if a is not type(None)]
        origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is tuple and isinstance(value, (list, tuple)):
        return tuple(value)
    if origin is tuple and isinstance(value, str):
        return tuple(v for v in value.split(",") if v)
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    check = origin or tp
    if isinstance(check, type) and not isinstance(value, check):
        raise ValueError(f"{owner}: {path} must be {tp.__name__}, got {value!r}")
    if check is int and isinstance(value, bool):
        raise ValueError(f"{owner}: {path} must be int, got {value!r}")
    return value


def _default(f: dataclasses.Field) -> Any:
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return f.default


def build(cls: type[T], params: dict[str, Any], owner: str) -> T:
    """An instance of ``cls`` with ``params`` (see ``resolve``) over its defaults;
    a nested config starts from the default its parent declares for it."""
    return _build(cls, resolve(cls, params, owner), owner, "", None)


def _build(cls: type[T], values: dict[str, Any], owner: str, prefix: str, base: Any) -> T:
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        path = f"{prefix}{f.name}"
        tp = hints[f.name]
        start = getattr(base, f.name) if base is not None else _default(f)
        if dataclasses.is_dataclass(tp):
            kwargs[f.name] = _build(tp, values, owner, f"{path}.", start)  # type: ignore[arg-type]
        elif path in values:
            kwargs[f.name] = _coerce(tp, values[path], path, owner)
        elif start is not dataclasses.MISSING:
            kwargs[f.name] = start
    try:
        return cls(**kwargs)
    except ValueError as error:
        raise ValueError(f"{owner}: {error}") from None
