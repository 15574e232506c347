"""Every fill of the input vocabulary, for one user and for a padded batch."""

import numpy as np
import pytest

from bundle.history import HistoryPolicy, Sequences
from bundle.inputs import FILLS, UserContext, build_inputs
from bundle.manifest import EncoderSpec, InputSpec, OutputSpec

ALL = EncoderSpec(
    inputs=tuple(InputSpec(name, name) for name in FILLS),
    outputs=(OutputSpec("user", "user_vector", 3),),
    history=HistoryPolicy(max_length=10),
)


def _history():
    seqs = Sequences.from_lists([[4, 5], [6], []], [[1.0, 3.0], [7.0], []])
    kinds, values = np.array([2, 0, 1], np.int8), np.array([0.5, 2.0, 1.0], np.float32)
    return Sequences(seqs.indptr, seqs.item, seqs.timestamp, kinds, values)


def test_a_batch_is_padded_at_the_end_and_every_fill_has_its_dtype():
    users = UserContext.from_table(
        np.arange(6, dtype=np.float32).reshape(3, 2), np.array([2, -1, 0])
    )
    inputs = build_inputs(ALL, _history(), np.array([10.0, 10.0, 10.0]), users)
    assert inputs["item_rows"].tolist() == [[4, 5], [6, 0], [0, 0]]
    assert inputs["mask"].tolist() == [[1, 1], [1, 0], [0, 0]]
    assert inputs["age_seconds"].tolist() == [[9, 7], [3, 0], [0, 0]]
    assert inputs["gap_seconds"].tolist() == [[0, 2], [0, 0], [0, 0]]
    assert inputs["event_types"].tolist() == [[2, 0], [1, 0], [0, 0]]
    assert inputs["values"].tolist() == [[0.5, 2.0], [1.0, 0.0], [0.0, 0.0]]
    assert inputs["user_vector"].tolist() == [[4, 5], [0, 0], [0, 1]]
    assert inputs["user_known"].tolist() == [1, 0, 1]
    assert inputs["seconds_since_last"].tolist() == [7, 3, 0]
    for name, fill in FILLS.items():
        assert inputs[name].dtype == np.dtype(fill.dtype), name


def test_one_user_takes_the_same_values_without_padding():
    seqs = Sequences.from_lists([[4, 5]], [[1.0, 3.0]])
    users = UserContext.from_table(np.ones((1, 2), np.float32), np.array([0]))
    one = build_inputs(ALL, seqs, np.array([10.0]), users)
    assert one["item_rows"].tolist() == [[4, 5]] and one["age_seconds"].tolist() == [[9, 7]]
    assert one["seconds_since_last"].tolist() == [7] and one["user_known"].tolist() == [1]


def test_one_user_context_equals_that_user_in_a_batch():
    table = np.arange(6, dtype=np.float32).reshape(3, 2)
    batch = UserContext.from_table(table, np.array([2, -1]))
    for b, row in enumerate((2, -1)):
        one = UserContext.from_table(table, np.array([row]))
        assert one.vectors.tolist() == batch.vectors[b : b + 1].tolist()
        assert one.known.tolist() == batch.known[b : b + 1].tolist()
        assert one.vectors.dtype == np.float32 and one.known.dtype == np.float32


def test_inputs_follow_the_history_policy():
    spec = EncoderSpec(
        ALL.inputs[:2], ALL.outputs, HistoryPolicy(max_length=2, distinct_items=True)
    )
    seqs = Sequences.from_lists([[1, 2, 1, 3]])
    assert build_inputs(spec, seqs, np.zeros(1))["item_rows"].tolist() == [[1, 3]]


def test_a_user_input_without_a_user_table_is_an_error():
    spec = EncoderSpec((InputSpec("u", "user_known"),), ALL.outputs)
    with pytest.raises(ValueError, match="needs the user table"):
        build_inputs(spec, Sequences.from_lists([[1]]), np.zeros(1))


def test_gaps_between_events_stay_exact_where_float32_ages_cannot():
    """Unix times near 1.8e9 are 128 s apart in float32: a gap of 3 s survives only as
    a difference taken before the cast."""
    seqs = Sequences.from_lists([[1, 2, 3]], [[1.8e9, 1.8e9 + 3.0, 1.8e9 + 4.5]])
    one = build_inputs(ALL, seqs, np.array([1.9e9]), UserContext.from_table(
        np.ones((1, 2), np.float32), np.array([0])))  # fmt: skip
    assert one["gap_seconds"].tolist() == [[0.0, 3.0, 1.5]]
