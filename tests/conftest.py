"""Fixtures shared by the whole suite: small synthetic logs and the ML-100K path."""

from __future__ import annotations

from pathlib import Path

import grpc
import httpx
import pytest
import redis
from recserve_client.rpc import recommender_pb2_grpc as rpc

from training.data.synthetic import SyntheticConfig, SyntheticData, generate

REPO = Path(__file__).resolve().parents[1]
ML100K = REPO.parent / "shared" / "data" / "ml-100k"

SMALL = SyntheticConfig(seed=7, n_users=300, n_items=200, n_categories=10, days=30)


@pytest.fixture(scope="session")
def small_log() -> SyntheticData:
    """~20K events: tastes, sessions, event types, trends and cold items planted."""
    return generate(SMALL)


@pytest.fixture(scope="session")
def ml100k() -> Path:
    if not (ML100K / "ml-100k.inter").exists():
        pytest.skip(f"MovieLens-100K not found at {ML100K}")
    return ML100K


TINY_LED = {"dim": 16, "max_epochs": 8, "lr": 0.02, "eval_every": 2, "negatives": 100}


def train_checkpoint(root: Path, log: SyntheticData, model: str, params: dict, **job) -> Path:
    """Train ``model`` on ``log`` as `recserve train` does; returns the checkpoint folder."""
    from training.data.synthetic import write_recbole
    from training.evaluate import EvalConfig
    from training.jobs.source import DataSource, SplitSpec
    from training.jobs.train import TrainJob

    folder = write_recbole(log.interactions, root / "data")
    TrainJob(
        model=model,
        source=DataSource(str(folder), "recbole"),
        out=str(root / "run"),
        split=job.pop("split", SplitSpec("user-holdout")),
        params=params,
        eval=EvalConfig(ks=(10, 50)),
        progress=False,
        **job,
    ).run()
    return root / "run"


@pytest.fixture(scope="session")
def led_checkpoint(tmp_path_factory, small_log) -> Path:
    """A small LED trained on the synthetic log, saved as `recserve train` does."""
    return train_checkpoint(tmp_path_factory.mktemp("led"), small_log, "led", TINY_LED)


@pytest.fixture(scope="session")
def led_bundle(tmp_path_factory, led_checkpoint) -> Path:
    """The exported bundle of ``led_checkpoint``: bundles/led/1."""
    from export.writer import write_bundle
    from training.checkpoint import load_checkpoint

    root = tmp_path_factory.mktemp("bundles")
    return write_bundle(load_checkpoint(led_checkpoint), root / "led" / "1")


REDIS_TEST_DB = 15  # the suite owns this database of the local Redis and flushes it


@pytest.fixture()
def redis_url() -> str:
    url = f"redis://127.0.0.1:6379/{REDIS_TEST_DB}"
    client = redis.Redis.from_url(url)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.fail("Redis must run on 127.0.0.1:6379 (make redis)")
    client.flushdb()
    return url


CLUSTER_PORTS = (7301, 7302, 7303)


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory):
    """A real 3-master Redis Cluster on loopback ports, torn down after the session."""
    import shutil
    import subprocess
    import time

    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is needed for the Redis Cluster tests")
    root = tmp_path_factory.mktemp("redis-cluster")
    processes = []
    for port in CLUSTER_PORTS:
        folder = root / str(port)
        folder.mkdir()
        args = ["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                "--save", "", "--appendonly", "no", "--dir", str(folder)]  # fmt: skip
        processes.append(
            subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        )
    try:
        for port in CLUSTER_PORTS:
            wait_for_redis(port)
        nodes = [f"127.0.0.1:{p}" for p in CLUSTER_PORTS]
        subprocess.run(
            ["redis-cli", "--cluster", "create", *nodes, "--cluster-replicas", "0",
             "--cluster-yes"],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        for _ in range(200):
            info = redis.Redis(port=CLUSTER_PORTS[0]).cluster("info")
            if info.get("cluster_state") == "ok":
                break
            time.sleep(0.05)
        yield f"redis+cluster://127.0.0.1:{CLUSTER_PORTS[0]}"
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=10)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve_until_exit(bundle, store: str, timeout: float = 60):
    """``python -m service`` on free ports, run to its exit (a start-up that must fail)."""
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "service", "--bundle", str(bundle), "--store", store,
         "--grpc-port", str(free_port()), "--http-port", str(free_port())],
        capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def wait_for_redis(port: int, tries: int = 200) -> None:
    import time

    client = redis.Redis(port=port)
    for _ in range(tries):
        try:
            client.ping()
            return
        except redis.ConnectionError:
            time.sleep(0.02)
    raise TimeoutError(f"redis-server on port {port} did not start")


class Replica:
    """``python -m service`` in a subprocess: a real, separate server process."""

    def __init__(
        self, bundle, store: str, grpc_port: int = 0, http_port: int = 0, **env: str
    ) -> None:
        import os
        import subprocess
        import sys

        self.grpc_port, self.http_port = grpc_port or free_port(), http_port or free_port()
        args = [
            sys.executable, "-m", "service", "--bundle", str(bundle), "--store", store,
            "--grpc-port", str(self.grpc_port), "--http-port", str(self.http_port),
        ]  # fmt: skip
        environment = {**os.environ, "RECSERVE_TREND_REFRESH_S": "0.05", **env}
        self.process = subprocess.Popen(
            args, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self.url = f"http://127.0.0.1:{self.http_port}"
        self.wait_ready()

    def wait_ready(self, timeout: float = 30.0) -> None:
        import time

        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"replica exited: {self.process.stdout.read()}")
            try:
                if httpx.get(self.url + "/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError("replica did not become ready")

    def stub(self) -> rpc.RecommenderStub:
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.grpc_port}")
        return rpc.RecommenderStub(self.channel)

    def stop(self, sig: int | None = None) -> int:
        import signal

        if self.process.poll() is None:
            self.process.send_signal(sig or signal.SIGTERM)
        return self.process.wait(timeout=20)


@pytest.fixture()
def replicas():
    started: list[Replica] = []

    def spawn(bundle, store: str, **kwargs) -> Replica:
        replica = Replica(bundle, store, **kwargs)
        started.append(replica)
        return replica

    yield spawn
    for replica in started:
        replica.stop()
