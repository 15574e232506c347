"""Sliding windows over time-ordered histories: the last L items -> the next T items.

AttRec (sec. "Model Learning", as Caser) trains on every position t of a
user's sequence: the input is the L items before t, the targets the T items
from t on ("capturing skip behaviours"). Inputs are padded at the end, as
``bundle.inputs`` pads the server's histories, so a model sees the same layout
in training and in serving. All numpy, vectorised over the windows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bundle.history import Sequences


@dataclass(frozen=True)
class Windows:
    """W windows; ``*_mask`` is 1.0 on real entries, 0.0 on padding."""

    rows: np.ndarray  # (W,) int64 the sequence row (user) of each window
    inputs: np.ndarray  # (W, L) int64 item rows, oldest first, padded at the end
    input_mask: np.ndarray  # (W, L) float32
    targets: np.ndarray  # (W, T) int64 the next items, padded at the end
    target_mask: np.ndarray  # (W, T) float32

    def __len__(self) -> int:
        return len(self.rows)

    def take(self, index: np.ndarray) -> Windows:
        return Windows(
            self.rows[index], self.inputs[index], self.input_mask[index],
            self.targets[index], self.target_mask[index],
        )  # fmt: skip


def sliding_windows(seqs: Sequences, length: int, targets: int, min_input: int = 1) -> Windows:
    """Every target start t >= ``min_input`` of each row (t >= 1 for rows shorter than
    that): input = the ``length`` events before t, targets = the ``targets`` from t."""
    if length < 1 or targets < 1:
        raise ValueError("window length and targets must be >= 1")
    n = seqs.lengths
    first = np.minimum(np.maximum(min_input, 1), np.maximum(n - 1, 1))
    count = np.maximum(n - first, 0)
    rows = np.repeat(np.arange(len(seqs), dtype=np.int64), count)
    local = np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count)
    start = seqs.indptr[rows] + first[rows] + local  # absolute index of the first target
    begin, end = seqs.indptr[rows], seqs.indptr[rows + 1]
    # inputs, right-aligned (position t-L .. t-1), then shifted left past the missing ones
    right = start[:, None] - length + np.arange(length)[None, :]
    missing = np.maximum(begin - (start - length), 0)  # (W,) positions before the row starts
    shift = np.minimum(np.arange(length)[None, :] + missing[:, None], length - 1)
    left = np.take_along_axis(right, shift, axis=1)
    input_ok = np.arange(length)[None, :] < (length - missing)[:, None]
    after = start[:, None] + np.arange(targets)[None, :]
    target_ok = after < end[:, None]
    item = seqs.item.astype(np.int64)
    return Windows(
        rows,
        np.where(input_ok, item[np.where(input_ok, left, 0)], 0),
        input_ok.astype(np.float32),
        np.where(target_ok, item[np.where(target_ok, after, 0)], 0),
        target_ok.astype(np.float32),
    )
