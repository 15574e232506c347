"""`recserve --threads N` reaches BLAS, OpenMP and torch, loaded before or after it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from recserve.cli import main

PROBE = """
import json, sys
from recserve.cli import main
main(["--threads", sys.argv[1], "generate", "--out", sys.argv[2], "--users", "30",
      "--items", "20"])
import numpy, scipy.linalg, torch  # loaded after the flag: they read the variables
from threadpoolctl import threadpool_info
print(json.dumps({"pools": [(p["internal_api"], p["num_threads"]) for p in threadpool_info()],
                  "torch": torch.get_num_threads()}))
"""


def test_the_flag_reaches_blas_openmp_and_torch_loaded_after_it(tmp_path):
    threads = 1  # below the cores of any machine (the libraries cap a count above them)
    run = subprocess.run(
        [sys.executable, "-c", PROBE, str(threads), str(tmp_path / "data")],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    found = json.loads(run.stdout.strip().splitlines()[-1])
    assert found["pools"] and {n for _, n in found["pools"]} == {threads}, found
    assert {"openblas", "openmp"} <= {api for api, _ in found["pools"]}
    assert found["torch"] == threads


def test_the_flag_limits_libraries_loaded_before_it(tmp_path, monkeypatch):
    import numpy  # noqa: F401  (its BLAS is loaded now)
    from threadpoolctl import threadpool_info

    from recserve import threads

    for variable in ("RECSERVE_THREADS", *threads.VARIABLES):
        monkeypatch.delenv(variable, raising=False)  # restored as they were afterwards
    before = threads.available()
    try:
        assert main(["--threads", "1", "generate", "--out", str(tmp_path), "--users", "30",
                     "--items", "20"]) == 0  # fmt: skip
        assert {p["num_threads"] for p in threadpool_info()} == {1}
    finally:
        threads.apply(before)


def test_zero_threads_is_refused_in_one_line(capsys):
    assert main(["--threads", "0", "generate", "--out", "x"]) == 2
    assert capsys.readouterr().err.strip() == (
        "recserve generate: error: --threads: must be at least 1, got 0"
    )


def test_without_the_flag_the_users_own_library_variables_are_kept(tmp_path):
    probe = PROBE.replace('main(["--threads", sys.argv[1], ', "main([")
    from recserve.threads import VARIABLES

    env = {k: v for k, v in os.environ.items() if k not in ("RECSERVE_THREADS", *VARIABLES)}
    env |= {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    run = subprocess.run(
        [sys.executable, "-c", probe, "-", str(tmp_path / "data")],
        capture_output=True, text=True, timeout=120, check=True, env=env,
    )  # fmt: skip
    found = json.loads(run.stdout.strip().splitlines()[-1])
    assert {n for _, n in found["pools"]} == {1} and found["torch"] == 1, found
