"""The batch queue view: the batch at a glance, a row per look, and its controls.

Follows a :class:`~refiner_gui.controllers.batch_controller.BatchController` (its
``changed`` and ``ended`` signals); asks it to pause, resume, cancel one look, cancel all,
or retry the failed looks (after showing their cost). Draws only; decides nothing.
GUI thread.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from refiner_gui.batch import COST_PER_LOOK, BatchEvent, Counts, LookView
from refiner_gui.controllers.batch_controller import BatchController

COLUMNS = ("Look", "State", "Stage", "Result or error")


class BatchView(QWidget):
    """A batch's queue: counts with an ETA, a table of looks, pause/resume/cancel/retry."""

    def __init__(self, controller: BatchController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.summary = QLabel("Waiting to start")
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.pause_button = QPushButton("Pause")
        self.cancel_one = QPushButton("Cancel look")
        self.cancel_all = QPushButton("Cancel all")
        self.retry = QPushButton("Retry failed")
        self.retry.setEnabled(False)
        buttons = QHBoxLayout()
        for b in (self.pause_button, self.cancel_one, self.cancel_all, self.retry):
            buttons.addWidget(b)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        self._rows: dict[int, int] = {}
        self.pause_button.clicked.connect(self._toggle_pause)
        self.cancel_one.clicked.connect(self._cancel_selected)
        self.cancel_all.clicked.connect(self._cancel_all)
        self.retry.clicked.connect(self._retry_failed)
        controller.changed.connect(self._on_changed)
        controller.ended.connect(self._on_ended)

    def show_views(self, views: list[LookView]) -> None:
        """Fill the table with every look (before the run, or after it)."""
        for v in views:
            self._show(v)

    @Slot(object)
    def _on_changed(self, ev: BatchEvent) -> None:
        if ev.look is not None:
            self._show(ev.look)
        if ev.kind == "notice":
            self.summary.setToolTip(ev.message)
        self._show_counts(ev.counts, ev.message if ev.kind == "notice" else "")

    @Slot(object)
    def _on_ended(self, counts: Counts) -> None:
        self._show_counts(counts, "Finished" if not (counts.waiting or counts.unfinished) else "")
        self.retry.setEnabled(counts.failed > 0)

    def _show_counts(self, c: Counts, note: str) -> None:
        self.summary.setText(c.line() + (f"  —  {note}" if note else ""))
        self.retry.setText(
            f"Retry {c.failed} failed ({c.failed * COST_PER_LOOK} credits)"
            if c.failed
            else "Retry failed"
        )
        self.retry.setEnabled(c.failed > 0 and not self.controller.running)

    def _show(self, v: LookView) -> None:
        row = self._rows.get(v.position)
        if row is None:
            row = self._rows[v.position] = self.table.rowCount()
            self.table.insertRow(row)
        detail = v.output.name if v.output else v.error
        for col, text in enumerate((v.name, v.status.value, v.stage, detail)):
            item = QTableWidgetItem(text)
            if col == 0:
                item.setData(Qt.ItemDataRole.UserRole, v.position)
            if col == 3 and v.error:
                item.setToolTip(v.error)
            self.table.setItem(row, col, item)

    def _selected_position(self) -> int | None:
        items = self.table.selectedItems()
        if not items:
            return None
        first = self.table.item(items[0].row(), 0)
        value = first.data(Qt.ItemDataRole.UserRole) if first is not None else None
        return int(value) if value is not None else None

    def _toggle_pause(self) -> None:
        queue = self.controller.queue
        if queue is None:
            return
        if queue.pause_reason is None:
            queue.pause()
            self.pause_button.setText("Resume")
        else:
            queue.resume()
            self.pause_button.setText("Pause")

    def _cancel_selected(self) -> None:
        position = self._selected_position()
        if position is not None and self.controller.queue is not None:
            self.controller.queue.cancel_look(position)

    def _cancel_all(self) -> None:
        if self.controller.queue is not None:
            self.controller.queue.cancel_all()

    def _retry_failed(self) -> None:
        queue = self.controller.queue
        if queue is None or self.controller.running:
            return
        n = queue.failed_count()
        if not n:
            return
        answer = QMessageBox.question(
            self,
            "Retry failed looks",
            f"Send {n} failed look{'s' * (n != 1)} again? Each success costs "
            f"{COST_PER_LOOK} credits: up to {n * COST_PER_LOOK} credits.",
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        self.controller.start(queue.batch.id, retry_failed=True)
