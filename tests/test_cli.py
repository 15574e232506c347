import json
import subprocess
import sys


def _recserve(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "recserve.cli", *args], capture_output=True, text=True, cwd=cwd
    )


def test_help_lists_the_subcommands_without_importing_torch():
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from recserve.cli import build_parser; build_parser(); "
            "print('torch' in sys.modules)",
        ],
        capture_output=True,
        text=True,
    )
    assert proc.stdout.strip() == "False"
    help_text = _recserve("--help").stdout
    for command in ("generate", "evaluate"):
        assert command in help_text


def test_generate_then_evaluate_end_to_end(tmp_path):
    out = tmp_path / "demo"
    gen = _recserve("generate", "--out", str(out), "--users", "200", "--items", "150")
    assert gen.returncode == 0, gen.stderr
    assert (out / "demo.inter").exists() and (out / "demo.item").exists()
    report = tmp_path / "report.json"
    run = _recserve(
        "evaluate",
        "--data",
        str(out),
        "--format",
        "recbole",
        "--models",
        "popularity,ease",
        "--k",
        "5,10",
        "--json",
        str(report),
        "--no-progress",
    )
    assert run.returncode == 0, run.stderr
    assert "ndcg@5" in run.stdout and "ease" in run.stdout
    assert set(json.loads(report.read_text())["results"]) == {"popularity", "ease"}


def test_bad_flags_exit_2_with_a_message(tmp_path):
    run = _recserve("evaluate", "--data", str(tmp_path), "--format", "recbole", "--k", "0")
    assert run.returncode == 2 and "K values must be positive" in run.stderr
    run = _recserve("evaluate", "--data", str(tmp_path), "--format", "csv", "--models", "nope")
    assert run.returncode == 2 and "unknown model 'nope'" in run.stderr


def test_serve_help_and_bad_settings_exit_cleanly(tmp_path):
    help_text = _recserve("serve", "--help").stdout
    for flag in ("--bundle", "--store", "--grpc-port", "--http-port", "RECSERVE_"):
        assert flag in help_text
    run = _recserve("serve", "--bundle", str(tmp_path), "--store", "postgres://db")
    assert run.returncode == 2 and "store must start with" in run.stderr
    run = _recserve("serve", "--bundle", str(tmp_path / "missing"), "--store", "memory")
    assert run.returncode == 2 and "no such bundle folder" in run.stderr


def test_store_check_and_repair_from_the_command_line(tmp_path):
    from service.store import StoredEvent
    from service.store.file import FileStore

    store = FileStore(str(tmp_path), max_history=5)
    store.append([StoredEvent("u", "a", 1.0, "view", 1.0), StoredEvent("u", "b", 2.0, "view", 1.0)])
    store.close()
    with open(tmp_path / "events.jsonl", "a") as log:
        log.write("garbage\n")
    url = f"file://{tmp_path}"
    checked = _recserve("store", "check", "--store", url)
    assert checked.returncode == 1
    assert f"{tmp_path / 'events.jsonl'}:3: not JSON" in checked.stdout
    repaired = _recserve("store", "repair", "--store", url)
    assert repaired.returncode == 0 and "moved 1 bad record(s)" in repaired.stdout
    assert _recserve("store", "check", "--store", url).returncode == 0
    refused = _recserve("store", "check", "--store", "memory://")
    assert refused.returncode == 2
    assert refused.stderr.strip() == (
        "recserve store: error: store 'memory://': only a file:// store has a log to check "
        "(memory:// keeps none, Redis keeps its own)"
    )
