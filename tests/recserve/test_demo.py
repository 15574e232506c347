"""The demo's guided tour against a real server, and the Python snippet it prints."""

import subprocess
import sys
import textwrap

from recserve.demo import tour
from tests.service.conftest import running


def test_the_tour_runs_and_the_python_snippet_it_prints_runs_as_printed(led_bundle, capsys):
    with running(led_bundle) as server:
        tour(server.grpc_port, server.http_port, server.bundles.current)
        printed = capsys.readouterr().out
        assert "gRPC Recommend -> personalized=True" in printed
        assert "additive explanation" in printed and "from item-" in printed
        start = printed.index(f"  {sys.executable} - <<'EOF'")
        end = printed.index("  EOF\n", start) + len("  EOF\n")
        snippet = textwrap.dedent(printed[start:end])
        ran = subprocess.run(["bash", "-c", snippet], capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.startswith("Recommendations(items=(ScoredItem(")
    assert "personalized=True" in ran.stdout
