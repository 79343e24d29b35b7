"""Batches in the window: the Batch tab over the BatchController, against the sandbox with
latency. A batch of looks runs to completion from the window, pause/resume, cancel all,
retry failed, a folder dropped on the window, and a quit mid-batch that leaves it resumable.
No sleeps: every wait is on a signal or a condition."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, QSize, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QApplication, QMessageBox

from refiner_gui.batch import LookStatus
from refiner_gui.clients import FixedClientFactory
from refiner_gui.controllers.batch_process import live_batch_processes
from refiner_gui.jobs import JobState, JobStore
from refiner_gui.sandbox import Fault, SandboxServer
from refiner_gui.settings import Settings
from refiner_gui.slots import PERSON
from refiner_gui.threads import live_workers
from refiner_gui.ui.batch_flow import BATCH_TAB, default_out_dir
from refiner_gui.ui.main_window import MainWindow
from tests.helpers.fast import fast_retry
from tests.helpers.images import make_image
from tests.test_drop_slot import drag_enter
from tests.test_window_layout import assert_fits, settle

pytestmark = pytest.mark.window

KEY = "batch-win-key-0123456789"


def looks_folder(root: Path, n: int) -> Path:
    """``n`` looks, one sub-folder each (person, top, coarse, gender.txt)."""
    for i in range(n):
        d = root / f"look-{i + 1:02d}"
        d.mkdir(parents=True)
        make_image(d / "person.jpg", (320, 480), color=(60 + 40 * i, 120, 160))
        make_image(d / "top.png", (300, 300), color=(20, 90, 200))
        make_image(d / "coarse.png", (320, 480), color=(200, 100, 90))
        (d / "gender.txt").write_text("woman\n")
    return root


def factory(srv: SandboxServer, retry=None):
    """Plain data, as the window's own factories are: its batches run in their own process."""
    policy = retry or fast_retry()
    return FixedClientFactory(KEY, srv.base_url, {"poll_interval": 0.05, "retry": policy})


@pytest.fixture
def store():
    s = JobStore.open_default()
    yield s
    s.close()


@pytest.fixture
def make_window(qtbot, store):
    windows: list[MainWindow] = []

    def make(srv: SandboxServer, retry=None) -> MainWindow:
        w = MainWindow(client_factory=factory(srv, retry), settings=Settings(), store=store)
        qtbot.addWidget(w)
        w.resize(1280, 720)
        windows.append(w)
        return w

    yield make
    for w in windows:
        w.shutdown()
    assert not [h for h in live_workers() if h.name.startswith("refiner-batch")]
    assert not live_batch_processes()


def flow(w: MainWindow):
    assert w.content is not None
    return w.content.batches


def plan_and_start(qtbot, w: MainWindow, source: Path):
    """File → New batch's second half: the dry run, then Start in its dialog."""
    f = flow(w)
    f.prepare(source)
    qtbot.waitUntil(lambda: f.dialog is not None, timeout=15_000)
    dialog = f.dialog
    with qtbot.waitSignal(f.controller.runStarted, timeout=10_000):
        dialog.start_button.click()
    return f


def wait_ended(qtbot, f, timeout=30_000):
    qtbot.waitUntil(lambda: not f.controller.is_running(), timeout=timeout)


def statuses(f) -> list[LookStatus]:
    return [v.status for v in f.view.model.views()]


