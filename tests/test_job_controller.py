"""The job controller against the sandbox: many jobs at once, each with its own ordered
signals; no job run twice; recovery takes only the jobs it was asked for; shutdown
cancels everything before it waits. Plus the typed background tasks of ``threads``."""

from __future__ import annotations

import threading

import pytest
import shiboken6
from PySide6.QtCore import QCoreApplication, QObject, Slot
from PySide6.QtWidgets import QMainWindow

from refiner_gui.api import Cancelled, RefinerClient
from refiner_gui.controllers import JobController
from refiner_gui.jobs import JobState, JobStore
from refiner_gui.sandbox import SandboxServer
from refiner_gui.threads import live_workers, run_task, wait_for_tasks
from refiner_gui.workers import JobRequest
from tests.helpers.fast import fast_retry
from tests.helpers.jobs import slot_files

KEY = "controller-key-2718"


class Log(QObject):
    """Every controller signal, in arrival order, per run (GUI thread)."""

    def __init__(self, controller: JobController) -> None:
        super().__init__()
        self.events: dict[int, list[str]] = {}
        self.outcomes: dict[int, object] = {}
        controller.runStarted.connect(self.started)
        controller.jobCreated.connect(self.created)
        controller.succeeded.connect(self.succeeded)
        controller.failed.connect(self.failed)
        controller.runEnded.connect(self.ended)

    def _add(self, run: int, what: str) -> None:
        self.events.setdefault(run, []).append(what)

    @Slot(int)
    def started(self, run: int) -> None:
        self._add(run, "started")

    @Slot(int, int)
    def created(self, run: int, _job: int) -> None:
        self._add(run, "created")

    @Slot(int, object)
    def succeeded(self, run: int, outcome: object) -> None:
        self._add(run, "succeeded")
        self.outcomes[run] = outcome

    @Slot(int, object)
    def failed(self, run: int, error: object) -> None:
        self._add(run, "failed")
        self.outcomes[run] = error

    @Slot(int)
    def ended(self, run: int) -> None:
        self._add(run, "ended")


@pytest.fixture
def store(tmp_path):
    s = JobStore(tmp_path / "data" / "jobs.sqlite3")
    yield s
    s.close()


def factory(srv: SandboxServer):
    def make() -> RefinerClient:
        return RefinerClient(KEY, srv.base_url, poll_interval=0.02, retry=fast_retry())

    return make


def test_three_jobs_at_once_each_with_its_own_ordered_signals(qtbot, store, job_images):
    with SandboxServer(latency=0.3) as srv:
        controller = JobController(store, factory(srv))
        log = Log(controller)
        runs = [controller.start(JobRequest(slot_files(job_images), "woman")) for _ in range(3)]
        assert None not in runs and len(set(runs)) == 3
        assert len(controller.runs()) == 3 and controller.is_busy()
        qtbot.waitUntil(lambda: not controller.is_busy(), timeout=30_000)
        assert srv.submissions == 3
    for run in runs:
        assert log.events[run] == ["started", "created", "succeeded", "ended"]
    job_ids = {log.outcomes[run].job.id for run in runs}  # type: ignore[attr-defined]
    assert len(job_ids) == 3
    assert all(store.get(i).state is JobState.SUCCEEDED for i in job_ids)
    assert not live_workers()


def test_a_job_is_never_run_twice_and_unknown_ids_start_nothing(qtbot, store, job_images):
    job = store.create_job(slot_files(job_images), "woman")
    store.mark_submitting(job.id)
    store.mark_submitted(job.id, "task-that-waits")
    with SandboxServer(latency=30) as srv:
        controller = JobController(store, factory(srv))
        first = controller.resume(job.id)
        assert first is not None and controller.busy_with(job.id)
        assert controller.resume(job.id) is None  # already in hand
        assert controller.resume(987_654) is None  # not in the store
        assert len(controller.runs()) == 1
        assert not controller.recover()  # a live run: its job would look abandoned
        assert controller.shutdown(timeout_ms=10_000)
        qtbot.waitUntil(lambda: not controller.is_busy(), timeout=10_000)


