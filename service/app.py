"""Wiring: ``create_server(settings)`` builds everything; nothing happens at import.

One ``Server`` holds the event store, the trend store and its refresher, the
bundle manager, the transport-free core, and both front doors (gRPC and
FastAPI/uvicorn), and shuts them down in order: stop accepting, finish the
calls in flight, flush the store.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time

import uvicorn
from fastapi import FastAPI

from bundle.encoder import choose_providers
from service.api.deadlines import deadline_protocol
from service.api.grpc_servicer import RecommenderServicer
from service.api.http import build_http_app
from service.auth import Tokens
from service.bundle_manager import BundleManager
from service.core.pipeline import RecommendationService
from service.grpc_server import GrpcServer
from service.metrics import Metrics
from service.ratelimit import limiter_of
from service.settings import Settings
from service.store.base import EventStore, open_store
from service.tls import TlsFiles
from service.trends import MemoryTrends, RedisTrends, TrendRefresher, TrendStore

log = logging.getLogger("recserve")
REPLAY_HALF_LIVES = 10  # in-process trends are rebuilt from this much recent history


def open_trends(store: EventStore, half_life: float) -> TrendStore:
    """Redis-backed trends when the events live in Redis (shared by replicas), else in process."""
    client = getattr(store, "client", None)
    if client is not None:
        return RedisTrends(client, half_life)
    return MemoryTrends(half_life)


def listen_socket(host: str, port: int, setting: str = "http_port") -> socket.socket:
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
        raise OSError(f"{setting}: cannot bind HTTP to {host}:{port} ({error.strerror})") from None
    return sock


def serve_http(
    app: FastAPI,
    host: str,
    port: int,
    tls: TlsFiles | None,
    protocol: type[asyncio.Protocol],
    setting: str = "http_port",
) -> tuple[uvicorn.Server, threading.Thread, int]:
    """uvicorn on its own thread for ``app`` speaking ``protocol`` (HTTP/1.1 with
    deadlines): the server, once started, its thread, its port."""
    sock = listen_socket(host, port, setting)
    options = tls.uvicorn_options() if tls else {}
    config = uvicorn.Config(
        app, http=protocol, log_level="warning", access_log=False, lifespan="off", **options
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=setting, daemon=True
    )
    thread.start()
    deadline = time.time() + 10
    while not server.started and time.time() < deadline:
        time.sleep(0.01)
    return server, thread, sock.getsockname()[1]


class Server:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.metrics = Metrics()
        self.store = open_store(
            settings.store, settings.max_history, settings.store_fsync, settings.store_timeout_s
        )
        self.trends = open_trends(self.store, settings.trend_half_life_s)
        size = max(settings.trend_candidates, 1) * 4
        self.refresher = TrendRefresher(
            self.trends, size, settings.trend_refresh_s, self.metrics.trend_refresh_errors.inc
        )
        self.metrics.trend_lag.set_function(lambda: self.refresher.age)
        providers = choose_providers(settings.prefer_gpu)
        self.bundles = BundleManager(
            settings.bundle, self.metrics, providers, settings.encoder_threads
        )
        self.service = RecommendationService(
            settings, self.store, self.trends, self.refresher, self.bundles, self.metrics
        )
        self.tokens = Tokens(settings.tokens_file) if settings.tokens_file else None
        limiter = limiter_of(settings.rate_limit_per_s, settings.rate_limit_burst)
        self.servicer = RecommenderServicer(self.service, self.metrics, self.tokens, limiter)
        self.bundles.on_load(self.service.smoke_test)  # before it serves: refused if it fails
        self.bundles.on_load(self.servicer.prepare)
        split = settings.admin_port is not None
        self.http_app: FastAPI = build_http_app(
            self.service,
            self.bundles,
            self.metrics,
            self.tokens,
            "public" if split else "all",
            limiter,
        )
        self.admin_app = (
            build_http_app(self.service, self.bundles, self.metrics, self.tokens, "admin", limiter)
            if split
            else None
        )
        self.admin_port = 0
        self._admin: uvicorn.Server | None = None
        self.grpc_port = 0
        self.http_port = 0
        self._grpc: GrpcServer | None = None
        self._http: uvicorn.Server | None = None
        self._http_threads: list[threading.Thread] = []

    def start(self) -> Server:
        s = self.settings
        self.bundles.load()  # fail fast: a server without a valid bundle does not start
        self._rebuild_trends()
        self.refresher.start()
        self.service.live.start(self.metrics.live_item_refresh_errors.inc)
        tls = TlsFiles.of(s)
        timeouts = self.metrics.slow_clients
        protocol = deadline_protocol(
            s.header_timeout_s, s.body_timeout_s, lambda phase: timeouts.labels(phase).inc()
        )
        self._grpc = GrpcServer(self.servicer, f"{s.host}:{s.grpc_port}", tls)
        self.grpc_port = self._grpc.start()
        try:
            self._http, thread, self.http_port = serve_http(
                self.http_app, s.host, s.http_port, tls, protocol
            )
            self._http_threads.append(thread)
            if self.admin_app is not None:
                assert s.admin_port is not None
                self._admin, thread, self.admin_port = serve_http(
                    self.admin_app, s.admin_host, s.admin_port, tls, protocol, "admin_port"
                )
                self._http_threads.append(thread)
        except OSError:
            self._grpc.stop(grace=0)
            raise
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
        for http in (self._http, self._admin):
            if http is not None:
                http.should_exit = True
        for thread in self._http_threads:
            thread.join(timeout=grace)
        self.bundles.stop()
        self.refresher.stop()
        self.service.live.stop()
        self.store.close()


def create_server(settings: Settings) -> Server:
    return Server(settings)
