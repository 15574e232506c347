"""Baselines on MovieLens-100K: the sanity figures the README reports."""

import pytest

from training.evaluate import EvalConfig
from training.jobs.evaluate import EvaluateJob
from training.jobs.source import DataSource, SplitSpec

pytestmark = pytest.mark.slow


def _run(ml100k, protocol, ks):
    job = EvaluateJob(
        source=DataSource(str(ml100k), "recbole"),
        split=SplitSpec(protocol),
        models=("popularity", "recent-popularity", "last-item", "itemknn", "ease"),
        eval=EvalConfig(ks=ks),
        progress=False,
    )
    return job.run()


def test_leave_last_out_neighbourhood_models_beat_popularity_widely(ml100k):
    report = _run(ml100k, "leave-last-out", (10, 20, 50))
    results = report["results"]
    assert report["dataset"]["events"] == 100_000
    assert report["split"]["test_users"] == 943
    pop = results["popularity"]
    for name in ("itemknn", "ease"):
        assert results[name]["ndcg@10"] > 1.3 * pop["ndcg@10"], name
        assert results[name]["hr@50"] > 1.5 * pop["hr@50"], name


def test_user_holdout_ease_leads_and_popularity_trails(ml100k):
    report = _run(ml100k, "user-holdout", (20, 50, 100))
    results = report["results"]
    assert results["ease"]["recall@20"] > 2 * results["popularity"]["recall@20"]
    assert results["itemknn"]["recall@50"] > 1.5 * results["popularity"]["recall@50"]
    assert results["ease"]["ndcg@100"] == max(r["ndcg@100"] for r in results.values())
