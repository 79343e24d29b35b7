"""The one progress throttle: byte-count updates at most every 50 ms, stage changes always.

No Qt. :func:`refiner_gui.jobs.run_job` applies it when given ``progress_interval``; the
window's worker uses it so its progress signals stay few.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from refiner_gui.api.models import ProgressEvent, Stage

PROGRESS_INTERVAL_S = 0.05
"""Least time between two byte-count updates a worker sends to the GUI thread."""


class ProgressThrottle:
    """Forwards a job's progress events, but at most one byte-count update per interval.

    The core reports every 64 KB chunk of an upload or download (a 36 MB result is ~560
    events). Each crosses to the GUI thread as a queued signal, and the GUI thread drains
    whatever has queued up in one go: ~0.08 ms each, a 40 ms stall of its event loop for
    no visible gain. Stage changes, events without byte counts and a finished transfer
    (``bytes_done == bytes_total``) always pass, so the last thing shown is never stale.

    Called on one thread (the job's worker); ``forward`` runs on that thread. ``clock`` is
    for tests.
    """

    def __init__(
        self,
        forward: Callable[[ProgressEvent], None],
        *,
        interval: float = PROGRESS_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._forward = forward
        self._interval = interval
        self._clock = clock
        self._stage: Stage | None = None
        self._last_bytes: float | None = None

    def __call__(self, event: ProgressEvent) -> None:
        """Forward ``event`` unless it is a byte count too soon after the last one."""
        partial = event.bytes_done is not None and event.bytes_done != event.bytes_total
        if partial and event.stage == self._stage:
            now = self._clock()
            if self._last_bytes is not None and now - self._last_bytes < self._interval:
                return
            self._last_bytes = now
        else:
            # A new stage or a final count: always shown, and it restarts the interval.
            self._last_bytes = self._clock() if partial else None
        self._stage = event.stage
        self._forward(event)


def expected_left_text(seconds: float | None) -> str:
    """A running task's expected time left, as the progress lines say it:
    "usually done in ~20 s" (empty when unknown). Rounded to 5 s above 10 s."""
    if seconds is None:
        return ""
    if seconds < 1.0:
        return "usually done any moment now"
    shown = round(seconds) if seconds < 10 else 5 * round(seconds / 5)
    return f"usually done in ~{shown} s"