def test_a_batch_of_four_runs_to_completion_from_the_window(qtbot, make_window, tmp_path):
    source = looks_folder(tmp_path / "shoot", 4)
    with SandboxServer(latency=0.3) as srv:
        w = make_window(srv)
        f = flow(w)
        tabs = w.content.parts.tabs
        assert tabs.tabText(tabs.indexOf(f.view)) == BATCH_TAB
        f.prepare(source)
        qtbot.waitUntil(lambda: f.dialog is not None, timeout=15_000)
        dialog = f.dialog
        # The dry run lists every look with what will be sent, the cost and the balance.
        assert dialog.table.rowCount() == 4
        assert "Person: person.jpg" in dialog.table.item(0, 1).text()
        assert "100 credits" in dialog.cost_label.text() and "enough" in dialog.cost_label.text()
        assert dialog.start_button.text() == "Start"  # the sandbox's 1000 credits cover it
        assert srv.submissions == 0  # nothing sent by the dry run
        seen: list[str] = []
        f.controller.lookChanged.connect(lambda _r, _v, c: seen.append(f.view.counts_label.text()))
        with qtbot.waitSignal(f.controller.batchEnded, timeout=30_000):
            dialog.start_button.click()
        assert tabs.currentWidget() is f.view
        wait_ended(qtbot, f)
        assert statuses(f) == [LookStatus.DONE] * 4
        assert f.view.counts_label.text().startswith("4 done · 0 failed · 0 running · 0 waiting")
        assert any("running" in s and not s.startswith("0 done") for s in seen)  # it moved
        assert srv.submissions == 4
        out = default_out_dir(source)
        assert (out / "summary.csv").is_file() and len(list(out.glob("*.png"))) == 4
        assert f.view.out_dir == out and f.view.folder_button.isEnabled()
        assert str(out) in f.view.notice.text()
        qtbot.waitUntil(lambda: f.view.model.thumbnail_count() == 4, timeout=10_000)


def test_history_follows_a_running_batch_while_it_is_shown(qtbot, make_window, tmp_path, store):
    source = looks_folder(tmp_path / "shoot", 3)
    with SandboxServer(latency=0.3) as srv:
        w = make_window(srv)
        tabs, history = w.content.parts.tabs, w.content.parts.history
        f = plan_and_start(qtbot, w, source)
        assert tabs.currentWidget() is f.view
        qtbot.waitUntil(lambda: not f.controller.is_running(), timeout=30_000)
        batch = store.batches()[0].id
        jobs = store.batch_job_ids(batch)
        assert len(jobs) == 3
        # History was not shown: not re-queried behind the user's back; shown, it is.
        qtbot.waitUntil(lambda: not f._history_due.isActive(), timeout=5_000)
        assert not set(jobs) & set(history.visible_job_ids())
        tabs.setCurrentWidget(history)
        assert set(jobs) <= set(history.visible_job_ids())
        # Shown while a batch runs, it follows without being asked.
        srv.latency = 2.0  # the looks' tasks outlast History's next re-query
        f = plan_and_start(qtbot, w, looks_folder(tmp_path / "second", 2))
        tabs.setCurrentWidget(history)
        second = store.batches()[-1].id
        assert second != batch

        def listed() -> bool:
            jobs = store.batch_job_ids(second)
            return len(jobs) == 2 and set(jobs) <= set(history.visible_job_ids())

        qtbot.waitUntil(listed, timeout=10_000)
        assert f.controller.is_running()  # listed while the batch still ran
        wait_ended(qtbot, f)


def test_a_cost_above_the_balance_needs_start_anyway(qtbot, make_window, tmp_path):
    source = looks_folder(tmp_path / "shoot", 3)
    with SandboxServer(latency=0.1, credits=50) as srv:
        w = make_window(srv)
        f = flow(w)
        f.prepare(source)
        qtbot.waitUntil(lambda: f.dialog is not None, timeout=15_000)
        assert f.dialog.start_button.text() == "Start anyway"
        assert "NOT enough" in f.dialog.cost_label.text()
        f.dialog.reject()
        assert srv.submissions == 0 and not f.controller.is_running()


def test_pause_then_resume(qtbot, make_window, tmp_path):
    source = looks_folder(tmp_path / "shoot", 4)
    with SandboxServer(latency=0.5) as srv:
        w = make_window(srv)
        f = plan_and_start(qtbot, w, source)
        f.view.pause_button.click()
        assert f.view.resume_button.isEnabled() and not f.view.pause_button.isEnabled()
        # The looks in flight finish; nothing new is taken while paused.
        qtbot.waitUntil(lambda: f.controller.counts().running == 0, timeout=20_000)
        sent = srv.submissions
        assert sent < 4 and f.controller.counts().waiting == 4 - sent
        assert f.view.notice.text().startswith("Paused")
        with qtbot.waitSignal(f.controller.batchEnded, timeout=30_000):
            f.view.resume_button.click()
        wait_ended(qtbot, f)
        assert statuses(f) == [LookStatus.DONE] * 4 and srv.submissions == 4


