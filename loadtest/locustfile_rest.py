"""Locust: the REST API under the shared traffic mix (see loadtest/scenario.py).

    locust -f loadtest/locustfile_rest.py --headless -u 20 -r 10 -t 30s \
        --host http://127.0.0.1:8000 --csv reports/locust_rest --html reports/locust_rest.html
"""

from __future__ import annotations

import random
import time

from locust import FastHttpUser, between, events, task

from loadtest import scenario


@events.init.add_listener
def _bound(environment, **_kwargs):  # type: ignore[no-untyped-def]
    scenario.count_and_stop(environment)


class RestClient(FastHttpUser):
    """REST client on locust's geventhttpclient (far cheaper per request than requests)."""

    wait_time = between(0.001, 0.01)

    def on_start(self) -> None:
        self.rng = random.Random()

    @task(6)
    def recommend(self) -> None:
        user = scenario.pick_user(self.rng)
        self.client.get(f"/v1/recommendations/{user}", params={"k": 10},
                        name="/v1/recommendations/{user_id}")  # fmt: skip

    @task(3)
    def record(self) -> None:
        event = {
            "user_id": scenario.pick_user(self.rng),
            "item_id": scenario.pick_item(self.rng),
            "event_type": scenario.pick_event_type(self.rng),
        }
        with self.client.post("/v1/events", json={"events": [event]}, catch_response=True) as r:
            if r.status_code != 200 or r.json()["accepted"] != 1:
                r.failure(f"event not accepted: {r.text[:200]}")

    @task(1)
    def history(self) -> None:
        user = scenario.pick_user(self.rng)
        self.client.get(f"/v1/users/{user}/history", name="/v1/users/{user_id}/history")

    @task(1)
    def trending(self) -> None:
        if scenario.Burst.due():
            self.burst()
        self.client.get("/v1/trending", params={"k": 10})

    def burst(self) -> None:
        item = scenario.Burst.item
        events_ = [{"user_id": f"burst-{k}", "item_id": item} for k in range(scenario.BURST_EVENTS)]
        self.client.post("/v1/events", json={"events": events_}, name="burst")
        time.sleep(scenario.BURST_SETTLE_S)  # gevent-patched: other users keep running
        with self.client.get("/v1/trending", params={"k": scenario.BURST_TOP}, name="burst check",
                             catch_response=True) as r:  # fmt: skip
            top = r.json()["items"]
            if item not in {entry["item_id"] for entry in top}:
                r.failure(f"burst item {item} is not in the trending top {len(top)}: {top}")
