"""Generate the Python gRPC stubs of ``recommender.proto`` into the client package.

    python protos/generate.py          # (re)write recserve_client/rpc/recommender_pb2*.py(i)
    python protos/generate.py --check  # exit 1 if the committed stubs are stale

protoc names the modules after the proto path (``recserve/v1/...``), which
would clash with our ``recserve`` package; the stubs are written flat into
``clients/python/recserve_client/rpc`` (the server imports them from the
client package) and the one cross-import is rewritten to a relative one.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROTO = Path("recserve/v1/recommender.proto")
OUT = ROOT / "clients" / "python" / "recserve_client" / "rpc"
FILES = ("recommender_pb2.py", "recommender_pb2.pyi", "recommender_pb2_grpc.py")


def generate() -> dict[str, str]:
    """The stub files' text, as protoc (from grpcio-tools) writes them, fixed up."""
    from grpc_tools import protoc

    with tempfile.TemporaryDirectory() as tmp:
        args = [
            "protoc",
            f"-I{ROOT / 'protos'}",
            f"--python_out={tmp}",
            f"--pyi_out={tmp}",
            f"--grpc_python_out={tmp}",
            str(ROOT / "protos" / PROTO),
        ]
        if protoc.main(args) != 0:
            raise SystemExit("protoc failed")
        produced = Path(tmp) / PROTO.parent
        texts = {name: (produced / name).read_text() for name in FILES}
    texts["recommender_pb2_grpc.py"] = texts["recommender_pb2_grpc.py"].replace(
        "from recserve.v1 import recommender_pb2", "from . import recommender_pb2"
    )
    return texts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the stubs are stale")
    args = parser.parse_args()
    texts = generate()
    if args.check:
        stale = [
            n for n, t in texts.items() if not (OUT / n).exists() or (OUT / n).read_text() != t
        ]
        if stale:
            print(f"stale gRPC stubs: {', '.join(stale)}; run: python protos/generate.py")
            return 1
        print("gRPC stubs are up to date")
        return 0
    OUT.mkdir(parents=True, exist_ok=True)
    for name, text in texts.items():
        (OUT / name).write_text(text)
    print(f"wrote {', '.join(FILES)} to {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
