"""The window's history and QA review: open past jobs, verdict keys, blind mode, next and
previous, re-run, export — against the real store and the sandbox."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QLabel

from refiner_gui.api import RefinerClient
from refiner_gui.jobs import JobState, JobStore
from refiner_gui.settings import Settings
from refiner_gui.ui.main_window import MainWindow
from refiner_gui.ui.rerun_dialog import RerunDialog
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


@pytest.mark.parametrize("answer_key", [Qt.Key.Key_A, Qt.Key.Key_B])
def test_blind_mode_asks_which_looks_better_and_stores_the_unblinded_answer(
    qtbot, window, store, job_images, tmp_path, answer_key
):
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
    qtbot.keyClick(window.viewer, Qt.Key.Key_P)  # the verdict waits for the answer
    assert store.get(job.id).verdict is None and set(window.viewer.labels()) == {"A", "B"}
    qtbot.keyClick(window.viewer, answer_key, Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: "Refined" in window.viewer.labels())
    refined_side = 0 if assignment.which_is_refined() == "left" else 1
    assert window.viewer.labels()[refined_side] == "Refined"
    chose_left = answer_key == Qt.Key.Key_A
    expected = "refined" if chose_left == (refined_side == 0) else "coarse"
    stored = store.get(job.id)
    assert stored.preference == expected and stored.tags == ()  # Shift+A is not "artifacts"
    assert expected in window.review_bar.blind_text()
    qtbot.keyClick(window.viewer, Qt.Key.Key_P)
    qtbot.waitUntil(lambda: store.get(job.id).verdict == "pass")
    assert store.get(job.id).preference == expected  # recorded with the verdict


def test_f_then_a_tags_the_look_just_failed_not_the_next(
    qtbot, window, store, job_images, tmp_path
):
    """The issue's case: with auto-advance on, F then A leaves the look on screen failed
    *and* tagged; the next look is untouched, and shown only after the pause."""
    for n in range(2):
        finished_job(store, job_images, tmp_path, n)
    window.history.refresh()
    first, second = window.history.visible_job_ids()
    bar = window.review_bar
    assert bar.auto_advance()
    bar.set_advance_delay(60_000)  # ended below by N, so the test never waits for it
    window.history.openRequested.emit(first)
    qtbot.waitUntil(lambda: window.review.job_id == first)
    assert f"job {first}" not in bar.rule_text() and "after P or F" in bar.rule_text()
    window.viewer.setFocus()
    qtbot.keyClick(window.viewer, Qt.Key.Key_F)
    qtbot.keyClick(window.viewer, Qt.Key.Key_A)
    assert f"keys still apply to job {first}" in bar.rule_text()
    assert window.review.job_id == first
    judged = store.get(first)
    assert (judged.verdict, judged.tags) == ("fail", ("artifacts",))
    untouched = store.get(second)
    assert (untouched.verdict, untouched.tags) == (None, ())
    # Ctrl+Z in the pause: the tag goes, and the look stays (the pause is over).
    qtbot.keyClick(window.viewer, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert store.get(first).tags == () and store.get(first).verdict == "fail"
    assert not bar.advance_pending() and window.review.job_id == first
    qtbot.keyClick(window.viewer, Qt.Key.Key_N)
    qtbot.waitUntil(lambda: window.review.job_id == second)
    assert store.get(second).tags == ()


def test_ctrl_z_undoes_the_last_change_and_shows_that_look(
    qtbot, window, store, job_images, tmp_path
):
    for n in range(2):
        finished_job(store, job_images, tmp_path, n)
    window.history.refresh()
    first, second = window.history.visible_job_ids()
    bar = window.review_bar
    bar.set_advance_delay(0)  # moves on at once: undo has to come back
    undo = window.content.menus.action("undo_review")
    window.history.openRequested.emit(first)
    qtbot.waitUntil(lambda: window.review.job_id == first)
    assert not undo.isEnabled()
    window.viewer.setFocus()
    qtbot.keyClick(window.viewer, Qt.Key.Key_H)
    qtbot.keyClick(window.viewer, Qt.Key.Key_F)
    qtbot.waitUntil(lambda: window.review.job_id == second)
    assert undo.isEnabled()
    store.set_review(first, "fail", ["hands"], "typed later")  # a note is not undone
    qtbot.keyClick(window.viewer, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window.review.job_id == first)  # back to the look changed
    restored = store.get(first)
    assert (restored.verdict, restored.tags, restored.note) == (None, ("hands",), "typed later")
    assert not bar._fail_button.isChecked() and bar._tag_buttons["hands"].isChecked()
    assert "verdict" in window.statusBar().currentMessage()
    qtbot.keyClick(window.viewer, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: store.get(first).tags == ())
    assert not bar._tag_buttons["hands"].isChecked() and not undo.isEnabled()
    window.content.undo_review()  # nothing left: said, nothing changes
    assert "Nothing to undo" in window.statusBar().currentMessage()
    assert store.get(second).verdict is None


def test_ctrl_z_takes_back_a_blind_answer_without_hiding_the_look_again(
    qtbot, window, store, job_images, tmp_path
):
    job = finished_job(store, job_images, tmp_path, 1)
    window.history.refresh()
    bar = window.review_bar
    bar.set_auto_advance(False)
    bar.set_blind(True)
    window.history.openRequested.emit(job.id)
    qtbot.waitUntil(lambda: window.review.job_id == job.id)
    window.viewer.setFocus()
    qtbot.keyClick(window.viewer, Qt.Key.Key_S, Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: store.get(job.id).preference == "same")
    qtbot.keyClick(window.viewer, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: store.get(job.id).preference is None)
    # Seen is seen: the sides stay revealed, and no new blind answer can be given.
    assert "Refined" in window.viewer.labels() and not bar.blind_hidden()
    window.history.openRequested.emit(job.id)  # opened again later in the session
    qtbot.waitUntil(lambda: window.review._loading is None)
    assert "Refined" in window.viewer.labels()


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
    dialog = rerun_dialog(qtbot, window)
    # The cost and the balance (the sandbox's, asked off the GUI thread) come first.
    assert "25 credits" in dialog.cost_label.text() and "25 credits" in dialog.rerun_button.text()
    qtbot.waitUntil(lambda: "credits." in dialog.balance_text())
    assert f"Balance: {sandbox.credits:,} credits." == dialog.balance_text()
    what = dialog.findChildren(QLabel)[0].text()
    assert "person.jpg" in what and "coarse.png" in what and "Man" in what
    assert sandbox.submissions == 0 and not window.job_running()
    qtbot.mouseClick(dialog.rerun_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.job_running() or window.job_id is not None, timeout=10_000)
    qtbot.waitUntil(lambda: not window.job_running(), timeout=20_000)
    new = store.get(window.job_id)
    assert new.id != old.id and new.parent_id == old.id and new.gender == "man"
    assert new.state is JobState.SUCCEEDED and sandbox.submissions == 1
    assert new.inputs["person_image"].sha256 == old.inputs["person_image"].sha256


def rerun_dialog(qtbot, window) -> RerunDialog:
    qtbot.waitUntil(lambda: window.findChild(RerunDialog) is not None)
    dialog = window.findChild(RerunDialog)
    qtbot.waitUntil(dialog.isVisible)
    return dialog


def test_cancelling_the_rerun_question_spends_nothing(
    qtbot, window, store, job_images, tmp_path, sandbox
):
    old = finished_job(store, job_images, tmp_path, 1)
    window.history.refresh()
    window.history.rerunRequested.emit(old.id)
    dialog = rerun_dialog(qtbot, window)
    assert dialog.cancel_button.isDefault() and not dialog.rerun_button.isDefault()
    qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.findChild(RerunDialog) is None)
    assert not window.job_running() and window.job_id is None
    assert sandbox.submissions == 0 and store.count() == 1


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


def test_rerun_question_says_when_the_balance_is_short_or_unknown(qtbot, store, job_images):
    from refiner_gui.api import AuthError
    from refiner_gui.api.models import CreditBalance

    job = store.create_job(slot_files(job_images), "woman")
    low = RerunDialog(job, None, lambda: [CreditBalance("common", "Universal", 10.0, 100.0)])
    qtbot.addWidget(low)
    qtbot.waitUntil(lambda: "10 credits" in low.balance_text())
    assert "not enough" in low.balance_text()

    def no_key():
        raise AuthError("No API key is set. Add your AILabTools key in Settings.")

    unknown = RerunDialog(job, None, no_key)
    qtbot.addWidget(unknown)
    qtbot.waitUntil(lambda: "unknown" in unknown.balance_text())
    assert "Settings" in unknown.balance_text()
    demo = RerunDialog(job, None, None)  # demo: nothing billed, no balance line
    qtbot.addWidget(demo)
    assert demo.balance_text() == "" and "no credits are spent" in demo.cost_label.text()
    assert demo.rerun_button.text() == "Re-run"


def test_a_look_shows_its_own_inputs_and_can_load_them(qtbot, window, store, job_images, tmp_path):
    from refiner_gui.slots import BOTTOM, COARSE, PERSON, TOP

    job = finished_job(store, job_images, tmp_path, 1, gender="man")
    other = make_image(tmp_path / "someone-else.jpg", (320, 480), color=(1, 2, 3))
    window.inputs.set_file(PERSON, other)  # what the slots hold now
    window.inputs.set_gender("woman")
    window.history.refresh()
    window.review_bar.set_auto_advance(False)
    window.history.openRequested.emit(job.id)
    qtbot.waitUntil(lambda: window.review.job_id == job.id)
    panel = window.content.look_inputs
    assert panel.isVisible() and panel.job_id() == job.id
    assert panel.names() == {PERSON: "person.jpg", TOP: "top.png", COARSE: "coarse.png"}
    assert panel.gender_label.text() == "Man" and "person.jpg" in panel._names[PERSON].text()
    assert panel._names[BOTTOM].text() == "No bottom"
    qtbot.waitUntil(lambda: all(panel.has_thumbnail(s) for s in (PERSON, TOP, COARSE)))
    # The slots keep their own files meanwhile.
    assert window.inputs.original_path(PERSON) == other and window.inputs.gender() == "woman"

    qtbot.mouseClick(panel.use_button, Qt.MouseButton.LeftButton)
    for slot in (PERSON, TOP, COARSE):
        assert window.inputs.original_path(slot) == job.input_path(slot)
    assert window.inputs.original_path(BOTTOM) is None and window.inputs.gender() == "man"
    assert f"Job {job.id}'s inputs are in the slots" in window.statusBar().currentMessage()
    assert not window.job_running() and store.count() == 1  # nothing was sent


def test_blind_look_inputs_hide_the_coarse_thumbnail_until_answered(
    qtbot, window, store, job_images, tmp_path
):
    from refiner_gui.slots import COARSE, PERSON

    job = finished_job(store, job_images, tmp_path, 1)
    window.history.refresh()
    window.review_bar.set_blind(True)
    window.history.openRequested.emit(job.id)
    qtbot.waitUntil(lambda: window.review.job_id == job.id)
    panel = window.content.look_inputs
    qtbot.waitUntil(lambda: panel.has_thumbnail(PERSON))
    assert not panel.has_thumbnail(COARSE) and "blind" in panel._pictures[COARSE].text()
    window.viewer.setFocus()
    qtbot.keyClick(window.viewer, Qt.Key.Key_S, Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: panel.has_thumbnail(COARSE))


def test_a_look_is_shown_with_its_review_as_stored_now(qtbot, window, store, job_images, tmp_path):
    """Images load in the background; a review changed meanwhile (an undo, another
    window) is what the bar shows, so a key never writes an old verdict back."""
    from refiner_gui.workers import load_job_images

    job = finished_job(store, job_images, tmp_path, 1)
    stale = load_job_images(job)  # loaded before the change below
    store.set_review(job.id, "fail", ["hands"], "changed meanwhile")
    window.review.present(stale)
    assert window.review_bar.review().verdict == "fail"
    assert window.review_bar.review().tags == ("hands",)
    assert window.review_bar.review().note == "changed meanwhile"


def test_look_inputs_say_when_a_stored_input_is_gone_or_there_were_none(
    qtbot, store, job_images, tmp_path
):
    from refiner_gui.slots import PERSON, TOP
    from refiner_gui.ui.look_inputs import LookInputs

    panel = LookInputs()
    qtbot.addWidget(panel)
    job = store.create_job(slot_files(job_images), "woman")
    job.input_path(TOP).unlink()  # the stored copy was removed by hand
    panel.show_job(job)
    qtbot.waitUntil(lambda: panel.has_thumbnail(PERSON))
    qtbot.waitUntil(lambda: panel._pictures[TOP].text() == "missing")
    assert panel.use_button.isEnabled()
    resumed = store.create_resumed("task-from-elsewhere", hold=False)  # no inputs stored
    panel.show_job(resumed)
    assert not panel.use_button.isEnabled()
    assert panel._names[PERSON].text() == "No person" and panel.gender_label.text() == "No gender"
    with qtbot.assertNotEmitted(panel.useRequested):
        qtbot.mouseClick(panel.use_button, Qt.MouseButton.LeftButton)
