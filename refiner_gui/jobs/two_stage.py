"""Two-stage jobs: make the coarse image (Try on Clothes Pro or Premium), then refine it.

No Qt. :func:`~refiner_gui.jobs.run_job` hands a job whose ``kind`` is "tryon" (the
coarse image only) or "tryon_refine" here, already claimed. The vendor's workflow
(contract, section 6): the try-on is called with ``resolution=-1`` and
``restore_face=true``, its result becomes the job's coarse input (stored by content hash
like any input, and checked like one: it must have the person photo's size), then the
refinement is submitted with the same person and garment files by the one-stage path.

Durability, stage by stage (the store's record: :mod:`refiner_gui.jobs.store_stages`):

* each stage's task id is committed before its first poll;
* an upload of unknown outcome in either stage ends the job OUTCOME_UNKNOWN, never re-sent;
* a run that stopped in the first stage (a crash, a quit, a timeout) polls the try-on
  again and goes on; one that stopped between the stages (coarse image stored, the
  refinement not sent: the job is PENDING with its first stage done) submits the
  refinement, never the try-on again (:func:`~refiner_gui.jobs.recovery.expire_or_abandon`
  leaves such a job for :func:`~refiner_gui.jobs.recover` to finish);
* each stage goes to the service the job was first sent to (``jobs.base_url``, recorded
  with the try-on's upload): a resumed try-on is polled there and the refinement sent
  there, or the job is left alone (:mod:`refiner_gui.jobs.routing`): a sandbox's coarse
  image is never refined, nor billed, by the real service;
* errors name their stage ("Generating the coarse image failed: ...", "Refining failed:
  ..."), in the store and as raised; a failed refinement keeps the coarse image.

Each stage has its own deadline, ``client.timeout`` seconds from its own start, and its
own progress (events carry ``step`` "tryon" or "refine" and the stage's task id); the
poll schedule learns each endpoint's timings apart (``pro``, ``premium``, ``refiner``).
"""

from __future__ import annotations

import dataclasses
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from refiner_gui.api.errors import (
    Cancelled,
    DownloadError,
    ErrorInfo,
    InputRejected,
    RefinerError,
    ResultUnavailable,
    SubmissionOutcomeUnknown,
    TaskNotFound,
)
from refiner_gui.api.models import (
    CancelToken,
    ProgressCallback,
    ProgressEvent,
    Stage,
    Submission,
    TaskStatus,
    TryOnInputs,
)
from refiner_gui.jobs.local_steps import local_step
from refiner_gui.jobs.models import Job, JobState
from refiner_gui.jobs.poll_watch import PollWatch, wait_watched
from refiner_gui.jobs.previews import write_preview
from refiner_gui.jobs.routing import SandboxGone, ServiceMismatch, refining_client
from refiner_gui.jobs.runner import (
    _ABOUT_US,
    _RESUMABLE,
    RECORD_PAUSES,
    LocalWriteError,
    _routed_client,
    claim_slot,
    download_to,
    released_on_error,
)
from refiner_gui.jobs.store import RESULT_TTL, JobStore, StoreError
from refiner_gui.jobs.store_stages import stage_message
from refiner_gui.outputs import suffix_from_url
from refiner_gui.slots import BOTTOM, COARSE, PERSON, TOP

if TYPE_CHECKING:
    from refiner_gui.api.client import RefinerClient

log = logging.getLogger(__name__)

__all__ = [
    "COSTS",
    "RefineStage",
    "coarse_problem",
    "reusable_coarse",
    "run_two_stage",
    "staged_error",
]

COSTS = {"pro": 30, "premium": 50, "refiner": 25}
"""Credits per successful call (contract, sections 4 and 6): what a job costs is shown
before it starts (``refiner-cli``, the window)."""

MODEL_NAMES = {"pro": "Try on Clothes Pro", "premium": "Try on Clothes Premium"}

RefineStage = Callable[[Job, "ProgressCallback | None", "RefinerClient | None"], Job]
"""The one-stage path for the refinement (the runner's, already claimed): job, on_event,
and the client to send it with (None: the run's own)."""


def job_cost(kind: str, model: str | None) -> int:
    """Credits a job of ``kind`` costs when every stage succeeds (failed calls are free)."""
    tryon = COSTS.get(model or "", 0) if kind in ("tryon", "tryon_refine") else 0
    refine = COSTS["refiner"] if kind in ("refine", "tryon_refine") else 0
    return tryon + refine


