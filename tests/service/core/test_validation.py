"""Id validation: the printable fast path accepts and refuses exactly what the pattern does."""

from __future__ import annotations

import re

import pytest

from service.core.errors import InvalidArgument
from service.core.validation import ID_PATTERN, check_id
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
