"""Scale-out as deployed: two replicas on a real 3-master Redis Cluster (loopback)."""

import signal
import time

import pytest
from recserve_client.rpc import recommender_pb2 as pb

from service.store.redis import connect

pytestmark = pytest.mark.slow


@pytest.fixture()
def cluster(redis_cluster):
    connect(redis_cluster).flushall()
    return redis_cluster


def test_replicas_share_state_through_the_cluster(replicas, led_bundle, cluster):
    a = replicas(led_bundle, cluster)
    b = replicas(led_bundle, cluster)
    stub_a, stub_b = a.stub(), b.stub()
    users = [f"shopper-{k}" for k in range(30)]  # spread over the three masters' slots
    for user in users:
        events = [pb.Event(user_id=user, item_id=f"item-{k:05d}") for k in (1, 2, 3)]
        assert stub_a.RecordEvents(pb.RecordEventsRequest(events=events)).accepted == 3
    for user in users:
        history = stub_b.GetUserHistory(pb.GetUserHistoryRequest(user_id=user)).events
        assert [e.item_id for e in history] == ["item-00001", "item-00002", "item-00003"]
    now = time.time()
    for user in users[:5]:
        ra = stub_a.Recommend(pb.RecommendRequest(user_id=user, k=10, now=now))
        rb = stub_b.Recommend(pb.RecommendRequest(user_id=user, k=10, now=now))
        assert rb.personalized and [i.item_id for i in ra.items] == [i.item_id for i in rb.items]
        assert not {"item-00001", "item-00002", "item-00003"} & {i.item_id for i in rb.items}


def test_a_burst_through_one_replica_lifts_the_item_on_the_other(replicas, led_bundle, cluster):
    a = replicas(led_bundle, cluster, RECSERVE_TREND_BETA="0.5")
    b = replicas(led_bundle, cluster, RECSERVE_TREND_BETA="0.5")
    stub_a, stub_b = a.stub(), b.stub()
    history = [pb.Event(user_id="ivy", item_id=f"item-{k:05d}") for k in range(40, 45)]
    stub_a.RecordEvents(pb.RecordEventsRequest(events=history))
    full = stub_b.Recommend(pb.RecommendRequest(user_id="ivy", k=100))
    target = full.items[60].item_id  # known to the model, far from ivy's top 10
    burst = [pb.Event(user_id=f"fan-{k}", item_id=target) for k in range(400)]
    stub_a.RecordEvents(pb.RecordEventsRequest(events=burst))
    sent = time.time()
    lifted = False
    while time.time() - sent < 1.0 and not lifted:
        top = stub_b.Recommend(pb.RecommendRequest(user_id="ivy", k=10))
        lifted = target in {i.item_id for i in top.items}
        time.sleep(0.02)
    assert lifted, f"{target} not in replica B's top 10 within 1 s"


def test_killing_a_replica_loses_no_accepted_event(replicas, led_bundle, cluster):
    a = replicas(led_bundle, cluster)
    b = replicas(led_bundle, cluster)
    stub_a, stub_b = a.stub(), b.stub()
    accepted = 0
    for k in range(200):
        reply = stub_a.RecordEvents(
            pb.RecordEventsRequest(
                events=[pb.Event(user_id="jules", item_id=f"item-{k % 150:05d}")]
            )
        )
        accepted += reply.accepted
    assert a.stop(signal.SIGKILL) == -signal.SIGKILL  # no graceful shutdown at all
    history = stub_b.GetUserHistory(pb.GetUserHistoryRequest(user_id="jules")).events
    assert accepted == 200 and len(history) == 200  # max_history is 200
    assert history[-1].item_id == f"item-{199 % 150:05d}"
