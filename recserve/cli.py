"""The ``recserve`` command: one entry point, a subcommand per job.

    recserve generate   write the synthetic demo event log
    recserve evaluate   fit baselines/models on a split and report metrics
    recserve train      train one model (e.g. led) and write a checkpoint
    recserve export     checkpoint -> bundle (ONNX encoder, HNSW index, manifest)
    recserve serve      serve a bundle over gRPC and HTTP

Errors in the user's input (bad files, bad flags) print one clear line and
exit with status 2; they never end in a traceback.
"""

from __future__ import annotations

import argparse
import sys

from recserve import __version__


def build_parser() -> argparse.ArgumentParser:
    from export.cli import add_export_parser
    from service.cli import add_serve_parser
    from training.cli import add_evaluate_parser, add_generate_parser, add_train_parser

    parser = argparse.ArgumentParser(
        prog="recserve",
        description="Low-latency online recommendations: train models on event logs, export "
        "them as bundles (ONNX + HNSW), serve top-k over gRPC and HTTP.",
    )
    parser.add_argument("--version", action="version", version=f"recserve {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_generate_parser(sub)
    add_evaluate_parser(sub)
    add_train_parser(sub)
    add_export_parser(sub)
    add_serve_parser(sub)
    return parser


def run_command(parser: argparse.ArgumentParser, argv: list[str]) -> int:
    """Parse ``argv`` and run the chosen subcommand, turning input errors into exit 2."""
    from export.errors import ExportError
    from service.bundle import BundleError
    from training.data.errors import DataFormatError

    args = parser.parse_args(argv)
    refused = (DataFormatError, ValueError, FileNotFoundError, ExportError, BundleError)
    try:
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
