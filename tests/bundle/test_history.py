"""The one history policy, vectorised, against a plain-Python loop."""

import numpy as np
import pytest

from bundle.history import HistoryPolicy, Sequences, cut_history


def _reference(history, policy):
    """(position, item) pairs kept: each item's latest event if distinct, then the last N."""
    events = list(enumerate(history))
    if policy.distinct_items:
        latest = {item: pos for pos, item in events}
        events = [(pos, item) for pos, item in events if latest[item] == pos]
    return events[-policy.max_length :]


POLICIES = (HistoryPolicy(5, True), HistoryPolicy(5, False), HistoryPolicy(100, True))


def _sequences(histories):
    starts = np.cumsum([0] + [len(h) for h in histories])
    times = [list(range(int(s), int(s) + len(h))) for s, h in zip(starts, histories, strict=False)]
    return Sequences.from_lists(histories, times)


def test_cut_history_matches_a_loop_for_many_users():
    rng = np.random.default_rng(0)
    histories = [list(rng.integers(0, 6, size=rng.integers(0, 12))) for _ in range(30)]
    starts = np.cumsum([0] + [len(h) for h in histories])
    for policy in POLICIES:
        cut = cut_history(_sequences(histories), policy)
        for b, history in enumerate(histories):
            part = slice(cut.indptr[b], cut.indptr[b + 1])
            expected = _reference(history, policy)
            assert cut.item[part].tolist() == [item for _, item in expected]
            assert cut.timestamp[part].tolist() == [starts[b] + pos for pos, _ in expected]


def test_cut_history_of_one_user_matches_a_loop():
    rng = np.random.default_rng(1)
    for _ in range(40):
        history = list(rng.integers(0, 6, size=rng.integers(0, 12)))
        for policy in POLICIES:
            cut = cut_history(_sequences([history]), policy)
            expected = _reference(history, policy)
            assert cut.indptr.tolist() == [0, len(expected)]
            assert cut.item.tolist() == [item for _, item in expected]
            assert cut.timestamp.tolist() == [pos for pos, _ in expected]


def test_a_policy_keeps_at_least_one_event():
    with pytest.raises(ValueError, match="max_length must be >= 1"):
        HistoryPolicy(0)


def test_last_times_of_rows_with_and_without_events():
    seqs = Sequences.from_lists([[1, 2], [], [3]], [[5.0, 9.0], [], [4.0]])
    assert seqs.last_times(empty=-1.0).tolist() == [9.0, -1.0, 4.0]
