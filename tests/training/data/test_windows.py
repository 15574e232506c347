"""Sliding windows against a plain-Python loop."""

import numpy as np
import pytest

from bundle.history import Sequences
from training.data.windows import sliding_windows


def _loop(rows, length, targets, min_input):
    out = []
    for r, seq in enumerate(rows):
        first = min(max(min_input, 1), max(len(seq) - 1, 1))
        for t in range(first, len(seq)):
            out.append((r, seq[max(0, t - length) : t], seq[t : t + targets]))
    return out


@pytest.mark.parametrize(("length", "targets", "min_input"), [(5, 3, 5), (2, 1, 1), (4, 2, 2)])
def test_windows_match_a_loop(length, targets, min_input):
    rng = np.random.default_rng(length)
    rows = [list(rng.integers(1, 50, size=rng.integers(0, 12))) for _ in range(40)]
    windows = sliding_windows(Sequences.from_lists(rows), length, targets, min_input)
    expected = _loop(rows, length, targets, min_input)
    assert len(windows) == len(expected)
    for w, (row, inputs, after) in enumerate(expected):
        assert windows.rows[w] == row
        n_in, n_out = int(windows.input_mask[w].sum()), int(windows.target_mask[w].sum())
        assert windows.inputs[w, :n_in].tolist() == inputs and n_in == len(inputs)
        assert windows.targets[w, :n_out].tolist() == after and n_out == len(after)
        assert not windows.inputs[w, n_in:].any() and not windows.targets[w, n_out:].any()
