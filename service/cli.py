"""Argument parser of ``recserve serve`` (flags override RECSERVE_* variables)."""

from __future__ import annotations

import argparse
from typing import Any


def add_serve_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "serve",
        help="serve a bundle over gRPC and HTTP",
        description="Load a bundle, keep live per-user history in the chosen store, and answer "
        "Recommend/RecordEvents/... over gRPC (with health and reflection) and REST "
        "(/v1/..., /healthz, /readyz, /metrics, /docs). Every flag can also be given as "
        "RECSERVE_<NAME> (e.g. RECSERVE_STORE=redis://127.0.0.1:6379).",
    )
    parser.add_argument(
        "--bundle", help="bundles/<name>/<version>, or bundles/<name>/ for the newest"
    )
    parser.add_argument(
        "--store",
        help="memory | file://PATH (default file://./var/recserve) | redis://HOST:PORT "
        "| redis+cluster://HOST:PORT",
    )
    parser.add_argument("--host", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--grpc-port", type=int, help="default 50051")
    parser.add_argument("--http-port", type=int, help="default 8000")
    parser.add_argument("--watch-bundles", type=float, dest="watch_bundles_s", help="poll seconds")
    parser.add_argument(
        "--trend-beta",
        type=float,
        help="weight of the trend bias (default: the bundle's calibrated beta)",
    )
    parser.add_argument("--trend-half-life", type=float, dest="trend_half_life_s", help="seconds")
    parser.set_defaults(func=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    import logging
    import signal
    import threading

    from pydantic import ValidationError

    from service.app import create_server
    from service.settings import Settings

    fields = ("bundle", "store", "host", "grpc_port", "http_port", "watch_bundles_s")
    given = {f: getattr(args, f) for f in (*fields, "trend_beta", "trend_half_life_s")}
    try:
        settings = Settings(**{k: v for k, v in given.items() if v is not None})
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        raise ValueError(f"bad settings: {problems}") from None
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        server = create_server(settings).start()
    except OSError as error:  # a port in use: say which, no traceback
        raise ValueError(str(error)) from None
    print(
        f"recserve: serving {server.bundles.version} on gRPC {settings.host}:{server.grpc_port} "
        f"and HTTP http://{settings.host}:{server.http_port} (docs at /docs); Ctrl-C stops",
        flush=True,
    )
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    print("recserve: shutting down (finishing calls in flight, flushing the store)", flush=True)
    server.stop()
    return 0
