"""Keep a job's QThread referenced until it has really ended.

``JobRunner._on_thread_finished`` drops the last Python reference to its (Python-owned)
QThread in a slot of ``QThread.finished``, which Qt emits while the thread is still
finishing. Destroying it there makes the GUI thread wait in ``~QThread`` while holding the
GIL, and the finishing thread (deleting the worker through ``deleteLater``) then races it:
a segmentation fault or a deadlock now and then (see tests/reliability/
test_thread_teardown.py, which shows it). The suites that only *use* JobRunner hold their
own reference until the thread has ended, so that product bug cannot kill the test run;
the bug itself stays visible in its own test.
"""

from __future__ import annotations

import shiboken6
from PySide6.QtCore import QThread


def ended(thread: QThread) -> bool:
    """True once the thread has finished running (or its C++ object is gone)."""
    return not shiboken6.isValid(thread) or thread.isFinished()


def wait_ended(qtbot, thread: QThread | None, timeout: int = 10_000) -> None:
    """Let the event loop run until ``thread`` has really ended (GIL released meanwhile)."""
    if thread is not None:
        qtbot.waitUntil(lambda: ended(thread), timeout=timeout)


def press_and_wait(qtbot, window, button, timeout: int = 20_000) -> None:
    """Press a button of the main window that starts a job; wait for the job and its
    QThread to end (holding the thread meanwhile, see the module docstring)."""
    button.click()
    runner = window._runner
    thread = runner.thread if runner is not None else None
    qtbot.waitUntil(lambda: not window.job_running(), timeout=timeout)
    wait_ended(qtbot, thread)
