import numpy as np

from bundle.history import Sequences
from training.data.batches import FoldInBatcher, pad


def test_pad_keeps_the_latest_events():
    items, mask = pad(Sequences.from_lists([[1, 2, 3], [4]]), max_len=2)
    assert items.tolist() == [[2, 3], [4, 0]]
    assert mask.tolist() == [[1, 1], [1, 0]]


def test_fold_in_batches_split_distinct_items_80_20(small_log):
    batcher = FoldInBatcher(small_log.interactions, target_fraction=0.2)
    rows = np.arange(len(batcher))
    batch = batcher.batch(rows, np.random.default_rng(0))
    n_items = small_log.interactions.n_items
    for r in rows[:50]:
        inputs = set(batch.inputs[r][batch.input_mask[r] > 0].tolist())
        targets = set(batch.target_items[batch.target_rows == r].tolist())
        assert inputs and targets and not inputs & targets
        everything = set((batch.positives[batch.positives // n_items == r] % n_items).tolist())
        assert inputs | targets == everything
    share = len(batch.target_items) / (len(batch.target_items) + batch.input_mask.sum())
    assert 0.15 < share < 0.3


def test_dropout_and_autoencoder_mode(small_log):
    batcher = FoldInBatcher(small_log.interactions, target_fraction=0.0, dropout=0.5)
    batch = batcher.batch(np.arange(len(batcher)), np.random.default_rng(0))
    n_targets = len(batch.target_items)
    assert batch.input_mask.sum() < 0.6 * n_targets  # about half the inputs dropped
    assert len(batch.positives) == n_targets  # every item is a target


def test_targets_can_be_restricted_to_an_event_type(small_log):
    data = small_log.interactions
    batcher = FoldInBatcher(data, target_event_types=("click",))
    batch = batcher.batch(np.arange(len(batcher)), np.random.default_rng(0))
    assert len(batch.target_items) > 0
    clicks = data.of_types(("click",))
    clicked = set(zip(clicks.user.tolist(), clicks.item.tolist(), strict=True))
    users = batcher.user_ids[batch.target_rows]
    assert set(zip(users.tolist(), batch.target_items.tolist(), strict=True)) <= clicked
