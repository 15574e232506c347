"""One contract, every backend: memory://, file://, redis:// (and redis+cluster:// in
tests/deploy)."""

import threading

import pytest

from service.store import StoredEvent, open_store


def ev(user: str, item: str, ts: float, kind: str = "view", value: float = 1.0) -> StoredEvent:
    return StoredEvent(user, item, ts, kind, value)


def test_recent_returns_the_latest_events_oldest_first(open_at):
    store = open_at(max_history=10)
    store.append([ev("u", f"i{k}", float(k)) for k in range(4)])
    store.append([ev("u", "i4", 4.0, "click", 2.5)])
    assert [e.item_id for e in store.recent("u", 10)] == ["i0", "i1", "i2", "i3", "i4"]
    assert [e.item_id for e in store.recent("u", 2)] == ["i3", "i4"]
    last = store.recent("u", 1)[0]
    assert (last.timestamp, last.event_type, last.value) == (4.0, "click", 2.5)


def test_history_is_bounded_dropping_the_oldest(open_at):
    store = open_at(max_history=3)
    store.append([ev("u", f"i{k}", float(k)) for k in range(5)])
    assert [e.item_id for e in store.recent("u", 100)] == ["i2", "i3", "i4"]


def test_users_are_isolated_and_unknown_users_are_empty(open_at):
    store = open_at()
    store.append([ev("a", "x", 1.0), ev("b", "y", 2.0), ev("a", "z", 3.0)])
    assert [e.item_id for e in store.recent("a", 10)] == ["x", "z"]
    assert [e.item_id for e in store.recent("b", 10)] == ["y"]
    assert store.recent("nobody", 10) == []


def test_odd_ids_round_trip(open_at):
    store = open_at()
    user = 'user {with} "quotes", ünïcode\\and:colons'
    store.append([ev(user, "item|with\ttab", 1.5)])
    (back,) = store.recent(user, 1)
    assert (back.user_id, back.item_id) == (user, "item|with\ttab")


def test_concurrent_appends_lose_nothing(open_at):
    store = open_at(max_history=1000)

    def writer(t: int) -> None:
        for k in range(50):
            store.append([ev(f"u{t % 3}", f"t{t}-{k}", float(k))])

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    total = sum(len(store.recent(f"u{u}", 1000)) for u in range(3))
    assert total == 300


def test_ping(open_at):
    assert open_at().ping()


def test_persistent_backends_keep_events_across_a_restart(store_url):
    if store_url.startswith("memory"):
        pytest.skip("memory:// is not persistent by design")
    store = open_store(store_url, 5)
    store.append([ev("u", "a", 1.0), ev("u", "b", 2.0)])
    store.close()
    again = open_store(store_url, 5)
    try:
        assert [e.item_id for e in again.recent("u", 5)] == ["a", "b"]
    finally:
        again.close()


def test_unknown_scheme_is_refused():
    with pytest.raises(ValueError, match="unknown store URL"):
        open_store("mongodb://x", 5)


def test_recent_many_answers_each_user_in_order(open_at):
    store = open_at(max_history=3)
    store.append([ev("a", "x", 1.0), ev("b", "y", 2.0), ev("a", "z", 3.0)])
    got = store.recent_many(["b", "nobody", "a"], 2)
    assert [[e.item_id for e in h] for h in got] == [["y"], [], ["x", "z"]]


def with_id(user: str, item: str, event_id: str) -> StoredEvent:
    return StoredEvent(user, item, 1.0, "view", 1.0, event_id)


def test_a_retried_event_id_is_stored_once(open_at):
    store = open_at(max_history=10)
    first = [with_id("u", "a", "e1"), with_id("u", "b", "e2"), ev("u", "c", 3.0)]
    assert sorted(e.item_id for e in store.append(first)) == ["a", "b", "c"]
    retry = [with_id("u", "b", "e2"), with_id("u", "d", "e3"), ev("u", "c", 3.0)]
    assert sorted(e.item_id for e in store.append(retry)) == ["c", "d"]  # no id: kept twice
    assert [e.item_id for e in store.recent("u", 10)] == ["a", "b", "c", "d", "c"]
    assert [e.event_id for e in store.recent("u", 10)] == ["e1", "e2", "", "e3", ""]


