import json
import shutil

import numpy as np
import pytest

from service.bundle import Bundle, BundleError, resolve_bundle
from service.core.types import HistoryBatch


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
    user = bundle.encoder.encode(HistoryBatch.single(np.array([3, 4, 5]), np.zeros(3)), np.zeros(1))
    labels, _ = bundle.index.knn_query(user, k=10)
    exact = np.argsort(-(user @ bundle.vectors.T)[0])[:10]
    assert len(set(labels[0].tolist()) & set(exact.tolist())) >= 8
    assert "cat-00" in bundle.items.categories
    assert bundle.items.row_of[bundle.items.ids[7]] == 7


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


def test_unknown_format_version_is_refused(bundle_copy):
    manifest = json.loads((bundle_copy / "manifest.json").read_text())
    manifest["format_version"] = 2
    (bundle_copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="format 2"):
        Bundle.load(bundle_copy)


def test_garbage_manifest_is_refused(bundle_copy):
    (bundle_copy / "manifest.json").write_text("{not json")
    with pytest.raises(BundleError, match="unreadable manifest"):
        Bundle.load(bundle_copy)


def test_name_folder_resolves_to_the_newest_complete_version(tmp_path, led_bundle):
    for version in ("2", "10"):
        shutil.copytree(led_bundle, tmp_path / "led" / version)
    (tmp_path / "led" / "11").mkdir()  # incomplete: no manifest
    (tmp_path / "led" / ".12.tmp-1").mkdir()  # an export in progress
    assert resolve_bundle(tmp_path / "led").name == "10"
    with pytest.raises(BundleError, match="no bundle here"):
        resolve_bundle(tmp_path / "led" / "11")
