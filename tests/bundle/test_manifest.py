"""The typed manifest: a round trip, and field-named refusals of what it cannot mean."""

import json

import numpy as np
import pytest

from bundle.errors import ManifestError
from bundle.manifest import ColdStart, InputSpec, ItemQuery, Manifest, QueryBlock


def _manifest(led_bundle) -> dict:
    return json.loads((led_bundle / "manifest.json").read_text())


def test_an_exported_manifest_round_trips(led_bundle):
    text = (led_bundle / "manifest.json").read_text()
    manifest = Manifest.from_json(text)
    assert manifest.to_json() == text
    assert manifest.encoder.inputs[0] == InputSpec("items", "item_rows", "int64")
    assert manifest.semantics.cold_start.kind == "query"
    assert manifest.semantics.trend.half_life_s == 3600.0


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda m: m.pop("index"), r"missing 1 required positional argument: 'index'"),
        (lambda m: m["encoder"]["inputs"][0].update(fill="clicks"), r"inputs\[0\]: unknown fill"),
        (lambda m: m["encoder"]["inputs"][1].update(dtype="int64"), r"inputs\[1\].*not int64"),
        (lambda m: m.update(dim="17"), r"manifest\.dim: expected int, got str"),
        (lambda m: m["index"].update(colour=1), r"manifest\.index: unknown field"),
        (lambda m: m["semantics"]["cold_start"].update(kind="mean"), r"cold_start\.kind"),
        (lambda m: m["semantics"]["cold_start"].update(query=[1.0]), r"cold_start\.query has 1"),
        (lambda m: m["encoder"]["outputs"][0].update(dim=3), "encoder output dim 3"),
    ],
)
def test_a_malformed_manifest_names_the_field(led_bundle, edit, message):
    values = _manifest(led_bundle)
    edit(values)
    with pytest.raises(ManifestError, match=message):
        Manifest.from_json(json.dumps(values))


def test_a_similar_items_query_is_the_row_scaled_and_shifted_blockwise():
    query = ItemQuery((QueryBlock(2, 2.0), QueryBlock(1, 0.0, -1.0)))
    assert query.apply(np.array([1.0, 3.0, 7.0])).tolist() == [2.0, 6.0, -1.0]


def test_cold_start_kinds_are_checked():
    assert ColdStart("popularity").query == ()
    with pytest.raises(ValueError, match="exactly when kind is 'query'"):
        ColdStart("popularity", (1.0,))
