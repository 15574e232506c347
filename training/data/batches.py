"""Fold-in training batches: each user's items split into input and target.

LED (sec. 4.3) trains an encoder to predict the *target* part of a timeline
from its *input* part. ``FoldInBatcher`` draws, for a batch of users, a fresh
random split of their distinct items (80/20 by default, as the paper does for
BPR) or uses every item on both sides (``target_fraction=0``, the
auto-encoder setting of the other losses), then applies input dropout
(denoising, Mult-DAE) and pads everything into dense arrays. All numpy,
vectorised over the batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bundle.history import Sequences
from training.data.interactions import Interactions


@dataclass(frozen=True)
class FoldInBatch:
    """Padded arrays; ``*_mask`` is 1.0 on real entries, 0.0 on padding."""

    users: np.ndarray  # (B,) rows of the batcher's user table
    inputs: np.ndarray  # (B, L) int64 item indices
    input_mask: np.ndarray  # (B, L) float32
    target_rows: np.ndarray  # (P,) int64 batch row of each target
    target_items: np.ndarray  # (P,) int64
    positives: np.ndarray  # (P,) int64 keys row * n_items + item of every item of the user


def pad(seqs: Sequences, max_len: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(R, L) items and mask from CSR rows, keeping the *last* ``max_len`` events."""
    return (seqs if max_len is None else seqs.last(max_len)).padded()


class FoldInBatcher:
    """Random input/target splits of users' distinct items, batch by batch."""

    def __init__(
        self,
        train: Interactions,
        target_fraction: float = 0.2,
        dropout: float = 0.0,
        max_input: int = 500,
        target_event_types: tuple[str, ...] = (),
        min_items: int = 2,
    ) -> None:
        if not 0.0 <= target_fraction < 1.0:
            raise ValueError("target_fraction must be in [0, 1)")
        if not 0.0 <= dropout < 1.0:
            raise ValueError("dropout must be in [0, 1)")
        self.n_items = train.n_items
        self.target_fraction = target_fraction
        self.dropout = dropout
        self.max_input = max_input
        seqs = train.sequences().distinct()
        keep = np.flatnonzero(seqs.lengths >= min_items)
        self.seqs = seqs.take(keep)
        self.user_ids = keep
        # Items allowed as targets: those the user had an event of an allowed type on
        # (e.g. clicks only, LED sec. 4.3); inputs use every item.
        self.target_ok: np.ndarray | None = None
        if target_event_types:
            allowed = train.of_types(target_event_types).sequences()
            allowed_keys = allowed.row_ids() * self.n_items + allowed.item
            item_keys = keep[self.seqs.row_ids()] * self.n_items + self.seqs.item
            self.target_ok = np.isin(item_keys, allowed_keys)

    def __len__(self) -> int:
        return len(self.seqs)

    def batch(self, rows: np.ndarray, rng: np.random.Generator) -> FoldInBatch:
        part = self.seqs.take(rows)
        row_of = part.row_ids()
        n = len(part.item)
        positives = row_of * self.n_items + part.item
        if self.target_fraction > 0:
            order = np.lexsort((rng.random(n), row_of))  # shuffled within each row
            rank = np.empty(n, dtype=np.int64)
            rank[order] = part.positions()
            n_target = np.maximum(1, np.round(self.target_fraction * part.lengths)).astype(np.int64)
            is_target = rank < n_target[row_of]
            is_input = ~is_target
        else:
            is_target = np.ones(n, dtype=bool)
            is_input = np.ones(n, dtype=bool)
        if self.target_ok is not None:
            is_target &= self.target_ok[self.seqs.event_index(rows)]
        if self.dropout > 0:
            is_input &= rng.random(n) >= self.dropout
        inputs, input_mask = pad(part.select(is_input), self.max_input)
        return FoldInBatch(
            rows,
            inputs,
            input_mask,
            row_of[is_target],
            part.item[is_target].astype(np.int64),
            positives,
        )
