"""Fuzz the REST API from its own OpenAPI spec (schemathesis): never a 5xx, and every
event a 200 reply counts as accepted is really in the user's history."""

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.service.conftest import running


@pytest.fixture(scope="module")
def fuzz_server(led_bundle):
    with running(led_bundle) as server:
        yield server


def test_no_server_error_and_no_lost_event(fuzz_server):
    url = f"http://127.0.0.1:{fuzz_server.http_port}/openapi.json"
    schema = schemathesis.openapi.from_url(url)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 8

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
        def check(case):
            response = case.call()
            assert response.status_code < 500, (case.method, case.path, response.text)
            if case.path == "/v1/events" and response.status_code == 200:
                rejected = {e["index"] for e in response.json()["errors"]}
                for index, event in enumerate(case.body["events"]):
                    if index not in rejected:
                        history = fuzz_server.store.recent(event["user_id"], 10_000)
                        assert any(e.item_id == event["item_id"] for e in history), event

        check()


def test_openapi_documents_every_route(fuzz_server):
    paths = httpx.get(f"http://127.0.0.1:{fuzz_server.http_port}/openapi.json").json()["paths"]
    for path in (
        "/v1/recommendations/{user_id}",
        "/v1/events",
        "/v1/users/{user_id}/history",
        "/v1/items/{item_id}/similar",
        "/v1/trending",
        "/healthz",
        "/readyz",
    ):
        assert path in paths
