"""Servers on loopback for the service tests (real gRPC and HTTP sockets)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import grpc
import httpx
import pytest

from service.app import Server, create_server
from service.rpc import recommender_pb2_grpc as rpc
from service.settings import Settings


@contextmanager
def running(bundle, **overrides: Any) -> Iterator[Server]:
    values = {
        "bundle": str(bundle),
        "store": "memory://",
        "grpc_port": 0,
        "http_port": 0,
        "trend_refresh_s": 0.05,
        **overrides,
    }
    server = create_server(Settings(**values)).start()
    try:
        yield server
    finally:
        server.stop(grace=1.0)


@pytest.fixture()
def start_server(led_bundle) -> Iterator[Callable[..., Server]]:
    stack = []

    def start(**overrides: Any) -> Server:
        cm = running(overrides.pop("bundle", led_bundle), **overrides)
        stack.append(cm)
        return cm.__enter__()

    yield start
    for cm in reversed(stack):
        cm.__exit__(None, None, None)


@pytest.fixture()
def server(start_server) -> Server:
    return start_server()


@pytest.fixture()
def stub(server) -> Iterator[rpc.RecommenderStub]:
    with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
        yield rpc.RecommenderStub(channel)


@pytest.fixture()
def http(server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"http://127.0.0.1:{server.http_port}", timeout=10) as client:
        yield client


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Replica:
    """``python -m service`` in a subprocess: a real, separate server process."""

    def __init__(self, bundle, store: str, **env: str) -> None:
        import os
        import subprocess
        import sys

        self.grpc_port, self.http_port = free_port(), free_port()
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

    def spawn(bundle, store: str, **env: str) -> Replica:
        replica = Replica(bundle, store, **env)
        started.append(replica)
        return replica

    yield spawn
    for replica in started:
        replica.stop()
