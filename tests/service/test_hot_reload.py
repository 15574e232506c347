"""Hot reload under a steady request stream: no request fails, broken bundles are refused."""

import json
import shutil
import threading
import time

import grpc
import httpx
import numpy as np
import pytest
from recserve_client.rpc import recommender_pb2 as pb
from recserve_client.rpc import recommender_pb2_grpc as rpc


def _copy_version(source, root, version, break_it=False):
    """A copy of ``source`` as ``root/version``, put in place in one rename as the exporter
    does (a watcher must never see it with the source's manifest)."""
    target = root / version
    staging = root / f".{version}.tmp"
    shutil.copytree(source, staging)
    manifest = json.loads((staging / "manifest.json").read_text())
    manifest["version"] = version
    (staging / "manifest.json").write_text(json.dumps(manifest))
    if break_it:
        data = (staging / "items.npy").read_bytes()
        (staging / "items.npy").write_bytes(data[: len(data) // 2])
    staging.rename(target)
    return target


class Hammer(threading.Thread):
    """Calls Recommend in a loop and records every outcome."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.versions: list[str] = []
        self.failures: list[str] = []
        self.stop = threading.Event()

    def run(self) -> None:
        with grpc.insecure_channel(f"127.0.0.1:{self.port}") as channel:
            stub = rpc.RecommenderStub(channel)
            while not self.stop.is_set():
                try:
                    reply = stub.Recommend(pb.RecommendRequest(user_id="steady", k=10), timeout=5)
                    self.versions.append(reply.model_version)
                except grpc.RpcError as error:
                    self.failures.append(f"{error.code()}: {error.details()}")


def test_reload_swaps_versions_without_dropping_a_request(tmp_path, led_bundle, start_server):
    root = tmp_path / "bundles" / "led"
    _copy_version(led_bundle, root, "1")
    server = start_server(bundle=root)
    hammer = Hammer(server.grpc_port)
    hammer.start()
    http = httpx.Client(base_url=f"http://127.0.0.1:{server.http_port}", timeout=30)
    time.sleep(0.3)
    _copy_version(led_bundle, root, "2")
    assert http.post("/admin/reload", json={}).json()["bundle"] == "led/2"
    time.sleep(0.3)
    _copy_version(led_bundle, root, "3", break_it=True)
    refused = http.post("/admin/reload", json={})
    assert refused.status_code == 409 and "still serving led/2" in refused.json()["detail"]
    time.sleep(0.3)
    hammer.stop.set()
    hammer.join()
    assert hammer.failures == []
    assert hammer.versions[0] == "led/1" and hammer.versions[-1] == "led/2"
    assert set(hammer.versions) == {"led/1", "led/2"}
    ready = http.get("/readyz").json()
    assert ready["bundle"] == "led/2" and "items.npy" in ready["last_error"]
    metrics = http.get("/metrics").text
    assert 'recserve_bundle_loads_total{outcome="refused"} 1.0' in metrics


def test_watcher_picks_up_a_new_version(tmp_path, led_bundle, start_server):
    root = tmp_path / "bundles" / "led"
    _copy_version(led_bundle, root, "1")
    server = start_server(bundle=root, watch_bundles_s=0.1)
    _copy_version(led_bundle, root, "7")
    deadline = time.time() + 10
    while time.time() < deadline and server.bundles.version != "led/7":
        time.sleep(0.05)
    assert server.bundles.version == "led/7"


def test_a_broken_bundle_at_start_up_is_refused(tmp_path, led_bundle):
    import pytest

    from bundle.errors import BundleError
    from service.app import create_server
    from service.settings import Settings

    broken = _copy_version(led_bundle, tmp_path / "led", "1", break_it=True)
    server = create_server(
        Settings(bundle=str(broken), store="memory://", grpc_port=0, http_port=0)
    )
    with pytest.raises(BundleError, match=r"items\.npy"):
        server.start()
    server.stop()


# --- bundles that lie: each passes its checksums and is refused before it serves ------


def _edit_manifest(folder, edit) -> None:
    manifest = json.loads((folder / "manifest.json").read_text())
    edit(manifest)
    (folder / "manifest.json").write_text(json.dumps(manifest))


def _resign(folder, name: str) -> None:
    """Record ``name``'s new size and SHA-256 in the manifest (a consistent liar)."""
    from bundle.format import sha256

    manifest = json.loads((folder / "manifest.json").read_text())
    path = folder / name
    manifest["files"][name] = {"sha256": sha256(path), "bytes": path.stat().st_size}
    (folder / "manifest.json").write_text(json.dumps(manifest))


def _index(folder, vectors, labels) -> None:
    import hnswlib

    index = hnswlib.Index(space="ip", dim=vectors.shape[1])
    index.init_index(max_elements=len(vectors), M=16, ef_construction=100)
    index.add_items(vectors, labels)
    index.save_index(str(folder / "index.hnsw"))
    _resign(folder, "index.hnsw")


def _labels_beyond_the_items(folder) -> None:
    vectors = np.load(folder / "items.npy")
    _index(folder, vectors, np.arange(len(vectors)) + 1000)


def _index_of_another_dimension(folder) -> None:
    vectors = np.load(folder / "items.npy")
    wider = np.hstack([vectors, np.ones((len(vectors), 3), np.float32)])
    _index(folder, wider, np.arange(len(vectors)))


def _unknown_encoder_input(folder) -> None:
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["encoder"]["inputs"][1]["fill"] = "session_mood"
    (folder / "manifest.json").write_text(json.dumps(manifest))


def _negative_ef_search(folder) -> None:
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["index"]["ef_search"] = -1
    (folder / "manifest.json").write_text(json.dumps(manifest))


def _encoder(folder, width: int, value: float) -> None:
    """An encoder with the declared inputs whose user vector is ``width`` x ``value``."""
    import onnx
    from onnx import TensorProto, helper

    inputs = [
        helper.make_tensor_value_info("items", TensorProto.INT64, ["batch", "history"]),
        helper.make_tensor_value_info("weights", TensorProto.FLOAT, ["batch", "history"]),
    ]
    output = helper.make_tensor_value_info("user", TensorProto.FLOAT, [1, width])
    constant = helper.make_tensor("c", TensorProto.FLOAT, [1, width], [value] * width)
    node = helper.make_node("Constant", [], ["user"], value=constant)
    # LED's second output, each event's share of the user vector
    share = helper.make_tensor_value_info("share", TensorProto.FLOAT, ["batch", "history"])
    copy = helper.make_node("Identity", ["weights"], ["share"])
    graph = helper.make_graph([node, copy], "liar", inputs, [output, share])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, folder / "encoder.onnx")
    _resign(folder, "encoder.onnx")


LIARS = {
    "index labels beyond the item count": (_labels_beyond_the_items, "labels outside rows"),
    "index of another dimension": (
        _index_of_another_dimension,
        "index.hnsw: an index of 20-d vectors, the bundle's index form gives 17-d",
    ),
    "unknown encoder input": (_unknown_encoder_input, "unknown fill 'session_mood'"),
    "ef_search -1": (_negative_ef_search, "ef_search must be >= 1"),
    "encoder of the wrong width": (
        lambda f: _encoder(f, 5, 0.1),  # LED is stateful: its readout is checked against it
        "smoke test: the stateful graphs against the encoder failed",
    ),
    "encoder answering NaN": (
        lambda f: _encoder(f, 17, float("nan")),
        "the readout of the stepped state differs from encoder.onnx",
    ),
}


@pytest.mark.parametrize("lie", list(LIARS))
def test_a_lying_bundle_is_refused_and_the_old_one_keeps_serving(
    tmp_path, led_bundle, start_server, lie
):
    root = tmp_path / "bundles" / "led"
    _copy_version(led_bundle, root, "1")
    server = start_server(bundle=root)
    http = httpx.Client(base_url=f"http://127.0.0.1:{server.http_port}", timeout=30)
    http.post("/v1/events", json={"events": [{"user_id": "kim", "item_id": "item-00003"}]})
    before = http.get("/v1/recommendations/kim").json()
    liar = _copy_version(led_bundle, root, "2")
    damage, reason = LIARS[lie]
    damage(liar)
    refused = http.post("/admin/reload", json={"version": "2"})
    assert refused.status_code == 409
    assert "still serving led/1" in refused.json()["detail"]
    assert reason in refused.json()["detail"]
    assert http.get("/v1/recommendations/kim").json() == before
    assert http.get("/readyz").json()["bundle"] == "led/1"


def test_a_different_bundle_claiming_the_same_name_and_version_serves_its_own_answers(
    tmp_path, led_bundle, start_server
):
    root = tmp_path / "bundles" / "led"
    first = _copy_version(led_bundle, root, "1")
    other = _copy_version(led_bundle, root, "2")
    _edit_manifest(other, lambda m: m.update(version="1"))  # claims the same name/version
    vectors = np.load(other / "items.npy")
    np.save(other / "items.npy", vectors[::-1].copy())  # other items, other answers
    _resign(other, "items.npy")
    _index(other, vectors[::-1].copy(), np.arange(len(vectors)))
    event = {"events": [{"user_id": "lee", "item_id": "item-00003"}]}
    answers = {}
    for name, folder in (("other", other), ("first", first)):
        fresh = start_server(bundle=folder)
        with httpx.Client(base_url=f"http://127.0.0.1:{fresh.http_port}") as http:
            http.post("/v1/events", json=event)
            answers[name] = http.get("/v1/recommendations/lee").json()["items"]
    assert answers["first"] != answers["other"]
    server = start_server(bundle=first)  # serving led/1 from folder 1
    http = httpx.Client(base_url=f"http://127.0.0.1:{server.http_port}", timeout=30)
    http.post("/v1/events", json=event)
    assert http.get("/v1/recommendations/lee").json()["items"] == answers["first"]  # cached
    assert http.post("/admin/reload", json={"version": "2"}).json()["bundle"] == "led/1"
    assert http.get("/v1/recommendations/lee").json()["items"] == answers["other"]


def test_the_watcher_retries_a_half_written_version_and_ignores_non_versions(
    tmp_path, led_bundle, start_server
):
    root = tmp_path / "bundles" / "led"
    _copy_version(led_bundle, root, "1")
    shutil.copytree(led_bundle, root / "backup")  # not a version: never served
    server = start_server(bundle=root, watch_bundles_s=0.05)
    assert server.bundles.version == "led/1"
    half = _copy_version(led_bundle, root, "2", break_it=True)  # items.npy half written
    _wait_until(lambda: server.bundles.last_error is not None, "the watcher never tried 2")
    assert server.bundles.version == "led/1"
    shutil.copy(led_bundle / "items.npy", half / "items.npy")  # the writer finishes
    _wait_until(lambda: server.bundles.version == "led/2", "the watcher never retried 2")
    _copy_version(led_bundle, root, "3", break_it=True)
    _copy_version(led_bundle, root, "4")  # a later version is not blocked by version 3
    _wait_until(lambda: server.bundles.version == "led/4", "version 3 blocked version 4")


def _wait_until(done, message: str, timeout: float = 20.0) -> None:
    deadline = time.time() + timeout
    while not done():
        assert time.time() < deadline, message
        time.sleep(0.05)


def test_reload_reaches_only_versions_under_the_model_folder_and_leaks_no_path(
    tmp_path, led_bundle, start_server
):
    root = tmp_path / "bundles" / "led"
    _copy_version(led_bundle, root, "1")
    planted = _copy_version(led_bundle, root, "2")
    _edit_manifest(planted, lambda m: m["files"].update(
        {"../../../../etc/passwd": {"sha256": "0" * 64, "bytes": 1}}))  # fmt: skip
    server = start_server(bundle=root / "1")
    http = httpx.Client(base_url=f"http://127.0.0.1:{server.http_port}", timeout=30)
    answers = {
        version: http.post("/admin/reload", json={"version": version})
        for version in ("../../../etc", "/root", "9", "2", "backup")
    }
    assert http.post("/admin/reload", json={"path": "/root"}).status_code == 422
    texts = [reply.text for reply in answers.values()] + [http.get("/readyz").text]
    for text in texts:
        assert str(tmp_path) not in text and "bytes" not in text  # no path, no file size
    assert all(reply.status_code == 409 for reply in answers.values())
    assert "is not a version name" in answers["/root"].json()["detail"]
    assert "no complete version '9' under led/" in answers["9"].json()["detail"]
    assert "manifest names a file outside the bundle" in answers["2"].json()["detail"]
    assert http.get("/readyz").json()["bundle"] == "led/1"
