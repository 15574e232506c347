import json
import shutil

import numpy as np
import pytest

from bundle.errors import BundleError
from bundle.history import Sequences
from bundle.loader import Bundle, resolve_bundle


@pytest.fixture()
def bundle_copy(tmp_path, led_bundle):
    target = tmp_path / "led" / "1"
    shutil.copytree(led_bundle, target)
    return target


def test_a_good_bundle_loads_and_encodes(led_bundle):
    bundle = Bundle.load(led_bundle)
    assert bundle.version == "led/1"
    assert bundle.vectors.shape == (200, 17)
    assert not bundle.vectors.flags.writeable
    assert bundle.encoder.provider == "CPUExecutionProvider"
    user = bundle.encoder.encode(Sequences.single(np.array([3, 4, 5]), np.zeros(3)), np.zeros(1))
    labels, _ = bundle.index.knn_query(user, k=10)
    exact = np.argsort(-(user @ bundle.vectors.T)[0])[:10]
    assert len(set(labels[0].tolist()) & set(exact.tolist())) >= 8
    assert "cat-00" in bundle.items.categories
    assert bundle.items.row_of[bundle.items.ids[7]] == 7
    assert len(bundle.identity) == 64 and bundle.users is None


def test_truncated_file_is_refused_naming_it(bundle_copy):
    path = bundle_copy / "items.npy"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(BundleError, match=r"items\.npy.*truncated"):
        Bundle.load(bundle_copy)


def test_flipped_byte_is_refused_by_checksum(bundle_copy):
    path = bundle_copy / "encoder.onnx"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(BundleError, match=r"encoder\.onnx: checksum mismatch"):
        Bundle.load(bundle_copy)


@pytest.mark.parametrize("name", ["index.hnsw", "items.tsv", "manifest.json"])
def test_missing_file_is_refused(bundle_copy, name):
    (bundle_copy / name).unlink()
    with pytest.raises(BundleError, match=r"incomplete bundle|no bundle here"):
        Bundle.load(bundle_copy)


def _edit_manifest(folder, edit):
    manifest = json.loads((folder / "manifest.json").read_text())
    edit(manifest)
    (folder / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize("version", [1, 3, None])
def test_a_format_this_version_does_not_read_is_refused_first(bundle_copy, version):
    _edit_manifest(bundle_copy, lambda m: m.update(format_version=version))
    with pytest.raises(
        BundleError, match=f"bundle format {version!r}, this recserve reads format 2"
    ):
        Bundle.load(bundle_copy)


def test_garbage_manifest_is_refused(bundle_copy):
    (bundle_copy / "manifest.json").write_text("{not json")
    with pytest.raises(BundleError, match="not JSON"):
        Bundle.load(bundle_copy)


def _rename_step_input(manifest: dict, name: str, fill: str) -> None:
    manifest["stateful"]["step"]["inputs"][-1] = {"name": name, "fill": fill}


def test_stateful_graphs_that_do_not_read_their_declared_inputs_are_refused(bundle_copy):
    assert Bundle.load(bundle_copy).states is not None  # LED serves statefully
    _edit_manifest(bundle_copy, lambda m: _rename_step_input(m, "renamed", "new_item"))
    with pytest.raises(BundleError, match=r"cannot load the stateful graphs.*renamed"):
        Bundle.load(bundle_copy)


def test_a_step_input_fill_outside_the_vocabulary_is_refused_naming_it(bundle_copy):
    _edit_manifest(bundle_copy, lambda m: _rename_step_input(m, "new", "tomorrow"))
    with pytest.raises(BundleError, match=r"stateful.*\['tomorrow'\] unknown"):
        Bundle.load(bundle_copy)


def test_an_index_of_other_vectors_is_refused(bundle_copy, tmp_path):
    import hnswlib

    vectors = np.load(bundle_copy / "items.npy")
    index = hnswlib.Index(space="ip", dim=vectors.shape[1])
    index.init_index(max_elements=len(vectors))
    index.add_items(vectors[::-1].copy(), np.arange(len(vectors)))
    index.save_index(str(bundle_copy / "index.hnsw"))
    from bundle.format import sha256

    entry = {"sha256": sha256(bundle_copy / "index.hnsw"),
             "bytes": (bundle_copy / "index.hnsw").stat().st_size}  # fmt: skip
    _edit_manifest(bundle_copy, lambda m: m["files"].update({"index.hnsw": entry}))
    with pytest.raises(BundleError, match="indexes other vectors"):
        Bundle.load(bundle_copy)


def test_name_folder_resolves_to_the_newest_complete_version(tmp_path, led_bundle):
    for version in ("2", "10"):
        shutil.copytree(led_bundle, tmp_path / "led" / version)
    (tmp_path / "led" / "11").mkdir()  # incomplete: no manifest
    (tmp_path / "led" / ".12.tmp-1").mkdir()  # an export in progress
    assert resolve_bundle(tmp_path / "led").name == "10"
    with pytest.raises(BundleError, match="no bundle here"):
        resolve_bundle(tmp_path / "led" / "11")


def test_an_event_type_outside_the_models_vocabulary_is_encoded_as_its_default(led_bundle):
    bundle = Bundle.load(led_bundle)
    default = bundle.default_event_type
    other = [t for t in bundle.manifest.event_types if t != default]
    codes = bundle.event_type_codes(["add_to_cart", default, *other])
    assert codes[0] == codes[1] == bundle.manifest.event_types.index(default)
    assert codes[2:].tolist() == [bundle.manifest.event_types.index(t) for t in other]
