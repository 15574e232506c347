import json

import pytest

from training.evaluate import EvalConfig
from training.jobs.evaluate import EvaluateJob
from training.jobs.source import DataSource, SplitSpec, parse_model_params


def test_parse_model_params():
    assert parse_model_params(["ease.l2=200", "led.loss=bpr", "itemknn.shrink=1.5"]) == {
        "ease": {"l2": 200},
        "led": {"loss": "bpr"},
        "itemknn": {"shrink": 1.5},
    }
    with pytest.raises(ValueError, match=r"MODEL\.NAME=VALUE"):
        parse_model_params(["l2=5"])


def test_evaluate_job_writes_the_report_schema(tmp_path, small_log):
    from training.data.synthetic import write_recbole

    folder = write_recbole(small_log.interactions, tmp_path / "demo")
    report_path = tmp_path / "report.json"
    job = EvaluateJob(
        source=DataSource(str(folder), "recbole"),
        split=SplitSpec("leave-last-out"),
        models=("popularity", "itemknn"),
        eval=EvalConfig(ks=(10, 20)),
        json_path=str(report_path),
        progress=False,
        tune=False,
    )
    job.run()
    report = json.loads(report_path.read_text())
    assert report["protocol"] == "leave-last-out"
    assert report["dataset"]["users"] == 300
    assert set(report["results"]) == {"popularity", "itemknn"}
    for metrics in report["results"].values():
        for key in (
            "ndcg@10",
            "hr@10",
            "recall@20",
            "precision@20",
            "pcc@10",
            "coverage@20",
            "mrr",
        ):
            assert 0.0 <= metrics[key] <= 1.0
    assert report["seconds"] > 0
    assert report["results"]["itemknn"]["ndcg@10"] > report["results"]["popularity"]["ndcg@10"]


def test_labels_run_variants_of_one_model_in_one_report(tmp_path, small_log):
    from training.data.synthetic import write_recbole

    folder = write_recbole(small_log.interactions, tmp_path / "demo")
    report = EvaluateJob(
        source=DataSource(str(folder), "recbole"),
        split=SplitSpec("leave-last-out"),
        models=("knn=itemknn", "wide=itemknn"),
        model_params={"knn": {"neighbours": 5}, "wide": {"neighbours": 100}},
        eval=EvalConfig(ks=(10,)),
        progress=False,
        tune=False,
    ).run()
    assert set(report["results"]) == {"knn", "wide"}
    assert report["models"]["knn"]["params"]["neighbours"] == 5
    assert report["results"]["knn"] != report["results"]["wide"]
    with pytest.raises(ValueError, match="LABEL=NAME"):
        EvaluateJob(DataSource(str(folder), "recbole"), models=("x=",)).run()
