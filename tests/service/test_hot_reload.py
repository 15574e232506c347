"""Hot reload under a steady request stream: no request fails, broken bundles are refused."""

import json
import shutil
import threading
import time

import grpc
import httpx

from service.rpc import recommender_pb2 as pb
from service.rpc import recommender_pb2_grpc as rpc


def _copy_version(source, root, version, break_it=False):
    target = root / version
    shutil.copytree(source, target)
    manifest = json.loads((target / "manifest.json").read_text())
    manifest["version"] = version
    (target / "manifest.json").write_text(json.dumps(manifest))
    if break_it:
        data = (target / "items.npy").read_bytes()
        (target / "items.npy").write_bytes(data[: len(data) // 2])
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
