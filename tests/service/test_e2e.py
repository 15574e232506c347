"""End to end over real loopback sockets: gRPC and REST against one server."""

import time

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from recserve_client.rpc import recommender_pb2 as pb

from bundle.history import Sequences


def _record(stub, user, items, **fields):
    events = [pb.Event(user_id=user, item_id=i, event_type="view", **fields) for i in items]
    return stub.RecordEvents(pb.RecordEventsRequest(events=events))


def _category_items(bundle_items, category, n):
    rows = np.flatnonzero(bundle_items.category_matrix[:, bundle_items.categories.index(category)])
    return [bundle_items.ids[r] for r in rows[:n]]


def test_events_over_grpc_show_in_history_and_personalise_rest_and_grpc(server, stub, http):
    items = _category_items(server.bundles.current.items, "cat-03", 6)
    reply = _record(stub, "alice", items)
    assert reply.accepted == 6 and not reply.errors
    history = http.get("/v1/users/alice/history").json()["events"]
    assert [e["item_id"] for e in history] == items
    grpc_history = stub.GetUserHistory(pb.GetUserHistoryRequest(user_id="alice", limit=2))
    assert [e.item_id for e in grpc_history.events] == items[-2:]
    rest = http.get("/v1/recommendations/alice", params={"k": 10}).json()
    rpc = stub.Recommend(pb.RecommendRequest(user_id="alice", k=10))
    assert rest["personalized"] and rpc.personalized
    assert [i["item_id"] for i in rest["items"]] == [i.item_id for i in rpc.items]
    assert rpc.model_version == "led/1"
    # the planted taste: most recommendations share the history's category
    assert sum("cat-03" in i.categories for i in rpc.items) >= 6
    scores = [i.score for i in rpc.items]
    assert scores == sorted(scores, reverse=True)


def test_seen_and_excluded_items_never_come_back(stub, server):
    items = _category_items(server.bundles.current.items, "cat-05", 12)
    _record(stub, "bob", items)
    excluded = _category_items(server.bundles.current.items, "cat-05", 20)[12:15]
    reply = stub.Recommend(pb.RecommendRequest(user_id="bob", k=100, exclude_item_ids=excluded))
    returned = {i.item_id for i in reply.items}
    assert len(reply.items) == 100
    assert not returned & set(items) and not returned & set(excluded)


def test_category_filters_hold_even_when_they_empty_the_candidate_pool(stub, server, http):
    _record(stub, "carol", _category_items(server.bundles.current.items, "cat-01", 5))
    reply = stub.Recommend(
        pb.RecommendRequest(user_id="carol", k=8, filter=pb.CategoryFilter(include=["cat-09"]))
    )
    assert len(reply.items) == 8
    assert all("cat-09" in i.categories for i in reply.items)
    # exactly the best cat-09 items by exact inner product, though HNSW had to widen
    bundle = server.bundles.current
    history = stub.GetUserHistory(pb.GetUserHistoryRequest(user_id="carol"))
    rows = bundle.items.rows([e.item_id for e in history.events])
    user = bundle.encoder.encode(Sequences.single(rows, np.zeros(len(rows))), np.zeros(1))[0]
    scores = bundle.vectors @ user
    in_category = bundle.items.category_matrix[:, bundle.items.category_code["cat-09"]]
    scores[~in_category] = -np.inf
    best = [bundle.items.ids[r] for r in np.argsort(-scores)[:8]]
    assert [i.item_id for i in reply.items] == best
    reply = stub.Recommend(
        pb.RecommendRequest(user_id="carol", k=20, filter=pb.CategoryFilter(exclude=["cat-01"]))
    )
    assert all("cat-01" not in i.categories for i in reply.items)


def test_unknown_user_gets_the_flagged_fallback(stub, http):
    reply = stub.Recommend(pb.RecommendRequest(user_id="newcomer", k=5))
    assert not reply.personalized and reply.fallback_reason == "no_history"
    assert len(reply.items) == 5
    _record(stub, "stranger", ["not-in-the-catalogue"])
    reply = stub.Recommend(pb.RecommendRequest(user_id="stranger", k=5))
    assert not reply.personalized and reply.fallback_reason == "no_known_items"
    assert (
        http.get("/v1/users/stranger/history").json()["events"][0]["item_id"]
        == "not-in-the-catalogue"
    )
    metrics = http.get("/metrics").text
    assert "recserve_encoder_unknown_items_total 1.0" in metrics


def test_a_trending_burst_lifts_a_fitting_item_within_a_second(start_server):
    server = start_server(trend_beta=0.5)
    with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
        stub = pb_stub(channel)
        items = server.bundles.current.items
        history = _category_items(items, "cat-08", 5)
        _record(stub, "dave", history)
        before = stub.Recommend(pb.RecommendRequest(user_id="dave", k=10))
        full = stub.Recommend(pb.RecommendRequest(user_id="dave", k=100))
        # a fitting item ranked well outside the top 10
        target = next(i.item_id for i in full.items[30:] if "cat-08" in i.categories)
        assert target not in {i.item_id for i in before.items}
        burst = [pb.Event(user_id=f"fan{k}", item_id=target, event_type="view") for k in range(300)]
        assert stub.RecordEvents(pb.RecordEventsRequest(events=burst)).accepted == 300
        started = time.time()
        while time.time() - started < 1.0:
            after = stub.Recommend(pb.RecommendRequest(user_id="dave", k=10))
            if target in {i.item_id for i in after.items}:
                break
            time.sleep(0.02)
        assert target in {i.item_id for i in after.items}
        trending = stub.GetTrending(pb.GetTrendingRequest(k=1))
        assert trending.items[0].item_id == target and trending.items[0].score > 250


