"""The window end to end against the sandbox: enable rules, a full job, cancel, close,
failures with their slot, save with provenance, demo mode."""

from __future__ import annotations

import json

import pytest
from PySide6.QtWidgets import QFileDialog, QMessageBox

from refiner_gui.api import RefinerClient
from refiner_gui.demo import DemoSession, sample_paths
from refiner_gui.provenance import read_png_record, sha256_file, sidecar_path
from refiner_gui.sandbox import Fault, SandboxServer
from refiner_gui.settings import Settings
from refiner_gui.slots import BOTTOM, COARSE, PERSON, TOP
from refiner_gui.ui.main_window import MainWindow
from tests.helpers.fast import fast_retry

pytestmark = pytest.mark.window  # also run under a real X server (.ci/run)

KEY = "win-SECRET-key-5555"
SLOT_KEYS = {PERSON: "person", TOP: "top", COARSE: "coarse", BOTTOM: "bottom"}


def factory(srv: SandboxServer, **kw):
    def make() -> RefinerClient:
        return RefinerClient(
            kw.get("key", KEY),
            srv.base_url,
            poll_interval=0.05,
            retry=fast_retry(),
            timeout=kw.get("timeout", 60),
        )

    return make


@pytest.fixture
def make_window(qtbot):
    windows: list[MainWindow] = []

    def make(srv: SandboxServer | None = None, **kw) -> MainWindow:
        w = MainWindow(
            client_factory=factory(srv, **kw) if srv else None,
            settings=Settings(),
            demo=kw.get("demo", False),
        )
        qtbot.addWidget(w)
        windows.append(w)
        return w

    yield make
    for w in windows:
        w.shutdown()


def fill(qtbot, w: MainWindow, imgs, gender: str | None = "woman", bottom=False) -> None:
    for slot in (PERSON, TOP, COARSE) + ((BOTTOM,) if bottom else ()):
        w.inputs.set_file(slot, imgs[SLOT_KEYS[slot]])
    if gender:
        w.inputs.set_gender(gender)
    qtbot.waitUntil(lambda: w.inputs.readiness().ready or gender is None, timeout=10_000)


def run_job(qtbot, w: MainWindow, timeout=20_000) -> None:
    assert w.refine_button.isEnabled(), w.refine_button.toolTip()
    w.refine_button.click()
    assert w.job_running()
    qtbot.waitUntil(lambda: not w.job_running(), timeout=timeout)


def test_refine_is_enabled_only_when_ready(qtbot, make_window, sandbox, job_images):
    w = make_window(sandbox)
    assert not w.refine_button.isEnabled()
    fill(qtbot, w, job_images, gender=None)
    qtbot.waitUntil(lambda: all(w.inputs.report(s) is not None for s in (PERSON, TOP, COARSE)))
    assert not w.refine_button.isEnabled()  # no gender chosen: no silent default
    assert "Woman" in w.refine_button.toolTip() or "gender" in w.refine_button.toolTip().lower()
    w.inputs.set_gender("man")
    qtbot.waitUntil(w.refine_button.isEnabled)
    w.inputs.clear_slot(COARSE)
    # An empty coarse slot: Refine now makes the coarse image first (test_window_tryon).
    qtbot.waitUntil(lambda: w.refine_button.text() == "Generate coarse, then refine")
    w.inputs.clear_slot(TOP)
    qtbot.waitUntil(lambda: not w.refine_button.isEnabled())


def test_no_key_means_no_refine_and_says_where_to_add_it(qtbot, make_window, job_images):
    w = make_window(None)
    fill(qtbot, w, job_images)
    assert not w.refine_button.isEnabled()
    assert "Settings" in w.refine_button.toolTip()


def test_full_job_reaches_the_viewer(qtbot, make_window, job_images):
    with SandboxServer(latency=0.3) as srv:
        w = make_window(srv)
        fill(qtbot, w, job_images, bottom=True)
        stages = []
        w.refine_button.click()
        assert w.refine_button.text() == "Cancel"
        qtbot.waitUntil(
            lambda: stages.append(w.stage_label.text()) or not w.job_running(), timeout=20_000
        )
    assert w.viewer.isVisibleTo(w) and w.shown is not None
    assert not w.error_panel.isVisibleTo(w)
    assert w.refine_button.text() == "Refine"
    assert any("task" in s for s in stages)
    assert w.save_action.isEnabled()
    assert srv.submissions == 1


