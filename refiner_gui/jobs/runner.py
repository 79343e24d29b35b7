"""Run and recover durable jobs: the store is written before every step that needs it.

No Qt. Used by the command line directly and by the window's worker thread.

Order of a job, each line committed before the next starts::

    PENDING -> SUBMITTING -> (upload) -> SUBMITTED(task id) -> (poll, download) -> SUCCEEDED

A crash between any two lines leaves a state :func:`recover` knows how to finish: a
SUBMITTED job is polled again (never re-submitted), a SUBMITTING job is marked
OUTCOME_UNKNOWN (the upload may have reached the service: it is never sent again), a
PENDING job is marked CANCELLED (nothing was sent), and anything older than 24 hours is
EXPIRED with its reason.

One process works on a job at a time: :func:`run_job` claims the job in the store before
it touches it and releases it at the end; :func:`recover` leaves jobs held by a live
process alone (:mod:`refiner_gui.jobs.ownership`), so it never settles another process's
upload as "outcome unknown" while that upload's answer is on its way.

A task id that cannot be written to the store (locked, failing) goes to the journal
beside it (:meth:`~refiner_gui.jobs.JobStore.journal_task`); :func:`recover` applies the
journal first. A result that cannot be stored (a refused link, a full disk, a read-only
folder) leaves the job SUBMITTED, with the reason recorded: it can be fetched again.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from refiner_gui.api.errors import (
    AuthError,
    BadRequest,
    Cancelled,
    CreditsError,
    DownloadError,
    ErrorInfo,
    InputRejected,
    NetworkError,
    RateLimited,
    RefinerError,
    ResultUnavailable,
    ServiceUnavailable,
    SubmissionOutcomeUnknown,
    TaskNotFound,
    TimedOut,
)
from refiner_gui.api.models import (
    CancelToken,
    ProgressCallback,
    ProgressEvent,
    Stage,
    Submission,
    TaskStatus,
)
from refiner_gui.api.progress import ProgressThrottle
from refiner_gui.jobs.inputs import input_problem as _input_problem
from refiner_gui.jobs.inputs import job_inputs as job_inputs
from refiner_gui.jobs.local_steps import local_step
from refiner_gui.jobs.models import Job, JobState
from refiner_gui.jobs.poll_watch import PollWatch, wait_watched
from refiner_gui.jobs.previews import write_preview
from refiner_gui.jobs.routing import SandboxGone, ServiceMismatch, polling_client
from refiner_gui.jobs.store import RESULT_TTL, JobHeld, JobStateError, JobStore, StoreError
from refiner_gui.jobs.task_turns import take_turn
from refiner_gui.outputs import suffix_from_url

if TYPE_CHECKING:  # the client module loads requests (~80 ms): only when a job runs
    from refiner_gui.api.client import RefinerClient

log = logging.getLogger(__name__)


class _Emit(Protocol):
    def __call__(
        self,
        stage: Stage,
        *,
        task_id: str | None = ...,
        bytes_done: int | None = ...,
        bytes_total: int | None = ...,
        expected_left: float | None = ...,
    ) -> None: ...


# Errors after which the task may still finish: the job stays SUBMITTED and resumable.
# A rate limit on polls says nothing about the task itself: it goes on (and bills).
_RESUMABLE = (TimedOut, NetworkError, ServiceUnavailable, Cancelled, RateLimited)
# Errors about our side of a poll (key, account, credits, a malformed request).
_ABOUT_US = (AuthError, CreditsError, BadRequest)


class HeldElsewhere(RefinerError, JobStateError):
    """Another live process (or another task of this app) is working on the job: it was
    left alone. Nothing is wrong with the job; it must not be re-run meanwhile.

    Both a :class:`RefinerError` (shown like any failure) and a :class:`JobStateError`
    (the store refused the job: nothing was sent).
    """

    title = "Another process is working on this job"
    advice = (
        "Another process is working on this job; it was left alone. Let that process "
        "finish it (do not start it again meanwhile: that could bill twice)."
    )


class LocalWriteError(RefinerError):
    """The result (or the job's record) could not be written on this computer: a full
    disk, a read-only or unwritable folder. The task itself is unharmed; the job stays
    resumable, and nothing is sent again."""

    title = "Could not save the result on this computer"
    advice = "Free some disk space or make the data folder writable, then resume the task."


# How often, and how long, the task id of a new task is tried against a busy store before
# it goes to the journal (each try also waits up to the store's busy timeout).
RECORD_PAUSES = (0.2, 0.5, 1.0)


def run_job(
    store: JobStore,
    client: RefinerClient,
    job: Job,
    *,
    cancel: CancelToken | None = None,
    on_event: ProgressCallback | None = None,
    on_submitted: Callable[[Submission], None] | None = None,
    on_result: Callable[[TaskStatus], None] | None = None,
    progress_interval: float | None = None,
) -> Job:
    """Take ``job`` as far as it can go; return it finished (SUCCEEDED).

    A PENDING job is submitted; a SUBMITTED job is only polled and downloaded (never
    submitted again). Every failure is recorded in the store first, then re-raised (with
    the task id attached). Commit order: SUBMITTING before the upload starts, SUBMITTED
    with the task id before the first poll, SUCCEEDED once the result file is stored
    under its final name.

    Raises:
        RefinerError: the failure, after it was recorded. The job's state tells what
            next: SUBMITTED (timeout, network, cancel while waiting) is resumable by
            calling ``run_job`` again; the other states are final.
        HeldElsewhere: another live process (or thread) holds the job: nothing was done.
        JobStateError: the job is no longer PENDING in the store (another thread or
            process took it): nothing was sent.
        ValueError: the job is finished; nothing to run.

    ``on_submitted(submission)`` runs after the task id is committed, before the first
    poll; ``on_result(status)`` runs with the task's final status (it carries the result
    URL, which the store does not keep) before the download. Both on the calling thread.
    ``on_event`` gets every progress event, or, with ``progress_interval`` (seconds, e.g.
    :data:`~refiner_gui.api.progress.PROGRESS_INTERVAL_S`), at most one byte-count update
    per interval (:class:`~refiner_gui.api.progress.ProgressThrottle`).

    The whole run has one deadline, ``client.timeout`` seconds from its start, or from the
    moment it got one of the service's 5 running-task places if it had to wait for one
    (:func:`claim_slot`, itself bounded by a first ``client.timeout``): the upload, every
    poll and wait, and the download end there (:class:`TimedOut`; a deadline during the
    submit's answer is OUTCOME_UNKNOWN, as any submit without an answer).

    Thread: one worker thread (or the command line's main thread) per job; the store may
    be shared with other threads. Two runs of the same PENDING job never both upload, and
    the job is claimed for this process (and released at the end) before anything else.
    A two-stage job (coarse image, then refinement) runs by :mod:`~refiner_gui.jobs.two_stage`.
    """
    try:
        store.claim(job.id)
    except JobHeld as held:
        raise HeldElsewhere(str(held), ErrorInfo(task_id=job.task_id)) from held
    try:
        if job.tryon is None:
            return _run_claimed(
                store, client, job, cancel, on_event, on_submitted, on_result, progress_interval
            )
        from refiner_gui.jobs.two_stage import run_two_stage  # a job of two stages

        events = on_event
        if on_event is not None and progress_interval:
            events = ProgressThrottle(on_event, interval=progress_interval)
        return run_two_stage(
            store,
            client,
            job,
            lambda j, ev, own: _run_claimed(
                store, own or client, j, cancel, ev, on_submitted, on_result, None
            ),
            cancel=cancel,
            on_event=events,
            on_submitted=on_submitted,
        )
    finally:
        store.release(job.id)


def _run_claimed(
    store: JobStore,
    client: RefinerClient,
    job: Job,
    cancel: CancelToken | None,
    on_event: ProgressCallback | None,
    on_submitted: Callable[[Submission], None] | None,
    on_result: Callable[[TaskStatus], None] | None,
    progress_interval: float | None,
) -> Job:
    start = time.monotonic()
    deadline = start + client.timeout
    forward = on_event
    if on_event is not None and progress_interval:
        forward = ProgressThrottle(on_event, interval=progress_interval)

    def emit(
        stage: Stage,
        *,
        task_id: str | None = None,
        bytes_done: int | None = None,
        bytes_total: int | None = None,
        expected_left: float | None = None,
    ) -> None:
        if forward is not None:
            forward(
                ProgressEvent(
                    stage=stage,
                    elapsed=time.monotonic() - start,
                    task_id=task_id,
                    bytes_done=bytes_done,
                    bytes_total=bytes_total,
                    expected_left=expected_left,
                )
            )

    fresh = job.state is JobState.PENDING  # submitted by this call: its age is exact
    if fresh:
        problem = _input_problem(job)
        if problem is not None:
            store.mark_finished(
                job.id, JobState.FAILED, {"type": "InputMissing", "message": problem}
            )
            raise InputRejected(problem)
        inputs = job_inputs(job)
        slot, deadline = claim_slot(store, client, job.id, cancel, deadline, emit)
        # JobStateError if another run got here first. The address is recorded with it:
        # the task is only ever polled there (see refiner_gui.jobs.routing).
        with released_on_error(client, slot):
            store.mark_submitting(job.id, client.base_url)
            emit(Stage.UPLOADING, bytes_done=0)
        try:
            sub = client.submit(
                inputs,
                cancel=cancel,
                on_upload=lambda d, t: emit(Stage.UPLOADING, bytes_done=d, bytes_total=t),
                deadline=deadline,
                slot=slot,
            )
        except RefinerError as err:
            if isinstance(err, SubmissionOutcomeUnknown):
                state = JobState.OUTCOME_UNKNOWN
            elif isinstance(err, Cancelled):
                state = JobState.CANCELLED
            else:
                state = JobState.FAILED
            store.mark_finished(job.id, state, err.to_dict())
            raise
        except BaseException:
            # A bug or an interrupt while the upload may be under way: we cannot tell.
            store.mark_finished(
                job.id, JobState.OUTCOME_UNKNOWN, SubmissionOutcomeUnknown().to_dict()
            )
            raise
        # Logged first: if the store write below fails, the log still holds the task id.
        log.info("job %d submitted as task %s", job.id, sub.task_id)
        job = _record_task(store, job, sub)
        emit(Stage.QUEUED, task_id=sub.task_id)
        if on_submitted is not None:
            on_submitted(sub)
    if job.state is not JobState.SUBMITTED or not job.task_id:
        raise ValueError(f"job {job.id} is {job.state.value}; nothing to run")
    return _finish(store, client, job, cancel, emit, on_result, deadline, fresh)


def claim_slot(
    store: JobStore,
    client: RefinerClient,
    job_id: int,
    cancel: CancelToken | None,
    deadline: float,
    emit: Callable[..., None],
) -> tuple[str, float]:
    """Wait for one of the service's running-task slots (:mod:`refiner_gui.api.task_slots`)
    before the job is marked as submitting, so a quit or a crash while waiting leaves a job
    that was plainly never sent (still PENDING), not one of unknown outcome. Returns the
    slot and the job's deadline from now on (``client.timeout`` from the moment it got its
    slot: the wait is not the job's). A look of a batch first takes the batch's turn
    (:mod:`.task_turns`). Says WAITING_SLOT when it has to wait; a cancel
    (CANCELLED) or ``deadline`` passing (FAILED) is recorded, then raised. Worker thread."""
    try:
        # A batch's own bound first (.task_turns), so a look waiting for it holds no slot.
        take_turn(cancel, lambda: emit(Stage.WAITING_SLOT))
        deadline = max(deadline, time.monotonic() + client.timeout)  # that wait is not the job's
        slot = client.limits.claim_task(cancel, deadline, lambda: emit(Stage.WAITING_SLOT))
        return slot, time.monotonic() + client.timeout
    except RefinerError as err:
        state = JobState.CANCELLED if isinstance(err, Cancelled) else JobState.FAILED
        store.mark_finished(job_id, state, err.to_dict())
        raise


@contextmanager
def released_on_error(client: RefinerClient, slot: str) -> Iterator[None]:
    """Within the block (between claiming ``slot`` and the submit), a failure frees it."""
    try:
        yield
    except BaseException:
        client.limits.task_not_sent(slot)
        raise


def _record_task(store: JobStore, job: Job, sub: Submission) -> Job:
    """Commit the new task id; a busy store is tried again, then the journal takes it.

    Raises a RefinerError naming the task when the store stays unwritable: the id is in
    the journal (applied by :func:`recover` and ``refiner-cli resume``), or, if even that
    failed, in the message and the log.
    """
    info = ErrorInfo(task_id=sub.task_id, request_id=sub.request_id, log_id=sub.log_id)
    pause = threading.Event()  # never set: an interruptible pause between tries
    last: Exception | None = None
    for wait in (*RECORD_PAUSES, None):
        try:
            return store.mark_submitted(job.id, sub.task_id, sub.request_id, sub.log_id)
        except (sqlite3.Error, StoreError, OSError) as exc:
            last = exc
            log.warning("job %d: task id %s not recorded yet: %s", job.id, sub.task_id, exc)
        if wait is not None:
            pause.wait(wait)
    try:
        journal = store.journal_task(job.id, sub.task_id, sub.request_id, sub.log_id)
    except OSError as exc:
        raise LocalWriteError(
            f"Task {sub.task_id} was created (it is billed when it finishes) but neither the "
            f"job history nor its journal could be written ({last}; {exc}). Keep this task "
            f"id: once the disk is writable, continue with: refiner-cli resume {sub.task_id}",
            info,
        ) from exc
    raise LocalWriteError(
        f"Task {sub.task_id} was created (it is billed when it finishes), but the job "
        f"history was busy or failing ({last}), so its id was saved in {journal}. Nothing "
        f"is lost: continue with: refiner-cli resume {sub.task_id} (or resume --all).",
        info,
    ) from last


def _finish(
    store: JobStore,
    client: RefinerClient,
    job: Job,
    cancel: CancelToken | None,
    emit: _Emit,
    on_result: Callable[[TaskStatus], None] | None = None,
    deadline: float | None = None,
    fresh: bool = False,
) -> Job:
    task_id = job.task_id
    assert task_id is not None
    # A previous run may have stored the file and died before committing SUCCEEDED: the
    # file is whole (downloads appear under their final name only when complete and
    # verified), and by now its URL may be dead, so take it as it is.
    already = store.existing_result(job.id)
    if already is not None:
        done = store.mark_succeeded(job.id, already)
        emit(Stage.DONE, task_id=task_id)
        return done
    own = None if fresh else _routed_client(store, job, client)
    try:
        return _poll_and_fetch(store, own or client, job, cancel, emit, on_result, deadline, fresh)
    finally:
        if own is not None:
            own.close()


def _routed_client(store: JobStore, job: Job, client: RefinerClient) -> RefinerClient | None:
    """The job's own sandbox client (None: ``client`` is right); records and raises when it
    cannot be polled from here (see :func:`~refiner_gui.jobs.routing.polling_client`)."""
    try:
        return polling_client(job, client)
    except SandboxGone as err:
        store.mark_finished(job.id, JobState.EXPIRED, err.to_dict(), expected=(JobState.SUBMITTED,))
        raise
    except ServiceMismatch as err:
        store.note_error(job.id, err.to_dict())  # still SUBMITTED: fetch it from there
        raise


def download_to(
    client: RefinerClient,
    url: str,
    dest: Path,
    task_id: str,
    cancel: CancelToken | None,
    deadline: float | None,
    emit: Callable[..., None],
) -> None:
    """Download a task's result ``url`` to ``dest``, its bytes reported as DOWNLOADING
    events. The caller announces the stage, holds the local step and words a local
    ``OSError`` for its stage. Worker thread."""
    client.download(
        url,
        dest,
        cancel=cancel,
        task_id=task_id,
        deadline=deadline,
        on_progress=lambda d, t: emit(
            Stage.DOWNLOADING, task_id=task_id, bytes_done=d, bytes_total=t
        ),
    )


def _poll_and_fetch(
    store: JobStore,
    client: RefinerClient,
    job: Job,
    cancel: CancelToken | None,
    emit: _Emit,
    on_result: Callable[[TaskStatus], None] | None,
    deadline: float | None,
    fresh: bool,
) -> Job:
    task_id = job.task_id
    assert task_id is not None
    watch = PollWatch(store.path, job, client, fresh=fresh)
    try:
        final, url = wait_watched(client, watch, task_id, emit, cancel, deadline)
        store.note_result_url(job.id, url)
        if on_result is not None:
            on_result(final)
        dest = store.result_path_for(job.id, suffix_from_url(url))
        with local_step(cancel, task_id, deadline):  # a batch downloads a few at once
            emit(Stage.DOWNLOADING, task_id=task_id)
            try:
                download_to(client, url, dest, task_id, cancel, deadline, emit)
                write_preview(dest)  # before SUCCEEDED: a listed result has its preview
            except OSError as exc:  # a full disk, a read-only results folder
                raise _local_write_error(exc, store, task_id) from exc
    except RefinerError as caught:
        # Recorded and raised naming its task (a copy when the error did not say it).
        err = caught if caught.task_id else caught.with_context(task_id=task_id)
        young = time.time() - (job.submitted_at or job.created_at) < RESULT_TTL
        if isinstance(err, (*_RESUMABLE, LocalWriteError)) or (
            isinstance(err, DownloadError) and err.retryable
        ):
            store.note_error(job.id, err.to_dict())  # still SUBMITTED: resumable by id
        elif isinstance(err, _ABOUT_US) or (
            isinstance(err, (ResultUnavailable, DownloadError)) and young
        ):
            # The key, the account, a refused or dead result link say nothing about the
            # task: it succeeded (and bills); the link is kept and a later poll gives it
            # again (or a fresh one), so the job stays resumable for its 24 hours.
            store.note_error(job.id, err.to_dict())
        elif isinstance(err, (TaskNotFound, ResultUnavailable)):
            store.mark_finished(job.id, JobState.EXPIRED, err.to_dict())
        else:
            store.mark_finished(job.id, JobState.FAILED, err.to_dict())
        if err is caught:
            raise
        raise err from caught
    try:
        done = store.mark_succeeded(job.id, dest, final.request_id, final.log_id)
    except (sqlite3.Error, OSError) as exc:
        # The file is whole under its final name: the next resume takes it as it is.
        raise LocalWriteError(
            f"The result is stored at {dest}, but the job history could not be updated "
            f"({exc}). Free some disk space, then: refiner-cli resume {task_id}",
            ErrorInfo(task_id=task_id),
        ) from exc
    emit(Stage.DONE, task_id=task_id)
    return done


def _local_write_error(exc: OSError, store: JobStore, task_id: str) -> LocalWriteError:
    """The plain message for a result that could not be written (disk full, read-only)."""
    reason = exc.strerror or str(exc)
    return LocalWriteError(
        f"The refinement finished (and is billed), but its result could not be saved in "
        f"{store.results_dir} ({reason}). Free some disk space or make that folder "
        f"writable, then fetch it again (within 24 hours): refiner-cli resume {task_id}",
        ErrorInfo(task_id=task_id),
    )
