import numpy as np
import pandas as pd
import pytest

from bundle.history import Sequences
from training.data.interactions import IdMap, Interactions


def test_idmap_is_sorted_and_independent_of_row_order():
    a, codes_a = IdMap.factorize(["u3", "u1", "u2", "u1"])
    b, _ = IdMap.factorize(["u2", "u1", "u3"])
    assert list(a.ids) == ["u1", "u2", "u3"] == list(b.ids)
    assert codes_a.tolist() == [2, 0, 1, 0]


def test_idmap_lookup_marks_unknown_ids_with_minus_one():
    ids, _ = IdMap.factorize(["a", "b"])
    assert ids.index_of(["b", "zzz", "a"]).tolist() == [1, -1, 0]


def test_idmap_save_load_roundtrip(tmp_path):
    ids, _ = IdMap.factorize(["item 1", "ü-2", "3"])
    ids.save(tmp_path / "ids.txt")
    assert list(IdMap.load(tmp_path / "ids.txt").ids) == list(ids.ids)


def test_idmap_rejects_duplicates():
    with pytest.raises(ValueError, match="unique"):
        IdMap(np.array(["a", "a"], dtype=object))


def test_build_sorts_by_user_then_time_keeping_arrival_order_on_ties():
    data = Interactions.build(
        ["u2", "u1", "u1", "u1"],
        ["i1", "i2", "i3", "i4"],
        [5, 9, 1, 1],
        event_types=["view", "click", "view", "view"],
    )
    assert data.users.ids[data.user].tolist() == ["u1", "u1", "u1", "u2"]
    assert data.items.ids[data.item].tolist() == ["i3", "i4", "i2", "i1"]
    assert data.event_types == ("click", "view")
    assert data.timestamp.tolist() == [1, 1, 9, 5]


def test_feature_tables_are_aligned_to_dense_ids_and_extra_rows_counted():
    features = pd.DataFrame({"category": ["x", "y", "z"]}, index=["i2", "i1", "i-unused"])
    data = Interactions.build(["u"] * 2, ["i1", "i2"], [0, 1], item_features=features)
    assert data.item_features["category"].tolist() == ["y", "x"]
    assert data.stats()["item_feature_rows_without_events"] == 1


def test_sequences_take_select_and_last():
    seqs = Sequences.from_lists([[1, 2, 3], [], [4, 5]])
    taken = seqs.take(np.array([2, 0]))
    assert taken.lengths.tolist() == [2, 3]
    assert taken.item.tolist() == [4, 5, 1, 2, 3]
    kept = seqs.select(seqs.item % 2 == 1)
    assert kept.lengths.tolist() == [2, 0, 1]
    assert kept.item.tolist() == [1, 3, 5]
    assert seqs.last(1).item.tolist() == [3, 5]
    assert seqs.positions().tolist() == [0, 1, 2, 0, 1]


def test_sequences_to_csr_sums_or_binarises_duplicates():
    seqs = Sequences.from_lists([[1, 1, 2]])
    assert seqs.to_csr(3).toarray().tolist() == [[0, 1, 1]]
    weights = np.array([1.0, 2.0, 0.5], dtype=np.float32)
    assert seqs.to_csr(3, weights).toarray().tolist() == [[0, 3, 0.5]]


def test_stats_reports_counts_and_types(small_log):
    stats = small_log.interactions.stats()
    assert stats["users"] == 300
    assert stats["events"] == len(small_log.interactions)
    assert set(stats["event_types"]) == {"view", "click", "purchase"}
    assert stats["item_features"] == ["category", "categories", "price", "release_timestamp"]
