"""Request validation shared by both transports: one place, field-named errors."""

from __future__ import annotations

import math
import re
from collections.abc import Container, Sequence

from service.core.errors import InvalidArgument
from service.core.types import EventError, EventInput, RecommendRequest
from service.settings import Settings
from service.store.base import StoredEvent

# An id: any text without control characters (C0, DEL, C1) that is not all whitespace;
# the OpenAPI document states the same pattern.
_CONTROL = "\\x00-\\x1f\\x7f-\\x9f"
ID_PATTERN = f"^[^{_CONTROL}]*[^\\s{_CONTROL}][^{_CONTROL}]*$"
_ID = re.compile(ID_PATTERN)
# A category: an id without "|" (items.tsv joins an item's categories with it).
CATEGORY_PATTERN = f"^[^{_CONTROL}|]*[^\\s{_CONTROL}|][^{_CONTROL}|]*$"
# An event's value is stored as float64 but read by the models as float32: beyond this
# magnitude it would become inf in the model input.
MAX_EVENT_VALUE = 3.4028234663852886e38  # float32's largest finite value


def check_id(field: str, value: str, settings: Settings) -> None:
    if not value or not value.strip():
        raise InvalidArgument(field, "must not be empty")
    if len(value) > settings.max_id_length:
        raise InvalidArgument(field, f"longer than {settings.max_id_length} characters")
    # printable text has no control characters: the pattern only runs on the rest
    if not value.isprintable() and not _ID.fullmatch(value):
        raise InvalidArgument(field, "contains control characters")


def check_category(field: str, value: str, settings: Settings) -> None:
    """An id (``check_id``) without ``|``."""
    check_id(field, value, settings)
    if "|" in value:
        raise InvalidArgument(field, "must not contain '|'")


def check_count(field: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise InvalidArgument(field, f"must be between {low} and {high}, got {value}")


def check_recommend(
    request: RecommendRequest, settings: Settings, categories: Container[str]
) -> None:
    check_id("user_id", request.user_id, settings)
    check_count("k", request.k, 1, settings.max_k)
    if len(request.exclude_item_ids) > settings.max_events_per_call:
        raise InvalidArgument("exclude_item_ids", f"more than {settings.max_events_per_call} ids")
    for field, values in (
        ("filter.include", request.include_categories),
        ("filter.exclude", request.exclude_categories),
    ):
        unknown = [c for c in values if c not in categories]
        if unknown:
            raise InvalidArgument(field, f"unknown categories {unknown[:5]}")
    if request.now is not None and not math.isfinite(request.now):
        raise InvalidArgument("now", "must be a finite unix time")
    if request.rerank_n is not None:
        check_count("rerank_n", request.rerank_n, 0, settings.max_rerank_n)


def validate_events(
    events: Sequence[EventInput],
    settings: Settings,
    event_types: Sequence[str],
    default_type: str,
    now: float,
) -> tuple[list[StoredEvent], list[EventError]]:
    """Split a batch into accepted events (defaults filled in) and per-event errors."""
    if len(events) > settings.max_events_per_call:
        raise InvalidArgument(
            "events", f"more than {settings.max_events_per_call} events in one call"
        )
    allowed = set(event_types)
    accepted: list[StoredEvent] = []
    errors: list[EventError] = []
    horizon = now + settings.max_future_seconds
    for index, event in enumerate(events):  # write path: validation is per event by nature
        try:
            check_id("user_id", event.user_id, settings)
            check_id("item_id", event.item_id, settings)
            ts = now if event.timestamp is None else event.timestamp
            if not math.isfinite(ts) or ts < 0:
                raise InvalidArgument("timestamp", "must be a finite, non-negative unix time")
            if ts > horizon:
                raise InvalidArgument(
                    "timestamp",
                    f"{ts - now:.0f} s in the future (max {settings.max_future_seconds:.0f})",
                )
            kind = event.event_type or default_type
            if kind not in allowed:
                raise InvalidArgument("event_type", f"unknown {kind!r}; known: {sorted(allowed)}")
            value = 1.0 if event.value is None else event.value
            if not math.isfinite(value) or abs(value) > MAX_EVENT_VALUE:
                raise InvalidArgument(
                    "value", f"must be finite and at most {MAX_EVENT_VALUE:.6g} in magnitude"
                )
            if event.event_id:
                check_id("event_id", event.event_id, settings)
        except InvalidArgument as error:
            errors.append(EventError(index, error.field, error.message))
            continue
        accepted.append(
            StoredEvent(event.user_id, event.item_id, float(ts), kind, float(value), event.event_id)
        )
    return accepted, errors