def test_cancel_all_leaves_nothing_running(qtbot, make_window, tmp_path, monkeypatch):
    source = looks_folder(tmp_path / "shoot", 4)
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    with SandboxServer(latency=2.0) as srv:
        w = make_window(srv)
        f = plan_and_start(qtbot, w, source)
        qtbot.waitUntil(lambda: srv.submissions >= 1, timeout=10_000)
        with qtbot.waitSignal(f.controller.runEnded, timeout=20_000):
            f.view.cancel_all_button.click()
        assert not f.controller.is_running()
        assert not [h for h in live_workers() if h.name.startswith("refiner-batch")]
        counts = f.controller.counts()
        assert counts.running == 0 and counts.waiting == 0
        assert srv.submissions < 4  # the waiting looks were never sent
        assert f.controller.unfinished() == []  # cancelled: not offered again
        assert not f.view.cancel_all_button.isEnabled()


def test_retry_failed_shows_the_cost_and_sends_them_again(
    qtbot, make_window, tmp_path, monkeypatch
):
    source = looks_folder(tmp_path / "shoot", 4)
    asked: list[str] = []

    def yes(_parent, _title, text, *a, **k):
        asked.append(text)
        return QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "question", yes)
    with SandboxServer(latency=0.2) as srv:
        srv.inject(Fault("submit", "task_failed", times=2))
        w = make_window(srv)
        f = plan_and_start(qtbot, w, source)
        wait_ended(qtbot, f)
        assert statuses(f).count(LookStatus.FAILED) == 2
        assert f.view.retry_button.isEnabled()
        with qtbot.waitSignal(f.controller.batchEnded, timeout=30_000):
            f.view.retry_button.click()
        assert "50 credits" in asked[-1]  # 2 looks x 25
        wait_ended(qtbot, f)
        assert statuses(f) == [LookStatus.DONE] * 4
        assert srv.submissions == 6
        assert not f.view.retry_button.isEnabled()


def drop(w: MainWindow, path: Path) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    assert drag_enter(w, mime).isAccepted()
    event = QDropEvent(
        QPointF(10, 10),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(w, event)


def test_a_folder_dropped_on_the_window_offers_a_batch(qtbot, make_window, tmp_path, monkeypatch):
    source = looks_folder(tmp_path / "shoot", 2)
    offered: list[str] = []

    def yes(_parent, title, *a, **k):
        offered.append(title)
        return QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "question", yes)
    with SandboxServer(latency=0.1) as srv:
        w = make_window(srv)
        f = flow(w)
        drop(w, source)
        assert offered == ["Make a batch?"]
        qtbot.waitUntil(lambda: f.dialog is not None, timeout=15_000)
        assert f.dialog.table.rowCount() == 2
        f.dialog.reject()
        # A single image dropped is not a batch: it goes to the input slots as before.
        drop(w, source / "look-01" / "person.jpg")
        assert offered == ["Make a batch?"]
        assert srv.submissions == 0


def test_quitting_mid_batch_leaves_it_resumable(qtbot, store, tmp_path):
    source = looks_folder(tmp_path / "shoot", 4)
    with SandboxServer(latency=1.5) as srv:
        w = MainWindow(
            client_factory=factory(srv), settings=Settings(), store=store, recover_on_start=False
        )
        qtbot.addWidget(w)
        f = plan_and_start(qtbot, w, source)
        batch_id = f.controller.queue.batch.id
        # Quit once the first round's uploads are answered (3 at once; the 4th look waits
        # 1.5 s for a slot): a quit in mid-upload leaves an upload of unknown outcome,
        # which is never re-sent, so that look would rightly end failed, not done.
        qtbot.waitUntil(
            lambda: sum(1 for j in store.get_many(store.batch_job_ids(batch_id)) if j.task_id) >= 3,
            timeout=10_000,
        )
        w.shutdown()  # what closing the window does after its question
        assert not [h for h in live_workers() if h.name.startswith("refiner-batch")]
        sent = srv.submissions
        assert 1 <= sent < 4
        assert store.batch(batch_id).state in ("active", "paused")
        assert not any(look.cancelled for look in store.batch_looks(batch_id))
        # Submitted looks are kept as submitted jobs (resumable), never cancelled.
        jobs = store.get_many(store.batch_job_ids(batch_id))
        assert all(j.state is JobState.SUBMITTED for j in jobs if j.task_id)

        # The next start offers to carry on; nothing is sent twice.
        again = MainWindow(
            client_factory=factory(srv), settings=Settings(), store=store, recover_on_start=False
        )
        qtbot.addWidget(again)
        g = flow(again)
        assert not g.view.continue_button.isHidden()
        assert "Continue it" in g.view.notice.text()
        assert [b.id for b in g.unfinished()] == [batch_id]
        with qtbot.waitSignal(g.controller.batchEnded, timeout=40_000):
            g.view.continue_button.click()
        qtbot.waitUntil(lambda: not g.controller.is_running(), timeout=10_000)
        assert statuses(g) == [LookStatus.DONE] * 4
        assert srv.submissions == 4
        assert g.unfinished() == []
        again.shutdown()


