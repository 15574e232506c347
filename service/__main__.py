"""``python -m service``: the ``recserve serve`` command on its own."""

import argparse
import sys

from recserve.cli import run_command
from service.cli import add_serve_parser

parser = argparse.ArgumentParser(prog="python -m service")
sub = parser.add_subparsers(dest="command", required=True)
add_serve_parser(sub)
raise SystemExit(run_command(parser, ["serve", *sys.argv[1:]]))
