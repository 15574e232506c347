import numpy as np
import pytest

from training.data.interactions import Interactions
from training.data.splits import PROTOCOLS, split


def _event_keys(data: Interactions, rows_users, seqs):
    """(user, item, timestamp) triples of the events in an EvalSet part."""
    users = np.asarray(rows_users)[seqs.row_ids()]
    return set(zip(users.tolist(), seqs.item.tolist(), seqs.timestamp.tolist(), strict=True))


def _train_keys(data: Interactions):
    return set(zip(data.user.tolist(), data.item.tolist(), data.timestamp.tolist(), strict=True))


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_no_target_event_is_in_train(small_log, protocol):
    data = small_log.interactions
    parts = split(data, protocol, seed=1)
    train = _train_keys(parts.train)
    for part in (parts.valid, parts.test):
        targets = _event_keys(data, part.users, part.targets)
        assert targets, protocol
        assert not (targets & train), protocol


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_history_and_targets_of_a_user_are_disjoint_events(small_log, protocol):
    parts = split(small_log.interactions, protocol, seed=1)
    for part in (parts.valid, parts.test):
        hist = _event_keys(None, part.users, part.history)
        targ = _event_keys(None, part.users, part.targets)
        assert not (hist & targ)


def test_leave_last_out_targets_are_the_last_events(small_log):
    data = small_log.interactions
    parts = split(data, "leave-last-out")
    seqs = data.sequences()
    users = parts.test.users
    last = seqs.indptr[users + 1] - 1
    assert np.array_equal(parts.test.targets.item, seqs.item[last])
    assert np.array_equal(parts.valid.targets.item, seqs.item[last - 1])
    # the query happens when the target event happens, after every input event
    hist_last = parts.test.history.timestamp[parts.test.history.indptr[1:] - 1]
    assert np.all(hist_last <= parts.test.now)
    assert np.all(parts.test.history.lengths == seqs.lengths[users] - 1)
    assert len(parts.train) == len(data) - 2 * len(users)


def test_leave_last_out_keeps_short_users_in_train_only():
    data = Interactions.build(["a", "a", "b", "b", "b"], ["x", "y", "x", "y", "z"], [1, 2, 1, 2, 3])
    parts = split(data, "leave-last-out")
    assert parts.test.users.tolist() == [1]
    assert len(parts.train) == 3  # a's two events and b's first


def test_temporal_respects_time_order(small_log):
    data = small_log.interactions
    parts = split(data, "temporal")
    valid_cut, test_cut = parts.params["valid_cut"], parts.params["test_cut"]
    assert parts.train.timestamp.max() < valid_cut
    assert parts.valid.targets.timestamp.min() >= valid_cut
    assert parts.valid.targets.timestamp.max() < test_cut
    assert parts.test.targets.timestamp.min() >= test_cut
    assert parts.valid.history.timestamp.max() < valid_cut
    assert parts.test.history.timestamp.max() < test_cut
    assert np.all(parts.test.now == test_cut)
    # about 10% of the events in each window
    assert 0.05 < len(parts.test.targets.item) / len(data) < 0.15


def test_temporal_explicit_cuts_are_validated(small_log):
    with pytest.raises(ValueError, match="must not be after"):
        split(small_log.interactions, "temporal", valid_cut=2e9, test_cut=1e9)


def test_user_holdout_holds_out_whole_users_with_80_20_fold_in(small_log):
    data = small_log.interactions
    parts = split(data, "user-holdout", seed=5)
    held = np.concatenate([parts.valid.users, parts.test.users])
    assert len(set(held.tolist())) == len(held)
    assert not np.isin(parts.train.user, held).any()
    assert len(parts.test) == round(0.2 * data.n_users)
    assert len(parts.valid) == round(0.1 * data.n_users)
    n_in = parts.test.history.lengths
    n_out = parts.test.targets.lengths
    ratio = n_out.sum() / (n_in.sum() + n_out.sum())
    assert 0.17 < ratio < 0.23
    # fold-in and target items are distinct items, all seen in training
    train_items = set(parts.train.item.tolist())
    for row in range(len(parts.test)):
        a = parts.test.history.item[
            parts.test.history.indptr[row] : parts.test.history.indptr[row + 1]
        ]
        b = parts.test.targets.item[
            parts.test.targets.indptr[row] : parts.test.targets.indptr[row + 1]
        ]
        assert len(set(a.tolist()) | set(b.tolist())) == len(a) + len(b)
        assert set(b.tolist()) <= train_items


def test_user_holdout_is_seeded(small_log):
    a = split(small_log.interactions, "user-holdout", seed=1)
    b = split(small_log.interactions, "user-holdout", seed=1)
    c = split(small_log.interactions, "user-holdout", seed=2)
    assert np.array_equal(a.test.users, b.test.users)
    assert np.array_equal(a.test.targets.item, b.test.targets.item)
    assert not np.array_equal(a.test.users, c.test.users)


def test_unknown_protocol_is_named():
    data = Interactions.build(["a"], ["x"], [1])
    with pytest.raises(ValueError, match="unknown protocol 'random'"):
        split(data, "random")


def test_next_event_form_asks_each_user_for_their_latest_event(small_log):
    from training.data.splits import next_event

    parts = split(small_log.interactions, "user-holdout", seed=3)
    asked = next_event(parts.valid)
    valid = parts.valid
    assert len(asked) == int(((valid.history.lengths + valid.targets.lengths) > 1).sum())
    for r in range(len(asked)):
        (row,) = np.flatnonzero(valid.users == asked.users[r])
        events = sorted(
            zip(
                np.concatenate(
                    [valid.history.take([row]).timestamp, valid.targets.take([row]).timestamp]
                ),
                np.concatenate([valid.history.take([row]).item, valid.targets.take([row]).item]),
                strict=True,
            ),
            key=lambda e: e[0],
        )
        target = asked.targets.take([r])
        assert target.timestamp.tolist() == [events[-1][0]] == [asked.now[r]]
        assert sorted(asked.history.take([r]).item.tolist()) == sorted(i for _, i in events[:-1])
        assert asked.history.take([r]).timestamp.max() <= asked.now[r]