@pytest.mark.parametrize("size", [QSize(1280, 720), QSize(960, 1040)], ids=str)
def test_the_batch_tab_fits_with_nothing_cut_off(qtbot, make_window, tmp_path, size):
    source = looks_folder(tmp_path / "shoot", 3)
    with SandboxServer(latency=0.1) as srv:
        w = make_window(srv)
        w.resize(size)
        w.show()
        qtbot.waitExposed(w)
        f = plan_and_start(qtbot, w, source)
        wait_ended(qtbot, f)
        qtbot.waitUntil(lambda: f.view.model.thumbnail_count() == 3, timeout=10_000)
        settle()
        assert w.content.parts.tabs.currentWidget() is f.view
        assert_fits(w, size)


def test_new_batch_is_in_the_file_menu_and_the_shortcut_list(qapp):
    from refiner_gui.ui.actions import MENU_ACTIONS, menu_key_help

    (spec,) = [a for a in MENU_ACTIONS if a.name == "new_batch"]
    assert any("New batch" in str(row) for row in menu_key_help())
    assert spec.menu == "file" and spec.plain_text == "New batch…"
    others = [k for a in MENU_ACTIONS if a is not spec for k in a.shortcuts]
    assert spec.shortcuts[0] not in others


def test_running_out_of_credits_pauses_with_the_reason(qtbot, make_window, tmp_path, monkeypatch):
    source = looks_folder(tmp_path / "shoot", 3)
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    with SandboxServer(latency=0.5, credits=50) as srv:
        w = make_window(srv)
        f = flow(w)
        f.prepare(source)
        qtbot.waitUntil(lambda: f.dialog is not None, timeout=15_000)
        assert f.dialog.start_button.text() == "Start anyway"
        with qtbot.waitSignal(
            f.controller.paused,
            timeout=20_000,
            check_params_cb=lambda _r, why, _w: why == "credits",
        ):
            f.dialog.start_button.click()
        assert "Out of credits" in f.view.notice.text()
        assert f.view.resume_button.isEnabled() and not f.view.pause_button.isEnabled()
        qtbot.waitUntil(lambda: f.controller.counts().running == 0, timeout=20_000)
        assert f.controller.counts().done == 2 and f.controller.counts().failed == 0
        with qtbot.waitSignal(f.controller.runEnded, timeout=20_000):
            f.view.cancel_all_button.click()
        assert srv.submissions == 2  # the third look was refused (not billed), never lost


def test_closing_the_window_mid_batch_asks_first(qtbot, make_window, tmp_path, monkeypatch):
    source = looks_folder(tmp_path / "shoot", 4)
    answers = [QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes]
    asked: list[str] = []

    def answer(_parent, title, *a, **k):
        asked.append(title)
        return answers.pop(0)

    with SandboxServer(latency=2.0) as srv:
        w = make_window(srv)
        f = plan_and_start(qtbot, w, source)
        monkeypatch.setattr(QMessageBox, "question", answer)
        assert not w.close()  # refused: the batch goes on
        assert f.controller.is_running() and asked == ["A batch is running"]
        assert w.close()
        assert not f.controller.is_running()
        assert f.controller.unfinished()  # kept for the next start


