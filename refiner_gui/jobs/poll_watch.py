"""One task's wait, as the job runner sees it: when to poll, how long is left, and what
the wait teaches the history. No Qt.

The glue between :func:`~refiner_gui.jobs.run_job`, the duration history
(:mod:`refiner_gui.jobs.durations`) and the schedule (:mod:`refiner_gui.jobs.poll_schedule`).
A client with ``adaptive_polling`` gets a planned schedule; any client gets the expected
time left and leaves its bracket in the history.

Time scale: on loopback (the sandbox, the demo) the client's ``poll_interval`` is taken
as the stand-in for the service's 5 s, and everything (the contract's timings, the 1 s
floor, the history) is scaled by ``poll_interval / 5``: a sandbox running 50 times faster
than the service is polled like the service, 50 times faster. A remote service is never
scaled.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from refiner_gui.api.models import CancelToken, Stage, TaskState, TaskStatus
from refiner_gui.jobs.durations import (
    PRIORS,
    REFINER,
    DurationEstimate,
    load_estimate,
    record_bounds,
)
from refiner_gui.jobs.models import Job
from refiner_gui.jobs.poll_schedule import FALLBACK_GAP, MIN_GAP_REMOTE, PollSchedule, plan
from refiner_gui.jobs.task_turns import give_turn

if TYPE_CHECKING:
    from refiner_gui.api.client import RefinerClient

log = logging.getLogger(__name__)


def time_scale(client: RefinerClient) -> float:
    """Service seconds to this client's seconds: 1 for a remote service (see the module)."""
    from refiner_gui.api.client import is_loopback_url

    if not is_loopback_url(client.base_url):
        return 1.0
    return client.poll_interval / FALLBACK_GAP


class PollWatch:
    """The wait of job ``job`` (SUBMITTED, with ``submitted_at``) on ``client``.

    ``db`` is the job store's file. Reading the history may fail (a locked or damaged
    file): the wait then goes on with the contract's timings, never stops. One thread.
    """

    def __init__(
        self,
        db: Path,
        job: Job,
        client: RefinerClient,
        endpoint: str = REFINER,
        clock: Callable[[], float] = time.time,
        *,
        fresh: bool = False,
    ) -> None:
        self._db = db
        self._fresh = fresh
        self._job = job
        self._endpoint = endpoint
        self._clock = clock
        self.scale = time_scale(client)
        self.submitted_at = job.submitted_at if job.submitted_at is not None else clock()
        self.last_running_at: float | None = None
        self.first_done_at: float | None = None
        self.estimate: DurationEstimate | None = None
        try:
            self.estimate = load_estimate(db, endpoint, self.scale)
        except sqlite3.Error as exc:
            log.warning("poll history unreadable (%s); using the contract's timings", exc)
            self.estimate = DurationEstimate.from_brackets([], PRIORS.get(endpoint))
        self.schedule: PollSchedule | None = None
        if client.adaptive_polling:
            self.schedule = plan(
                self.estimate,
                min_gap=MIN_GAP_REMOTE,
                fallback=client.poll_interval / self.scale,
            ).scaled(self.scale)

    def next_interval(self) -> Callable[[float], float] | None:
        """The hook for ``RefinerClient.wait`` (None: the client's fixed interval)."""
        if self.schedule is None:
            return None
        return self.schedule.interval_fn(self._clock() - self.submitted_at)

    def seen(self, status: TaskStatus) -> None:
        """A poll answered ``status`` just now."""
        now = self._clock()
        if status.state is TaskState.SUCCEEDED:
            if self.first_done_at is None:
                self.first_done_at = now
        else:
            self.last_running_at = now

    def expected_left(self) -> float | None:
        """The usual time still to wait, in seconds, or None when the estimate is silent."""
        if self.estimate is None:
            return None
        age = (self._clock() - self.submitted_at) / self.scale
        left = self.estimate.expected_left(age)
        return None if left is None else left * self.scale

    def record(self) -> None:
        """Keep this wait's bracket in the history. Failures are logged, not raised.

        Only tasks this app submitted (a task resumed by id has no true submit time).
        A task already done at its first poll is bracketed by its submit when this wait
        followed the submit (``fresh``; the tasks that end before the first planned poll
        must be counted, or the schedule would drift late), else not recorded: after a
        restart its first poll may come hours after it ended.
        """
        job = self._job
        if self.first_done_at is None or job.submitted_at is None or not job.inputs:
            return
        lower = self.last_running_at
        if lower is None and self._fresh:
            lower = job.submitted_at
        try:
            record_bounds(
                self._db, job.id, self._endpoint, job.submitted_at, lower, self.first_done_at
            )
        except sqlite3.Error as exc:
            log.warning("could not record the poll bounds of job %d: %s", self._job.id, exc)


def wait_watched(
    client: RefinerClient,
    watch: PollWatch,
    task_id: str,
    emit: Callable[..., None],
    cancel: CancelToken | None,
    deadline: float | None,
) -> tuple[TaskStatus, str]:
    """Wait for ``task_id`` on ``watch``'s schedule until it is done; the shared wait of
    both stages of a job (:func:`~refiner_gui.jobs.run_job`, :mod:`~refiner_gui.jobs.two_stage`).

    Says the expected time left at once (a planned first poll may be many seconds away),
    then QUEUED / PROCESSING with the time left on each "running" answer, and records the
    wait's bracket in the history. Returns the final status and its result link;
    raises what :meth:`RefinerClient.wait` raises. Gives back the batch turn the thread
    holds, however the wait ends (:mod:`.task_turns`). The calling (worker) thread.
    """
    left = watch.expected_left()
    if left is not None:
        emit(Stage.QUEUED, task_id=task_id, expected_left=left)

    def on_status(st: TaskStatus) -> None:
        watch.seen(st)
        if st.state not in (TaskState.QUEUED, TaskState.PROCESSING):
            return  # finished: DOWNLOADING (or the error) follows, never "queued" again
        emit(
            Stage.PROCESSING if st.state is TaskState.PROCESSING else Stage.QUEUED,
            task_id=task_id,
            expected_left=watch.expected_left(),
        )

    try:
        final = client.wait(
            task_id,
            cancel=cancel,
            on_status=on_status,
            deadline=deadline,
            next_interval=watch.next_interval(),
        )
    finally:
        give_turn()  # a batch's next look may submit while this one downloads (.task_turns)
    watch.record()
    assert final.image_url is not None  # the client's wait ends only on a result link
    return final, final.image_url
