"""The window says what really happens: a cancel after the upload is no error (the task
goes on and may bill), jobs recovered at start-up are listed until seen, a running job
shows its coarse image, a resumed job is never "Done in 0 s", Settings in demo mode show
and test the sandbox, and the title names the app once.

Against the sandbox over loopback, with a real SQLite store; waits on conditions only.
"""

from __future__ import annotations

import time

import pytest
from PySide6.QtWidgets import QApplication, QLabel, QProgressBar, QWidget

from refiner_gui.api import RefinerClient
from refiner_gui.jobs import JobState, JobStore, job_inputs
from refiner_gui.jobs.routing import SANDBOX_KEY
from refiner_gui.sandbox import Fault, SandboxServer
from refiner_gui.settings import Settings
from refiner_gui.slots import COARSE, PERSON, TOP
from refiner_gui.threads import wait_for_tasks
from refiner_gui.ui.job_status import JobStatus, elapsed_text
from refiner_gui.ui.main_window import MainWindow
from refiner_gui.ui.settings_dialog import SettingsDialog
from refiner_gui.ui.window_title import APP_NAME
from tests.helpers.fast import fast_retry
from tests.helpers.jobs import raw, slot_files

KEY = "honest-key-0123456789"


def factory(srv: SandboxServer):
    def make() -> RefinerClient:
        return RefinerClient(KEY, srv.base_url, poll_interval=0.05, retry=fast_retry())

    return make


@pytest.fixture
def windows(qtbot):
    made: list[MainWindow] = []

    def make(srv: SandboxServer, **kw) -> MainWindow:
        w = MainWindow(client_factory=factory(srv), settings=Settings(), **kw)
        qtbot.addWidget(w)
        made.append(w)
        return w

    yield make
    for w in made:
        w.shutdown()


def fill(qtbot, w: MainWindow, images) -> None:
    for slot, key in ((PERSON, "person"), (TOP, "top"), (COARSE, "coarse")):
        w.inputs.set_file(slot, images[key])
    w.inputs.set_gender("woman")
    qtbot.waitUntil(lambda: w.refine_button.isEnabled(), timeout=10_000)


def submitted_job(store: JobStore, images, srv: SandboxServer, *, ago: float | None = None):
    """A job the app stopped waiting for after its upload (its task lives at ``srv``)."""
    job = store.create_job(slot_files(images), "woman", hold=False)
    client = RefinerClient(KEY, srv.base_url, retry=fast_retry())
    try:
        store.mark_submitting(job.id, srv.base_url)
        sub = client.submit(job_inputs(job))
    finally:
        client.close()
    store.mark_submitted(job.id, sub.task_id)
    if ago is not None:
        with raw(store.path) as conn:
            conn.execute(
                "UPDATE jobs SET submitted_at = ? WHERE id = ?", (time.time() - ago, job.id)
            )
    return store.get(job.id)


# -- cancel after the upload ------------------------------------------------------------


def test_cancel_after_upload_says_the_task_goes_on_and_can_be_checked_in_the_background(
    qtbot, windows, job_images
):
    with SandboxServer(latency=1.0) as srv:
        w = windows(srv, recover_on_start=False)
        content = w.content
        fill(qtbot, w, job_images)
        w.refine_button.click()
        # While it runs, the page shows the job's coarse image, not a blank or an old result.
        qtbot.waitUntil(content.preview.has_image, timeout=10_000)
        assert content.preview.isVisibleTo(w) and not content.viewer.isVisibleTo(w)
        qtbot.waitUntil(lambda: w.task_id is not None, timeout=10_000)
        w.cancel_job()
        qtbot.waitUntil(lambda: not w.job_running(), timeout=10_000)

        job = w.content.store.get(w.job_id)
        assert job.state is JobState.SUBMITTED  # resumable: not failed, not cancelled
        notice = content.background.still_running
        assert notice.isVisibleTo(w) and not w.error_panel.isVisibleTo(w)
        assert "goes on" in content.parts.stage_label.text()
        assert "25 credits" in notice.message.text() and job.task_id in notice.title.text()
        assert not content.preview.isVisibleTo(w)

        notice.keep_button.click()  # checked in the background, the window stays free
        assert not w.job_running() and content.jobs.busy_with(job.id)
        finished = content.background.finished
        qtbot.waitUntil(lambda: finished.job_ids() == [job.id], timeout=15_000)
        assert "1 job finished in the background" in finished.title.text()
        assert w.shown is None  # nothing took over the viewer meanwhile

        show = [b for b in finished.findChildren(type(notice.keep_button)) if b.text() == "Show"]
        show[0].click()
        qtbot.waitUntil(lambda: w.shown is not None, timeout=10_000)
        assert w.shown.job.id == job.id and content.viewer.isVisibleTo(w)
        title = w.windowTitle()
        assert title.startswith(f"Job {job.id}") and title.count(APP_NAME) == 1
        assert finished.isVisibleTo(w)  # stays until the user says it was seen
        finished.dismiss_button.click()
        assert not finished.isVisibleTo(w)
        assert srv.submissions == 1


