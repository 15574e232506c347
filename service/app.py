"""Wiring: ``create_server(settings)`` builds everything; nothing happens at import.

One ``Server`` holds the event store, the trend store and its refresher, the
bundle manager, the transport-free core, and both front doors (gRPC and
FastAPI/uvicorn), and shuts them down in order: stop accepting, finish the
calls in flight, flush the store.
"""

from __future__ import annotations

import logging
import socket
import threading
import time

import uvicorn
from fastapi import FastAPI

from bundle.encoder import choose_providers
from service.api.grpc_servicer import RecommenderServicer
from service.api.http import build_http_app
from service.bundle_manager import BundleManager
from service.core.pipeline import RecommendationService
from service.grpc_server import GrpcServer
from service.metrics import Metrics
from service.settings import Settings
from service.store.base import EventStore, open_store
from service.trends import MemoryTrends, RedisTrends, TrendRefresher, TrendStore

log = logging.getLogger("recserve")
REPLAY_HALF_LIVES = 10  # in-process trends are rebuilt from this much recent history


def open_trends(store: EventStore, half_life: float) -> TrendStore:
    """Redis-backed trends when the events live in Redis (shared by replicas), else in process."""
    client = getattr(store, "client", None)
    if client is not None:
        return RedisTrends(client, half_life)
    return MemoryTrends(half_life)


def listen_socket(host: str, port: int) -> socket.socket:
    """A bound TCP socket for uvicorn whose connections run with ``TCP_NODELAY``.

    asyncio only sets ``TCP_NODELAY`` on transports whose socket says
    ``IPPROTO_TCP``; a plain ``socket.socket(AF_INET)`` says 0, and uvicorn's h11
    protocol writes headers and body separately, so every keep-alive response
    then waited ~40 ms for the client's delayed ACK (Nagle): 23 requests/s per
    connection instead of thousands. Linux copies the option to accepted sockets.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise OSError(f"http_port: cannot bind HTTP to {host}:{port} ({error.strerror})") from None
    return sock


class Server:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.metrics = Metrics()
        self.store = open_store(settings.store, settings.max_history)
        self.trends = open_trends(self.store, settings.trend_half_life_s)
        size = max(settings.trend_candidates, 1) * 4
        self.refresher = TrendRefresher(self.trends, size, settings.trend_refresh_s)
        providers = choose_providers(settings.prefer_gpu)
        self.bundles = BundleManager(
            settings.bundle, self.metrics, providers, settings.encoder_threads
        )
        self.service = RecommendationService(
            settings, self.store, self.trends, self.refresher, self.bundles, self.metrics
        )
        self.servicer = RecommenderServicer(self.service, self.metrics)
        self.bundles.on_load(self.servicer.prepare)
        self.http_app: FastAPI = build_http_app(self.service, self.bundles, self.metrics)
        self.grpc_port = 0
        self.http_port = 0
        self._grpc: GrpcServer | None = None
        self._http: uvicorn.Server | None = None
        self._http_thread: threading.Thread | None = None

    def start(self) -> Server:
        s = self.settings
        self.bundles.load()  # fail fast: a server without a valid bundle does not start
        self._rebuild_trends()
        self.refresher.start()
        self._grpc = GrpcServer(self.servicer, f"{s.host}:{s.grpc_port}")
        self.grpc_port = self._grpc.start()
        try:
            sock = listen_socket(s.host, s.http_port)
        except OSError:
            self._grpc.stop(grace=0)
            raise
        self.http_port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.http_app, log_level="warning", access_log=False, lifespan="off"
        )
        self._http = uvicorn.Server(config)
        self._http_thread = threading.Thread(
            target=self._http.run, kwargs={"sockets": [sock]}, name="http", daemon=True
        )
        self._http_thread.start()
        deadline = time.time() + 10
        while not self._http.started and time.time() < deadline:
            time.sleep(0.01)
        if s.watch_bundles_s > 0:
            self.bundles.watch(s.watch_bundles_s)
        log.info(
            "recserve serving %s: gRPC %s:%d, HTTP %s:%d, store %s",
            self.bundles.version,
            s.host,
            self.grpc_port,
            s.host,
            self.http_port,
            s.store,
        )
        return self

    def _rebuild_trends(self) -> None:
        if isinstance(self.trends, RedisTrends):
            return
        since = time.time() - REPLAY_HALF_LIVES * self.settings.trend_half_life_s
        for batch in self.store.replay(since):
            self.trends.add(
                [e.item_id for e in batch], [e.timestamp for e in batch], [1.0] * len(batch)
            )

    def stop(self, grace: float = 5.0) -> None:
        """Graceful: stop accepting, let calls in flight finish, then flush the store."""
        if self._grpc is not None:
            self._grpc.stop(grace)
        if self._http is not None:
            self._http.should_exit = True
            if self._http_thread is not None:
                self._http_thread.join(timeout=grace)
        self.bundles.stop()
        self.refresher.stop()
        self.store.close()


def create_server(settings: Settings) -> Server:
    return Server(settings)
