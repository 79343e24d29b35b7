"""Joining a batch's worker threads, safely under Ctrl+C. No Qt."""

from __future__ import annotations

import threading

__all__ = ["join_workers"]


def join_workers(workers: list[tuple[threading.Thread, threading.Event]]) -> None:
    """Block until every started worker of a batch (``BatchQueue._worker``, each a thread
    and the event it sets last) has left, then join it.

    Each worker's own ``done`` event is waited on, not ``Thread.join`` alone: on CPython
    before 3.13 a Ctrl+C that interrupts ``join`` marks the thread as ended while it still
    runs (cpython#90882), so the join after ``BatchQueue.stop`` returned at once and the
    command line closed the store under a live worker (a segfault in sqlite3). An
    interrupted ``Event.wait`` leaves nothing behind; the final ``join`` returns at once."""
    for thread, done in workers:
        if thread.ident is not None:  # started (a failed start leaves it None)
            done.wait()
            thread.join()
