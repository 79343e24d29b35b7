"""The window's job thread must end without ever crashing or hanging the app.

Found while running the fault suites: the process died now and then with a segmentation
fault in a "refiner-job" thread, the GUI thread being in ``JobRunner._on_thread_finished``.
This reproduces it in a child process (a crash must not take the test run with it).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

TEARDOWN_BUG = (
    "BUG: workers.JobRunner._on_thread_finished drops the last reference to its Python-owned "
    "QThread in a slot of QThread.finished, which Qt emits while the thread is still "
    "finishing. ~QThread then waits for the thread on the GUI thread while holding the GIL, "
    "and the finishing thread runs the worker's deleteLater (QObject::~QObject -> shiboken "
    "Sbk_GetPyOverride -> PyDict_GetItem) at the same time: segmentation fault (seen under "
    "gdb) or deadlock, a few times in every few hundred jobs when other Python threads run")


@pytest.mark.xfail(strict=True, reason=TEARDOWN_BUG)
def test_many_job_threads_end_cleanly():
    runs = 300
    env = {**os.environ, "PYTHONPATH": str(ROOT), "QT_QPA_PLATFORM": "offscreen"}
    try:
        proc = subprocess.run([sys.executable, "-m", "tests.helpers.thread_teardown_stress",
                               str(runs)], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=45)
    except subprocess.TimeoutExpired:
        pytest.fail("the job threads deadlocked (the child was killed after 45 s)")
    assert proc.returncode == 0, f"child exited {proc.returncode}: {proc.stderr[-800:]}"
    assert proc.stdout.strip() == f"ok {runs}"
