"""Observed/future cuts of timelines (attention-CF sec. 4.2): T_u strictly before S_u."""

from __future__ import annotations

import numpy as np
import pytest

from bundle.history import Sequences
from training.data.future import FutureBatcher

TIMELINES = [[1, 2, 3, 4, 5, 6, 7], [8, 9], [10], [11, 12, 13, 14]]


def _batcher(history: int = 3, future: int = 2) -> FutureBatcher:
    return FutureBatcher(Sequences.from_lists(TIMELINES), history, future)


def test_timelines_of_one_event_are_never_cut():
    assert len(_batcher()) == 3


def test_a_random_cut_puts_history_right_before_the_future_in_time_order():
    batcher = _batcher()
    rng = np.random.default_rng(0)
    for _ in range(50):
        batch = batcher.batch(np.arange(3), rng)
        for row, timeline in enumerate([TIMELINES[0], TIMELINES[1], TIMELINES[3]]):
            past = batch.history[row][batch.history_mask[row] > 0].tolist()
            future = batch.future[row][batch.future_mask[row] > 0].tolist()
            assert past and future
            joined = past + future
            start = timeline.index(joined[0])
            assert timeline[start : start + len(joined)] == joined
            # right-aligned history: padding only on the left
            assert (np.diff(batch.history_mask[row]) >= 0).all()


def test_the_last_cut_holds_out_the_last_events():
    batch = _batcher(history=4, future=2).batch(np.arange(3), cut="last")
    assert batch.future[0].tolist() == [6, 7]
    assert batch.history[0].tolist() == [2, 3, 4, 5]
    assert batch.future[1][batch.future_mask[1] > 0].tolist() == [9]
    assert batch.history[1][batch.history_mask[1] > 0].tolist() == [8]


def test_a_random_cut_without_a_generator_is_refused():
    with pytest.raises(ValueError, match="generator"):
        _batcher().batch(np.arange(2))
