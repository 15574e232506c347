import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_generated_stubs_match_the_proto():
    proc = subprocess.run(
        [sys.executable, str(ROOT / "protos" / "generate.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_check_notices_a_stale_stub(tmp_path, monkeypatch):
    sys.path.insert(0, str(ROOT / "protos"))
    try:
        import generate
    finally:
        sys.path.pop(0)
    monkeypatch.setattr(generate, "OUT", tmp_path)
    for name, text in generate.generate().items():
        (tmp_path / name).write_text(text)
    monkeypatch.setattr(sys, "argv", ["generate.py", "--check"])
    assert generate.main() == 0
    (tmp_path / "recommender_pb2.py").write_text("# edited by hand\n")
    assert generate.main() == 1
