"""The embedded store's append-only log: one JSON array per event and line,
``[user_id, item_id, timestamp, event_type, value]`` and the ``event_id`` as a
sixth field when the client gave one.

A record is a complete line. What follows the last newline is a *torn tail*
(a write cut by a crash; never acknowledged, since ``append`` returns after
the whole write): start-up cuts it off. A complete line that does not parse is
*corrupt*: start-up refuses, and ``recserve store check|repair`` lists it or
moves it to a quarantine file.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from service.store.base import StoredEvent

LOG = "events.jsonl"
BATCH = 10_000  # events handed to the sink at once while scanning


def encode(events: Sequence[StoredEvent]) -> bytes:
    """The log lines of ``events``."""
    dumps = json.JSONEncoder(separators=(",", ":")).encode  # ASCII: any id round-trips
    return "".join([dumps(e.as_row()) + "\n" for e in events]).encode("utf-8")


def parse(line: bytes) -> StoredEvent:
    """One complete line (with its newline) -> the event; ValueError says what is wrong."""
    try:
        row = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"not JSON ({error})") from None
    if not isinstance(row, list) or len(row) not in (5, 6):
        raise ValueError("not a 5-field array [user, item, timestamp, type, value(, event id)]")
    user, item, ts, kind, value, *rest = row
    if not all(isinstance(text, str) for text in (user, item, kind, *rest)):
        raise ValueError("user, item, type and event id must be strings")
    for name, number in (("timestamp", ts), ("value", value)):
        if isinstance(number, bool) or not isinstance(number, int | float):
            raise ValueError(f"{name} must be a number")
        if not math.isfinite(number):
            raise ValueError(f"{name} must be finite")
    return StoredEvent(user, item, float(ts), kind, float(value), rest[0] if rest else "")


@dataclass
class BadLine:
    number: int  # 1-based line number
    offset: int  # byte offset of the line
    reason: str
    raw: bytes


@dataclass
class Scan:
    """What one pass over a log found."""

    records: int = 0  # complete, readable lines
    bad: list[BadLine] = field(default_factory=list)
    end: int = 0  # byte offset after the last complete line
    torn: bytes = b""  # bytes after the last newline (a torn tail)

    @property
    def clean(self) -> bool:
        return not self.bad and not self.torn


def scan(path: Path, sink: Callable[[list[StoredEvent]], object] | None = None) -> Scan:
    """Read every line of ``path``; readable events go to ``sink`` in batches."""
    out = Scan()
    if not path.exists():
        return out
    batch: list[StoredEvent] = []
    offset = 0
    with open(path, "rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.endswith(b"\n"):
                out.torn = line
                break
            try:
                event = parse(line)
            except ValueError as error:
                out.bad.append(BadLine(number, offset, str(error), line))
            else:
                out.records += 1
                if sink is not None:
                    batch.append(event)
                    if len(batch) >= BATCH:
                        sink(batch)
                        batch = []
            offset += len(line)
    out.end = offset
    if sink is not None and batch:
        sink(batch)
    return out
