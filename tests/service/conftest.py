"""Servers on loopback for the service tests (real gRPC and HTTP sockets)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import grpc
import httpx
import pytest
from recserve_client.rpc import recommender_pb2_grpc as rpc

from service.app import Server, create_server
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