def staged_error(err: RefinerError, stage: str) -> RefinerError:
    """A copy of ``err`` whose message names its stage; ``err`` becomes its cause."""
    if err.user_message.lower().startswith(("generating the coarse image", "refining failed")):
        return err
    new = err.with_context()
    new.user_message = stage_message(stage, err.user_message)
    new.args = (new.user_message,)
    return new


def coarse_problem(job: Job) -> str | None:
    """Why the job's stored coarse image cannot be refined with its person photo, or None.

    The pre-flight checks every input gets (:func:`~refiner_gui.images.preflight.check_inputs`):
    above all, the coarse image must have the person photo's pixel size.
    """
    from refiner_gui.images.preflight import check_inputs

    person, top, coarse = (job.input_path(s) for s in (PERSON, TOP, COARSE))
    if person is None or top is None or coarse is None:
        return None  # the one-stage path says plainly what is missing
    report = check_inputs(person, top, coarse, job.input_path(BOTTOM))[COARSE]
    if report.ok:
        return None
    return " ".join(p.message for p in report.problems)


def reusable_coarse(old: Job | None) -> Path | None:
    """The coarse image an earlier job of the look made (or reused) that a new attempt can
    refine again without paying the try-on twice; None when there is none, or when it is
    what was wrong (:func:`coarse_problem`). Reads images."""
    if old is None:
        return None
    path = old.input_path(COARSE)
    if path is None or not path.is_file() or coarse_problem(old) is not None:
        return None
    return path


def run_two_stage(
    store: JobStore,
    client: RefinerClient,
    job: Job,
    refine: RefineStage,
    *,
    cancel: CancelToken | None = None,
    on_event: ProgressCallback | None = None,
    on_submitted: Callable[[Submission], None] | None = None,
) -> Job:
    """Run a claimed two-stage job from wherever it stopped; return it finished.

    The first stage runs unless the coarse image is already stored; a "tryon_refine" job
    then goes through ``refine`` (the one-stage path). Raises the failure of either stage
    with its stage named, after it was recorded (see :func:`~refiner_gui.jobs.run_job`).
    Worker thread (or the command line's main thread).
    """
    assert job.tryon is not None
    if not job.tryon.done:
        try:
            job = _run_tryon(store, client, job, cancel, on_event, on_submitted)
        except RefinerError as err:
            _label(store, job.id, "tryon")
            raise staged_error(err, "tryon") from err
    if job.kind == "tryon" or job.state.finished:
        return job
    forward = None if on_event is None else _stepped(on_event, "refine")
    try:
        if job.state is JobState.PENDING:
            problem = coarse_problem(job)
            if problem is not None:
                store.mark_finished(
                    job.id, JobState.FAILED, {"type": "InputRejected", "message": problem}
                )
                raise InputRejected(
                    f"{problem} (the coarse image is kept in the job).",
                    ErrorInfo(slot=COARSE),
                )
            own = _refining_client(store, job, client)
            try:
                return refine(job, forward, own)
            finally:
                if own is not None:
                    own.close()
        return refine(job, forward, None)
    except RefinerError as err:
        _label(store, job.id, "refine")
        raise staged_error(err, "refine") from err


def _refining_client(store: JobStore, job: Job, client: RefinerClient) -> RefinerClient | None:
    """The client for the refinement of a job PENDING between its stages (None: ``client``);
    records and raises when it must not be sent from here: a job whose coarse image came
    from a gone sandbox is settled EXPIRED, one from another service is left PENDING with
    the reason (:func:`~refiner_gui.jobs.routing.refining_client`)."""
    try:
        return refining_client(job, client)
    except SandboxGone as err:
        store.mark_finished(job.id, JobState.EXPIRED, err.to_dict(), expected=(JobState.PENDING,))
        raise
    except ServiceMismatch as err:
        store.note_error(job.id, err.to_dict())  # still PENDING: refined once pointed back
        raise


def _label(store: JobStore, job_id: int, stage: str) -> None:
    """Name the stage in the recorded error; a failing store only costs the label."""
    try:
        store.label_error(job_id, stage)
    except (sqlite3.Error, StoreError, OSError) as exc:
        log.warning("job %d: the %s error could not be labelled: %s", job_id, stage, exc)


def _stepped(on_event: ProgressCallback, step: str) -> ProgressCallback:
    def forward(event: ProgressEvent) -> None:
        on_event(dataclasses.replace(event, step=step))

    return forward