def test_event_ids_made_of_json_punctuation_are_told_apart_and_recognised(open_at):
    store = open_at(max_history=20)
    ids = ['x"]', ',"y"]', "a\nb", "back\\slash", "é", "x", 'x"', "]"]
    first = [with_id("u", f"i{n}", i) for n, i in enumerate(ids)]
    assert len(store.append(first)) == len(ids)  # none mistaken for another
    assert store.append(first) == []  # every one recognised on the retry
    assert [e.event_id for e in store.recent("u", 20)] == ids


def test_an_event_id_repeated_within_one_call_is_stored_once(open_at):
    store = open_at()
    stored = store.append([with_id("u", "a", "same"), with_id("u", "b", "same")])
    assert [e.item_id for e in stored] == ["a"]
    assert [e.item_id for e in store.recent("u", 10)] == ["a"]


def test_event_ids_are_per_user_and_forgotten_past_the_held_window(open_at):
    store = open_at(max_history=2)
    store.append([with_id("u", "a", "e1"), with_id("v", "a", "e1")])  # other users: both
    assert store.recent("v", 10)[0].event_id == "e1"
    store.append([ev("u", "x", 2.0), ev("u", "y", 3.0)])  # e1 leaves u's last 2 events
    assert [e.item_id for e in store.append([with_id("u", "a", "e1")])] == ["a"]


def test_event_ids_survive_a_restart(store_url, open_at):
    if store_url.startswith("memory"):
        pytest.skip("memory:// is not persistent by design")
    store = open_at()
    store.append([with_id("u", "a", 'quote"and\\slash')])
    store.close()
    again = open_at()
    assert again.append([with_id("u", "a", 'quote"and\\slash')]) == []
    assert [e.event_id for e in again.recent("u", 10)] == ['quote"and\\slash']


def test_states_are_kept_per_user_and_key_and_a_third_key_replaces_the_others(open_at):
    store = open_at()
    assert store.get_state("u", "bundle-a") is None
    blob = b"[3,1.5,null]\n" + bytes(range(256))  # any bytes, newlines and NULs included
    store.put_state("u", "bundle-a", blob)
    store.put_state("u", "bundle-b", b"second")
    store.put_state("v", "bundle-a", b"other user")
    assert store.get_state("u", "bundle-a") == blob
    assert store.get_state("u", "bundle-b") == b"second"
    store.put_state("u", "bundle-b", b"second, updated")  # an update keeps the other key
    assert store.get_state("u", "bundle-a") == blob
    store.put_state("u", "bundle-c", b"third")  # a new key past MAX_STATES replaces the rest
    assert store.get_state("u", "bundle-c") == b"third"
    assert store.get_state("u", "bundle-a") is None and store.get_state("u", "bundle-b") is None
    assert store.get_state("v", "bundle-a") == b"other user"


def test_registered_items_are_replaced_by_id_and_versioned(open_at):
    store = open_at()
    assert store.items() == {}
    before = store.items_version()
    store.put_items([("new-1", '{"categories": "a"}'), ("new|2", '{"categories": ""}')])
    assert store.items_version() != before
    assert store.items()["new-1"] == '{"categories": "a"}'
    version = store.items_version()
    store.put_items([("new-1", '{"categories": "b"}')])  # a later registration replaces
    assert store.items_version() != version
    assert store.items() == {"new-1": '{"categories": "b"}', "new|2": '{"categories": ""}'}


def test_persistent_backends_keep_registered_items_across_a_restart(store_url):
    if store_url.startswith("memory"):
        pytest.skip("memory:// is not persistent by design")
    store = open_store(store_url, 5)
    store.put_items([("new-1", '{"categories": "a"}')])
    store.close()
    again = open_store(store_url, 5)
    try:
        assert again.items() == {"new-1": '{"categories": "a"}'}
    finally:
        again.close()