def test_a_failed_job_gives_the_page_back(qtbot, windows, job_images):
    with SandboxServer(latency=0.0) as srv:
        srv.inject(Fault("submit", "error", code="ERROR_NO_FACE_IN_FILE"))
        w = windows(srv, recover_on_start=False)
        content = w.content
        fill(qtbot, w, job_images)
        w.refine_button.click()
        assert content.preview.isVisibleTo(w) and not content.parts.placeholder.isVisibleTo(w)
        qtbot.waitUntil(lambda: not w.job_running(), timeout=10_000)
        assert w.error_panel.isVisibleTo(w)  # a real failure is still an error
        assert not content.preview.isVisibleTo(w) and content.parts.placeholder.isVisibleTo(w)


# -- recovered at start-up --------------------------------------------------------------


def test_jobs_recovered_at_start_up_are_listed_until_seen_and_open(
    qtbot, windows, job_images, tmp_path
):
    store = JobStore(tmp_path / "jobs.sqlite3")
    try:
        with SandboxServer(latency=0.0) as srv:
            first = submitted_job(store, job_images, srv)
            second = submitted_job(store, job_images, srv)
            w = windows(srv, store=store)
            finished = w.content.background.finished
            qtbot.waitUntil(lambda: len(finished.job_ids()) == 2, timeout=15_000)
            assert finished.isVisibleTo(w)
            assert "2 jobs finished while the app was closed" in finished.title.text()
            rows = [lab.text() for lab in finished.findChildren(QLabel)]
            assert any(f"Job {first.id}" in t for t in rows)
            assert any(f"Job {second.id}" in t for t in rows)
            assert "listed above" in w.statusBar().currentMessage()
            w.content.background.finished.openRequested.emit(second.id)
            qtbot.waitUntil(lambda: w.shown is not None, timeout=10_000)
            assert w.shown.job.id == second.id
            assert finished.isVisibleTo(w)
    finally:
        w.shutdown()
        store.close()


