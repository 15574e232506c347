"""The before/after serving comparison: bundles served alternately in one process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from loadtest.catalog import build_bundle

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def small_led(tmp_path_factory) -> Path:
    bundle, _ = build_bundle(tmp_path_factory.mktemp("ab") / "led", "led", n_items=3000,
                             clusters=30)  # fmt: skip
    return bundle


def test_each_bundle_gets_its_median_p50_and_its_ratio_to_the_first(small_led, tmp_path):
    out = tmp_path / "ab.json"
    done = subprocess.run(
        [sys.executable, "-m", "loadtest.ab", str(small_led), str(small_led), "--model", "led",
         "--items", "3000", "--rounds", "2", "--calls", "40", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Recommend p50 µs" in done.stdout and "RecordEvents p50 µs" in done.stdout
    report = json.loads(out.read_text())
    assert report["settings"]["rounds"] == 2
    first, second = report["bundles"]
    assert first["recommend_ratio"] == 1.0 and first["record_events_ratio"] == 1.0
    for entry in (first, second):  # every call really ran: a p50 of some microseconds
        assert 1 < entry["recommend_p50_us"] < 1e6 and 1 < entry["record_events_p50_us"] < 1e6
    assert second["recommend_ratio"] == second["recommend_p50_us"] / first["recommend_p50_us"]


def test_a_folder_without_a_bundle_is_refused_naming_it(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "loadtest.ab", str(tmp_path / "none"), "--model", "led"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2
    assert "no manifest.json in" in done.stderr and "none" in done.stderr
