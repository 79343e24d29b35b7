"""The Batch tab: the running batch's looks, its counts and time left, and its controls.

It follows a :class:`~refiner_gui.controllers.batch_controller.BatchController` (signals
in, commands out) and holds no batch logic: pause, resume, cancel one, cancel all, retry
failed (after showing what it costs), and open the output folder where the core writes the
results and summary.csv. GUI thread only.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from refiner_gui.batch import COST_PER_LOOK, Counts, LookStatus, LookView
from refiner_gui.controllers.batch_controller import BatchController, counts_words
from refiner_gui.jobs.store_batches import BatchRecord
from refiner_gui.ui.batch_model import THUMB_SIDE, BatchModel
from refiner_gui.ui.flow_layout import FlowLayout

EMPTY_TEXT = (
    "No batch yet. File → New batch… (or drop a folder of looks or a .csv manifest on the "
    "window) to refine many looks in one go."
)


class BatchView(QWidget):
    """The queue view of ``controller``'s batch.

    Signals:
        reviewRequested(int): "Review these looks" for the batch with that id.
    """

    reviewRequested = Signal(int)

    def __init__(self, controller: BatchController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.out_dir: Path | None = None
        self.batch_id: int | None = None
        self._done = 0
        self.model = BatchModel(self)

        self.title = QLabel(EMPTY_TEXT)
        self.title.setWordWrap(True)
        self.counts_label = QLabel("")
        self.counts_label.setAccessibleName("Batch counts")
        self.notice = QLabel("")
        self.notice.setWordWrap(True)
        self.notice.setStyleSheet("color: #a05a00;")
        self.notice.hide()
        self.continue_button = QPushButton("Continue batch")
        self.continue_button.setToolTip("Carry on where the batch stopped; nothing is sent twice")
        self.continue_button.hide()

        self.table = QTableView()
        self.table.setAccessibleName("Looks of the batch")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setIconSize(QSize(THUMB_SIDE, THUMB_SIDE))
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(THUMB_SIDE + 6)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.setColumnWidth(0, 220)

        self.pause_button = QPushButton("Pause")
        self.resume_button = QPushButton("Resume")
        self.cancel_button = QPushButton("Cancel look")
        self.cancel_all_button = QPushButton("Cancel all")
        self.retry_button = QPushButton("Retry failed")
        self.folder_button = QPushButton("Open output folder")
        self.review_button = QPushButton("Review these looks")
        self.review_button.setToolTip(
            "Walk through this batch's results in the order they were sent"
        )
        self.pause_button.setToolTip("Send no new look; those in flight finish")
        self.cancel_button.setToolTip("Cancel the selected look")
        self.retry_button.setToolTip(f"Send the failed looks again ({COST_PER_LOOK} credits each)")
        self.folder_button.setToolTip("Where the results and summary.csv are written")
        bar = QWidget()
        buttons = FlowLayout(bar, spacing=6)  # wraps in a half-screen window
        buttons.setContentsMargins(0, 0, 0, 0)
        for b in (
            self.pause_button,
            self.resume_button,
            self.cancel_button,
            self.cancel_all_button,
            self.retry_button,
            self.folder_button,
            self.review_button,
        ):
            buttons.addWidget(b)

        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.counts_label)
        layout.addWidget(self.notice)
        layout.addWidget(self.continue_button)
        layout.addWidget(self.table, 1)
        layout.addWidget(bar)

        self.pause_button.clicked.connect(controller.pause)
        self.resume_button.clicked.connect(self._resume)
        self.cancel_button.clicked.connect(self.cancel_selected)
        self.cancel_all_button.clicked.connect(self.cancel_all)
        self.retry_button.clicked.connect(self.retry_failed)
        self.folder_button.clicked.connect(self.open_output_folder)
        self.review_button.clicked.connect(self._review)
        self.table.selectionModel().selectionChanged.connect(self.update_buttons)
        controller.runStarted.connect(self._on_started)
        controller.lookChanged.connect(self._on_look)
        controller.paused.connect(self._on_paused)
        controller.notice.connect(lambda _run, text: self._say(text))
        controller.batchEnded.connect(self._on_ended)
        controller.runEnded.connect(lambda _run: self.update_buttons())
        self._paused = False
        self.update_buttons()

    def set_unfinished(self, batches: list[BatchRecord], why: str = "the app was closed") -> None:
        """Offer to carry on ``batches`` (left by a quit or crash: ``why``); [] hides the
        offer."""
        if batches and not self.controller.is_running():
            names = ", ".join(f"“{b.name}”" for b in batches[:3])
            self._say(
                f"Batch {names} stopped with looks left ({why}). Continue it: "
                "finished looks are kept and nothing is sent twice."
            )
        self.continue_button.setVisible(bool(batches))

    def reload(self) -> None:
        """Show every row and the counts as the controller has them now (after a batch
        process died, they are read again from the store)."""
        self.model.set_views(self.controller.views())
        self._show_counts(self.controller.counts())

    # -- from the controller ------------------------------------------------------------

    def _on_started(self, _run_id: int, _batch_id: int) -> None:
        queue = self.controller.queue
        assert queue is not None
        self.out_dir = queue.batch.out_dir
        self.batch_id = queue.batch.id
        out = queue.batch.out_dir
        self.title.setText(f"<b>{queue.batch.name}</b> → results in {out.name}")
        self.title.setToolTip(f"Results and summary.csv go to {out}")
        self.model.set_views(queue.views())
        self._paused = queue.pause_reason is not None
        self._show_counts(queue.counts())
        self.notice.hide()

    def _on_look(self, _run_id: int, view: LookView, counts: Counts) -> None:
        self.model.update(view)
        self._show_counts(counts)

    def _on_paused(self, _run_id: int, reason: str, words: str) -> None:
        if reason != "backoff":
            self._paused = True
        self._say(words)

    def _on_ended(self, _run_id: int, counts: Counts) -> None:
        self._show_counts(counts)
        if not (counts.waiting or counts.running):
            self._say(f"Finished. The results and summary.csv are in {self.out_dir}.")

    def _say(self, text: str) -> None:
        self.notice.setText(text)
        self.notice.setVisible(bool(text))
        self.update_buttons()

    def _show_counts(self, counts: Counts) -> None:
        self.counts_label.setText(counts_words(counts))
        self._done = counts.done
        self.update_buttons()

    # -- commands -----------------------------------------------------------------------

    def update_buttons(self) -> None:
        """Enable what makes sense now."""
        running = self.controller.is_running()
        selected = self.selected()
        self.pause_button.setEnabled(running and not self._paused)
        self.resume_button.setEnabled(running and self._paused)
        self.cancel_button.setEnabled(
            running
            and selected is not None
            and selected.status in (LookStatus.WAITING, LookStatus.RUNNING)
        )
        self.cancel_all_button.setEnabled(running)
        self.retry_button.setEnabled(
            not self.controller.is_closed() and self.controller.failed_count() > 0
        )
        self.folder_button.setEnabled(self.out_dir is not None)
        self.review_button.setEnabled(self.batch_id is not None and self._done > 0)

    def selected(self) -> LookView | None:
        """The selected look, if any."""
        rows = self.table.selectionModel().selectedRows()
        return self.model.view_at(rows[0].row()) if rows else None

    def _resume(self) -> None:
        self._paused = False
        self.notice.hide()
        self.controller.resume()
        self.update_buttons()

    def cancel_selected(self) -> None:
        """Cancel the selected look."""
        view = self.selected()
        if view is not None:
            self.controller.cancel_look(view.position)

    def cancel_all(self) -> None:
        """Cancel every look not done, after asking."""
        answer = QMessageBox.question(
            self,
            "Cancel the batch",
            "Cancel every look not done yet? Looks already submitted stay in the History "
            "and can be resumed there.",
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.controller.cancel_all()

    def retry_failed(self) -> None:
        """Send the failed looks again, after showing what it costs."""
        n = self.controller.failed_count()
        if not n:
            return
        answer = QMessageBox.question(
            self,
            "Retry failed looks",
            f"Send {n} failed look{'s' * (n != 1)} again? This costs up to "
            f"{self.controller.retry_cost()} credits ({COST_PER_LOOK} per refinement, plus "
            "the try-on for a look that makes its coarse image; only what succeeds is "
            "billed).",
        )
        if answer == QMessageBox.StandardButton.Yes:
            self._paused = False
            self.controller.retry_failed()
            self.model.set_views(self.controller.views())
            self._show_counts(self.controller.counts())

    def _review(self) -> None:
        if self.batch_id is not None:
            self.reviewRequested.emit(self.batch_id)

    def open_output_folder(self) -> None:
        """Show the output folder (results and summary.csv) in the file manager."""
        if self.out_dir is not None:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.out_dir)))

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt API
        """Small enough for a half-screen window (the table scrolls)."""
        hint = super().minimumSizeHint()
        return QSize(min(hint.width(), 360), min(hint.height(), 240))


__all__ = ["EMPTY_TEXT", "BatchView"]
