"""Feature tables become field blocks: multi-hot categories, one-hot text, standardised
numbers; identifiers and row-unique text are dropped."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bundle.features import FeatureSchema


@pytest.fixture()
def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "title": [f"movie {k}" for k in range(6)],
            "item_id": [str(k) for k in range(6)],
            "year": ["1990", "2000", "2010", "", "2000", "1990"],
            "categories": ["a|b", "a", "b|c", "", "a|c", "rare"],
            "colour": ["red", "blue", "red", "blue", "red", "blue"],
        }
    )


def test_fit_keeps_describing_columns_and_drops_identifiers(frame):
    schema = FeatureSchema.fit(frame)
    assert [(f.name, f.kind) for f in schema.fields] == [
        ("year", "number"),
        ("categories", "categories"),
        ("colour", "category"),
    ]
    assert schema.fields[1].vocabulary == ("a", "b", "c")  # "rare" seen once: dropped
    assert schema.width == 1 + 3 + 2
    assert schema.slices == [(0, 1), (1, 4), (4, 6)]


def test_encode_multi_hot_rows_sum_to_one_and_numbers_are_standardised(frame):
    schema = FeatureSchema.fit(frame)
    x = schema.encode(frame, len(frame))
    years = np.array([1990, 2000, 2010, 1998, 2000, 1990.0])  # missing -> the mean
    std = np.array([1990, 2000, 2010, 2000, 1990]).std()  # of the present values
    assert np.allclose(x[:, 0], (years - years.mean()) / std, atol=1e-5)
    assert np.allclose(x[0, 1:4], [0.5, 0.5, 0.0]) and np.allclose(x[3, 1:4], 0.0)
    assert np.allclose(x[5, 1:4], 0.0)  # only an unknown category
    assert np.allclose(x[:, 4:6].sum(1), 1.0)


def test_schema_round_trips_and_encodes_new_rows_alike(frame):
    schema = FeatureSchema.fit(frame)
    again = FeatureSchema.from_dict(schema.to_dict())
    assert again == schema
    new = pd.DataFrame({"categories": ["c"], "year": ["2005"]})
    x = again.encode(new, 1)
    assert np.allclose(x[0, 1:4], [0, 0, 1]) and np.allclose(x[0, 4:6], 0.0)


def test_no_frame_means_no_fields():
    schema = FeatureSchema.fit(None)
    assert schema.width == 0 and schema.encode(None, 3).shape == (3, 0)
