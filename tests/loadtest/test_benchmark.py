"""The serving benchmark's CPU accounting reads a server process's own CPU time."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from loadtest.benchmark import process_cpu_seconds

BUSY_THEN_SLEEP = """
import time
t = time.process_time()
while time.process_time() - t < 0.4:
    pass
print("done", flush=True)
time.sleep(30)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_process_cpu_seconds_counts_what_the_process_spent_and_not_its_sleep():
    child = subprocess.Popen([sys.executable, "-c", BUSY_THEN_SLEEP], stdout=subprocess.PIPE,
                             text=True)  # fmt: skip
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "done"
        busy = process_cpu_seconds(child.pid)
        time.sleep(0.5)
        asleep = process_cpu_seconds(child.pid)
    finally:
        child.kill()
        child.wait()
    assert busy is not None and asleep is not None
    assert 0.4 <= busy < 5.0  # the loop's 0.4 s plus the interpreter's start
    assert asleep - busy < 0.05  # sleeping costs no CPU


def test_process_cpu_seconds_of_no_process_is_none():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert process_cpu_seconds(child.pid) is None