def test_cancel_stops_the_job(qtbot, make_window, job_images):
    with SandboxServer(latency=60) as srv:
        w = make_window(srv)
        fill(qtbot, w, job_images)
        w.refine_button.click()
        qtbot.waitUntil(lambda: w.task_id is not None, timeout=10_000)
        w.refine_button.click()  # now "Cancel"
        qtbot.waitUntil(lambda: not w.job_running(), timeout=5_000)
    # After the upload a cancel is no error: the task goes on, and can be checked again.
    assert not w.error_panel.isVisibleTo(w)
    notice = w.content.background.still_running
    assert notice.isVisibleTo(w) and w.task_id in notice.title.text()
    assert notice.keep_button.isVisibleTo(w)  # waiting again is safe


def test_close_during_a_job_stops_the_thread(qtbot, make_window, job_images, monkeypatch):
    monkeypatch.setattr(
        QMessageBox, "question", staticmethod(lambda *a, **k: QMessageBox.StandardButton.Yes)
    )
    with SandboxServer(latency=60) as srv:
        w = make_window(srv)
        fill(qtbot, w, job_images)
        w.refine_button.click()
        qtbot.waitUntil(lambda: w.task_id is not None, timeout=10_000)
        (run,) = w.content.jobs.runs()
        handle = run.handle
        assert handle is not None and handle.is_running()
        assert w.close()
        assert not handle.is_running()


def test_close_during_a_job_can_be_refused(qtbot, make_window, job_images, monkeypatch):
    monkeypatch.setattr(
        QMessageBox, "question", staticmethod(lambda *a, **k: QMessageBox.StandardButton.No)
    )
    with SandboxServer(latency=60) as srv:
        w = make_window(srv)
        w.show()
        fill(qtbot, w, job_images)
        w.refine_button.click()
        assert not w.close()
        assert w.job_running()
        w.cancel_job()
        qtbot.waitUntil(lambda: not w.job_running(), timeout=5_000)


def test_closing_once_the_result_came_asks_nothing(qtbot, make_window, job_images, monkeypatch):
    """The outcome is delivered, the thread only winding down: a quit loses nothing, so
    no "A refinement is still running" question."""
    asked: list[str] = []
    monkeypatch.setattr(QMessageBox, "question", lambda _p, title, *a, **k: asked.append(title))
    closed: list[bool] = []
    with SandboxServer(latency=0.1) as srv:
        w = make_window(srv)
        fill(qtbot, w, job_images)

        def close_now(_run_id, _outcome):
            assert w.job_running()  # its thread has not ended yet
            closed.append(w.close())

        w.content.jobs.succeeded.connect(close_now)
        with qtbot.waitSignal(w.content.jobs.succeeded, timeout=20_000):
            w.refine_button.click()
    assert closed == [True] and asked == []
    assert not w.job_running()