def test_closing_as_the_batch_ends_asks_nothing(qtbot, make_window, tmp_path, monkeypatch):
    """Once the run has returned (summary written), its thread only winding down, a quit
    loses nothing: no "A batch is running (0 looks left)" question."""
    source = looks_folder(tmp_path / "shoot", 2)
    asked: list[str] = []
    monkeypatch.setattr(QMessageBox, "question", lambda _p, title, *a, **k: asked.append(title))
    closed: list[bool] = []
    with SandboxServer(latency=0.1) as srv:
        w = make_window(srv)
        f = flow(w)

        def close_now(_run_id, _counts):
            assert f.controller.is_running()  # the thread has not ended yet
            closed.append(w.close())

        f.controller.batchEnded.connect(close_now)
        with qtbot.waitSignal(f.controller.batchEnded, timeout=30_000):
            plan_and_start(qtbot, w, source)
        wait_ended(qtbot, f)
    assert closed == [True] and asked == []
    assert statuses(f) == [LookStatus.DONE] * 2


def test_a_busy_service_shows_the_backoff_and_loses_nothing(qtbot, make_window, tmp_path):
    from refiner_gui.api import RetryPolicy

    source = looks_folder(tmp_path / "shoot", 4)
    with SandboxServer(latency=0.2) as srv:
        srv.inject(Fault("submit", "rate_limit", retry_after=0.3, times=8))
        w = make_window(srv, RetryPolicy(base=0.05, cap=0.2, jitter=0.0, submit_attempts=2))
        f = flow(w)
        reasons: list[tuple[str, str]] = []
        f.controller.paused.connect(lambda _r, why, words: reasons.append((why, words)))
        f.prepare(source)
        qtbot.waitUntil(lambda: f.dialog is not None, timeout=15_000)
        f.dialog.start_button.click()
        wait_ended(qtbot, f, timeout=40_000)
        assert statuses(f) == [LookStatus.DONE] * 4 and srv.submissions == 4
        assert any(why == "backoff" and "busy" in words for why, words in reasons)
        assert not f.view.resume_button.isEnabled()  # a back-off is not a pause to resume


def test_cancel_one_waiting_look(qtbot, make_window, tmp_path):
    source = looks_folder(tmp_path / "shoot", 4)
    with SandboxServer(latency=1.0) as srv:
        w = make_window(srv)
        f = plan_and_start(qtbot, w, source)  # 3 at a time: the 4th waits
        f.view.table.selectRow(3)
        assert f.view.selected().name == "look-04"
        assert f.view.cancel_button.isEnabled()
        f.view.cancel_button.click()
        wait_ended(qtbot, f)
        assert statuses(f) == [LookStatus.DONE] * 3 + [LookStatus.CANCELLED]
        assert srv.submissions == 3


def test_the_dry_run_shows_problems_per_row_and_fix_cures_what_it_can(qtbot, make_window, tmp_path):
    source = looks_folder(tmp_path / "shoot", 3)
    coarse = source / "look-02" / "coarse.png"
    make_image(coarse, (640, 960), color=(200, 100, 90))  # not the person photo's size
    make_image(source / "look-03" / "top.png", (100, 100))  # too small: Fix cannot help
    with SandboxServer(latency=0.1) as srv:
        w = make_window(srv)
        f = flow(w)
        f.prepare(source)
        qtbot.waitUntil(lambda: f.dialog is not None, timeout=15_000)
        d = f.dialog
        rows = [d.table.item(r, 3).text() for r in range(3)]
        assert rows[0] == "ready to send"
        assert rows[1].startswith("not sent: coarse") and "(Fix can cure this)" in rows[1]
        assert rows[2].startswith("not sent: top") and "(Fix can cure this)" not in rows[2]
        assert "1 look to send, cost up to 25 credits" in d.cost_label.text()
        assert d.fix_button is not None and d.fix_button.text() == "Fix 1 look"
        d.fix_button.click()
        qtbot.waitUntil(lambda: f.dialog is not None and f.dialog is not d, timeout=15_000)
        rows = [f.dialog.table.item(r, 3).text() for r in range(3)]
        assert rows[:2] == ["ready to send", "ready to send"]
        assert "50 credits" in f.dialog.cost_label.text()
        assert coarse.exists()  # the original is untouched; a copy is sent
        with qtbot.waitSignal(f.controller.batchEnded, timeout=30_000):
            f.dialog.start_button.click()
        assert statuses(f)[:2] == [LookStatus.DONE] * 2
        assert statuses(f)[2] is LookStatus.INVALID and srv.submissions == 2


