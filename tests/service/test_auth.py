"""Bearer tokens with scopes on every REST route and gRPC method, rotation without a
restart, and the loopback-only default (service/auth.py)."""

from __future__ import annotations

import os
import time

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from pydantic import ValidationError
from recserve_client.rpc import recommender_pb2 as pb
from recserve_client.rpc import recommender_pb2_grpc as rpc

from service.auth import Tokens, TokensFileError, new_token, parse
from service.settings import Settings

OPEN = {"/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/docs/oauth2-redirect",
        "/redoc"}  # fmt: skip
GRPC_CALLS = {
    "Recommend": pb.RecommendRequest(user_id="u", k=3),
    "RecordEvents": pb.RecordEventsRequest(events=[pb.Event(user_id="u", item_id="item-00001")]),
    "PutItems": pb.PutItemsRequest(items=[pb.Item(item_id="new-item", categories=["x"])]),
    "GetUserHistory": pb.GetUserHistoryRequest(user_id="u"),
    "SimilarItems": pb.SimilarItemsRequest(item_id="item-00001", k=3),
    "GetTrending": pb.GetTrendingRequest(k=3),
}


@pytest.fixture()
def clients(tmp_path):
    """Three clients, one per scope set, and the tokens file granting them."""
    tokens, lines = {}, []
    for name, scopes in (("reader", "read"), ("writer", "write"), ("ops", "admin,read")):
        tokens[name], line = new_token(name, scopes)
        lines.append(line)
    path = tmp_path / "tokens"
    path.write_text("# name scopes digest\n" + "\n".join(lines) + "\n")
    return path, tokens


@pytest.fixture()
def guarded(start_server, clients):
    path, tokens = clients
    server = start_server(tokens_file=str(path))
    http = httpx.Client(base_url=f"http://127.0.0.1:{server.http_port}", timeout=10)
    channel = grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}")
    yield server, http, channel, tokens
    http.close()
    channel.close()


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_tokens_file_holds_digests_and_bad_lines_are_named(tmp_path):
    token, line = new_token("shop-web", "read,write")
    assert token not in line and line.startswith("shop-web read,write sha256:")
    (client,) = parse(line + "  # a comment", "tokens")
    assert client.name == "shop-web" and client.scopes == {"read", "write"}
    with pytest.raises(TokensFileError, match=r"tokens:2: scopes must be some of"):
        parse("# ok\nbad fly sha256:" + "0" * 64, "tokens")
    with pytest.raises(TokensFileError, match=r"tokens:1: the token must be given as sha256"):
        parse(f"web read {token}", "tokens")
    with pytest.raises(TokensFileError, match=r"tokens:1: not a SHA-256 hex digest"):
        parse("web read sha256:abc", "tokens")


def test_every_rest_route_but_health_ready_and_metrics_needs_a_token(guarded):
    _, http, _, _ = guarded
    document = http.get("/openapi.json").json()
    guarded_routes = 0
    for path, operations in document["paths"].items():
        for verb in operations:
            url = path.replace("{user_id}", "u").replace("{item_id}", "item-00001")
            reply = http.request(verb.upper(), url, json={} if verb == "post" else None)
            if path in OPEN:
                assert reply.status_code == 200, path
                continue
            guarded_routes += 1
            assert reply.status_code == 401, (verb, path)
            assert reply.headers["www-authenticate"] == "Bearer"
            wrong = http.request(verb.upper(), url, headers=_auth("not-a-token"))
            assert wrong.status_code == 401
    assert guarded_routes == 7  # 4 reads, RecordEvents, PutItem, reload
    for path in ("/healthz", "/metrics"):
        assert http.get(path).status_code == 200
    metrics = http.get("/metrics").text
    assert 'client="unauthenticated",method="RecordEvents",outcome="unauthenticated"' in metrics


def test_every_grpc_method_needs_a_token_and_health_stays_open(guarded):
    _, _, channel, _ = guarded
    stub = rpc.RecommenderStub(channel)
    assert set(GRPC_CALLS) == set(pb.DESCRIPTOR.services_by_name["Recommender"].methods_by_name)
    for method, request in GRPC_CALLS.items():
        with pytest.raises(grpc.RpcError) as refused:
            getattr(stub, method)(request)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED, method
    health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
    assert health.status == health_pb2.HealthCheckResponse.SERVING


