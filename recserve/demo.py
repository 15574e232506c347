"""``recserve demo``: synthetic log -> LED -> bundle -> server, and a guided tour.

Everything runs locally on the embedded store (no Redis needed):

1. generate the synthetic demo log (``data/demo``),
2. train LED on it (``runs/demo``) and export the bundle (``bundles/demo/1``),
   both reused when they already exist,
3. import the log into the embedded file store (``recserve import-events``: every
   user of the log is personalised on their first request; idempotent), then
   start the server (gRPC + HTTP) on it,
4. walk through the API: record a user's events over gRPC, ask for their
   recommendations over gRPC and REST, send a burst of events on an item
   and watch it enter the user's recommendations and the trending list,
5. keep serving until Ctrl-C, then stop cleanly.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

DEMO_LED = {"dim": 64, "max_epochs": 40, "eval_every": 2, "patience": 5}


def prepare(root: Path, seed: int) -> Path:
    """Data, checkpoint and bundle under ``root``; returns the bundle folder."""
    from training.data.synthetic import SyntheticConfig, generate, write_recbole

    data_dir, run_dir, bundle = (
        root / "data" / "demo",
        root / "runs" / "demo",
        root / "bundles" / "demo" / "1",
    )
    if not (data_dir / "demo.inter").exists():
        print("1/3 generating the synthetic event log ...", flush=True)
        write_recbole(generate(SyntheticConfig(seed=seed)).interactions, data_dir)
    if not (run_dir / "model.json").exists():
        print("2/3 training LED (PMI + randomized SVD, project fine-tuning, BPR) ...", flush=True)
        from training.evaluate import EvalConfig
        from training.jobs.source import DataSource, SplitSpec
        from training.jobs.train import TrainJob

        TrainJob(
            model="led",
            source=DataSource(str(data_dir), "recbole"),
            out=str(run_dir),
            split=SplitSpec("user-holdout", seed),
            params=DEMO_LED,
            eval=EvalConfig(ks=(10, 20, 50)),
        ).run()
    if not (bundle / "manifest.json").exists():
        print("3/3 exporting the bundle (ONNX encoder + HNSW index, self-checked) ...", flush=True)
        from export.writer import write_bundle
        from training.checkpoint import load_checkpoint

        write_bundle(load_checkpoint(run_dir), bundle)
    return bundle


def tour(grpc_port: int, http_port: int, bundle: Any) -> None:
    """Show personalised answers and a trending burst, over both front doors
    (gRPC through the recserve-client package, REST with plain HTTP)."""
    import httpx
    import numpy as np
    from recserve_client import Client, Event

    items = bundle.items
    category = items.categories[0]
    in_category = [items.ids[r] for r in np.flatnonzero(items.category_matrix[:, 0])]
    client = Client(f"127.0.0.1:{grpc_port}", timeout=10)
    known = client.recommend("user-00001", k=3)
    print(
        f"\n--- user-00001 of the imported log, first request: "
        f"personalized={known.personalized} ({', '.join(known.item_ids)})"
    )
    user = "demo-user"
    history = in_category[:6]
    client.record_events([Event(user, item, event_type="view") for item in history])
    print(f"\n--- {user} viewed 6 items of {category} (gRPC RecordEvents)")
    reply = client.recommend(user, k=5)
    print(f"--- gRPC Recommend -> personalized={reply.personalized}, model {reply.model_version}")
    for item in reply.items:
        print(f"    {item.item_id}  score {item.score:7.3f}  {','.join(item.categories)}")
    why = client.recommend(user, k=1, explain=True).items[0]
    assert why.explanation is not None
    print(f"--- why {why.item_id}? ({why.explanation.kind} explanation, Recommend explain=true)")
    for source, weight in why.explanation.items:
        print(f"    {weight:+7.3f}  from {source}")
    if why.explanation.rest is not None:
        rest = why.explanation.rest
        print(f"    {rest:+7.3f}  item bias and trend  (sum = score {why.score:.3f})")
    url = f"http://127.0.0.1:{http_port}/v1/recommendations/{user}?k=5"
    print(f"--- REST: curl -s '{url}'")
    print("    " + json.dumps(httpx.get(url).json())[:300] + " ...")
    before = client.recommend(user, k=50).item_ids
    target = before[14]  # a good fit for the user, outside their top 10
    client.record_events([Event(f"crowd-{k}", target, event_type="click") for k in range(500)])
    print(f"--- a burst of 500 clicks by other users on {target} (#15 for {user} before)")
    time.sleep(0.5)  # > the trend snapshot refresh interval
    after = client.recommend(user, k=50).item_ids
    trending = client.trending(k=3)
    client.close()
    rank = after.index(target) + 1 if target in after else "> 50"
    print(
        f"--- {target} is now #{rank} for {user} (trend bias beta * log(1 + decayed count)); "
        f"trending #1: {trending[0].item_id}"
    )
    print(
        "\nTry it yourself (server reflection is on):\n"
        f'  grpcurl -plaintext -d \'{{"user_id": "{user}", "k": 5}}\' '
        f"127.0.0.1:{grpc_port} recserve.v1.Recommender/Recommend\n"
        f"  curl -s 'http://127.0.0.1:{http_port}/v1/trending?k=5'\n"
        f"  open http://127.0.0.1:{http_port}/docs   (OpenAPI)   and /metrics (Prometheus)\n"
        f"  {sys.executable} - <<'EOF'\n"
        "  from recserve_client import Client, Event\n"
        f"  with Client('127.0.0.1:{grpc_port}') as client:\n"
        f"      client.record_events([Event('{user}', '{history[0]}', event_type='click')])\n"
        f"      print(client.recommend('{user}', k=3))\n"
        "  EOF\n"
    )


def run_demo(root: Path, seed: int, grpc_port: int, http_port: int, store: str | None) -> int:
    from service.app import create_server
    from service.settings import Settings

    started = time.perf_counter()
    try:
        bundle_dir = prepare(root, seed)
    except KeyboardInterrupt:  # Ctrl-C is how the demo is meant to end, at any point
        print("\nstopped", flush=True)
        return 0
    settings = Settings(
        bundle=str(bundle_dir),
        store=store or f"file://{root / 'var' / 'demo'}",
        grpc_port=grpc_port,
        http_port=http_port,
    )
    from recserve.importer import import_into
    from training.data.readers import load_interactions

    log = load_interactions(root / "data" / "demo", "recbole")
    summary = import_into(
        settings.store, log, settings.max_history, settings.trend_half_life_s, progress=False
    )
    print(
        f"importing the log into the store: {summary.imported:,} events of {summary.users:,} "
        f"users ({summary.already:,} there already), so they start personalised",
        flush=True,
    )
    try:
        server = create_server(settings).start()
    except OSError as error:  # a port in use: say which, no traceback
        raise ValueError(str(error)) from None
    ready = time.perf_counter() - started
    print(
        f"\nrecserve is serving {server.bundles.version} (ready in {ready:.0f} s): "
        f"gRPC 127.0.0.1:{server.grpc_port}, HTTP http://127.0.0.1:{server.http_port}, "
        f"store {settings.store}"
    )
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        tour(server.grpc_port, server.http_port, server.bundles.current)
        print("Serving until Ctrl-C ...", flush=True)
        stop.wait()
    finally:
        print("\nstopping: finishing calls in flight, flushing the event store", flush=True)
        server.stop()
    return 0
