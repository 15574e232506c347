import json

from loadtest import locust_run


def test_locust_scenarios_run_without_failures_on_both_stores(led_bundle, redis_url, tmp_path):
    # A short, bounded run of both locustfiles against real server processes:
    # every request succeeds and the mid-run burst lands in the trending top 10.
    code = locust_run.main(
        ["--bundle", str(led_bundle), "--stores", f"file,{redis_url}", "--users", "4",
         "--spawn-rate", "4", "--duration", "4", "--out", str(tmp_path)]
    )  # fmt: skip
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert code == 0
    assert set(summary["results"]) == {"file/rest", "file/grpc", "redis/rest", "redis/grpc"}
    expected = {
        "grpc": {"Recommend", "RecordEvents", "GetUserHistory", "GetTrending", "burst"},
        "rest": {"/v1/recommendations/{user_id}", "/v1/events", "/v1/trending", "burst"},
    }
    for name, run in summary["results"].items():
        assert run["failures"] == 0 and run["server_exit_code"] == 0
        assert run["burst_checked"] and run["burst_failures"] == 0
        assert expected[name.split("/")[1]] <= set(run["per_request"])
        assert run["requests"] > 50
