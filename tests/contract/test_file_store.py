"""The embedded store's own promises, beyond the contract every backend keeps:
torn tails, corrupt lines, the one-process lock, compaction, fsync policies."""

import json
import logging
import os
import signal
import subprocess
import sys
import threading

import pytest

from service.store import StoredEvent
from service.store.errors import StoreCorrupt, StoreError, StoreLocked
from service.store.file import FileStore
from service.store.maintenance import check, repair


def event(user: str, item: str, ts: float = 1.0) -> StoredEvent:
    return StoredEvent(user, item, ts, "view", 1.0)


def items(store: FileStore, user: str) -> list[str]:
    return [e.item_id for e in store.recent(user, 1000)]


def test_log_is_compacted_and_still_complete(tmp_path):
    store = FileStore(str(tmp_path), max_history=2, compact_factor=1.0)
    for k in range(3000):
        store.append([event(f"u{k % 10}", f"i{k}", float(k))])
    store.close()
    assert store.compactions >= 1
    lines = (tmp_path / "events.jsonl").read_text().splitlines()
    assert len(lines) < 3000
    again = FileStore(str(tmp_path), max_history=2)
    assert items(again, "u3") == ["i2983", "i2993"]
    again.close()


def test_live_event_counter_matches_the_held_events(tmp_path):
    store = FileStore(str(tmp_path), max_history=3)
    for k in range(50):
        store.append([event(f"u{k % 7}", f"i{k}"), event(f"u{k % 4}", f"j{k}")])
    assert store.live_events == sum(len(store.recent(f"u{u}", 100)) for u in range(7))
    store.close()


def test_appends_made_during_a_compaction_are_all_kept(tmp_path):
    store = FileStore(str(tmp_path), max_history=600, compact_factor=1.0)

    # the "churn" user keeps only its last 600 events: the log outgrows the live
    # events and compacts while eight threads keep appending
    def writer(worker: int) -> None:
        for k in range(600):
            store.append([event(f"w{worker}", f"i{k}", float(k)), event("churn", "x")])

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    store.close()
    assert store.compactions >= 1
    again = FileStore(str(tmp_path), max_history=600)
    for w in range(8):
        assert items(again, f"w{w}") == [f"i{k}" for k in range(600)]
    again.close()


def test_a_torn_tail_is_cut_so_the_next_append_survives_a_restart(tmp_path, caplog):
    store = FileStore(str(tmp_path), max_history=5)
    store.append([event("u", "a")])
    store.close()
    torn = json.dumps(["u", "b", 2.0, "view", 1.0])[:10]
    with open(tmp_path / "events.jsonl", "a") as handle:
        handle.write(torn)  # a crash in the middle of a write
    with caplog.at_level(logging.WARNING, logger="recserve.store"):
        again = FileStore(str(tmp_path), max_history=5)
    assert [r.getMessage() for r in caplog.records if "torn" in r.getMessage()] == [
        f"file store {tmp_path / 'events.jsonl'}: cut a torn last record ({len(torn)} bytes) "
        "left by a crash in the middle of a write; it had not been acknowledged"
    ]
    again.append([event("u", "c")])
    again.close()
    third = FileStore(str(tmp_path), max_history=5)
    assert items(third, "u") == ["a", "c"]
    third.close()


def damaged_log(folder, second_line: str, tail: str = ""):
    """A log of events a, b, c of user "u" whose second line is replaced."""
    store = FileStore(str(folder), max_history=5)
    store.append([event("u", "a"), event("u", "b"), event("u", "c")])
    store.close()
    log = folder / "events.jsonl"
    lines = log.read_text().splitlines(keepends=True)
    lines[1] = second_line
    log.write_text("".join(lines) + tail)
    return log


def test_a_corrupt_middle_line_refuses_start_up_naming_file_and_line(tmp_path):
    log = damaged_log(tmp_path, '["u","b",2.0,"vi\n')
    with pytest.raises(StoreCorrupt) as refused:
        FileStore(str(tmp_path), max_history=5)
    message = str(refused.value)
    assert f"{log}: line 2 is corrupt (not JSON" in message
    assert f"recserve store repair --store file://{tmp_path}" in message


def test_repair_quarantines_bad_lines_and_the_store_opens_again(tmp_path):
    log = damaged_log(tmp_path, '["u", 7, 2.0, "view", 1.0]\n', tail='["u","d"')  # + torn tail
    url = f"file://{tmp_path}"
    found, report = check(url)
    assert not found.clean and found.records == 2
    assert report[0] == f"{log}:2: user, item, type and event id must be strings"
    assert "torn last record, 8 bytes" in report[1]
    done = repair(url)
    assert done.quarantine is not None
    assert done.quarantine.read_bytes() == b'["u", 7, 2.0, "view", 1.0]\n["u","d"\n'
    reasons = done.quarantine.with_suffix(".txt").read_text()
    assert "line 2 (byte " in reasons and "torn tail" in reasons
    assert check(url)[0].clean
    again = FileStore(str(tmp_path), max_history=5)
    assert items(again, "u") == ["a", "c"]
    again.close()


def test_a_second_process_cannot_open_the_same_store(tmp_path):
    store = FileStore(str(tmp_path), max_history=5)
    with pytest.raises(StoreLocked, match=f"in use by process {os.getpid()}"):
        FileStore(str(tmp_path), max_history=5)
    with pytest.raises(StoreLocked):
        repair(f"file://{tmp_path}")
    store.close()
    FileStore(str(tmp_path), max_history=5).close()  # free once closed


def test_the_lock_of_a_killed_process_is_released(tmp_path):
    code = (
        "import sys, time; from service.store.file import FileStore; "
        f"FileStore({str(tmp_path)!r}, 5); print('open', flush=True); time.sleep(60)"
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "open"
    with pytest.raises(StoreLocked, match=f"process {child.pid}"):
        FileStore(str(tmp_path), max_history=5)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    FileStore(str(tmp_path), max_history=5).close()


@pytest.mark.parametrize("policy", ["batch", "always"])
def test_every_fsync_policy_keeps_acknowledged_events(tmp_path, policy):
    store = FileStore(str(tmp_path), max_history=5, fsync=policy)
    store.append([event("u", "a"), event("u", "b")])
    # no close: what is on disk now is what a killed process leaves
    assert [json.loads(x)[1] for x in (tmp_path / "events.jsonl").read_text().splitlines()] == [
        "a",
        "b",
    ]
    store.close()


def test_an_unknown_fsync_policy_is_refused(tmp_path):
    with pytest.raises(StoreError, match="fsync must be one of batch, always"):
        FileStore(str(tmp_path), max_history=5, fsync="sometimes")


def test_check_refuses_a_store_that_is_not_a_file_store(tmp_path):
    with pytest.raises(StoreError, match="only a file:// store has a log"):
        check("redis://127.0.0.1:6379")
    with pytest.raises(StoreError, match="not a file store"):
        check(f"file://{tmp_path}")