def test_recovery_takes_only_the_jobs_it_was_asked_for(qtbot, store, job_images):
    abandoned = store.create_job(slot_files(job_images), "woman")
    store.mark_submitting(abandoned.id)  # a crash mid-upload: outcome unknown
    with SandboxServer(latency=0.3) as srv:
        controller = JobController(store, factory(srv))
        settled: list[list] = []
        controller.recovered.connect(settled.append)
        assert controller.recover()
        assert controller.busy_with(abandoned.id)
        assert controller.resume(abandoned.id) is None  # recovery has it
        qtbot.waitUntil(lambda: not controller.is_recovering(), timeout=10_000)
    assert [j.id for j in settled[0]] == [abandoned.id]
    assert store.get(abandoned.id).state is JobState.OUTCOME_UNKNOWN
    assert srv.submissions == 0  # never re-sent


def test_shutdown_cancels_every_job_before_waiting(qtbot, store, job_images):
    with SandboxServer(latency=60) as srv:
        controller = JobController(store, factory(srv))
        log = Log(controller)
        submitted: list[int] = []
        controller.submitted.connect(lambda run, _info: submitted.append(run))
        runs = [controller.start(JobRequest(slot_files(job_images), "woman")) for _ in range(2)]
        # Both task ids in hand (the server counting the uploads is not enough: a cancel
        # while the submit's answer is on its way is rightly an unknown outcome).
        qtbot.waitUntil(lambda: sorted(submitted) == sorted(runs), timeout=10_000)
        assert srv.submissions == 2
        assert controller.shutdown(timeout_ms=10_000)
        assert controller.start(JobRequest(slot_files(job_images), "woman")) is None
        qtbot.waitUntil(lambda: not controller.is_busy(), timeout=10_000)
    for run in runs:
        assert log.events[run][-2:] == ["failed", "ended"]
        assert isinstance(log.outcomes[run], Cancelled)


def test_a_task_result_reaches_its_owner_on_the_gui_thread(qtbot):
    owner = QObject()
    seen: list[tuple[int, bool]] = []
    run_task(
        lambda: 6 * 7,
        lambda value: seen.append((value, threading.current_thread() is threading.main_thread())),
        owner=owner,
    )
    qtbot.waitUntil(lambda: bool(seen), timeout=5_000)
    assert seen == [(42, True)]


def test_a_task_whose_owner_is_gone_calls_nothing(qtbot):
    owner = QMainWindow()
    gate = threading.Event()
    seen: list[object] = []
    run_task(lambda: gate.wait(5), seen.append, seen.append, owner=owner)
    owner.deleteLater()
    qtbot.waitUntil(lambda: not _alive(owner), timeout=5_000)
    gate.set()
    assert wait_for_tasks()
    for _ in range(3):  # deliver whatever the task queued: nothing may arrive
        QCoreApplication.processEvents()
    assert seen == []


def _alive(obj: QObject) -> bool:
    return shiboken6.isValid(obj)


def test_rerun_starts_a_child_job_from_the_stored_inputs(qtbot, store, job_images):
    with SandboxServer(latency=0.2) as srv:
        controller = JobController(store, factory(srv))
        log = Log(controller)
        first = controller.start(JobRequest(slot_files(job_images), "woman"))
        qtbot.waitUntil(lambda: not controller.is_busy(), timeout=20_000)
        parent = log.outcomes[first].job  # type: ignore[attr-defined]
        again = controller.rerun(parent.id)
        qtbot.waitUntil(lambda: not controller.is_busy(), timeout=20_000)
        assert srv.submissions == 2
    child = log.outcomes[again].job  # type: ignore[attr-defined]
    assert child.id != parent.id and child.parent_id == parent.id
    assert child.gender == "woman" and child.state is JobState.SUCCEEDED
    with pytest.raises(KeyError):
        controller.rerun(987_654)
