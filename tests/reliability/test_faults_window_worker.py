"""Every sandbox fault through the window's job controller (a JobWorker on a real QThread).

For each fault: the outcome signal (succeeded after transient faults, failed with the
right type, code and ids otherwise), the job's final state in the store, every task the
sandbox created recorded by id, never more than one task per job (and a POST re-sent only
when the service surely took nothing), no partial file under the data folder, and the
thread finished.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import QObject, Slot

from refiner_gui.api import RefinerClient, RefinerError, TaskFailed
from refiner_gui.controllers import JobController
from refiner_gui.jobs import JobState, JobStore
from refiner_gui.sandbox import Fault, SandboxServer
from refiner_gui.threads import live_workers
from refiner_gui.workers import JobOutcome, JobRequest
from tests.helpers.fast import fast_retry
from tests.helpers.fault_cases import (
    CASES,
    RESUMABLE,
    FaultCase,
    check_task_bookkeeping,
    part_files,
)
from tests.helpers.jobs import slot_files
from tests.helpers.qthreads import press_and_wait, wait_ended

KEY = "window-worker-key-31337"


class Outcomes(QObject):
    """Lives on the GUI thread: the controller's signals arrive here, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.created: list[int] = []
        self.submitted: list = []
        self.succeeded: list[JobOutcome] = []
        self.failed: list[RefinerError] = []
        self.order: list[str] = []

    @Slot(int, int)
    def on_created(self, _run: int, job_id: int) -> None:
        self.created.append(job_id)
        self.order.append("created")

    @Slot(int, object)
    def on_submitted(self, _run: int, sub) -> None:
        self.submitted.append(sub)

    @Slot(int, object)
    def on_succeeded(self, _run: int, outcome) -> None:
        self.succeeded.append(outcome)
        self.order.append("succeeded")

    @Slot(int, object)
    def on_failed(self, _run: int, err) -> None:
        self.failed.append(err)
        self.order.append("failed")

    @Slot(int)
    def on_ended(self, _run: int) -> None:
        self.order.append("ended")


@pytest.fixture
def store(tmp_path):
    s = JobStore(tmp_path / "data" / "jobs.sqlite3")
    yield s
    s.close()


def run_in_thread(qtbot, store: JobStore, factory, files, gender="woman") -> Outcomes:
    controller = JobController(store, factory)
    seen = Outcomes()
    controller.jobCreated.connect(seen.on_created)
    controller.submitted.connect(seen.on_submitted)
    controller.succeeded.connect(seen.on_succeeded)
    controller.failed.connect(seen.on_failed)
    controller.runEnded.connect(seen.on_ended)
    with qtbot.waitSignal(controller.runEnded, timeout=30_000):
        run_id = controller.start(JobRequest(files, gender))
        (run,) = controller.runs()
        assert run.id == run_id and run.handle is not None
        thread = run.handle.thread  # held until it has really ended: tests/helpers/qthreads.py
    assert not controller.is_busy() and not live_workers()
    wait_ended(qtbot, thread)  # the QThread has finished
    # Exactly one outcome, after the job was stored and before the run ended.
    assert seen.order in (["created", "succeeded", "ended"], ["created", "failed", "ended"])
    return seen


