"""One process per embedded store: an exclusive ``flock`` on ``PATH/LOCK``.

The kernel drops the lock when its process dies (``kill -9`` included), so a
crashed server never leaves a stale lock behind; the file holds the holder's
PID only to name it in the error.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from service.store.errors import StoreLocked

LOCK = "LOCK"


class FolderLock:
    def __init__(self, folder: Path, purpose: str = "open") -> None:
        self.path = folder / LOCK
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(self._fd, 64, 0).decode(errors="replace").strip() or "unknown"
            os.close(self._fd)
            raise StoreLocked(
                f"file store {folder} is in use by process {holder}: one process per file "
                f"store (cannot {purpose} it); use redis:// to share a store between replicas"
            ) from None
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, f"{os.getpid()}\n".encode(), 0)

    def release(self) -> None:
        if self._fd >= 0:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = -1
