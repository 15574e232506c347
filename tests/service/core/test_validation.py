"""Id validation: the printable fast path accepts and refuses exactly what the pattern does;
event values the models could not read."""

from __future__ import annotations

import re

import pytest

from service.core.errors import InvalidArgument
from service.core.types import EventInput
from service.core.validation import ID_PATTERN, MAX_EVENT_VALUE, check_id, validate_events
from service.settings import Settings

SAMPLES = [
    "user-1", "é-ü-漢字", "a b", "nbsp\u00a0inside", "zero\u200bwidth", "line\u2028sep",
    "tab\tinside", "nul\x00", "del\x7f", "c1\x85", "esc\x1b[0m", "\u00a0x\u3000",
]  # fmt: skip


@pytest.mark.parametrize("value", SAMPLES)
def test_an_id_is_refused_exactly_when_the_pattern_refuses_it(value: str) -> None:
    settings = Settings(bundle="unused")
    if re.fullmatch(ID_PATTERN, value):
        check_id("user_id", value, settings)
    else:
        with pytest.raises(InvalidArgument, match="control characters") as error:
            check_id("user_id", value, settings)
        assert error.value.field == "user_id"


def test_blank_and_overlong_ids_are_refused_by_name() -> None:
    settings = Settings(bundle="unused")
    for value in ("", "   ", "\u3000"):
        with pytest.raises(InvalidArgument, match="must not be empty"):
            check_id("item_id", value, settings)
    with pytest.raises(InvalidArgument, match="longer than"):
        check_id("item_id", "x" * (settings.max_id_length + 1), settings)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 1e300, -3.5e38])
def test_an_event_value_beyond_float32_is_refused_by_name(value: float) -> None:
    """Models read values as float32: 1e300 would reach them as inf."""
    event = EventInput("u", "i", 1000.0, None, value)
    accepted, errors = validate_events([event], Settings(bundle="unused"), ["view"], "view", 1000.0)
    assert accepted == [] and [(e.index, e.field) for e in errors] == [(0, "value")]
    assert "finite" in errors[0].message


def test_an_event_value_at_float32s_limit_is_accepted() -> None:
    event = EventInput("u", "i", 1000.0, None, -MAX_EVENT_VALUE)
    accepted, errors = validate_events([event], Settings(bundle="unused"), ["view"], "view", 1000.0)
    assert errors == [] and accepted[0].value == -MAX_EVENT_VALUE