def _run_tryon(
    store: JobStore,
    client: RefinerClient,
    job: Job,
    cancel: CancelToken | None,
    on_event: ProgressCallback | None,
    on_submitted: Callable[[Submission], None] | None,
) -> Job:
    """The first stage: submit (when never sent), wait, download, store the coarse image."""
    assert job.tryon is not None
    model = job.tryon.model
    start = time.monotonic()
    deadline = start + client.timeout

    def emit(stage: Stage, **fields: object) -> None:
        if on_event is not None:
            on_event(
                ProgressEvent(
                    stage=stage,
                    elapsed=time.monotonic() - start,
                    step="tryon",
                    **fields,  # type: ignore[arg-type]
                )
            )

    fresh = job.state is JobState.PENDING and job.tryon.state is JobState.PENDING
    if fresh:
        _check_tryon_inputs(store, job)
        slot, deadline = claim_slot(store, client, job.id, cancel, deadline, emit)
        with released_on_error(client, slot):
            # JobStateError if another run got here first. The address is recorded with
            # it: the try-on is polled there and the refinement sent there (jobs.routing).
            store.mark_tryon_submitting(job.id, client.base_url)
        job = _submit_tryon(store, client, job, cancel, emit, deadline, slot)
        if job.state is JobState.SUCCEEDED:
            return job  # finished elsewhere meanwhile; the store logged the refused task id
        assert job.tryon is not None and job.tryon.task_id is not None
        if on_submitted is not None:
            on_submitted(Submission(job.tryon.task_id, job.tryon.request_id, job.tryon.log_id))
    tryon = job.tryon
    assert tryon is not None
    if job.state is not JobState.SUBMITTED or not tryon.task_id:
        raise ValueError(f"job {job.id} is {job.state.value} at its try-on; nothing to run")
    task_id = tryon.task_id
    download = store.existing_coarse(job.id)
    final: TaskStatus | None = None
    if download is None:
        final, download = _wait_and_fetch(store, client, job, cancel, emit, deadline, fresh)
    stored = store.store_input(download)
    name = f"{MODEL_NAMES[model]} coarse image{download.suffix}"
    coarse = dataclasses.replace(stored, name=name)
    if job.kind == "tryon":
        write_preview(download)  # before SUCCEEDED: a listed result always has its preview
    done = store.mark_tryon_succeeded(
        job.id,
        coarse,
        download,
        final.request_id if final else None,
        final.log_id if final else None,
    )
    if job.kind != "tryon":
        download.unlink(missing_ok=True)  # the stored input copy is the one kept
    emit(Stage.DONE, task_id=task_id)
    return done


def _check_tryon_inputs(store: JobStore, job: Job) -> None:
    """Refuse (recorded FAILED, then raised) a try-on whose inputs are not all there."""
    missing = [s for s in (PERSON, TOP) if s not in job.inputs]
    gone = [item.name for item in job.inputs.values() if not item.path.is_file()]
    if missing or gone:
        problem = (
            f"The job has no {', '.join(missing)}; it cannot be sent."
            if missing
            else f"The stored copies of {', '.join(gone)} are missing from the data folder; "
            "nothing was sent. Create the job again from the original images."
        )
        store.mark_finished(job.id, JobState.FAILED, {"type": "InputMissing", "message": problem})
        raise InputRejected(problem)