def pb_stub(channel):
    from recserve_client.rpc import recommender_pb2_grpc

    return recommender_pb2_grpc.RecommenderStub(channel)


@pytest.mark.parametrize(
    ("request_fields", "field"),
    [
        ({"user_id": "", "k": 5}, "user_id"),
        ({"user_id": "x" * 300, "k": 5}, "user_id"),
        ({"user_id": "u", "k": 0}, "k"),
        ({"user_id": "u", "k": 101}, "k"),
        (
            {"user_id": "u", "k": 5, "filter": pb.CategoryFilter(include=["no-such"])},
            "filter.include",
        ),
        ({"user_id": "u", "k": 5, "now": float("nan")}, "now"),
    ],
)
def test_bad_recommend_requests_are_invalid_argument_naming_the_field(stub, request_fields, field):
    with pytest.raises(grpc.RpcError) as info:
        stub.Recommend(pb.RecommendRequest(**request_fields))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert info.value.details().startswith(field)


def test_bad_events_are_reported_one_by_one_and_good_ones_kept(stub, http):
    now = time.time()
    events = [
        pb.Event(user_id="erin", item_id="item-00001", event_type="click"),
        pb.Event(user_id="", item_id="item-00002"),
        pb.Event(user_id="erin", item_id="item-00003", timestamp=now + 86_400),
        pb.Event(user_id="erin", item_id="item-00004", event_type="teleport"),
        pb.Event(user_id="erin", item_id="item-00005", value=float("inf")),
        pb.Event(user_id="erin", item_id="item-00006"),
    ]
    reply = stub.RecordEvents(pb.RecordEventsRequest(events=events))
    assert reply.accepted == 2
    assert [(e.index, e.field) for e in reply.errors] == [
        (1, "user_id"),
        (2, "timestamp"),
        (3, "event_type"),
        (4, "value"),
    ]
    kept = http.get("/v1/users/erin/history").json()["events"]
    assert [(e["item_id"], e["event_type"]) for e in kept] == [
        ("item-00001", "click"),
        ("item-00006", "view"),
    ]


def test_too_many_events_in_one_call_is_refused_whole(stub):
    events = [pb.Event(user_id="f", item_id="i")] * 1001
    with pytest.raises(grpc.RpcError) as info:
        stub.RecordEvents(pb.RecordEventsRequest(events=events))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "events" in info.value.details()


def test_malformed_bytes_are_invalid_argument_not_a_crash(server):
    with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
        raw = channel.unary_unary("/recserve.v1.Recommender/Recommend")
        with pytest.raises(grpc.RpcError) as info:
            raw(b"\xff\xff\xff\xff garbage")
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        ok = pb_stub(channel).Recommend(pb.RecommendRequest(user_id="still-up", k=1))
        assert len(ok.items) == 1


def test_similar_items_and_unknown_item(stub, http, server):
    item = server.bundles.current.items.ids[10]
    reply = stub.SimilarItems(pb.SimilarItemsRequest(item_id=item, k=5))
    assert len(reply.items) == 5 and item not in {i.item_id for i in reply.items}
    with pytest.raises(grpc.RpcError) as info:
        stub.SimilarItems(pb.SimilarItemsRequest(item_id="nope", k=5))
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    assert http.get("/v1/items/nope/similar").status_code == 404


