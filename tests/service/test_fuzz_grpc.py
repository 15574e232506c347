"""Fuzz the gRPC API: random field values and raw garbage never crash the server,
errors are INVALID_ARGUMENT/NOT_FOUND, and accepted events are all stored."""

import math

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from recserve_client.rpc import recommender_pb2 as pb
from recserve_client.rpc import recommender_pb2_grpc as rpc

from tests.service.conftest import running

ALLOWED = {grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND}
texts = st.text(min_size=0, max_size=300)
ids = st.one_of(texts, st.sampled_from(["item-00001", "item-00150", "u1"]))
numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.floats(min_value=0, max_value=2e9)
)
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def fuzz(led_bundle):
    with (
        running(led_bundle) as server,
        grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel,
    ):
        yield server, rpc.RecommenderStub(channel), channel


def _call(function, request):
    try:
        return function(request, timeout=10)
    except grpc.RpcError as error:
        assert error.code() in ALLOWED, (error.code(), error.details())
        return None


@FUZZ
@given(
    user=ids,
    k=st.integers(-(2**31), 2**31 - 1),
    exclude=st.lists(ids, max_size=5),
    include=st.lists(texts, max_size=3),
    now=st.one_of(st.none(), numbers),
)
def test_recommend_never_fails_badly(fuzz, user, k, exclude, include, now):
    _, stub, _ = fuzz
    request = pb.RecommendRequest(
        user_id=user, k=k, exclude_item_ids=exclude, filter=pb.CategoryFilter(include=include)
    )
    if now is not None:
        request.now = now
    reply = _call(stub.Recommend, request)
    if reply is not None:
        assert 1 <= k <= 100 and len(reply.items) <= k


events = st.builds(
    lambda u, i, t, kind, v: pb.Event(
        user_id=u,
        item_id=i,
        event_type=kind,
        **({} if t is None else {"timestamp": t}),
        **({} if v is None else {"value": v}),
    ),
    ids,
    ids,
    st.one_of(st.none(), numbers),
    st.sampled_from(["", "view", "click", "zap"]),
    st.one_of(st.none(), numbers),
)


@FUZZ
@given(batch=st.lists(events, max_size=20))
def test_record_events_keeps_every_accepted_event(fuzz, batch):
    server, stub, _ = fuzz
    reply = _call(stub.RecordEvents, pb.RecordEventsRequest(events=batch))
    assert reply is not None  # a batch under the size limit is never refused whole
    rejected = {e.index for e in reply.errors}
    assert reply.accepted + len(rejected) == len(batch)
    for index, event in enumerate(batch):
        if index in rejected:
            continue
        stored = server.store.recent(event.user_id, 10_000)
        assert any(e.item_id == event.item_id for e in stored)
        if event.HasField("timestamp"):
            assert math.isfinite(event.timestamp)


@FUZZ
@given(
    payload=st.binary(max_size=200),
    method=st.sampled_from(
        ["Recommend", "RecordEvents", "GetUserHistory", "SimilarItems", "GetTrending"]
    ),
)
def test_raw_bytes_never_crash_the_server(fuzz, payload, method):
    _, stub, channel = fuzz
    raw = channel.unary_unary(f"/recserve.v1.Recommender/{method}")
    try:
        raw(payload, timeout=10)
    except grpc.RpcError as error:
        assert error.code() in ALLOWED, (error.code(), error.details())
    assert _call(stub.GetTrending, pb.GetTrendingRequest(k=1)) is not None