def test_a_look_without_coarse_image_is_priced_with_the_chosen_try_on(qtbot, make_window, tmp_path):
    source = looks_folder(tmp_path / "shoot", 2)
    (source / "look-02" / "coarse.png").unlink()
    with SandboxServer(latency=0.1) as srv:
        w = make_window(srv)
        f = flow(w)
        f.prepare(source)
        qtbot.waitUntil(lambda: f.dialog is not None, timeout=15_000)
        d = f.dialog
        assert "generated with Try on Clothes Pro" in d.table.item(1, 1).text()
        assert [d.table.item(r, 2).text() for r in range(2)] == ["25", "55"]
        assert "80 credits" in d.cost_label.text()
        d.model_box.setCurrentIndex(d.model_box.findData("premium"))
        assert d.table.item(1, 2).text() == "75" and "100 credits" in d.cost_label.text()
        with qtbot.waitSignal(f.controller.batchEnded, timeout=30_000):
            d.start_button.click()
        wait_ended(qtbot, f)
        assert statuses(f) == [LookStatus.DONE] * 2
        assert f.controller.queue.batch.tryon_model == "premium"
        assert srv.submissions_by_kind.get("premium") == 1


def test_review_walks_through_one_batchs_looks_in_order(qtbot, make_window, tmp_path, store):
    source = looks_folder(tmp_path / "shoot", 3)
    with SandboxServer(latency=0.1) as srv:
        w = make_window(srv)
        f = flow(w)
        assert not f.view.review_button.isEnabled()  # no batch yet
        with qtbot.waitSignal(f.controller.batchEnded, timeout=30_000):
            plan_and_start(qtbot, w, source)
        wait_ended(qtbot, f)
        assert f.view.review_button.isEnabled()
        batch_jobs = store.batch_job_ids(f.view.batch_id)
        # A job made after the batch, outside it: the batch's review never lists it.
        other = store.create_job({PERSON: source / "look-01" / "person.jpg"}, "woman", hold=False)
        w.content.parts.history.refresh()
        f.view.review_button.click()
        review = w.content.review
        shown: list[int | None] = []
        for _ in range(len(batch_jobs)):
            qtbot.waitUntil(lambda: review.job_id is not None and review.job_id not in shown)
            shown.append(review.job_id)
            review.next_job()
        assert shown == sorted(batch_jobs)  # the order they were sent, nothing else
        assert other.id not in shown
        assert w.content.parts.history.visible_job_ids() == sorted(batch_jobs)


def test_a_batch_whose_process_dies_is_offered_again_and_finishes(qtbot, make_window, tmp_path):
    import os
    import signal

    source = looks_folder(tmp_path / "shoot", 3)
    with SandboxServer(latency=2.0) as srv:
        w = make_window(srv)
        f = plan_and_start(qtbot, w, source)
        process = f.controller.process
        assert process is not None  # the window's batch runs in a process of its own
        # Killed once every task id is stored (see test_batch_process.py for why).
        qtbot.waitUntil(lambda: all(v.task_id for v in f.controller.views()), timeout=20_000)
        with qtbot.waitSignal(f.controller.runEnded, timeout=20_000):
            os.kill(process.pid, signal.SIGKILL)
        assert not f.view.continue_button.isHidden()
        assert "stopped with looks left (the batch process crashed)" in f.view.notice.text()
        # The rows are the store's, not the dead process's last word: none is running.
        assert LookStatus.RUNNING not in statuses(f)
        w.grab().save(str(tmp_path / "batch_process_died.png"))  # looked at by eye
        with qtbot.waitSignal(f.controller.batchEnded, timeout=30_000):
            f.view.continue_button.click()
        wait_ended(qtbot, f)
        assert statuses(f) == [LookStatus.DONE] * 3 and srv.submissions == 3
        assert f.view.continue_button.isHidden()