def test_rest_errors_are_4xx_with_the_field(http):
    r = http.get("/v1/recommendations/u", params={"k": 0})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "k"
    r = http.get("/v1/recommendations/u", params={"k": "many"})
    assert r.status_code == 422 and "k" in r.json()["detail"][0]["loc"]
    r = http.post("/v1/events", json={"events": [{"user_id": "u"}]})
    assert r.status_code == 422 and "item_id" in r.json()["detail"][0]["loc"]
    r = http.post("/v1/events", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422


def test_health_reflection_readiness_and_metrics(server, http, stub):
    with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        reply = health.Check(health_pb2.HealthCheckRequest(service="recserve.v1.Recommender"))
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
    assert http.get("/healthz").status_code == 200
    ready = http.get("/readyz").json()
    assert (
        ready["ready"]
        and ready["bundle"] == "led/1"
        and ready["encoder_provider"] == "CPUExecutionProvider"
    )
    _record(stub, "gina", ["item-00001", "item-00002"])
    stub.Recommend(pb.RecommendRequest(user_id="gina", k=3))
    text = http.get("/metrics").text
    for stage in ("history", "encode", "retrieve", "score", "select"):
        assert f'recserve_pipeline_stage_seconds_count{{stage="{stage}"}}' in text
    assert (
        'recserve_api_requests_total{client="anonymous",method="Recommend",outcome="ok",transport="grpc"}'
        in text
    )
    assert 'recserve_events_total{outcome="accepted"}' in text
    assert "recserve_bundle_items 200.0" in text
    assert http.get("/openapi.json").json()["info"]["title"] == "recserve"


def test_a_retried_event_id_is_acknowledged_and_stored_once_over_both_transports(stub, http):
    event = pb.Event(user_id="ret", item_id="item-00004", event_type="view", event_id="ev-1")
    first = stub.RecordEvents(pb.RecordEventsRequest(events=[event]))
    again = stub.RecordEvents(pb.RecordEventsRequest(events=[event]))
    assert (first.accepted, first.duplicates) == (1, 0)
    assert (again.accepted, again.duplicates) == (1, 1)
    retry = {"user_id": "ret", "item_id": "item-00004", "event_id": "ev-1"}
    body = {"events": [retry, {**retry, "item_id": "item-00005", "event_id": "ev-2"}]}
    assert http.post("/v1/events", json=body).json() == {
        "accepted": 2, "errors": [], "duplicates": 1,
    }  # fmt: skip
    history = http.get("/v1/users/ret/history").json()["events"]
    assert [(e["item_id"], e["event_id"]) for e in history] == [
        ("item-00004", "ev-1"),
        ("item-00005", "ev-2"),
    ]
    metrics = http.get("/metrics").text
    assert 'recserve_events_total{outcome="duplicate"} 2.0' in metrics
    too_long = {"events": [{"user_id": "ret", "item_id": "item-00004", "event_id": "x" * 300}]}
    reply = http.post("/v1/events", json=too_long).json()
    assert reply["accepted"] == 0 and reply["errors"][0]["field"] == "event_id"


def test_ids_outside_the_catalogue_are_never_published_on_trending(stub, http, server):
    evil = "<script>alert(1)</script> visit http://evil.example"
    for caller in range(3):
        events = [pb.Event(user_id=f"attacker{caller}-{n}", item_id=evil) for n in range(300)]
        stub.RecordEvents(pb.RecordEventsRequest(events=events))
    _record(stub, "fan", ["item-00009"])
    server.refresher.refresh()
    top = stub.GetTrending(pb.GetTrendingRequest(k=5)).items
    assert [i.item_id for i in top] == ["item-00009"]
    assert [i["item_id"] for i in http.get("/v1/trending").json()["items"]] == ["item-00009"]
    history = http.get("/v1/users/attacker0-0/history").json()["events"]
    assert [e["item_id"] for e in history] == [evil]  # kept: a later bundle may know it
    recommended = stub.Recommend(pb.RecommendRequest(user_id="fan", k=20)).items
    assert evil not in {i.item_id for i in recommended}


def test_an_event_type_the_model_was_not_trained_on_is_kept_and_served(server, stub, http):
    trained = server.bundles.current.manifest.event_types
    assert "add_to_cart" not in trained  # the vocabulary setting adds it, not the model
    events = [pb.Event(user_id="gil", item_id=f"item-{k:05d}", event_type="add_to_cart")
              for k in range(1, 6)]  # fmt: skip
    assert stub.RecordEvents(pb.RecordEventsRequest(events=events)).accepted == 5
    kept = http.get("/v1/users/gil/history").json()["events"]
    assert {e["event_type"] for e in kept} == {"add_to_cart"}
    as_default = [pb.Event(user_id="hal", item_id=f"item-{k:05d}") for k in range(1, 6)]
    stub.RecordEvents(pb.RecordEventsRequest(events=as_default))
    gil = stub.Recommend(pb.RecommendRequest(user_id="gil", k=10))
    hal = stub.Recommend(pb.RecommendRequest(user_id="hal", k=10))
    assert gil.personalized  # encoded as the model's default type: the same answer
    assert [i.item_id for i in gil.items] == [i.item_id for i in hal.items]


def test_explanations_over_rest_and_grpc_are_the_same_and_only_when_asked(server, stub, http):
    items = _category_items(server.bundles.current.items, "cat-05", 5)
    _record(stub, "erin", items)
    rest = http.get("/v1/recommendations/erin", params={"k": 3, "explain": "true"}).json()
    rpc = stub.Recommend(pb.RecommendRequest(user_id="erin", k=3, explain=True))
    plain = http.get("/v1/recommendations/erin", params={"k": 3}).json()
    assert all(i["explanation"] is None for i in plain["items"])
    for r, g in zip(rest["items"], rpc.items, strict=True):
        why = r["explanation"]
        assert why["kind"] == g.explanation.kind == "additive"  # LED
        assert [e["item_id"] for e in why["items"]] == [e.item_id for e in g.explanation.items]
        assert {e["item_id"] for e in why["items"]} <= set(items)
        total = sum(e["weight"] for e in why["items"]) + why["rest"]
        assert total == pytest.approx(r["score"], abs=1e-4)  # the weights add up to the score
    cold = http.get("/v1/recommendations/nobody-yet", params={"explain": "true"}).json()
    assert not cold["personalized"] and all(i["explanation"] is None for i in cold["items"])
