"""``python -m export``: the ``recserve export`` command on its own."""

import argparse
import sys

from export.cli import add_export_parser
from recserve.cli import run_command

parser = argparse.ArgumentParser(prog="python -m export")
sub = parser.add_subparsers(dest="command", required=True)
add_export_parser(sub)
raise SystemExit(run_command(parser, ["export", *sys.argv[1:]]))
