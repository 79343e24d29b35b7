"""The window's history and QA review: open past jobs, verdict keys, blind mode, next and
previous, re-run, export — against the real store and the sandbox."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from refiner_gui.api import RefinerClient
from refiner_gui.jobs import JobState, JobStore
from refiner_gui.settings import Settings
from refiner_gui.ui.main_window import MainWindow
from tests.helpers.fast import fast_retry
from tests.helpers.images import make_image
from tests.helpers.jobs import slot_files


@pytest.fixture
def store(tmp_path):
    s = JobStore(tmp_path / "data" / "jobs.sqlite3")
    yield s
    s.close()


def finished_job(store: JobStore, imgs, tmp_path, n: int, gender="woman"):
    job = store.create_job(slot_files(imgs), gender)
    store.mark_submitting(job.id)
    store.mark_submitted(job.id, f"task-{n}", f"rq-{n}", f"lg-{n}")
    result = make_image(tmp_path / f"result-{n}.png", (320, 480), color=(10 * n, 80, 90))
    return store.mark_succeeded(job.id, result)


@pytest.fixture
def window(qtbot, store, sandbox):
    def factory() -> RefinerClient:
        return RefinerClient(
            "k-review-1234", sandbox.base_url, poll_interval=0.05, retry=fast_retry()
        )

    w = MainWindow(client_factory=factory, settings=Settings(), store=store, recover_on_start=False)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.shutdown()


def press(qtbot, w, key: str) -> None:
    qtbot.keyClick(w.viewer, key)


def test_open_a_past_job_and_record_a_verdict_with_keys(qtbot, window, store, job_images, tmp_path):
    jobs = [finished_job(store, job_images, tmp_path, n) for n in range(3)]
    window.history.refresh()
    window.review_bar.set_auto_advance(False)
    window.history.openRequested.emit(jobs[1].id)
    qtbot.waitUntil(lambda: window.review.job_id == jobs[1].id)
    assert window.viewer.has_images() and window.viewer.labels() == ("Coarse", "Refined")
    assert window.tabs.currentWidget() is window.compare_page
    window.viewer.setFocus()
    qtbot.keyClick(window.viewer, Qt.Key.Key_P)
    qtbot.waitUntil(lambda: store.get(jobs[1].id).verdict == "pass")
    qtbot.keyClick(window.viewer, Qt.Key.Key_H)  # the "Hands" defect tag
    qtbot.waitUntil(lambda: "hands" in store.get(jobs[1].id).tags)


def test_next_and_previous_walk_the_history_order(qtbot, window, store, job_images, tmp_path):
    jobs = [finished_job(store, job_images, tmp_path, n) for n in range(3)]
    failed = store.create_job(slot_files(job_images), "man")  # no result: skipped
    store.mark_finished(failed.id, JobState.CANCELLED, {"message": "x"})
    window.history.refresh()
    order = [i for i in window.history.visible_job_ids() if i != failed.id]
    window.history.openRequested.emit(order[0])
    qtbot.waitUntil(lambda: window.review.job_id == order[0])
    window.viewer.setFocus()
    qtbot.keyClick(window.viewer, Qt.Key.Key_N)
    qtbot.waitUntil(lambda: window.review.job_id == order[1])
    assert window.review_bar.position_text().startswith("Look 2 of 3")
    qtbot.keyClick(window.viewer, Qt.Key.Key_B)
    qtbot.waitUntil(lambda: window.review.job_id == order[0])
    assert len(jobs) == 3


def test_auto_advance_moves_on_after_a_verdict(qtbot, window, store, job_images, tmp_path):
    for n in range(2):
        finished_job(store, job_images, tmp_path, n)
    window.history.refresh()
    order = window.history.visible_job_ids()
    window.review_bar.set_auto_advance(True)
    window.history.openRequested.emit(order[0])
    qtbot.waitUntil(lambda: window.review.job_id == order[0])
    window.viewer.setFocus()
    qtbot.keyClick(window.viewer, Qt.Key.Key_F)
    qtbot.waitUntil(lambda: window.review.job_id == order[1])
    assert store.get(order[0]).verdict == "fail"


def test_blind_mode_hides_sides_until_the_verdict(qtbot, window, store, job_images, tmp_path):
    job = finished_job(store, job_images, tmp_path, 1)
    window.history.refresh()
    window.review_bar.set_auto_advance(False)
    window.review_bar.set_blind(True)
    window.history.openRequested.emit(job.id)
    qtbot.waitUntil(lambda: window.review.job_id == job.id)
    assert set(window.viewer.labels()) == {"A", "B"}
    assignment = window.review._assignment
    assert assignment is not None
    window.viewer.setFocus()
    qtbot.keyClick(window.viewer, Qt.Key.Key_P)
    qtbot.waitUntil(lambda: "Refined" in window.viewer.labels())
    refined_side = 0 if assignment.which_is_refined() == "left" else 1
    assert window.viewer.labels()[refined_side] == "Refined"
    assert store.get(job.id).verdict == "pass"


def test_a_job_run_in_the_window_appears_in_history(qtbot, window, store, job_images):
    for slot, path in slot_files(job_images).items():
        window.inputs.set_file(slot, path)
    window.inputs.set_gender("woman")
    qtbot.waitUntil(window.refine_button.isEnabled, timeout=10_000)
    window.refine_button.click()
    qtbot.waitUntil(lambda: not window.job_running(), timeout=20_000)
    qtbot.waitUntil(lambda: window.history.visible_job_ids() == [window.job_id])
    assert window.review.job_id == window.job_id  # the new result is the shown look


def test_rerun_submits_a_new_job_with_the_same_inputs(
    qtbot, window, store, job_images, tmp_path, sandbox
):
    old = finished_job(store, job_images, tmp_path, 1, gender="man")
    window.history.refresh()
    window.history.rerunRequested.emit(old.id)
    qtbot.waitUntil(lambda: window.job_running() or window.job_id is not None, timeout=10_000)
    qtbot.waitUntil(lambda: not window.job_running(), timeout=20_000)
    new = store.get(window.job_id)
    assert new.id != old.id and new.parent_id == old.id and new.gender == "man"
    assert new.state is JobState.SUCCEEDED and sandbox.submissions == 1
    assert new.inputs["person_image"].sha256 == old.inputs["person_image"].sha256


def test_export_review_writes_the_filtered_jobs(
    qtbot, window, store, job_images, tmp_path, monkeypatch
):
    jobs = [finished_job(store, job_images, tmp_path, n) for n in range(2)]
    store.set_review(jobs[0].id, "pass", ["hands"], "nice")
    window.history.refresh()
    dest = tmp_path / "out" / "review.html"
    dest.parent.mkdir()
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(dest), ""))
    )
    window.export_review()
    qtbot.waitUntil(dest.exists, timeout=20_000)
    text = dest.read_text()
    assert "nice" in text and "task-0" in text and "task-1" in text