@pytest.mark.parametrize(
    "fault,slot,code",
    [
        (
            Fault("submit", "poll_http_error", code="ERROR_NO_FACE_IN_FILE"),
            PERSON,
            "ERROR_NO_FACE_IN_FILE",
        ),
        (
            Fault("submit", "poll_http_error", code="ERROR_POSE_NOT_ENOUGH_KEYPOINTS"),
            PERSON,
            "ERROR_POSE_NOT_ENOUGH_KEYPOINTS",
        ),
        (
            Fault(
                "submit",
                "error",
                code="FILE_SIZE_EXCEEDS_LIMIT",
                message="top_garment: file size exceeds limit",
            ),
            TOP,
            "FILE_SIZE_EXCEEDS_LIMIT",
        ),
        (
            Fault("submit", "error", code="ERROR_NOT_ENOUGH_CREDITS"),
            None,
            "ERROR_NOT_ENOUGH_CREDITS",
        ),
        (Fault("submit", "task_failed", code="PROCESSING_FAILURE"), None, "PROCESSING_FAILURE"),
    ],
)
def test_failures_are_shown_with_ids_and_slot(
    qtbot, make_window, sandbox, job_images, fault, slot, code
):
    highlighted = []
    w = make_window(sandbox)
    original = w.inputs.highlight
    w.inputs.highlight = lambda s, m: (highlighted.append((s, m)), original(s, m))
    fill(qtbot, w, job_images)
    sandbox.inject(fault)
    run_job(qtbot, w)
    err = w.error_panel.error()
    assert w.error_panel.isVisibleTo(w) and err is not None and err.code == code
    details = w.error_panel.details.text()
    assert err.request_id in details and err.log_id in details
    if slot:
        assert (slot, err.user_message) in highlighted
    w.error_panel.copy_details()
    from PySide6.QtGui import QGuiApplication

    copied = QGuiApplication.clipboard().text()
    assert err.request_id in copied and KEY not in copied


def test_outcome_unknown_offers_no_blind_retry(qtbot, make_window, sandbox, job_images):
    w = make_window(sandbox)
    fill(qtbot, w, job_images)
    sandbox.inject(Fault("submit", "drop_connection"))
    run_job(qtbot, w)
    assert type(w.error_panel.error()).__name__ == "SubmissionOutcomeUnknown"
    assert not w.error_panel.resume_button.isVisibleTo(w)
    assert "NOT sent again" in w.error_panel.message.text()
    assert len([r for r in sandbox.requests if r[0] == "POST"]) == 1


def test_timeout_then_resume_from_the_error_panel(qtbot, make_window, job_images):
    with SandboxServer(latency=1.5) as srv:  # the timeout covers the upload too
        w = make_window(srv, timeout=0.5)
        fill(qtbot, w, job_images)
        run_job(qtbot, w)
        assert w.error_panel.resume_button.isVisibleTo(w)
        w.content.jobs.set_client_factory(factory(srv, timeout=30))
        w.error_panel.resume_button.click()
        qtbot.waitUntil(lambda: not w.job_running(), timeout=20_000)
        assert w.shown is not None and srv.submissions == 1


def test_save_refined_with_provenance(
    qtbot, make_window, sandbox, job_images, tmp_path, monkeypatch
):
    w = make_window(sandbox)
    fill(qtbot, w, job_images)
    run_job(qtbot, w)
    target = tmp_path / "look.png"
    monkeypatch.setattr(
        QFileDialog,
        "getSaveFileName",
        staticmethod(lambda *a, **k: (str(target), "PNG image (*.png)")),
    )
    assert w.save_refined() == target
    record = read_png_record(target)
    side = json.loads(sidecar_path(target).read_text())
    assert record == side
    job = w.shown.job
    assert record["task_id"] == job.task_id and record["request_id"] == job.request_id
    assert record["log_id"] == job.log_id and record["gender"] == "woman"
    assert record["job_id"] == job.id
    assert record["inputs"]["person_image"]["sha256"] == sha256_file(job_images["person"])
    assert record["app_version"] and record["finished_at"]
    assert KEY not in sidecar_path(target).read_text()
    # JPEG too, and the comparison image.
    jpg = tmp_path / "look.jpg"
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(jpg), ""))
    )
    assert w.save_refined() == jpg and sidecar_path(jpg).is_file()
    cmp_path = tmp_path / "cmp.png"
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(cmp_path), ""))
    )
    assert w.save_comparison() == cmp_path and cmp_path.stat().st_size > 0


def test_gender_is_remembered(qtbot, make_window, sandbox, job_images):
    from refiner_gui.settings import load_settings

    w = make_window(sandbox)
    fill(qtbot, w, job_images, gender="man")
    assert load_settings().gender == "man"
    w2 = MainWindow(client_factory=factory(sandbox), settings=load_settings())
    qtbot.addWidget(w2)
    assert w2.inputs.gender() == "man"
    w2.shutdown()


