"""Embedded persistent store: the memory store plus an append-only log.

``PATH/events.jsonl`` holds every accepted event (``service.store.log``);
``PATH/LOCK`` keeps a second process out (``service.store.lock``).

What an acknowledgement means (``fsync``):

- ``batch`` (default): the events are written to the operating system before
  ``append`` returns, so they survive a killed or crashed server; the log is
  fsynced at most every ``sync_interval`` seconds, so a power loss can take the
  last second.
- ``always``: fsynced before ``append`` returns; survives a power loss.

Start-up replays the log (each user's last ``max_history`` events). A torn
tail, left by a crash in the middle of a write that was therefore never
acknowledged, is cut off with one log line; a corrupt complete line refuses
start-up with its file and line (``recserve store check|repair``).

Compaction: the log is rewritten with only the live events when it holds more
than ``compact_factor`` times as many (decided from two counters, O(1) per
append). It runs on a background thread: the live events are snapshot under
the write lock, written and fsynced to ``events.jsonl.compact`` while appends
go on to the old log and are remembered; then, under the lock, those appends
are added, the file fsynced and renamed over the log. A crash at any point
leaves either the old log or the complete new one.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from service.store.base import StoredEvent
from service.store.errors import StoreCorrupt, StoreError
from service.store.lock import FolderLock
from service.store.log import LOG, encode, scan
from service.store.memory import MemoryStore

log = logging.getLogger("recserve.store")
ITEMS = "items.jsonl"  # items registered while serving, [id, metadata JSON] per line

FSYNC = ("batch", "always")
COMPACT = LOG + ".compact"


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FileStore:
    in_process = True
    writes_wait = True  # an append may fsync

    def __init__(
        self,
        path: str,
        max_history: int,
        fsync: str = "batch",
        compact_factor: float = 4.0,
        sync_interval: float = 1.0,
    ) -> None:
        if fsync not in FSYNC:
            raise StoreError(f"fsync must be one of {', '.join(FSYNC)}, got {fsync!r}")
        self.max_history = max_history
        self.fsync = fsync
        self.compact_factor = compact_factor
        self.sync_interval = sync_interval
        self.folder = Path(path)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StoreError(f"file store {self.folder}: {error.strerror}") from None
        self.path = self.folder / LOG
        self._lock_file = FolderLock(self.folder)
        self._memory = MemoryStore(max_history)
        self._write_lock = threading.Lock()
        self._pending: list[bytes] | None = None  # appends made while a compaction runs
        self._compactor: threading.Thread | None = None
        self._backoff = 0  # extra log lines to wait for after a failed compaction
        self.compactions = 0
        try:
            self._logged = self._load()
            self._load_items()
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except BaseException:
            self._lock_file.release()
            raise
        self._synced_at = time.monotonic()
        with self._write_lock:
            self._maybe_compact()

    @property
    def live_events(self) -> int:
        return self._memory.live_events

    def _load(self) -> int:
        (self.folder / COMPACT).unlink(missing_ok=True)  # a compaction cut by a crash
        found = scan(self.path, self._memory.append)
        if found.bad:
            first = found.bad[0]
            url = f"file://{self.folder}"
            raise StoreCorrupt(
                f"{self.path}: line {first.number} is corrupt ({first.reason}); "
                f"{len(found.bad)} bad line(s) in all. `recserve store check --store {url}` "
                f"lists them, `recserve store repair --store {url}` moves them to a "
                "quarantine file beside the log"
            )
        if found.torn:
            os.truncate(self.path, found.end)
            log.warning(
                "file store %s: cut a torn last record (%d bytes) left by a crash in the "
                "middle of a write; it had not been acknowledged",
                self.path, len(found.torn),
            )  # fmt: skip
        return found.records

    # --- writes -------------------------------------------------------------------------

    def append(self, events: Sequence[StoredEvent]) -> list[StoredEvent]:
        if not events:
            return []
        with self._write_lock:  # the only writer of the memory store: fresh stays fresh
            if self._fd < 0:
                raise StoreError(f"file store {self.folder} is closed")
            events = self._memory.fresh(events)
            if not events:
                return []
            data = encode(events)
            write_all(self._fd, data)
            now = time.monotonic()
            if self.fsync == "always" or now - self._synced_at >= self.sync_interval:
                os.fsync(self._fd)
                self._synced_at = now
            self._memory.append(events)
            self._logged += len(events)
            if self._pending is not None:
                self._pending.append(data)
            self._maybe_compact()
        return list(events)

    def _maybe_compact(self) -> None:
        """Start a compaction when the log outgrew the live events (write lock held)."""
        if self._pending is not None:
            return
        live = max(self._memory.live_events, 1000)
        if self._logged <= self.compact_factor * live + self._backoff:
            return
        snapshot = self._memory.all_events()
        self._pending = []
        self._compactor = threading.Thread(
            target=self._compact, args=(snapshot,), name="store-compaction", daemon=True
        )
        self._compactor.start()

    def _compact(self, snapshot: list[StoredEvent]) -> None:
        tmp = self.folder / COMPACT
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                for start in range(0, len(snapshot), 10_000):
                    write_all(fd, encode(snapshot[start : start + 10_000]))
                os.fsync(fd)  # the slow part, while appends go on
                with self._write_lock:
                    assert self._pending is not None
                    write_all(fd, b"".join(self._pending))
                    os.fsync(fd)
                    os.replace(tmp, self.path)
                    fsync_folder(self.folder)
                    os.close(self._fd)
                    self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
                    self._logged = len(snapshot) + sum(d.count(b"\n") for d in self._pending)
                    self._pending = None
                    self._backoff = 0
                    self.compactions += 1
            finally:
                os.close(fd)
        except OSError as error:  # the old log is intact; try again after more appends
            log.error("file store %s: compaction failed (%s); the log is intact", self.path, error)
            tmp.unlink(missing_ok=True)
            with self._write_lock:
                self._pending = None
                self._backoff = self._logged  # the next try after as many appends again

    def wait_for_compaction(self) -> None:
        thread = self._compactor
        if thread is not None:
            thread.join()

    # --- reads --------------------------------------------------------------------------

    def recent(self, user_id: str, limit: int) -> list[StoredEvent]:
        return self._memory.recent(user_id, limit)

    def recent_many(self, user_ids: Sequence[str], limit: int) -> list[list[StoredEvent]]:
        return self._memory.recent_many(user_ids, limit)

    def get_state(self, user_id: str, key: str) -> bytes | None:
        return self._memory.get_state(user_id, key)

    def put_state(self, user_id: str, key: str, blob: bytes) -> None:
        """States are kept in memory only: after a restart each user's state is
        recomputed from their history on first use."""
        self._memory.put_state(user_id, key, blob)

    def put_items(self, items: Sequence[tuple[str, str]]) -> None:
        """Registrations go to ``items.jsonl`` beside the log, one ``[id, metadata]`` line
        each, written and fsynced before the call returns (they are rare)."""
        lines = "".join(json.dumps([item, text]) + "\n" for item, text in items).encode()
        with self._write_lock:
            fd = os.open(self.folder / ITEMS, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                write_all(fd, lines)
                os.fsync(fd)
            finally:
                os.close(fd)
            self._memory.put_items(items)

    def items(self) -> dict[str, str]:
        return self._memory.items()

    def items_version(self) -> int:
        return self._memory.items_version()

    def _load_items(self) -> None:
        path = self.folder / ITEMS
        if not path.exists():
            return
        found = []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            try:
                item, text = json.loads(line)
                found.append((str(item), str(text)))
            except ValueError:  # a torn last line of a crash: the registration was not acked
                log.warning("%s: line %d is not a registration, skipped", path, number)
        if found:
            self._memory.put_items(found)

    def replay(self, since: float) -> Iterator[list[StoredEvent]]:
        return self._memory.replay(since)

    def ping(self) -> bool:
        return self._fd >= 0

    def close(self) -> None:
        self.wait_for_compaction()
        with self._write_lock:
            if self._fd >= 0:
                os.fsync(self._fd)
                os.close(self._fd)
                self._fd = -1
                self._lock_file.release()
