"""The shared optimisation loop (``training.trainer``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from training.trainer import Plan, TrainConfig, fit_with_early_stopping


def _plan(n_rows: int, seen: list[np.ndarray]) -> Plan:
    """A one-weight least-squares fit whose step records the rows it was given."""
    module = torch.nn.Linear(1, 1)
    target = torch.arange(n_rows, dtype=torch.float32)[:, None]

    def step(rows: np.ndarray, rng: np.random.Generator) -> torch.Tensor:
        seen.append(rows)
        x = torch.from_numpy(rows.astype(np.float32))[:, None]
        return ((module(x) - target[rows]) ** 2).mean()

    return Plan(module, n_rows, step)


@pytest.mark.parametrize(("epoch_rows", "expected"), [(0, 100), (30, 30), (500, 100)])
def test_an_epoch_trains_on_epoch_rows_distinct_rows_or_all_of_them(epoch_rows, expected):
    seen: list[np.ndarray] = []
    config = TrainConfig(batch_size=8, max_epochs=2, epoch_rows=epoch_rows)
    log = fit_with_early_stopping(_plan(100, seen), None, config)
    rows = np.concatenate(seen)
    assert (log.rows, log.epoch_rows) == (100, expected)
    assert len(seen) == 2 * -(-expected // 8) and min(map(len, seen)) > 0  # no empty steps
    assert len(rows) == 2 * expected
    first, second = rows[:expected], rows[expected:]
    assert len(np.unique(first)) == expected  # without replacement within an epoch
    assert expected == 100 or set(first) != set(second)  # each epoch draws afresh


def test_a_negative_epoch_rows_is_refused():
    with pytest.raises(ValueError, match="epoch_rows"):
        TrainConfig(epoch_rows=-1)
