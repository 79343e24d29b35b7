"""Worker loops that let the GUI thread run: :class:`GilYield` and :func:`give_way`. No Qt.

Both are for worker threads only (on the GUI thread they would only waste time); the
command line's threads may call them harmlessly.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class GilYield:
    """Lets a waiting thread (the GUI thread) take the GIL from a busy worker loop.

    Why it is needed (CPython 3.11, measured with ``perf`` on this app): a thread waiting
    for the GIL asks the holder to drop it only after waiting the switch interval (5 ms)
    *without interruption*. A busy worker loop that lets go of the GIL for a moment again
    and again (some PySide calls do, as do socket reads) wakes the GUI thread each time
    and restarts its 5 ms, and on a 2-core machine the worker has retaken the GIL before
    the woken GUI thread gets a core. The GUI thread then waited 60-150 ms to run a QTimer
    callback while a worker halved a 4095 px image in strips. Sleeping a moment releases
    the GIL long enough for the waiting thread to take it.

    Call it between pieces of work; it sleeps ``pause`` seconds at most once per ``every``
    seconds: ~10 % of a CPU-bound loop, nothing measurable for an I/O-bound one. Use one
    instance per thread, on worker threads only (on the GUI thread it would only waste
    time). ``clock`` and ``sleep`` are for tests.
    """

    def __init__(
        self,
        *,
        every: float = 0.004,
        pause: float = 0.0005,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._every = every
        self._pause = pause
        self._clock = clock
        self._sleep = sleep
        self._last = clock()

    def __call__(self) -> None:
        if self._clock() - self._last >= self._every:
            self._sleep(self._pause)
            self._last = self._clock()


_per_thread = threading.local()


def give_way() -> None:
    """The calling thread's own :class:`GilYield`, called once: for loops in shared code
    (the HTTP transport's send and receive loops) that have no place to keep one."""
    gy = getattr(_per_thread, "gil_yield", None)
    if gy is None:
        gy = _per_thread.gil_yield = GilYield()
    gy()
