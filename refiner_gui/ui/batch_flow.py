"""Batches in the window: File → New batch…, a folder or .csv dropped on the window, the
dry run, the Batch tab, and carrying on a batch a quit left unfinished.

Wires a :class:`~refiner_gui.controllers.batch_controller.BatchController` (the work) to a
:class:`~refiner_gui.ui.batch_view.BatchView` (the tab) for
:class:`~refiner_gui.ui.window_content.WindowContent`, which only creates it and shuts it
down. The dry run (reading the source, pre-flight, the credits query) runs on the pool;
nothing is stored or sent before the user accepted it. GUI thread only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMessageBox

from refiner_gui.batch import DEFAULT_CONCURRENCY, Plan, check_balance, make_plan, read_source
from refiner_gui.batch.looks import LookView
from refiner_gui.config import app_paths
from refiner_gui.controllers.batch_controller import BatchController
from refiner_gui.jobs.store_batches import BatchRecord, NewLook
from refiner_gui.threads import run_task
from refiner_gui.ui.batch_dialog import FIX_CODE, BatchPlanDialog
from refiner_gui.ui.batch_view import BatchView

if TYPE_CHECKING:
    from refiner_gui.ui.window_content import WindowContent

log = logging.getLogger(__name__)

BATCH_TAB = "Batch"
# History follows a running batch (its looks' jobs appear and settle there) at most this
# far behind: one re-query for the many row changes a batch makes each second.
HISTORY_EVERY_MS = 1000


@dataclass(frozen=True)
class PlannedBatch:
    """What the dry run found (made on the pool): the plan and the service it is for."""

    source: Path
    plan: Plan
    base_url: str


def is_batch_source(path: Path) -> bool:
    """Whether ``path`` can be a batch: a folder, or a .csv manifest."""
    return path.is_dir() or (path.suffix.lower() == ".csv" and path.is_file())


def default_out_dir(source: Path) -> Path:
    """Beside the source, never inside it (a folder's next read would take it for a look)."""
    base = source if source.is_dir() else source.with_suffix("")
    return base.parent / f"{base.name}-refined"


class BatchFlow(QObject):
    """The window's batch side (see the module docstring)."""

    def __init__(self, content: WindowContent, window: QMainWindow) -> None:
        super().__init__(window)
        self._content = content
        self._window = window
        # Each batch runs in a process of its own (its workers never hold the GIL the GUI
        # thread needs) with the jobs' factory as it is when the batch starts (start()).
        self.controller = BatchController(
            content.store,
            content.jobs.client_factory,
            self,
            own_process=True,
            factory_source=lambda: content.jobs.client_factory,
        )
        self.view = BatchView(self.controller)
        self.dialog: BatchPlanDialog | None = None
        self._planning = False
        tabs = content.parts.tabs
        tabs.addTab(self.view, BATCH_TAB)
        tabs.setTabToolTip(tabs.indexOf(self.view), "Many looks at once: the queue of a batch")
        content.window_drop.on_source = self.offer
        self.view.continue_button.clicked.connect(self.continue_unfinished)
        self.controller.runEnded.connect(self._run_ended)
        self.view.reviewRequested.connect(self.review_batch)
        self._history_due = QTimer(self)
        self._history_due.setSingleShot(True)
        self._history_due.setInterval(HISTORY_EVERY_MS)
        self._history_due.timeout.connect(self._refresh_history)
        self._history_stale = False  # changed while History was not shown
        self.controller.lookChanged.connect(self._look_changed)
        self.controller.batchEnded.connect(self._history_changed)
        tabs.currentChanged.connect(self._tab_changed)
        left = self.controller.unfinished()
        self.view.set_unfinished(left)
        if left:
            self._say("A batch was stopped with looks left: continue it in the Batch tab.")

    # -- starting ---------------------------------------------------------------------

    def review_batch(self, batch_id: int) -> None:
        """The Batch tab's "Review these looks": History lists only this batch's looks,
        oldest first, and review opens the first with a result (N / B walk on)."""
        content = self._content
        content.parts.history.show_batch(batch_id)
        if content.review.review_from_start():
            self._say(f"Reviewing batch {batch_id}: N for the next look, B to go back.")
        else:
            self._say("No look of this batch has a result to review yet.")

    def new_batch(self) -> None:
        """File → New batch…: a folder of looks, or a .csv manifest."""
        box = QMessageBox(self._window)
        box.setWindowTitle("New batch")
        box.setText(
            "Make a batch from a folder (one sub-folder per look) or from a CSV manifest "
            "(columns person, top, coarse, bottom, gender, name)?"
        )
        folder = box.addButton("Folder…", QMessageBox.ButtonRole.AcceptRole)
        csv = box.addButton("CSV manifest…", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        path = ""
        if box.clickedButton() is folder:
            path = QFileDialog.getExistingDirectory(self._window, "Folder of looks")
        elif box.clickedButton() is csv:
            path, _ = QFileDialog.getOpenFileName(
                self._window, "Batch manifest", "", "CSV manifest (*.csv)"
            )
        if path:
            self.prepare(Path(path))

    def offer(self, path: Path) -> bool:
        """A folder or .csv dropped on the window: offer to make a batch of it. False for
        anything else (the drop goes on to the input slots)."""
        if not is_batch_source(path):
            return False
        answer = QMessageBox.question(
            self._window,
            "Make a batch?",
            f"Make a batch of the looks in {path.name}? You will see every look and the "
            "cost before anything is sent.",
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.prepare(path)
        return True

    def prepare(self, source: Path, *, fix: bool = False) -> None:
        """Run the dry run of ``source`` on the pool, then show it (:attr:`dialog`); with
        ``fix``, looks Fix can cure get conforming copies in the data folder."""
        if self._busy_message():
            return
        self._planning = True
        demo = self._content.demo
        factory = self._content.jobs.client_factory
        gender = self._content.parts.inputs.gender() or None
        fixed_dir = app_paths().data / "fixed"

        def dry_run() -> PlannedBatch:  # pool thread: plain data in and out
            looks = read_source(source, default_gender=gender)
            plan = make_plan(looks, fix=fix, fixed_dir=fixed_dir)
            client = factory()
            try:
                if not demo:
                    check_balance(
                        plan, lambda: [(b.unique_sign, b.balance) for b in client.credits()]
                    )
                return PlannedBatch(source, plan, client.base_url)
            finally:
                client.close()

        self._say(f"Reading {source.name}…")
        run_task(dry_run, self._show_plan, self._plan_failed, owner=self)

    def _show_plan(self, planned: PlannedBatch) -> None:
        self._planning = False
        self._window.statusBar().clearMessage()
        demo = self._content.demo
        self.dialog = dialog = BatchPlanDialog(
            planned.plan,
            planned.source,
            default_out_dir(planned.source),
            demo=demo,
            parent=self._window,
        )
        dialog.accepted.connect(lambda: self._start(planned, dialog.out_dir))
        dialog.finished.connect(lambda r: self._dialog_closed(planned.source, r))
        dialog.open()

    def _dialog_closed(self, source: Path, result: int) -> None:
        self.dialog = None
        if result == FIX_CODE:
            self.prepare(source, fix=True)

    def _plan_failed(self, exc: Exception) -> None:
        self._planning = False
        self._window.statusBar().clearMessage()
        QMessageBox.warning(self._window, "Cannot make this batch", str(exc))

    def _start(self, planned: PlannedBatch, out_dir: Path) -> None:
        if self._busy_message():
            return
        record = self._content.store.create_batch(
            name=planned.source.name,
            source=str(planned.source.resolve()),
            out_dir=out_dir,
            concurrency=DEFAULT_CONCURRENCY,
            looks=[
                NewLook(p.look.name, p.look.gender, p.look.files, "; ".join(p.problems) or None)
                for p in planned.plan.looks
            ],
            base_url=planned.base_url,
            tryon_model=planned.plan.tryon_model,
        )
        self.start(record.id)

    def start(self, batch_id: int) -> bool:
        """Run (or carry on) a stored batch and show its tab."""
        if self.controller.start(batch_id) is None:
            return False
        self.view.set_unfinished([])
        self._content.parts.tabs.setCurrentWidget(self.view)
        return True

    def _look_changed(self, _run_id: int, view: LookView, _counts: object) -> None:
        if view.job_id is not None:  # a look without a job is not in History
            self._history_changed()

    def _history_changed(self, *_args: object) -> None:
        """A look's job came or changed: History re-queries once the timer is due."""
        if not self._history_due.isActive():
            self._history_due.start()

    def _tab_changed(self, _index: int) -> None:
        if self._history_stale:
            self._refresh_history()

    def _refresh_history(self) -> None:
        """Re-query History (keeping its selection and scroll) if it is the tab shown;
        otherwise when it is shown next: a hidden table is not worth the GUI thread."""
        parts = self._content.parts
        self._history_stale = parts.tabs.currentWidget() is not parts.history
        if not self._history_stale:
            parts.history.refresh()

    def _run_ended(self, _run_id: int) -> None:
        """A run that ended without its outcome (its process died) is offered again."""
        if self.controller.is_closed() or self.controller.last_run_returned():
            return
        why = self.controller.last_error.rstrip(".") or "its process stopped unexpectedly"
        self.view.reload()  # the rows as the store has them, not the dead process's last
        self.view.set_unfinished(self.controller.unfinished(), why[:1].lower() + why[1:])

    def continue_unfinished(self) -> None:
        """Carry on the oldest batch a quit or crash left unfinished."""
        left = self.controller.unfinished()
        if left and not self._busy_message():
            self.start(left[0].id)

    def unfinished(self) -> list[BatchRecord]:
        """Batches with looks left from an earlier session."""
        return self.controller.unfinished()

    def _busy_message(self) -> bool:
        if self.controller.is_running() or self._planning:
            QMessageBox.information(
                self._window,
                "A batch is running",
                "One batch runs at a time: wait for it, or cancel it in the Batch tab.",
            )
            return True
        return self.controller.is_closed()

    def _say(self, text: str) -> None:
        self._window.statusBar().showMessage(text, 10_000)

    def may_quit(self) -> bool:
        """Closing the window: True when no batch runs, or the user agrees to stop it
        (it is kept, and offered again at the next start). A batch whose run has ended,
        its thread only winding down, has nothing to lose: no question then."""
        if not self.controller.has_work_left():
            return True
        c = self.controller.counts()
        answer = QMessageBox.question(
            self._window,
            "A batch is running",
            f"A batch is running ({c.running + c.waiting} looks left). Quit anyway?\n\n"
            "The batch is kept: submitted looks are finished and the rest sent the next "
            "time you continue it (Batch tab). Nothing is sent twice.",
        )
        return answer == QMessageBox.StandardButton.Yes

    def shutdown(self, timeout_ms: int) -> bool:
        """Stop the running batch, resumable (window shutdown); True when its thread ended."""
        return self.controller.shutdown(timeout_ms)


__all__ = ["BATCH_TAB", "BatchFlow", "PlannedBatch", "default_out_dir", "is_batch_source"]
