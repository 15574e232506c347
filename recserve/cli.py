"""The ``recserve`` command: one entry point, a subcommand per job.

    recserve generate   write the synthetic demo event log
    recserve evaluate   fit baselines/models on a split and report metrics
    recserve train      train one model (e.g. led) and write a checkpoint
    recserve export     checkpoint -> bundle (ONNX encoder, HNSW index, manifest)
    recserve serve      serve a bundle over gRPC and HTTP
    recserve store      check or repair an embedded (file://) event store
    recserve import-events  load an event log into the live store (users start warm)
    recserve token      make a bearer token with scopes and its tokens-file line
    recserve demo       all of the above on synthetic data, then a guided tour

Errors in the user's input (bad files, bad flags) print one clear line and
exit with status 2; they never end in a traceback.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from recserve import __version__, threads


def build_parser() -> argparse.ArgumentParser:
    from export.cli import add_export_parser
    from service.cli import add_serve_parser, add_store_parser, add_token_parser
    from training.cli import add_evaluate_parser, add_generate_parser, add_train_parser

    parser = argparse.ArgumentParser(
        prog="recserve",
        description="Low-latency online recommendations: train models on event logs, export "
        "them as bundles (ONNX + HNSW), serve top-k over gRPC and HTTP.",
    )
    parser.add_argument("--version", action="version", version=f"recserve {__version__}")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="threads for BLAS, OpenMP, torch and index builds (env RECSERVE_THREADS; "
        "default: the libraries' own, the cores or your OMP_NUM_THREADS etc.)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_generate_parser(sub)
    add_evaluate_parser(sub)
    add_train_parser(sub)
    add_export_parser(sub)
    add_serve_parser(sub)
    add_store_parser(sub)
    add_import_parser(sub)
    add_token_parser(sub)
    add_demo_parser(sub)
    return parser


def add_import_parser(sub: Any) -> None:
    from training.cli import add_data_arguments

    parser = sub.add_parser(
        "import-events",
        help="load an event log into the live store, so its users start personalised",
        description="Read an event log (any --format the trainers read), keep each user's "
        "latest --max-history events and append them to the store in batches, feeding the "
        "Redis trend counters with the events' own timestamps. Each event gets an id "
        "derived from its row, so running it again (or after an interrupted run) stores "
        "nothing twice. Prints a summary: events read, imported, skipped and why.",
    )
    add_data_arguments(parser)
    parser.add_argument(
        "--store", required=True, help="file://PATH | redis://HOST:PORT | redis+cluster://..."
    )
    parser.add_argument(
        "--max-history", type=int, default=200, help="events kept per user: the server's setting"
    )
    parser.add_argument(
        "--trend-half-life", type=float, default=3600.0, help="seconds: the server's setting"
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    def run(args: argparse.Namespace) -> int:
        from recserve.importer import import_into
        from training.cli import source_of

        if args.max_history < 1:
            raise ValueError("--max-history: must be at least 1")
        log = source_of(args).load()
        summary = import_into(
            args.store, log, args.max_history, args.trend_half_life, not args.no_progress
        )
        print(f"{args.store}:")
        print("\n".join("  " + line for line in summary.lines()))
        return 0

    parser.set_defaults(func=run)


def add_demo_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "demo",
        help="generate synthetic data, train LED, export, serve, and show the API at work",
        description="The README's main command: a synthetic event log, an LED model, its "
        "bundle, and the server on the embedded store, followed by a short tour of the "
        "gRPC and REST APIs (personalised results, a trending burst). Ctrl-C stops.",
    )
    parser.add_argument("--root", default=".", help="where data/, runs/, bundles/, var/ go")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--grpc-port", type=int, default=50051)
    parser.add_argument("--http-port", type=int, default=8000)
    parser.add_argument("--store", default=None, help="default: file://<root>/var/demo")

    def run(args: argparse.Namespace) -> int:
        from pathlib import Path

        from recserve.demo import run_demo

        return run_demo(Path(args.root), args.seed, args.grpc_port, args.http_port, args.store)

    parser.set_defaults(func=run)


def run_command(parser: argparse.ArgumentParser, argv: list[str]) -> int:
    """Parse ``argv`` and run the chosen subcommand, turning input errors into exit 2."""
    from bundle.errors import BundleError
    from export.errors import ExportError
    from service.store.errors import StoreError
    from training.data.errors import DataFormatError

    args = parser.parse_args(argv)
    refused = (DataFormatError, ValueError, FileNotFoundError, ExportError, BundleError, StoreError)
    try:
        threads.apply(getattr(args, "threads", None))
        return int(args.func(args))
    except refused as error:
        print(f"recserve {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def main(argv: list[str] | None = None) -> int:
    return run_command(build_parser(), list(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    raise SystemExit(main())
