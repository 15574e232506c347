"""Limits before work and the input edges of the REST API (service/api/limits.py and
the 422 handler): one error shape, nothing echoed, nothing silently replaced."""

from __future__ import annotations

import time

import pytest


def test_a_body_over_the_limit_is_refused_before_it_is_read(http):
    big = b'{"events": [' + b'{"user_id": "u", "item_id": "i"},' * 40_000 + b"]}"
    assert len(big) > 1 << 20
    started = time.perf_counter()
    reply = http.post("/v1/events", content=big, headers={"content-type": "application/json"})
    assert reply.status_code == 413
    assert reply.json() == {"detail": "request body over 1048576 bytes"}
    assert time.perf_counter() - started < 1.0

    def chunks():  # no Content-Length: counted as it streams in
        for _ in range(40):
            yield b" " * 65536

    streamed = http.post(
        "/v1/events", content=chunks(), headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 413
    metrics = http.get("/metrics").text
    assert 'outcome="too_large"' in metrics, [m for m in metrics.splitlines() if "api_req" in m]


@pytest.mark.parametrize(
    ("body", "field", "kind"),
    [
        (b'"user_id":"a\\ud800b","item_id":"i"', "user_id", "string_unicode"),
        (b'"user_id":"u","item_id":"i","timestamp":true', "timestamp", "float_type"),
        (b'"user_id":"u","item_id":"i","value":false', "value", "float_type"),
        (b'"user_id":7,"item_id":"i"', "user_id", "string_type"),
    ],
    ids=["lone-surrogate", "boolean-timestamp", "boolean-value", "number-as-id"],
)  # fmt: skip
def test_invalid_values_are_422_naming_the_field_in_one_shape(http, body, field, kind):
    content = b'{"events":[{' + body + b"}]}"
    reply = http.post("/v1/events", content=content, headers={"content-type": "application/json"})
    assert reply.status_code == 422
    (error,) = reply.json()["detail"]
    assert error == {"loc": ["body", "events", "0", field], "msg": error["msg"], "type": kind}


def test_a_422_never_echoes_the_offending_value(http):
    reply = http.post(
        "/v1/events", json={"events": [{"user_id": "u" * 10_000, "item_id": "x" * 10_000}]}
    )
    assert reply.status_code == 422 and len(reply.content) < 1000
    assert "uuuuuuuu" not in reply.text
    invalid = http.get("/v1/recommendations/u", params={"k": 0}).json()["detail"]
    assert set(invalid[0]) == {"loc", "msg", "type"}  # the service's own errors: same shape


def test_undecodable_bytes_in_a_path_are_refused_not_replaced(http):
    reply = http.get("/v1/users/%ff%fe/history")
    assert reply.status_code == 422
    assert reply.json()["detail"][0]["msg"] == "not valid UTF-8 once percent-decoded"


def test_ids_with_a_slash_round_trip_over_rest(http):
    body = {"events": [{"user_id": "shop/eu/42", "item_id": "item-00001"}]}
    assert http.post("/v1/events", json=body).json()["accepted"] == 1
    for path in ("/v1/users/shop/eu/42/history", "/v1/users/shop%2Feu%2F42/history"):
        events = http.get(path).json()["events"]
        assert [e["user_id"] for e in events] == ["shop/eu/42"], path
    assert http.get("/v1/recommendations/shop%2Feu%2F42").json()["personalized"]
    assert "a/b" in http.get("/v1/items/a%2Fb/similar").json()["detail"]  # 404 names it


def test_a_single_valued_query_parameter_given_twice_is_refused(http):
    reply = http.get("/v1/recommendations/u?k=5&now=1&now=2")
    assert reply.status_code == 422
    assert reply.json()["detail"] == [
        {"loc": ["query", "now"], "msg": "given more than once", "type": "value_error"}
    ]
    assert http.get("/v1/recommendations/u?exclude=a&exclude=b").status_code == 200


@pytest.mark.parametrize(
    "path",
    ["/v1/users/a%0Ab/history", "/v1/recommendations/a%0Ab", "/v1/items/a%0A/similar",
     "/v1/users/%0A/history"],
)  # fmt: skip
def test_a_line_break_in_a_path_id_is_a_422_naming_the_field_not_a_404(http, path):
    reply = http.get(path)
    assert reply.status_code == 422, reply.text
    (error,) = reply.json()["detail"]
    assert error["loc"][0] == "path" and error["loc"][1] in ("user_id", "item_id")


@pytest.mark.parametrize(
    ("content", "content_type", "status", "loc"),
    [(b"", "application/json", 422, ["body"]),
     (b'{"events": [', "application/json", 422, ["body", "12"]),
     (b"events=1", "application/x-www-form-urlencoded", 422, ["body"]),
     (b'{"events": []}', "application/vnd.shop+json", 200, None),
     (b'{"events": [{"user_id": "\xff"}]}', "application/json", 400, None)],
    ids=["empty", "truncated-json", "form", "json-suffix", "not-utf8"],
)  # fmt: skip
def test_a_recordevents_body_is_refused_as_fastapi_would(http, content, content_type, status, loc):
    reply = http.post("/v1/events", content=content, headers={"content-type": content_type})
    assert reply.status_code == status, reply.text
    if loc is not None:
        assert reply.json()["detail"][0]["loc"] == loc


def test_recordevents_errors_name_the_event_and_field_deep_in_a_batch(http):
    events = [{"user_id": f"u{n}", "item_id": "item-00001"} for n in range(700)]
    events[650]["timestamp"] = "soon"
    reply = http.post("/v1/events", json={"events": events})
    assert reply.status_code == 422
    assert reply.json()["detail"][0]["loc"] == ["body", "events", "650", "timestamp"]
