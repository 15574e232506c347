"""A user's own CSV log and item file: train -> export -> serve, filtering on their own
categories; an ISO-8601 timestamp column; the log imported so users start warm."""

from __future__ import annotations

import json

import httpx
import numpy as np
import pandas as pd

from recserve.cli import main
from service.app import create_server
from service.settings import Settings


def test_a_csv_log_with_an_item_file_serves_filters_on_the_users_own_categories(
    tmp_path, small_log
):
    data = small_log.interactions
    events = tmp_path / "events.csv"
    pd.DataFrame({
        "uid": data.users.ids[data.user],
        "sku": data.items.ids[data.item],
        "when": pd.to_datetime(data.timestamp, unit="s", utc=True).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }).to_csv(events, index=False)  # fmt: skip
    genres = np.array(["Comedy", "Drama", "Horror"], dtype=object)
    items = tmp_path / "items.csv"
    pd.DataFrame({
        "sku": data.items.ids,
        "genre": genres[np.arange(data.n_items) % 3],
    }).to_csv(items, index=False)  # fmt: skip
    source = ["--data", str(events), "--format", "csv",
              "--columns", "user=uid,item=sku,timestamp=when",
              "--items", str(items), "--item-key", "sku", "--categories", "genre"]  # fmt: skip
    run, bundle = tmp_path / "run", tmp_path / "bundles" / "mine" / "1"
    assert main(["train", "led", *source, "--out", str(run), "--no-progress",
                 "--param", "max_epochs=2", "--param", "dim=16"]) == 0  # fmt: skip
    assert main(["export", "--checkpoint", str(run), "--out", str(bundle)]) == 0
    store = f"file://{tmp_path / 'store'}"
    assert main(["import-events", *source, "--store", store, "--no-progress"]) == 0
    server = create_server(Settings(bundle=str(bundle), store=store, grpc_port=0, http_port=0))
    server.start()
    try:
        base = f"http://127.0.0.1:{server.http_port}"
        user = str(data.users.ids[0])
        answer = httpx.get(f"{base}/v1/recommendations/{user}",
                           params={"k": 10, "include_category": "Horror"}).json()  # fmt: skip
        assert answer["personalized"], json.dumps(answer)[:300]
        assert answer["items"] and all(i["categories"] == ["Horror"] for i in answer["items"])
        history = httpx.get(f"{base}/v1/users/{user}/history").json()["events"]
        assert history[-1]["timestamp"] == float(np.floor(data.timestamp[data.user == 0].max()))
    finally:
        server.stop(grace=0.5)
