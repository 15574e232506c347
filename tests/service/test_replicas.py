"""Two server processes sharing one Redis: any replica answers any user."""

import time

from recserve_client.rpc import recommender_pb2 as pb


def test_two_replicas_share_history_trends_and_answers(replicas, led_bundle, redis_url):
    a = replicas(led_bundle, redis_url)
    b = replicas(led_bundle, redis_url)
    stub_a, stub_b = a.stub(), b.stub()
    items = ["item-00003", "item-00017", "item-00042"]
    events = [pb.Event(user_id="hal", item_id=i, event_type="view") for i in items]
    assert stub_a.RecordEvents(pb.RecordEventsRequest(events=events)).accepted == 3
    history_b = stub_b.GetUserHistory(pb.GetUserHistoryRequest(user_id="hal"))
    assert [e.item_id for e in history_b.events] == items
    now = time.time()
    rec_a = stub_a.Recommend(pb.RecommendRequest(user_id="hal", k=10, now=now))
    rec_b = stub_b.Recommend(pb.RecommendRequest(user_id="hal", k=10, now=now))
    assert rec_a.personalized and rec_b.personalized
    assert [i.item_id for i in rec_a.items] == [i.item_id for i in rec_b.items]
    # a burst recorded through A is trending on B within a second
    burst = [pb.Event(user_id=f"fan{k}", item_id="item-00123") for k in range(50)]
    stub_a.RecordEvents(pb.RecordEventsRequest(events=burst))
    deadline = time.time() + 1.0
    while time.time() < deadline:
        top = stub_b.GetTrending(pb.GetTrendingRequest(k=1)).items
        if top and top[0].item_id == "item-00123":
            break
        time.sleep(0.02)
    assert top[0].item_id == "item-00123"
