"""A bound on the heavy local steps of jobs run side by side. No Qt.

A job's heavy local step is its download: the result is fetched, decoded to check it and
shrunk into a preview (a 4095 px result decoded is ~50 MB); a two-stage job has two, its
coarse image and its refined one. A batch runs up to five jobs at once, and their tasks at
the service need not wait for each other, but their downloads should: the batch's memory
and the window's share of the CPU depend on it.

The code that runs jobs on worker threads (:class:`~refiner_gui.batch.BatchQueue`) gives
each worker thread a gate with :func:`bounded_by`; the job path wraps every download in
:func:`local_step`, which holds one of the gate's slots for that step only (never while a
task is polled). A thread with no gate (the window's single job, the command line) is not
bounded.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from refiner_gui.api.errors import Cancelled, ErrorInfo, TimedOut
from refiner_gui.api.models import CancelToken

__all__ = ["bounded_by", "local_step"]

WAIT_SLICE = 0.1  # seconds between looks at the cancel token while waiting for a slot

_state = threading.local()


@contextmanager
def bounded_by(gate: threading.Semaphore) -> Iterator[None]:
    """Within the block, this thread's heavy steps take a slot of ``gate`` each."""
    before = getattr(_state, "gate", None)
    _state.gate = gate
    try:
        yield
    finally:
        _state.gate = before


@contextmanager
def local_step(
    cancel: CancelToken | None = None,
    task_id: str | None = None,
    deadline: float | None = None,
) -> Iterator[None]:
    """One heavy local step (download, check, preview): holds a slot of this thread's gate,
    waiting for one first; nothing when the thread has no gate.

    While it waits, ``cancel`` and ``deadline`` (the job's, a :func:`time.monotonic` time)
    are looked at every :data:`WAIT_SLICE` seconds: a cancelled job raises
    :class:`~refiner_gui.api.errors.Cancelled`, a job past its deadline
    :class:`~refiner_gui.api.errors.TimedOut` (both naming ``task_id``, the job stays
    resumable), instead of waiting for a slot it no longer needs.
    """
    gate: threading.Semaphore | None = getattr(_state, "gate", None)
    if gate is None:
        yield
        return
    while not gate.acquire(timeout=WAIT_SLICE):
        if cancel is not None and cancel.cancelled:
            raise Cancelled("Cancelled.", ErrorInfo(task_id=task_id))
        if deadline is not None and time.monotonic() >= deadline:
            raise TimedOut(
                f"Task {task_id} is done at the service, but its result was still waiting for "
                "its turn to download when the time limit came. Nothing is lost: resume the "
                "job to download it (results are kept for 24 hours).",
                ErrorInfo(task_id=task_id),
            )
    try:
        yield
    finally:
        gate.release()
