import json

from service.store import StoredEvent
from service.store.file import FileStore


def test_log_is_compacted_and_still_complete(tmp_path):
    store = FileStore(str(tmp_path), max_history=2, compact_factor=1.0)
    for k in range(3000):
        store.append([StoredEvent(f"u{k % 10}", f"i{k}", float(k), "view", 1.0)])
    store.close()
    lines = (tmp_path / "events.jsonl").read_text().splitlines()
    assert len(lines) < 3000  # compacted
    again = FileStore(str(tmp_path), max_history=2)
    assert [e.item_id for e in again.recent("u3", 5)] == ["i2983", "i2993"]
    again.close()


def test_a_torn_last_line_is_ignored(tmp_path):
    store = FileStore(str(tmp_path), max_history=5)
    store.append([StoredEvent("u", "a", 1.0, "view", 1.0)])
    store.close()
    with open(tmp_path / "events.jsonl", "a") as handle:
        handle.write(json.dumps(["u", "b", 2.0, "view", 1.0])[:10])  # crash mid-write
    again = FileStore(str(tmp_path), max_history=5)
    assert [e.item_id for e in again.recent("u", 5)] == ["a"]
    again.close()
