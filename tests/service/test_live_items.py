"""Items registered while serving (PutItems, PUT /v1/items/{id}): recommended from their
metadata, without retraining, on every replica of a shared store."""

from __future__ import annotations

import time

import grpc
import httpx
import numpy as np
import pytest
from recserve_client.rpc import recommender_pb2 as pb
from recserve_client.rpc import recommender_pb2_grpc as rpc

from export.writer import write_bundle
from tests.conftest import train_checkpoint
from tests.service.conftest import running
from training.checkpoint import load_checkpoint
from training.jobs.source import SplitSpec

# HRNN-meta with the metadata decoder of eq. 2, long enough to learn what a category means
META = {"hidden": 32, "item_dim": 16, "meta_dim": 16, "bptt": 50, "lr": 0.01,
        "metadata_decoder": True, "max_epochs": 40}  # fmt: skip


@pytest.fixture(scope="module")
def meta_bundle(tmp_path_factory, small_log):
    root = tmp_path_factory.mktemp("hrnn-meta")
    folder = train_checkpoint(root, small_log, "hrnn", META, split=SplitSpec("leave-last-out"))
    return write_bundle(load_checkpoint(folder), root / "bundles" / "hrnn" / "1")


def _fans(server) -> dict[str, list[str]]:
    """Per category, its ten most popular items: a fan's recent events."""
    items = server.bundles.current.items
    out = {}
    for name, column in items.category_code.items():
        members = np.flatnonzero(items.category_matrix[:, column])
        out[name] = [items.ids[r] for r in members[np.argsort(-items.counts[members])][:10]]
    return out


def test_new_items_reach_the_top_10_of_their_categorys_fans_within_a_second_on_two_replicas(
    meta_bundle, redis_url
):
    with (
        running(meta_bundle, store=redis_url) as first,
        running(meta_bundle, store=redis_url) as second,
        grpc.insecure_channel(f"127.0.0.1:{second.grpc_port}") as channel,
    ):
        assert first.bundles.current.item_encoder is not None
        stub = rpc.RecommenderStub(channel)
        fans = _fans(first)
        now = time.time()
        for category, items in fans.items():  # recorded on the first replica
            events = [{"user_id": f"fan-{category}", "item_id": item, "timestamp": now - 60 + k}
                      for k, item in enumerate(items)]  # fmt: skip
            httpx.post(f"http://127.0.0.1:{first.http_port}/v1/events", json={"events": events})
        new = {category: f"new-in-{category}" for category in fans}

        def served() -> dict[str, list[str]]:
            return {
                c: [i.item_id for i in stub.Recommend(
                    pb.RecommendRequest(user_id=f"fan-{c}", k=10)).items]
                for c in fans
            }  # fmt: skip

        assert not any(set(new.values()) & set(top) for top in served().values())
        for category, item in new.items():  # registered on the first replica
            reply = httpx.put(f"http://127.0.0.1:{first.http_port}/v1/items/{item}",
                              json={"categories": [category]})  # fmt: skip
            assert reply.status_code == 200 and reply.json() == {
                "item_id": item,
                "live": True,
                "known": False,
            }
        registered = time.monotonic()
        while True:  # the second replica serves them after its next poll of the store
            answers = served()
            reached = [c for c, top in answers.items() if new[c] in top]
            if len(reached) >= 0.8 * len(fans) or time.monotonic() - registered > 1.0:
                break
            time.sleep(0.02)
        elapsed = time.monotonic() - registered
        print(f"{len(reached)} of {len(fans)} fans served their category's new item "
              f"in {elapsed:.2f} s")  # fmt: skip
        assert len(reached) >= 0.8 * len(fans), answers
        assert elapsed <= 1.0


def test_registrations_are_validated_field_by_field(start_server):
    server = start_server()
    url = f"http://127.0.0.1:{server.http_port}/v1/items"
    bad = httpx.put(f"{url}/shoe-1", json={"categories": ["a|b"]})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "categories", "0"]
    bad = httpx.put(f"{url}/shoe-1", json={"categories": "shoes"})
    assert bad.status_code == 422
    similar = httpx.put(f"{url}/shoe-1/similar", json={})  # not an item named ".../similar"
    assert similar.status_code == 405 and similar.headers["allow"] == "GET"
    assert "/v1/items/{item_id}" in httpx.get(f"http://127.0.0.1:{server.http_port}/openapi.json"
                                             ).json()["paths"]  # fmt: skip
    with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
        stub = rpc.RecommenderStub(channel)
        with pytest.raises(grpc.RpcError) as error:
            stub.PutItems(pb.PutItemsRequest(items=[]))
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "items" in error.value.details()


def test_a_bundle_without_an_item_encoder_stores_registrations_and_serves_none(start_server):
    from recserve_client import Client, Item

    server = start_server()  # LED: no metadata decoder
    known = server.bundles.current.items.ids[0]
    with Client(f"127.0.0.1:{server.grpc_port}", timeout=5) as client:
        result = client.put_items([Item("brand-new", ("x",), {"brand": "acme"}), Item(known)])
        assert (result.stored, result.live, result.known) == (2, 0, 1)
        assert set(server.store.items()) == {"brand-new", known}
        top = client.recommend("anyone", k=100).items
        assert "brand-new" not in {i.item_id for i in top}
