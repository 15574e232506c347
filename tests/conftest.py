"""Fixtures shared by the whole suite: small synthetic logs and the ML-100K path."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from training.data.synthetic import SyntheticConfig, SyntheticData, generate

REPO = Path(__file__).resolve().parents[1]
ML100K = REPO.parent / "shared" / "data" / "ml-100k"

SMALL = SyntheticConfig(seed=7, n_users=300, n_items=200, n_categories=10, days=30)


@pytest.fixture(scope="session")
def small_log() -> SyntheticData:
    """~20K events: tastes, sessions, event types, trends and cold items planted."""
    return generate(SMALL)


@pytest.fixture(scope="session")
def ml100k() -> Path:
    if not (ML100K / "ml-100k.inter").exists():
        pytest.skip(f"MovieLens-100K not found at {ML100K}")
    return ML100K


TINY_LED = {"dim": 16, "max_epochs": 8, "lr": 0.02, "eval_every": 2, "negatives": 100}


@pytest.fixture(scope="session")
def led_checkpoint(tmp_path_factory, small_log) -> Path:
    """A small LED trained on the synthetic log, saved as `recserve train` does."""
    from training.data.synthetic import write_recbole
    from training.evaluate import EvalConfig, EvaluateJob

    root = tmp_path_factory.mktemp("led")
    folder = write_recbole(small_log.interactions, root / "demo")
    job = EvaluateJob(
        data=str(folder),
        format="recbole",
        protocol="user-holdout",
        models=("led",),
        eval=EvalConfig(ks=(10, 50)),
        model_params={"led": TINY_LED},
        json_path=str(root / "run" / "metrics.json"),
        progress=False,
        tune=False,
        checkpoint_dir=str(root / "run"),
    )
    job.run()
    return root / "run"


@pytest.fixture(scope="session")
def led_bundle(tmp_path_factory, led_checkpoint) -> Path:
    """The exported bundle of ``led_checkpoint``: bundles/led/1."""
    from export.writer import write_bundle
    from training.checkpoint import load_checkpoint

    root = tmp_path_factory.mktemp("bundles")
    return write_bundle(load_checkpoint(led_checkpoint), root / "led" / "1")


REDIS_TEST_DB = 15  # the suite owns this database of the local Redis and flushes it


@pytest.fixture()
def redis_url() -> str:
    url = f"redis://127.0.0.1:6379/{REDIS_TEST_DB}"
    client = redis.Redis.from_url(url)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.fail("Redis must run on 127.0.0.1:6379 (make redis)")
    client.flushdb()
    return url
