"""Argument parser of ``recserve serve`` (flags override RECSERVE_* variables)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

SWITCH_INTERVAL_S = 0.0005


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
    parser.add_argument(
        "--store-fsync",
        choices=("batch", "always"),
        help="file:// store: batch (default; an acknowledged event survives a killed server) "
        "or always (fsync before each acknowledgement; survives a power loss)",
    )
    parser.add_argument("--host", help="interface to bind (default 127.0.0.1)")
    parser.add_argument(
        "--tokens-file",
        help="bearer tokens with scopes (`recserve token new` makes one); without it the API "
        "is open and only loopback may be bound",
    )
    parser.add_argument(
        "--admin-port",
        type=int,
        help="serve /admin on its own listener (--admin-host, default 127.0.0.1) only",
    )
    parser.add_argument("--admin-host", help="interface of the admin listener")
    parser.add_argument("--tls-cert", help="PEM certificate: gRPC and HTTP over TLS")
    parser.add_argument("--tls-key", help="PEM private key of --tls-cert")
    parser.add_argument(
        "--tls-client-ca", help="PEM CA: require client certificates it signed (mutual TLS)"
    )
    parser.add_argument(
        "--insecure",
        action="store_true",
        default=None,
        help="serve a non-loopback host without tokens (anyone reaching the ports can read "
        "and write every user's history)",
    )
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

    fields = (
        "bundle",
        "store",
        "store_fsync",
        "host",
        "tokens_file",
        "insecure",
        "tls_cert",
        "tls_key",
        "tls_client_ca",
        "admin_port",
        "admin_host",
        "grpc_port",
        "http_port",
        "watch_bundles_s",
    )
    given = {f: getattr(args, f) for f in (*fields, "trend_beta", "trend_half_life_s")}
    try:
        settings = Settings(**{k: v for k, v in given.items() if v is not None})
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        raise ValueError(f"bad settings: {problems}") from None
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    # A thread holding the GIL keeps it up to the switch interval (5 ms by default)
    # before the event loops may run, several times per request: with a 1 MiB events
    # batch on a worker thread, /healthz waited 53 ms at p50; 0.5 ms: 7.5 ms, same
    # throughput (loadtest/hostile.py, loadtest/benchmark.py).
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    try:
        server = create_server(settings).start()
    except OSError as error:  # a port in use: say which, no traceback
        raise ValueError(str(error)) from None
    print(
        f"recserve: serving {server.bundles.version} on gRPC {settings.host}:{server.grpc_port} "
        f"and HTTP http://{settings.host}:{server.http_port} (docs at /docs); Ctrl-C stops",
        flush=True,
    )
    if settings.insecure and settings.tokens_file is None:
        logging.getLogger("recserve").warning(
            "--insecure: serving %s without tokens; anyone who reaches the ports can read and "
            "write every user's history",
            settings.host,
        )
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    if server.tokens is not None:  # rotate tokens without a restart
        tokens = server.tokens
        signal.signal(signal.SIGHUP, lambda *_: tokens.reload())
    stop.wait()
    print("recserve: shutting down (finishing calls in flight, flushing the store)", flush=True)
    server.stop()
    return 0


def add_store_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "store",
        help="check or repair an embedded (file://) event store",
        description="check: list the corrupt lines and a torn tail of the store's log "
        "(exit 1 when there are any). repair: move them to a quarantine file beside the log "
        "(never deleted) and rewrite the log without them, so the server starts again. "
        "Both refuse to run while a server has the store open.",
    )
    parser.add_argument("action", choices=("check", "repair"))
    parser.add_argument("--store", required=True, help="file://PATH of the store")
    parser.set_defaults(func=run_store)


def run_store(args: argparse.Namespace) -> int:
    from service.store import maintenance

    if args.action == "check":
        found, lines = maintenance.check(args.store)
        print("\n".join(lines))
        return 0 if found.clean else 1
    done = maintenance.repair(args.store)
    if done.quarantine is None:
        print(f"{args.store}: clean, nothing to repair")
    else:
        moved = len(done.found.bad) + bool(done.found.torn)
        print(
            f"{args.store}: moved {moved} bad record(s) to {done.quarantine} (reasons in "
            f"{done.quarantine.with_suffix('.txt').name}); {done.found.records} records kept"
        )
    return 0


def add_token_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "token",
        help="make a bearer token and its tokens-file line",
        description="new: print a fresh random token (give it to the client; it is not "
        "stored anywhere) and the line to add to the tokens file, which holds only its "
        "SHA-256. The server re-reads the file when it changes or on SIGHUP.",
    )
    parser.add_argument("action", choices=("new",))
    parser.add_argument("--name", required=True, help="client name, shown in metrics")
    parser.add_argument("--scopes", required=True, help="some of read,write,admin")
    parser.set_defaults(func=run_token)


def run_token(args: argparse.Namespace) -> int:
    from service.auth import new_token

    token, line = new_token(args.name, args.scopes)
    print(f"token (give it to {args.name}; shown once): {token}")
    print(f"tokens-file line:\n{line}")
    return 0
