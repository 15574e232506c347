"""Model registry: ``@register("name")`` on a class, ``create("name", **params)``.

Baselines register on import of ``training.baselines``; torch models live in
modules listed in ``_LAZY`` and are imported only when asked for, so the
evaluation harness works without the ``train`` extra.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, TypeVar

from training.models.base import Recommender

T = TypeVar("T", bound=type[Recommender])

_REGISTRY: dict[str, type[Recommender]] = {}
# name -> module that registers it (imported on demand; may need torch).
_LAZY: dict[str, str] = {
    "led": "training.models.led",
    "predictor": "training.models.predictor",
    "attrec": "training.models.attrec",
    "hrnn": "training.models.hrnn",
    "attention": "training.models.attention",
    "last-item-embedding": "training.models.embedding_similarity",
    "mean-embedding": "training.models.embedding_similarity",
}


def register(name: str) -> Callable[[T], T]:
    def decorate(cls: T) -> T:
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"model name {name!r} registered twice")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return decorate


def _load(name: str) -> None:
    importlib.import_module("training.baselines")
    if name not in _REGISTRY and name in _LAZY:
        try:
            importlib.import_module(_LAZY[name])
        except ImportError as error:
            raise ValueError(
                f"model {name!r} needs the 'train' extra ({error}); "
                "install it with: pip install torch==2.13.0 && pip install -e '.[train]'"
            ) from None


def available() -> list[str]:
    """Every model name, including those that need torch."""
    importlib.import_module("training.baselines")
    return sorted(set(_REGISTRY) | set(_LAZY))


def model_class(name: str) -> type[Recommender]:
    _load(name)
    if name not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}; available: {', '.join(available())}")
    return _REGISTRY[name]


def create(name: str, **params: Any) -> Recommender:
    return model_class(name)(**params)


def servable() -> list[str]:
    """The models that can be exported and served: retrieval models, and re-rankers as
    the second stage of a retrieval bundle (needs torch)."""
    from training.models.base import Servable

    names = available()
    return [n for n in names if issubclass(model_class(n), Servable)]


def check_servable(name: str) -> None:
    """Refuse, before any work, a model that ``recserve export`` could not serve."""
    from training.models.base import Servable

    if not issubclass(model_class(name), Servable):
        raise ValueError(
            f"model {name!r} cannot be served (it is an evaluation baseline); "
            f"models that can: {', '.join(servable())}"
        )