def test_demo_mode_end_to_end(qtbot):
    demo = DemoSession.start(latency=0.3, poll_interval=0.05)
    try:
        w = MainWindow(client_factory=demo.client, demo=True, settings=Settings())
        qtbot.addWidget(w)
        assert "DEMO" in w.windowTitle()
        for slot, path in sample_paths().items():
            w.inputs.set_file(slot, path)
        w.inputs.set_gender("woman")
        qtbot.waitUntil(lambda: w.refine_button.isEnabled(), timeout=10_000)
        run_job(qtbot, w)
        assert w.shown is not None and not w.error_panel.isVisibleTo(w)
        w.shutdown()
    finally:
        demo.stop()


def test_jobs_are_stored_and_unfinished_ones_resume_on_start(qtbot, job_images, sandbox):
    from refiner_gui.api import RefineInputs
    from refiner_gui.jobs import JobState, JobStore

    store = JobStore.open_default()
    files = {PERSON: job_images["person"], TOP: job_images["top"], COARSE: job_images["coarse"]}
    # A job submitted by a session that then died before polling...
    waiting = store.create_job(files, "woman")
    store.mark_submitting(waiting.id)
    sub = factory(sandbox)().submit(
        RefineInputs(person=files[PERSON], top=files[TOP], coarse=files[COARSE], gender="woman")
    )
    store.mark_submitted(waiting.id, sub.task_id, sub.request_id, sub.log_id)
    # ...and one that died mid-upload.
    uploading = store.create_job(files, "man")
    store.mark_submitting(uploading.id)

    w = MainWindow(client_factory=factory(sandbox), settings=Settings(), store=store)
    qtbot.addWidget(w)
    qtbot.waitUntil(lambda: store.get(waiting.id).state is JobState.SUCCEEDED, timeout=20_000)
    qtbot.waitUntil(lambda: not w.content.jobs.is_recovering(), timeout=10_000)
    assert store.get(waiting.id).result_path.is_file()
    assert store.get(uploading.id).state is JobState.OUTCOME_UNKNOWN
    assert sandbox.submissions == 1  # nothing was submitted again
    w.shutdown()
    store.close()


def test_a_window_job_is_recorded_in_the_store(qtbot, make_window, sandbox, job_images):
    from refiner_gui.jobs import JobState

    w = make_window(sandbox)
    fill(qtbot, w, job_images)
    run_job(qtbot, w)
    job = w.store.get(w.job_id)
    assert job.state is JobState.SUCCEEDED and job.task_id and job.result_path.is_file()
    # the inputs were copied by content: the history survives the originals moving
    assert job.inputs[PERSON].path != job_images["person"]
    assert job.inputs[PERSON].path.read_bytes() == job_images["person"].read_bytes()


def test_nothing_starts_once_the_window_is_shutting_down(qtbot, make_window, sandbox, job_images):
    """A re-run waiting for its inputs' checks must not start a job during or after
    shutdown (its thread would outlive the window, and a job could bill after quit)."""
    w = make_window(sandbox)
    job = w.store.create_job(
        {PERSON: job_images["person"], TOP: job_images["top"], COARSE: job_images["coarse"]},
        "woman",
    )
    w.rerun_job(job.id)  # inputs are being checked; the re-run waits for them
    w.shutdown()
    assert w.content.reruns.pending is None
    # The checks finishing now (or a direct call) start nothing.
    w.inputs.changed.emit()
    assert not w.start_job() and not w.resume_job(job.id)
    assert not w.job_running()
    w.shutdown()  # a second call is harmless


def test_a_demo_window_that_fails_to_build_stops_its_sandbox(qtbot, monkeypatch):
    """The demo sandbox's server thread would keep the app from exiting after the
    "could not start" dialog (the conftest fails a test that leaves a thread running)."""
    from refiner_gui.ui import window_content

    def broken(*_a, **_k):
        raise RuntimeError("no controller today")

    monkeypatch.setattr(window_content, "JobController", broken)
    with pytest.raises(RuntimeError, match="no controller today"):
        MainWindow(demo=True, settings=Settings(), recover_on_start=False)
