"""The job controller: owns every running job of the app, and knows nothing of layouts.

Its clients (the window today; a batch queue and the two-stage coarse flow next) ask it to
start, cancel, resume, re-run and recover jobs, and listen to its typed signals. Each job
it runs is a *run* with an id of its own (the job's id exists only once the worker has
written it to the store); every signal about a run carries that id, so any number of jobs
can run at once and each client follows its own.

Order of a run's signals: ``runStarted`` · ``jobCreated`` · (``progressed`` |
``submitted``)* · exactly one of ``succeeded`` / ``failed`` · ``runEnded`` (the thread is
gone: a client may start the next job at once). A run whose worker could not even load its
job still ends with ``failed`` then ``runEnded``.

GUI thread only. The work runs on :class:`~refiner_gui.workers.JobWorker` threads started
with :func:`~refiner_gui.threads.start_worker`; this module only wires and keeps books.
"""

from __future__ import annotations

import itertools
import logging
import time
from dataclasses import dataclass, field

import shiboken6
from PySide6.QtCore import QObject, QThread, Signal, Slot

from refiner_gui.api import ProgressEvent, RefinerError, Submission
from refiner_gui.clients import ClientFactory
from refiner_gui.jobs import Job, JobStore
from refiner_gui.slots import COARSE, SLOTS
from refiner_gui.threads import WorkerHandle, start_worker, stop_all
from refiner_gui.workers import JobOutcome, JobRequest, JobWorker, RecoveryWorker

log = logging.getLogger(__name__)

JOB_THREAD = "refiner-job"
RECOVERY_THREAD = "refiner-recovery"

SHUTDOWN_WAIT_MS = 180_000
"""How long shutdown waits for a job thread. Cancel is seen within 0.2 s except inside one
blocked HTTP read, which ends at its timeout (a submit's answer: up to 2 minutes); a
QThread destroyed while running aborts the process, so it is waited for."""


@dataclass
class JobRun:
    """What the controller knows of one run. Read-only for clients.

    Attributes:
        id: the run's id (unique for this controller's lifetime).
        resumed: True when it waits again for a stored job, False for a new job.
        parent_id: the job this one re-runs, if any.
        job_id: the stored job, once ``jobCreated`` was emitted.
        task_id: the service's task id, once known (a two-stage job's current stage's).
        step: a two-stage job's stage, "tryon" or "refine", once it reported one.
        tryon_task_id: a two-stage job's try-on task id, once known.
        started_at: ``time.monotonic()`` when it started.
        settled: its outcome (``succeeded`` or ``failed``) was delivered; only its thread
            is left to wind down, so stopping it loses nothing.
    """

    id: int
    resumed: bool
    parent_id: int | None = None
    job_id: int | None = None
    task_id: str | None = None
    step: str | None = None
    tryon_task_id: str | None = None
    started_at: float = field(default_factory=time.monotonic)
    settled: bool = False
    handle: WorkerHandle | None = field(default=None, repr=False)
    relay: _RunRelay | None = field(default=None, repr=False)


class _RunRelay(QObject):
    """Forwards one worker's signals to the controller with the run's id (GUI thread).

    Owned by its run (no Qt parent), so it goes when the run ends, after the last of its
    worker's queued signals was delivered; never ``deleteLater`` (a pending deferred
    delete of a wrapped child outliving its parent crashed the app)."""

    def __init__(self, run: JobRun, controller: JobController) -> None:
        super().__init__()
        self.run = run
        self.controller = controller

    def _alive(self) -> bool:
        # A controller destroyed with a run live (its parent went first): nobody listens.
        return shiboken6.isValid(self.controller)

    @Slot(int)
    def created(self, job_id: int) -> None:
        if not self._alive():
            return
        self.run.job_id = job_id
        self.controller.jobCreated.emit(self.run.id, job_id)
        self.controller.jobChanged.emit(job_id)

    @Slot(object)
    def progressed(self, event: ProgressEvent) -> None:
        if not self._alive():
            return
        if event.task_id:
            self.run.task_id = event.task_id
            if event.step == "tryon":
                self.run.tryon_task_id = event.task_id
        if event.step != self.run.step:  # a two-stage job's next stage: its row changed
            self.run.step = event.step
            if self.run.job_id is not None:
                self.controller.jobChanged.emit(self.run.job_id)
        self.controller.progressed.emit(self.run.id, event)

    @Slot(object)
    def submitted(self, submission: Submission) -> None:
        if not self._alive():
            return
        self.run.task_id = submission.task_id
        log.info("task %s submitted", submission.task_id)
        self.controller.submitted.emit(self.run.id, submission)

    @Slot(object)
    def succeeded(self, outcome: JobOutcome) -> None:
        if not self._alive():
            return
        self.run.settled = True
        self.controller.succeeded.emit(self.run.id, outcome)
        self.controller.jobChanged.emit(outcome.job.id)

    @Slot(object)
    def failed(self, error: RefinerError) -> None:
        if not self._alive():
            return
        if error.task_id:
            self.run.task_id = error.task_id
        self.run.settled = True
        log.info("job failed: %s %s", type(error).__name__, error.code or "")
        if self.run.job_id is not None:
            self.controller.jobChanged.emit(self.run.job_id)
        self.controller.failed.emit(self.run.id, error)

    def ended(self) -> None:
        """The worker's thread is gone (called by the registry, after every signal)."""
        if self._alive():
            self.controller._run_ended(self.run)


