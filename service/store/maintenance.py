"""``recserve store check|repair``: find and set aside what start-up refuses.

Both take the store's lock, so they never run beside a server on the same
store. ``repair`` never deletes a byte: each corrupt line and a torn tail go
to ``PATH/quarantine-<UTC time>.jsonl`` (as they were) with the reasons in
``quarantine-<UTC time>.txt``; the log is rewritten without them (temporary
file, fsync, atomic rename).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from service.store.errors import StoreError
from service.store.file import fsync_folder, write_all
from service.store.lock import FolderLock
from service.store.log import LOG, Scan, scan


def folder_of(url: str) -> Path:
    if not url.startswith("file://"):
        raise StoreError(
            f"store {url!r}: only a file:// store has a log to check (memory:// keeps none, "
            "Redis keeps its own)"
        )
    folder = Path(url.removeprefix("file://"))
    if not (folder / LOG).exists():
        raise StoreError(f"{folder}: no {LOG} here, not a file store")
    return folder


def describe(found: Scan, path: Path) -> list[str]:
    """One line per problem, then a summary line."""
    lines = [f"{path}:{bad.number}: {bad.reason}" for bad in found.bad]
    if found.torn:
        lines.append(f"{path}: torn last record, {len(found.torn)} bytes after the last newline")
    state = "clean" if found.clean else "needs `recserve store repair`"
    lines.append(f"{path}: {found.records} records, {len(found.bad)} corrupt line(s), {state}")
    return lines


def check(url: str) -> tuple[Scan, list[str]]:
    folder = folder_of(url)
    lock = FolderLock(folder, purpose="check")
    try:
        found = scan(folder / LOG)
    finally:
        lock.release()
    return found, describe(found, folder / LOG)


@dataclass
class Repair:
    found: Scan
    quarantine: Path | None  # where the bad lines went (None: nothing to move)


def repair(url: str) -> Repair:
    folder = folder_of(url)
    path = folder / LOG
    lock = FolderLock(folder, purpose="repair")
    try:
        found = scan(path)
        if found.clean:
            return Repair(found, None)
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        quarantine = folder / f"quarantine-{stamp}.jsonl"
        reasons = [f"line {b.number} (byte {b.offset}): {b.reason}" for b in found.bad]
        moved = [b.raw for b in found.bad]
        if found.torn:
            reasons.append(f"torn tail at byte {found.end}: {len(found.torn)} bytes")
            moved.append(found.torn + b"\n")
        with open(quarantine, "ab") as out:
            out.write(b"".join(moved))
            out.flush()
            os.fsync(out.fileno())
        quarantine.with_suffix(".txt").write_text("\n".join(reasons) + "\n")
        skip = {b.offset for b in found.bad}
        tmp = folder / (LOG + ".repair")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            with open(path, "rb") as source:
                offset = 0
                for line in source:
                    if offset >= found.end:
                        break
                    if offset not in skip:
                        write_all(fd, line)
                    offset += len(line)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        fsync_folder(folder)
        return Repair(found, quarantine)
    finally:
        lock.release()