def test_scopes_decide_what_a_token_may_do_on_both_transports(guarded):
    _, http, channel, tokens = guarded
    stub = rpc.RecommenderStub(channel)
    reader = (("authorization", f"Bearer {tokens['reader']}"),)
    writer = (("authorization", f"Bearer {tokens['writer']}"),)
    assert stub.RecordEvents(GRPC_CALLS["RecordEvents"], metadata=writer).accepted == 1
    with pytest.raises(grpc.RpcError) as refused:
        stub.RecordEvents(GRPC_CALLS["RecordEvents"], metadata=reader)
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert refused.value.details() == "client 'reader' lacks the 'write' scope"
    assert stub.Recommend(GRPC_CALLS["Recommend"], metadata=reader).personalized
    with pytest.raises(grpc.RpcError) as refused:
        stub.Recommend(GRPC_CALLS["Recommend"], metadata=writer)
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert http.get("/v1/trending", headers=_auth(tokens["reader"])).status_code == 200
    body = {"events": [{"user_id": "v", "item_id": "item-00002"}]}
    assert http.post("/v1/events", json=body, headers=_auth(tokens["reader"])).status_code == 403
    assert http.post("/v1/events", json=body, headers=_auth(tokens["writer"])).status_code == 200
    assert http.post("/admin/reload", json={}, headers=_auth(tokens["reader"])).status_code == 403
    assert http.post("/admin/reload", json={}, headers=_auth(tokens["ops"])).status_code == 200
    metrics = http.get("/metrics").text
    assert 'client="reader",method="Recommend",outcome="ok",transport="grpc"' in metrics
    assert 'client="reader",method="RecordEvents",outcome="forbidden",transport="http"' in metrics
    for token in tokens.values():
        assert token not in metrics


def test_a_rotated_token_works_without_a_restart(guarded, clients):
    server, http, _, tokens = guarded
    path, _ = clients
    fresh, line = new_token("reader", "read")
    path.write_text(line + "\n")  # the old tokens are gone
    later = time.time() + 1  # a different mtime even on coarse clocks
    os.utime(path, (later, later))
    deadline = time.time() + 5
    while http.get("/v1/trending", headers=_auth(fresh)).status_code != 200:
        assert time.time() < deadline, "the new token was never accepted"
        time.sleep(0.2)
    assert http.get("/v1/trending", headers=_auth(tokens["reader"])).status_code == 401
    server.tokens.reload()  # what SIGHUP does: the same tokens, still served
    assert http.get("/v1/trending", headers=_auth(fresh)).status_code == 200


def test_a_broken_tokens_file_keeps_the_tokens_in_force(guarded, clients):
    server, http, _, tokens = guarded
    path, _ = clients
    path.write_text("garbage\n")
    server.tokens.reload()
    assert http.get("/v1/trending", headers=_auth(tokens["reader"])).status_code == 200


def test_without_tokens_only_loopback_may_be_bound(tmp_path, clients):
    with pytest.raises(ValidationError, match=r"0\.0\.0\.0 is not loopback and no tokens file"):
        Settings(bundle="b", host="0.0.0.0")
    Settings(bundle="b", host="0.0.0.0", insecure=True)
    Settings(bundle="b", host="0.0.0.0", tokens_file=str(clients[0]))
    for host in ("127.0.0.1", "::1", "localhost", "127.0.0.2"):
        Settings(bundle="b", host=host)
    with pytest.raises(TokensFileError, match="cannot read the tokens file"):
        Tokens(tmp_path / "missing")


def test_an_admin_listener_takes_reload_off_the_public_port(start_server):
    server = start_server(admin_port=0)
    public = httpx.Client(base_url=f"http://127.0.0.1:{server.http_port}", timeout=10)
    admin = httpx.Client(base_url=f"http://127.0.0.1:{server.admin_port}", timeout=10)
    assert public.post("/admin/reload", json={}).status_code == 404
    assert "/admin/reload" not in public.get("/openapi.json").json()["paths"]
    assert admin.post("/admin/reload", json={}).json()["bundle"] == "led/1"
    assert admin.get("/v1/trending").status_code == 404  # admin only there
    assert admin.get("/readyz").status_code == 200
    assert server.settings.admin_host == "127.0.0.1"
    with pytest.raises(ValidationError, match=r"admin_host: 0\.0\.0\.0 is not loopback"):
        Settings(bundle="b", admin_port=9000, admin_host="0.0.0.0")


def test_a_client_over_its_rate_gets_429_and_resource_exhausted(start_server, clients):
    path, tokens = clients
    server = start_server(tokens_file=str(path), rate_limit_per_s=2, rate_limit_burst=3)
    http = httpx.Client(base_url=f"http://127.0.0.1:{server.http_port}", timeout=10)
    codes = [
        http.get("/v1/trending", headers=_auth(tokens["reader"])).status_code for _ in range(5)
    ]
    assert codes[:3] == [200, 200, 200] and codes[3:] == [429, 429]
    limited = http.get("/v1/trending", headers=_auth(tokens["reader"]))
    assert limited.headers["retry-after"] == "1"
    assert http.get("/v1/trending", headers=_auth(tokens["ops"])).status_code == 200  # per client
    with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
        stub = rpc.RecommenderStub(channel)
        reader = (("authorization", f"Bearer {tokens['reader']}"),)
        with pytest.raises(grpc.RpcError) as refused:
            stub.GetTrending(GRPC_CALLS["GetTrending"], metadata=reader)
        assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    time.sleep(0.6)  # refilled at 2 per second
    assert http.get("/v1/trending", headers=_auth(tokens["reader"])).status_code == 200
    assert "429" in http.get("/openapi.json").json()["paths"]["/v1/trending"]["get"]["responses"]
    assert (
        'client="reader",method="GetTrending",outcome="rate_limited"' in http.get("/metrics").text
    )
