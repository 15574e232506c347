"""Embedded persistent store: the memory store plus an append-only log.

Every accepted batch is appended to ``PATH/events.jsonl`` (one JSON array per
event) and flushed before ``append`` returns; ``close`` fsyncs. On open the
log is replayed (keeping each user's last ``max_history`` events), and it is
compacted (rewritten to a temporary file, then renamed over the old one)
when it holds more than ``compact_factor`` times the live events.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from service.store.base import StoredEvent
from service.store.memory import MemoryStore

LOG = "events.jsonl"


class FileStore:
    def __init__(self, path: str, max_history: int, compact_factor: float = 4.0) -> None:
        self.max_history = max_history
        self.folder = Path(path)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.path = self.folder / LOG
        self.compact_factor = compact_factor
        self._memory = MemoryStore(max_history)
        self._write_lock = threading.Lock()
        self._logged = self._load()
        self._handle = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (kept open)
        self._compact_if_needed()

    def _load(self) -> int:
        if not self.path.exists():
            return 0
        count = 0
        batch: list[StoredEvent] = []
        with open(self.path, encoding="utf-8") as handle:
            for line in handle:
                if not line.endswith("\n"):
                    break  # a torn last line from a crash: ignore it
                batch.append(StoredEvent.from_row(json.loads(line)))
                count += 1
                if len(batch) >= 10_000:
                    self._memory.append(batch)
                    batch = []
        self._memory.append(batch)
        return count

    def append(self, events: Sequence[StoredEvent]) -> None:
        if not events:
            return
        text = "".join(json.dumps(e.as_row(), separators=(",", ":")) + "\n" for e in events)
        with self._write_lock:
            self._handle.write(text)
            self._handle.flush()
            self._memory.append(events)
            self._logged += len(events)
        self._compact_if_needed()

    def _compact_if_needed(self) -> None:
        live = len(self._memory.all_events())
        if self._logged <= self.compact_factor * max(live, 1000):
            return
        with self._write_lock:
            events = self._memory.all_events()
            tmp = self.path.with_suffix(".tmp")
            with open(tmp, "w", encoding="utf-8") as out:
                out.writelines(json.dumps(e.as_row(), separators=(",", ":")) + "\n" for e in events)
                out.flush()
                os.fsync(out.fileno())
            self._handle.close()
            os.replace(tmp, self.path)
            self._handle = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (kept open)
            self._logged = len(events)

    def recent(self, user_id: str, limit: int) -> list[StoredEvent]:
        return self._memory.recent(user_id, limit)

    def recent_many(self, user_ids: Sequence[str], limit: int) -> list[list[StoredEvent]]:
        return self._memory.recent_many(user_ids, limit)

    def replay(self, since: float) -> Iterator[list[StoredEvent]]:
        return self._memory.replay(since)

    def ping(self) -> bool:
        return not self._handle.closed

    def close(self) -> None:
        with self._write_lock:
            if not self._handle.closed:
                self._handle.flush()
                os.fsync(self._handle.fileno())
                self._handle.close()