@pytest.mark.parametrize("case", [c.param() for c in CASES])
def test_fault_through_the_window_worker(
    qtbot, sandbox, store, job_images, tmp_path, isolated_home, case: FaultCase
):
    for fault in case.faults:
        sandbox.inject(fault)
    retry = fast_retry(**case.retry)

    def factory() -> RefinerClient:  # called on the worker thread
        kw = {"poll_interval": 0.02, "retry": retry, "timeout": 30, **case.client}
        return RefinerClient(KEY, sandbox.base_url, **kw)

    seen = run_in_thread(qtbot, store, factory, slot_files(job_images))

    [job_id] = seen.created
    job = store.get(job_id)
    if case.error is None:
        assert not seen.failed, seen.failed and seen.failed[0].to_dict()
        [outcome] = seen.succeeded
        assert outcome.job.id == job_id and not outcome.refined.isNull()
        assert job.state is JobState.SUCCEEDED and job.result_path.is_file()
        assert job.result_path.parent == store.results_dir
    else:
        assert not seen.succeeded
        [err] = seen.failed
        assert type(err) is case.error, err.to_dict()
        assert job.state is case.state, (job.state, job.error)
        assert job.error and job.error["type"] == case.error.__name__
        assert err.code == case.code
        if case.http_status is not None:
            assert err.http_status == case.http_status
        if case.slot is not None:
            assert err.slot == case.slot
        if case.ids:  # the service sent them: they reach the error and the stored row
            assert err.request_id and err.log_id
            assert job.error["request_id"] == err.request_id
            assert job.error["log_id"] == err.log_id
        assert err.task_id == job.task_id
        assert job.result_path is None
        assert not list(store.results_dir.iterdir())  # no result, whole or partial
    if job.task_id:
        assert [s.task_id for s in seen.submitted] == [job.task_id]
    rows = {j.task_id for j in store.list_jobs()}
    check_task_bookkeeping(case, sandbox, rows, job.state)
    if case.state is JobState.SUBMITTED and case.error is not None:
        assert job in store.unfinished()  # resumable: recovery will poll it again
    assert not part_files(store.root, isolated_home, tmp_path)


@pytest.mark.parametrize("shape", ["old", "data_image_url", "data_image"])
@pytest.mark.parametrize("fault", [None, "task_failed"])
def test_every_result_shape_through_the_window_worker(qtbot, store, job_images, shape, fault):
    """The three places the service may put the result (and status 3) all work."""
    with SandboxServer(shape=shape) as srv:
        if fault:
            srv.inject(Fault("submit", fault))
        seen = run_in_thread(
            qtbot,
            store,
            lambda: RefinerClient(KEY, srv.base_url, poll_interval=0.02, retry=fast_retry()),
            slot_files(job_images),
        )
        [task_id] = srv.tasks
    job = store.get(seen.created[0])
    assert job.task_id == task_id
    if fault:
        [err] = seen.failed
        assert isinstance(err, TaskFailed) and err.task_id == task_id and err.request_id
        assert job.state is JobState.FAILED
    else:
        assert seen.succeeded and job.state is JobState.SUCCEEDED


@pytest.mark.parametrize("case", [c.param() for c in RESUMABLE])
def test_the_window_offers_resume_and_it_finishes_the_task(qtbot, sandbox, job_images, case):
    """A failure that left the job resumable shows "Resume task"; pressing it waits again
    (never re-submits) and brings the result."""
    from refiner_gui.settings import Settings
    from refiner_gui.slots import COARSE, PERSON, TOP
    from refiner_gui.ui.main_window import MainWindow

    retry = fast_retry(**case.retry)

    def factory() -> RefinerClient:
        kw = {"poll_interval": 0.02, "retry": retry, "timeout": 30, **case.client}
        return RefinerClient(KEY, sandbox.base_url, **kw)

    w = MainWindow(client_factory=factory, settings=Settings(), recover_on_start=False)
    qtbot.addWidget(w)
    try:
        for slot, name in ((PERSON, "person"), (TOP, "top"), (COARSE, "coarse")):
            w.inputs.set_file(slot, job_images[name])
        w.inputs.set_gender("man")
        qtbot.waitUntil(w.refine_button.isEnabled, timeout=10_000)
        for fault in case.faults:
            sandbox.inject(fault)
        press_and_wait(qtbot, w, w.refine_button)
        err = w.error_panel.error()
        assert err is not None and err.task_id == next(iter(sandbox.tasks))
        assert w.store.find_by_task(err.task_id).state is JobState.SUBMITTED
        assert not sandbox.pending_faults  # the service has recovered meanwhile
        assert w.error_panel.resume_button.isVisibleTo(w), type(err).__name__
        press_and_wait(qtbot, w, w.error_panel.resume_button)
        assert not w.error_panel.isVisibleTo(w)
        assert w.store.find_by_task(err.task_id).state is JobState.SUCCEEDED
        assert sandbox.submissions == 1 and len(sandbox.tasks) == 1
    finally:
        w.shutdown()