def _submit_tryon(
    store: JobStore,
    client: RefinerClient,
    job: Job,
    cancel: CancelToken | None,
    emit: Callable[..., None],
    deadline: float,
    slot: str,
) -> Job:
    """Upload the try-on once (the job marked as submitting, holding ``slot``); commit its
    task id (SUBMITTED) before anything else."""
    assert job.tryon is not None
    with released_on_error(client, slot):
        inputs = TryOnInputs(
            person=job.inputs[PERSON].path,
            top=job.inputs[TOP].path,
            bottom=job.input_path(BOTTOM),
            resolution=-1,  # the vendor's requirement for a later refinement
            restore_face=True,
            sha256={name: item.sha256 for name, item in job.inputs.items()},
        )
        emit(Stage.UPLOADING, bytes_done=0)
    try:
        sub = client.submit(
            inputs,
            tryon=job.tryon.model,
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
        store.mark_finished(job.id, JobState.OUTCOME_UNKNOWN, SubmissionOutcomeUnknown().to_dict())
        raise
    log.info("job %d: coarse image submitted as task %s", job.id, sub.task_id)
    job = _record_tryon(store, job, sub)
    emit(Stage.QUEUED, task_id=sub.task_id)
    return job


def _record_tryon(store: JobStore, job: Job, sub: Submission) -> Job:
    """Commit the try-on's task id; a busy store is tried again, then the journal takes it
    (marked ``stage`` "tryon"), as the runner does for a refinement's."""
    info = ErrorInfo(task_id=sub.task_id, request_id=sub.request_id, log_id=sub.log_id)
    pause = threading.Event()
    last: Exception | None = None
    for wait in (*RECORD_PAUSES, None):
        try:
            return store.mark_tryon_submitted(job.id, sub.task_id, sub.request_id, sub.log_id)
        except (sqlite3.Error, StoreError, OSError) as exc:
            last = exc
            log.warning("job %d: try-on task %s not recorded yet: %s", job.id, sub.task_id, exc)
        if wait is not None:
            pause.wait(wait)
    try:
        journal = store.journal_task(job.id, sub.task_id, sub.request_id, sub.log_id, stage="tryon")
    except OSError as exc:
        raise LocalWriteError(
            f"Try-on task {sub.task_id} was created (it is billed when it finishes) but "
            f"neither the job history nor its journal could be written ({last}; {exc}). "
            f"Keep this task id: once the disk is writable: refiner-cli resume {sub.task_id}",
            info,
        ) from exc
    raise LocalWriteError(
        f"Try-on task {sub.task_id} was created (it is billed when it finishes), but the job "
        f"history was busy or failing ({last}), so its id was saved in {journal}. Nothing "
        f"is lost: continue with: refiner-cli resume {sub.task_id} (or resume --all).",
        info,
    ) from last


def _wait_and_fetch(
    store: JobStore,
    client: RefinerClient,
    job: Job,
    cancel: CancelToken | None,
    emit: Callable[..., None],
    deadline: float,
    fresh: bool,
) -> tuple[TaskStatus, Path]:
    """Poll the try-on task and download its result beside the job's results.

    A failure is recorded like the refinement's (:func:`~refiner_gui.jobs.runner._finish`):
    a passing one leaves the job SUBMITTED at its first stage, resumable by polling.
    """
    tryon = job.tryon
    assert tryon is not None and tryon.task_id is not None
    # The try-on's task, seen as a one-stage job: what routing and the poll watch read.
    as_task = dataclasses.replace(job, task_id=tryon.task_id, submitted_at=tryon.submitted_at)
    # A resumed try-on is polled only at the service it was sent to (or left alone).
    own = None if fresh else _routed_client(store, as_task, client)
    try:
        return _poll_tryon(store, own or client, job, as_task, cancel, emit, deadline, fresh)
    finally:
        if own is not None:
            own.close()


def _poll_tryon(
    store: JobStore,
    client: RefinerClient,
    job: Job,
    as_task: Job,
    cancel: CancelToken | None,
    emit: Callable[..., None],
    deadline: float,
    fresh: bool,
) -> tuple[TaskStatus, Path]:
    """:func:`_wait_and_fetch` with the client the try-on task is polled at (``as_task``:
    the job with the try-on's task id and submit time)."""
    assert job.tryon is not None and as_task.task_id is not None
    task_id = as_task.task_id
    watch = PollWatch(store.path, as_task, client, endpoint=job.tryon.model, fresh=fresh)
    try:
        final, url = wait_watched(client, watch, task_id, emit, cancel, deadline)
        store.note_result_url(job.id, url)
        dest = store.coarse_download_path(job.id, suffix_from_url(url))
        with local_step(cancel, task_id, deadline):  # bounded like the refined result's
            emit(Stage.DOWNLOADING, task_id=task_id)
            try:
                download_to(client, url, dest, task_id, cancel, deadline, emit)
            except OSError as exc:
                raise LocalWriteError(
                    f"The coarse image was made (and is billed), but it could not be saved "
                    f"in {store.results_dir} ({exc.strerror or exc}). Free some disk space, "
                    "then resume the job (within 24 hours).",
                    ErrorInfo(task_id=task_id),
                ) from exc
    except RefinerError as caught:
        err = caught if caught.task_id else caught.with_context(task_id=task_id)
        young = time.time() - (as_task.submitted_at or job.created_at) < RESULT_TTL
        if isinstance(err, (*_RESUMABLE, LocalWriteError, *_ABOUT_US)) or (
            isinstance(err, DownloadError) and (err.retryable or young)
        ):
            store.note_error(job.id, err.to_dict())  # still SUBMITTED: resumable
        elif isinstance(err, ResultUnavailable) and young:
            store.note_error(job.id, err.to_dict())
        elif isinstance(err, (TaskNotFound, ResultUnavailable)):
            store.mark_finished(job.id, JobState.EXPIRED, err.to_dict())
        else:
            store.mark_finished(job.id, JobState.FAILED, err.to_dict())
        if err is caught:
            raise
        raise err from caught
    return final, dest
