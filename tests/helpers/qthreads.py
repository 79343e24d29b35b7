"""Wait until a job's QThread has really ended (not just emitted ``finished``).

``QThread.finished`` is emitted while the thread is still finishing. The suites that run
jobs wait past that point, holding their own reference to the thread meanwhile, so "the
thread finished" is checked for real and nothing of a job outlives its test. (Dropping the
last reference in a slot of ``finished`` used to crash the old job runner now and then: see
tests/reliability/test_thread_teardown.py, which guards the fix.)
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
    runs = window.content.jobs.runs() if window.content is not None else []
    thread = runs[0].handle.thread if runs and runs[0].handle is not None else None
    qtbot.waitUntil(lambda: not window.job_running(), timeout=timeout)
    wait_ended(qtbot, thread)
