"""The OpenAPI document is accurate: bounds, the category vocabulary, every error
response, /metrics as text, docs without internet; and schemathesis (every check,
1,000 examples per operation) finds nothing against a token-protected server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from service.auth import new_token


def test_the_document_states_bounds_vocabulary_and_errors(server, http):
    document = http.get("/openapi.json").json()
    recommend = document["paths"]["/v1/recommendations/{user_id}"]["get"]
    parameters = {p["name"]: p["schema"] for p in recommend["parameters"]}
    assert (parameters["k"]["minimum"], parameters["k"]["maximum"]) == (1, 100)
    categories = list(server.bundles.current.items.categories)
    assert parameters["include_category"]["items"]["enum"] == categories
    assert "pattern" in parameters["user_id"]
    events = document["paths"]["/v1/events"]["post"]["responses"]
    assert {"200", "400", "413", "422", "503"} <= set(events)
    assert "401" not in events  # no tokens configured: no auth is declared
    similar = document["paths"]["/v1/items/{item_id}/similar"]["get"]["responses"]
    assert "404" in similar
    reload = document["paths"]["/admin/reload"]["post"]["responses"]
    assert "409" in reload
    metrics = document["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert list(metrics) == ["text/plain"]
    assert http.get("/metrics").headers["content-type"].startswith("text/plain")


def test_the_docs_page_loads_its_assets_from_this_server(http):
    page = http.get("/docs").text
    assert "cdn" not in page and "/docs/assets/swagger-ui-bundle.js" in page
    assert http.get("/docs/assets/swagger-ui-bundle.js").status_code == 200
    assert http.get("/docs/assets/swagger-ui.css").status_code == 200


@pytest.mark.timeout(1200)  # about 2 minutes here: 13,000 cases over loopback
def test_schemathesis_finds_nothing_with_every_check(start_server, tmp_path):
    cli = Path(sys.executable).parent / "schemathesis"  # the venv's, PATH or not
    if not cli.exists():
        pytest.fail(f"schemathesis (dev extra) is needed: no {cli}")
    token, line = new_token("fuzzer", "read,write,admin")
    (tmp_path / "tokens").write_text(line + "\n")
    server = start_server(tokens_file=str(tmp_path / "tokens"))
    base = f"http://127.0.0.1:{server.http_port}"
    document = httpx.get(base + "/openapi.json").json()
    assert "401" in document["paths"]["/v1/events"]["post"]["responses"]
    run = subprocess.run(
        [str(cli), "--config-file", str(Path(__file__).with_name("schemathesis.toml")),
         "run", base + "/openapi.json", "--max-examples", "1000",  # every check: the default
         "--no-color", "-H", f"Authorization: Bearer {token}"],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert run.returncode == 0, _findings(run.stdout)
    assert "No issues found" in run.stdout


def _findings(stdout: str) -> str:
    """What schemathesis found, without the (up to megabytes of) request bodies it echoes."""
    lines = [line[:300] for line in stdout.splitlines() if "curl " not in line]
    return "\n".join(lines)[-6000:]