class JobController(QObject):
    """Starts, watches, cancels and recovers jobs; any number at once. GUI thread only.

    Args:
        store: the job store the jobs live in.
        client_factory: builds each job's client on its worker thread (see
            :mod:`refiner_gui.clients`); replace it with :meth:`set_client_factory`
            when the settings change (running jobs keep theirs).
    """

    runStarted = Signal(int)  # run id
    jobCreated = Signal(int, int)  # run id, job id: the job is in the store from here on
    progressed = Signal(int, object)  # run id, ProgressEvent
    submitted = Signal(int, object)  # run id, Submission: its task id is stored
    succeeded = Signal(int, object)  # run id, JobOutcome
    failed = Signal(int, object)  # run id, RefinerError (Cancelled included)
    runEnded = Signal(int)  # run id: its thread is gone, nothing more about it follows
    jobChanged = Signal(int)  # job id: its stored row changed (history should refresh)
    recoveryStarted = Signal()
    recovered = Signal(object)  # list[Job]: what recovery settled (may be empty)

    def __init__(
        self, store: JobStore, client_factory: ClientFactory, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.store = store
        self._client_factory = client_factory
        self._runs: dict[int, JobRun] = {}
        self._ids = itertools.count(1)
        self._recovery: WorkerHandle | None = None
        self._recovering: frozenset[int] = frozenset()
        self._closed = False

    # -- queries ----------------------------------------------------------------------

    @property
    def client_factory(self) -> ClientFactory:
        """What builds the clients of new runs (on a worker or pool thread)."""
        return self._client_factory

    def set_client_factory(self, factory: ClientFactory) -> None:
        """Use ``factory`` for jobs started from now on."""
        self._client_factory = factory

    def runs(self) -> list[JobRun]:
        """The runs that have not ended, oldest first."""
        return list(self._runs.values())

    def run(self, run_id: int) -> JobRun | None:
        """The run with this id, while it has not ended."""
        return self._runs.get(run_id)

    def is_busy(self) -> bool:
        """Whether any job runs (recovery not counted)."""
        return bool(self._runs)

    def is_recovering(self) -> bool:
        """Whether recovery of a previous session's jobs is running."""
        return self._recovery is not None

    def is_closed(self) -> bool:
        """Whether :meth:`shutdown` began (nothing starts any more)."""
        return self._closed

    # -- commands ---------------------------------------------------------------------

    def start(self, request: JobRequest) -> int | None:
        """Create and run a new job; its run id, or None once shut down."""
        return self._launch(JobRun(next(self._ids), False, request.parent_id), request, None)

    def resume(self, job_id: int) -> int | None:
        """Wait again for a stored job (never re-submits it); the run id.

        None, with nothing started, after shutdown, for a job not in the store, and for a
        job this controller already runs or recovers (two threads must never poll and
        download one job; see :meth:`busy_with`). The worker fails the run if the job
        cannot be resumed (finished, expired…)."""
        if self.busy_with(job_id):
            return None
        try:
            self.store.get(job_id)
        except KeyError:
            return None
        return self._launch(JobRun(next(self._ids), True, job_id=job_id), None, job_id)

    def busy_with(self, job_id: int) -> bool:
        """Whether a run or the recovery has (or may soon have) this job in hand."""
        return job_id in self._recovering or any(
            run.job_id == job_id for run in self._runs.values()
        )

    def rerun(self, job_id: int) -> int | None:
        """Run a new job from a stored job's own input copies and gender (a child of it).

        Raises ``KeyError`` for an unknown job and ``ValueError`` when its inputs are
        gone; the run id, or None once shut down."""
        job = self.store.get(job_id)
        return self.start(rerun_request(job))

    def cancel(self, run_id: int | None = None) -> None:
        """Ask one run (or, with None, every run) to stop; each ends with ``failed``
        (Cancelled) then ``runEnded``. A submitted job stays resumable."""
        for run in self.runs():
            if (run_id is None or run.id == run_id) and run.handle is not None:
                run.handle.cancel()

    def recover(self) -> bool:
        """Resume, in the background, every job a crash or quit left unfinished.

        False when there is nothing to do, it already runs, a job runs (its job would be
        taken for abandoned), or after shutdown."""
        if self._closed or self._recovery is not None or self._runs:
            return False
        unfinished = frozenset(job.id for job in self.store.unfinished())
        if not unfinished:
            return False
        # Recovery takes exactly these jobs: one created meanwhile (the user pressed
        # Refine) is a live run's, never "abandoned".
        self._recovering = unfinished
        worker = RecoveryWorker(self._client_factory, self.store, unfinished)
        worker.settled.connect(self.jobChanged)
        worker.summary.connect(self.recovered)
        self._recovery = start_worker(worker, RECOVERY_THREAD)
        self._recovery.when_ended(self._recovery_ended)
        self.recoveryStarted.emit()
        return True

    def shutdown(self, timeout_ms: int = SHUTDOWN_WAIT_MS) -> bool:
        """Stop every job and recovery: cancel, quit, wait (never terminate).

        Nothing starts afterwards. True when every thread ended; callable again after a
        False (a thread that did not stop in time is waited for again)."""
        self._closed = True
        handles = [run.handle for run in self.runs() if run.handle is not None]
        if self._recovery is not None:
            handles.append(self._recovery)
        return stop_all(handles, timeout_ms)

    # -- internals --------------------------------------------------------------------

    def _launch(self, run: JobRun, request: JobRequest | None, job_id: int | None) -> int | None:
        if self._closed:
            return None
        worker = JobWorker(self._client_factory, self.store, request, resume_job_id=job_id)
        run.relay = relay = _RunRelay(run, self)
        worker.created.connect(relay.created)
        worker.progress.connect(relay.progressed)
        worker.submitted.connect(relay.submitted)
        worker.succeeded.connect(relay.succeeded)
        worker.failed.connect(relay.failed)
        self._runs[run.id] = run
        run.handle = start_worker(worker, JOB_THREAD, QThread.Priority.InheritPriority)
        run.handle.when_ended(relay.ended)
        self.runStarted.emit(run.id)
        return run.id

    def _run_ended(self, run: JobRun) -> None:
        self._runs.pop(run.id, None)
        run.handle = None
        self.runEnded.emit(run.id)
        # The relay goes with the run (not inside one of its own slots: this runs in the
        # registry's).
        run.relay = None

    def _recovery_ended(self) -> None:
        self._recovery = None
        self._recovering = frozenset()


def rerun_kind(job: Job) -> tuple[str, str | None]:
    """What a re-run of ``job`` is: its kind ("refine", "tryon", "tryon_refine") and try-on
    model (None for a refinement), as :func:`rerun_request` builds it: a job with a stored
    coarse image is refined again (the image reused, not paid for again); a "coarse image
    only" job, or a two-stage job whose coarse image was never made, makes a new one."""
    if job.tryon is None:
        return "refine", None
    if job.kind == "tryon":
        return "tryon", job.tryon.model
    if job.input_path(COARSE) is None:
        return "tryon_refine", job.tryon.model
    return "refine", None


def rerun_request(job: Job) -> JobRequest:
    """A new job from ``job``'s stored input copies and gender, as its child (of the kind
    :func:`rerun_kind` says). Raises ``ValueError`` when a stored input is gone."""
    kind, model = rerun_kind(job)
    files = {}
    names = {}
    for slot in SLOTS:
        if model is not None and slot == COARSE:
            continue
        item = job.inputs.get(slot)
        if item is not None:
            if not item.path.is_file():
                raise ValueError(f"job {job.id}'s stored {slot} image is gone")
            files[slot] = item.path
            # The stored copy is named by its hash: keep the name the user knows.
            names[slot] = item.given_name
    return JobRequest(
        files,
        job.gender,
        parent_id=job.id,
        generate_coarse=model,
        coarse_only=kind == "tryon",
        original_names=names,
    )