def test_recovered_jobs_that_did_not_finish_say_why(qtbot, windows, job_images, tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite3")
    try:
        with SandboxServer(latency=0.0) as gone:
            lost = submitted_job(store, job_images, gone)  # its sandbox stops below
        with SandboxServer(latency=0.0) as srv:
            done = submitted_job(store, job_images, srv)
            w = windows(srv, store=store)
            finished = w.content.background.finished
            qtbot.waitUntil(lambda: len(finished.job_ids()) == 2, timeout=15_000)
            assert finished.title.text() == "2 jobs from the last session: 1 expired, 1 done"
            assert store.get(lost.id).state is JobState.EXPIRED
            assert store.get(done.id).state is JobState.SUCCEEDED
            finished.openRequested.emit(lost.id)  # its Show: says what happened
            qtbot.waitUntil(lambda: w.error_panel.isVisibleTo(w), timeout=5_000)
            assert "no longer running" in w.error_panel.message.text()
            assert w.shown is None
    finally:
        w.shutdown()
        store.close()


def test_a_long_list_shows_the_first_jobs_and_says_how_many_more(qtbot):
    from refiner_gui.jobs import Job
    from refiner_gui.ui.background_jobs import MAX_ROWS, FinishedJobsNotice

    host = QWidget()
    qtbot.addWidget(host)
    notice = FinishedJobsNotice(host)
    jobs = [
        Job(id=i, state=JobState.SUCCEEDED, gender="woman", inputs={}, created_at=0, updated_at=0)
        for i in range(9)
    ]
    notice.add(jobs, "closed")
    texts = [lab.text() for lab in notice.findChildren(QLabel) if lab.isVisibleTo(notice)]
    assert notice.title.text() == "9 jobs finished while the app was closed"
    assert sum(t.startswith("Job ") for t in texts) == MAX_ROWS
    assert f"… and {9 - MAX_ROWS} more: see History." in texts


# -- "Done in 0 s" ----------------------------------------------------------------------


def test_a_resumed_job_is_timed_from_its_submission(qtbot, windows, job_images, tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite3")
    try:
        with SandboxServer(latency=0.0) as srv:
            job = submitted_job(store, job_images, srv, ago=200)
            w = windows(srv, store=store, recover_on_start=False)
            assert w.resume_job(job.id)
            qtbot.waitUntil(lambda: w.shown is not None, timeout=10_000)
            text = w.content.parts.stage_label.text()
            assert text.startswith("Done in 3 min 2"), text
    finally:
        w.shutdown()
        store.close()


def test_a_resumed_job_of_unknown_age_says_done_without_a_time(qtbot):
    host = QWidget()
    qtbot.addWidget(host)
    # Everything parented to the host: a top-level widget held by a Python reference
    # cycle would be destroyed by a garbage collection on whichever thread runs it.
    label, bar = QLabel(host), QProgressBar(host)
    status = JobStatus(bar, label, host)
    status.start("Resuming", since=None)
    status.finish("t1", resumed=True)
    assert label.text() == "Done · task t1"
    status.start("Uploading")
    status.finish("t2")
    assert (
        label.text() == "Done in under 1 s · task t2"
    )  # a new job: timed by this run, never "0 s"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.2, "under 1 s"), (42, "42 s"), (125, "2 min 5 s"), (3 * 3600 + 720, "3 h 12 min")],
)
def test_elapsed_text(seconds, text):
    assert elapsed_text(seconds) == text


# -- settings in demo mode; clipping; units ---------------------------------------------


@pytest.fixture
def dialogs(qtbot):
    made: list[SettingsDialog] = []

    def make(**kw) -> SettingsDialog:
        kw.setdefault(
            "client_factory", lambda key, url: RefinerClient(key, url, retry=fast_retry())
        )
        dlg = SettingsDialog(Settings(), **kw)
        qtbot.addWidget(dlg)
        made.append(dlg)
        return dlg

    yield make
    for dlg in made:
        dlg.reject()
    assert wait_for_tasks()


def test_settings_in_demo_mode_show_and_test_the_sandbox(qtbot, dialogs):
    # The sandbox takes only the sandbox key: a test with the user's key would fail.
    with SandboxServer(latency=0.0, api_keys={SANDBOX_KEY}) as srv:
        dlg = dialogs(sandbox_url=srv.base_url)
        dlg.key_edit.setText("users-real-key-0123456789")
        assert dlg.base_url_edit.text() == srv.base_url and dlg.base_url_edit.isReadOnly()
        assert "Demo mode" in dlg.demo_note.text()
        assert dlg.test_button.isEnabled()
        dlg.test_key()
        qtbot.waitUntil(lambda: "Key works" in dlg.test_note.text(), timeout=10_000)
        assert any(path.endswith("query-credits") for _, path in srv.requests)
        # Saving in demo mode keeps the address for normal use.
        assert dlg.settings().base_url == Settings().base_url


@pytest.mark.parametrize("demo", [False, True])
def test_no_label_is_clipped_at_the_default_size(qtbot, dialogs, demo):
    dlg = dialogs(sandbox_url="http://127.0.0.1:9" if demo else None)
    dlg.show()
    qtbot.waitExposed(dlg)
    for label in dlg.findChildren(QLabel):
        if not label.isVisibleTo(dlg) or not label.text():
            continue
        fits = label.sizeHint().width() <= label.width() or label.wordWrap()
        assert fits, f"{label.text()!r} clipped: {label.sizeHint().width()} > {label.width()}"


def test_units_are_shown_once(dialogs):
    dlg = dialogs()
    assert dlg.timeout_spin.suffix() == ""  # the unit box beside it names the unit
    assert dlg.timeout_unit.currentText() in ("seconds", "minutes")
    assert dlg.poll_spin.suffix().strip() == "s"


# -- the title ----------------------------------------------------------------------------


def test_the_title_names_the_app_once(qtbot, windows):
    app = QApplication.instance()
    before = app.applicationDisplayName()
    app.setApplicationDisplayName(APP_NAME)
    try:
        with SandboxServer(latency=0.0) as srv:
            for demo in (False, True):
                w = windows(srv, demo=demo, recover_on_start=False)
                title = w.windowTitle()
                # Qt appends the display name unless the title ends with it.
                assert title.endswith(APP_NAME) and title.count(APP_NAME) == 1
                assert ("DEMO" in title) is demo
    finally:
        app.setApplicationDisplayName(before)
