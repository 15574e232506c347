"""Evaluation protocols: train events plus validation/test fold-in sets.

Three protocols, each returning a ``Split``:

1. ``leave-last-out`` (AttRec / SASRec): per user with >= 3 events, the last
   event is the test target and the one before it the validation target;
   training keeps everything earlier.
2. ``temporal`` (the predictor paper's X/Y/Z date split): two global time cuts;
   train on the past, validate on the window between the cuts, test on the
   window after the second cut, each with the full past as input.
3. ``user-holdout`` (LED / Mult-VAE): held-out validation and test users; each
   held-out user's distinct items are split at random into 80% fold-in input
   and 20% target. Items never seen in training are dropped from held-out
   users (as Liang et al. 2018 do), since no item-based model can know them.

No split puts a target event in ``train``; tests check that.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from bundle.history import Sequences
from training.data.interactions import Interactions

PROTOCOLS = ("leave-last-out", "temporal", "user-holdout")


@dataclass(frozen=True)
class EvalSet:
    """Users to score, their input histories, their targets and the query time.

    Row ``r`` is user ``users[r]``: the model sees ``history`` row ``r`` at time
    ``now[r]`` and is scored on ``targets`` row ``r``.
    """

    users: np.ndarray  # (U,) dense user indices
    history: Sequences  # U rows, time ordered
    targets: Sequences  # U rows
    now: np.ndarray  # (U,) float64 query time

    def __len__(self) -> int:
        return len(self.users)

    def take(self, rows: np.ndarray) -> EvalSet:
        return EvalSet(
            self.users[rows], self.history.take(rows), self.targets.take(rows), self.now[rows]
        )

    def batches(self, size: int) -> Iterator[EvalSet]:
        for start in range(0, len(self), size):
            yield self.take(np.arange(start, min(start + size, len(self))))


@dataclass(frozen=True)
class Split:
    protocol: str
    train: Interactions
    valid: EvalSet
    test: EvalSet
    params: dict[str, Any]

    def describe(self) -> dict[str, Any]:
        return {
            "protocol": self.protocol,
            **self.params,
            "train_events": len(self.train),
            "valid_users": len(self.valid),
            "test_users": len(self.test),
            "valid_targets": len(self.valid.targets.item),
            "test_targets": len(self.test.targets.item),
        }


def split(data: Interactions, protocol: str, seed: int = 0, **params: Any) -> Split:
    """Apply ``protocol`` (one of ``PROTOCOLS``) with its keyword parameters."""
    makers: dict[str, Callable[..., Split]] = {
        "leave-last-out": leave_last_out,
        "temporal": temporal,
        "user-holdout": user_holdout,
    }
    if protocol not in makers:
        raise ValueError(f"unknown protocol {protocol!r}; choose from {', '.join(PROTOCOLS)}")
    if protocol == "user-holdout":
        params.setdefault("seed", seed)
    return makers[protocol](data, **params)


def _eval_set(
    seqs: Sequences,
    users: np.ndarray,
    history_mask: np.ndarray,
    target_mask: np.ndarray,
    now: np.ndarray,
) -> EvalSet:
    """Cut the rows ``users`` of ``seqs`` into history and target events."""
    hist = seqs.select(history_mask).take(users)
    targ = seqs.select(target_mask).take(users)
    return EvalSet(users.astype(np.int64), hist, targ, now.astype(np.float64))


def leave_last_out(data: Interactions, min_events: int = 3) -> Split:
    """Last event -> test, second to last -> validation, for users with >= ``min_events``."""
    if min_events < 3:
        raise ValueError("leave-last-out needs min_events >= 3 (train, valid and test)")
    seqs = data.sequences()
    lengths = np.repeat(seqs.lengths, seqs.lengths)
    from_end = lengths - seqs.positions()  # 1 for the last event
    eligible = lengths >= min_events
    is_test = eligible & (from_end == 1)
    is_valid = eligible & (from_end == 2)
    users = np.flatnonzero(seqs.lengths >= min_events)
    last = seqs.indptr[users + 1] - 1
    valid = _eval_set(seqs, users, ~(is_test | is_valid), is_valid, seqs.timestamp[last - 1])
    test = _eval_set(seqs, users, ~is_test, is_test, seqs.timestamp[last])
    train = data.select(~(is_test | is_valid))
    return Split("leave-last-out", train, valid, test, {"min_events": min_events})


def temporal(
    data: Interactions,
    valid_cut: float | None = None,
    test_cut: float | None = None,
    valid_fraction: float = 0.1,
    test_fraction: float = 0.1,
) -> Split:
    """Global time cuts: train < valid_cut <= valid < test_cut <= test.

    Cuts default to the event-time quantiles that leave ``test_fraction`` of the
    events for test and ``valid_fraction`` before them for validation.
    """
    if len(data) == 0:
        raise ValueError("temporal split of an empty log")
    ts = data.timestamp
    if test_cut is None:
        test_cut = float(np.quantile(ts, 1.0 - test_fraction))
    if valid_cut is None:
        valid_cut = float(np.quantile(ts, 1.0 - test_fraction - valid_fraction))
    if not valid_cut <= test_cut:
        raise ValueError(f"valid_cut ({valid_cut}) must not be after test_cut ({test_cut})")
    seqs = data.sequences()
    before_valid = seqs.timestamp < valid_cut
    in_valid = (seqs.timestamp >= valid_cut) & (seqs.timestamp < test_cut)
    in_test = seqs.timestamp >= test_cut
    rows = seqs.row_ids()
    valid_users = np.unique(rows[in_valid])
    test_users = np.unique(rows[in_test])
    valid = _eval_set(
        seqs, valid_users, before_valid, in_valid, np.full(len(valid_users), valid_cut)
    )
    test = _eval_set(seqs, test_users, ~in_test, in_test, np.full(len(test_users), test_cut))
    train = data.select(data.timestamp < valid_cut)
    params = {"valid_cut": valid_cut, "test_cut": test_cut}
    return Split("temporal", train, valid, test, params)


def user_holdout(
    data: Interactions,
    valid_fraction: float = 0.1,
    test_fraction: float = 0.2,
    target_fraction: float = 0.2,
    min_items: int = 5,
    seed: int = 0,
) -> Split:
    """Held-out users with a random 80/20 fold-in/target split of their distinct items."""
    rng = np.random.default_rng(seed)
    seqs = data.sequences()
    first = seqs.first_occurrence()
    distinct = np.bincount(seqs.row_ids()[first], minlength=len(seqs))
    eligible = np.flatnonzero(distinct >= min_items)
    shuffled = rng.permutation(eligible)
    n_test = round(test_fraction * data.n_users)
    n_valid = round(valid_fraction * data.n_users)
    if n_test + n_valid > len(eligible):
        raise ValueError(
            f"user-holdout: {n_test + n_valid} held-out users requested but only "
            f"{len(eligible)} users have >= {min_items} distinct items"
        )
    test_users = np.sort(shuffled[:n_test])
    valid_users = np.sort(shuffled[n_test : n_test + n_valid])
    held = np.zeros(len(seqs), dtype=bool)
    held[test_users] = True
    held[valid_users] = True
    rows = seqs.row_ids()
    train_mask_events = ~held[data.user]
    train = data.select(train_mask_events)
    known_items = np.zeros(data.n_items, dtype=bool)
    known_items[train.item] = True
    # Random rank of each distinct (user, item) among the user's distinct items.
    keep = first & held[rows] & known_items[seqs.item]
    key = rng.random(len(seqs.item))
    order = np.lexsort((key, ~keep, rows))  # kept events first, randomly ordered, per row
    rank = np.empty(len(order), dtype=np.int64)
    kept_per_row = np.bincount(rows[keep], minlength=len(seqs))
    positions = np.arange(len(order)) - np.repeat(seqs.indptr[:-1], seqs.lengths)
    rank[order] = positions
    n_target = np.maximum(1, np.round(target_fraction * kept_per_row).astype(np.int64))
    is_target = keep & (rank < n_target[rows])
    is_input = keep & ~is_target
    last_time = np.zeros(len(seqs))
    nonempty = seqs.lengths > 0
    last_time[nonempty] = seqs.timestamp[seqs.indptr[1:][nonempty] - 1]
    valid = _eval_set(seqs, valid_users, is_input, is_target, last_time[valid_users])
    test = _eval_set(seqs, test_users, is_input, is_target, last_time[test_users])
    params = {
        "valid_fraction": valid_fraction,
        "test_fraction": test_fraction,
        "target_fraction": target_fraction,
        "min_items": min_items,
        "seed": seed,
    }
    return Split("user-holdout", train, valid, test, params)


def next_event(eval_set: EvalSet) -> EvalSet:
    """The same users asked for their latest event: history = every other event of
    the row (input and targets), target = the latest one, now = its time.

    User-holdout targets are random items of the past; the real-time question
    (what will this user do next, given what everyone does now) needs the
    future, which this form gives for any protocol.
    """
    h, t = eval_set.history, eval_set.targets
    rows = np.concatenate([h.row_ids(), t.row_ids()])
    merged = Sequences(
        np.zeros(1, np.int64),  # rebuilt below
        np.concatenate([h.item, t.item]),
        np.concatenate([h.timestamp, t.timestamp]),
        np.concatenate([h.event_type, t.event_type]),
        np.concatenate([h.value, t.value]),
    )
    order = np.lexsort((np.arange(len(rows)), merged.timestamp, rows))
    lengths = np.bincount(rows, minlength=len(eval_set))
    indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    merged = Sequences(indptr, merged.item[order], merged.timestamp[order],
                       merged.event_type[order], merged.value[order])  # fmt: skip
    position = merged.positions()
    is_last = position == np.repeat(lengths - 1, lengths)
    keep = lengths > 1
    users = np.flatnonzero(keep)
    return EvalSet(
        eval_set.users[users],
        merged.select(~is_last).take(users),
        merged.select(is_last).take(users),
        merged.last_times()[users],
    )
