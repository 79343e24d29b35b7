"""The window's job thread must end without ever crashing or hanging the app.

Found while running the fault suites: the process died now and then with a segmentation
fault in a "refiner-job" thread, the GUI thread being in ``JobRunner._on_thread_finished``.
This provokes it in a child process (a crash must not take the test run with it).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Fixed in workers.JobRunner: the QThread is a child of the runner, the worker returns to
# the GUI thread at the end of run(), and both are deleted there once isFinished() is true
# (never by dropping a Python reference in a slot of QThread.finished, never with a blocking
# wait() that holds the GIL).


def test_many_job_threads_end_cleanly():
    runs = 150  # the unfixed runner crashed within the first 20 runs (of 5 tries)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "QT_QPA_PLATFORM": "offscreen"}
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "tests.helpers.thread_teardown_stress", str(runs)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=45,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the job threads deadlocked (the child was killed after 45 s)")
    assert proc.returncode == 0, f"child exited {proc.returncode}: {proc.stderr[-800:]}"
    assert proc.stdout.strip() == f"ok {runs}"
