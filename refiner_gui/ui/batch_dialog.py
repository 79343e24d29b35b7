"""The dry run of a new batch, shown before anything is sent: every look with what will be
sent or why it will not (pre-flight, per row), the cost, the balance, and where the
results go. A cost above the balance (or an unknown balance) needs "Start anyway".
GUI thread only; the plan is made on the pool by :mod:`refiner_gui.ui.batch_flow`.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from refiner_gui.batch import Plan
from refiner_gui.jobs.two_stage import MODEL_NAMES
from refiner_gui.slots import BOTTOM, COARSE, PERSON, TOP

SHORT_NAMES = {PERSON: "Person", TOP: "Top", COARSE: "Coarse", BOTTOM: "Bottom"}


def sent_files(files: dict[str, Path]) -> str:
    """What a look sends, "Person: a.jpg · Top: b.png …", in slot order."""
    return " · ".join(
        f"{name}: {files[slot].name}" for slot, name in SHORT_NAMES.items() if slot in files
    )


FIX_CODE = 2
"""The dialog's result when the user asked for Fix: the dry run is made again with it."""


class BatchPlanDialog(QDialog):
    """Shows ``plan``; accepted means "store the batch and start it" into :attr:`out_dir`.

    ``demo``: the sandbox is not billed, so no balance is needed to start."""

    def __init__(
        self, plan: Plan, source: Path, out_dir: Path, *, demo: bool, parent: QWidget | None
    ) -> None:
        super().__init__(parent)
        self.plan = plan
        self.out_dir = out_dir
        self.setWindowTitle(f"New batch: {source.name}")
        self.resize(820, 480)

        self.demo = demo
        self.table = QTableWidget(len(plan.looks), 4)
        self.table.setAccessibleName("Looks of the new batch")
        self.table.setHorizontalHeaderLabels(["Look", "Will send", "Credits", "Pre-flight"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.setColumnWidth(1, 340)

        # Looks without a coarse image make it first: with which try-on model.
        self.model_box = QComboBox()
        self.model_box.setAccessibleName("Try-on model for looks without a coarse image")
        for key, name in MODEL_NAMES.items():
            self.model_box.addItem(name, key)
        self.model_box.setCurrentIndex(max(0, self.model_box.findData(plan.tryon_model)))
        self.model_box.currentIndexChanged.connect(self._model_changed)
        makes = sum(p.look.makes_coarse for p in plan.sendable)
        model_row = QHBoxLayout()
        model_label = QLabel(
            f"{makes} look{'s' * (makes != 1)} without a coarse image: make it with"
        )
        model_row.addWidget(model_label)
        model_row.addWidget(self.model_box)
        model_row.addStretch(1)
        for w in (model_label, self.model_box):
            w.setVisible(bool(makes))

        self.cost_label = QLabel()
        self.cost_label.setWordWrap(True)
        self.folder_label = QLabel()
        self.folder_label.setWordWrap(True)
        change = QPushButton("Change…")
        change.clicked.connect(self._choose_folder)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder_label, 1)
        folder_row.addWidget(change)
        self._show_folder()

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.start_button = self.buttons.addButton("Start", QDialogButtonBox.ButtonRole.AcceptRole)
        self.start_button.setEnabled(bool(plan.sendable))
        fixable = sum(bool(p.problems and p.fixable) for p in plan.looks)
        self.fix_button: QPushButton | None = None
        if fixable:
            self.fix_button = self.buttons.addButton(
                f"Fix {fixable} look{'s' * (fixable != 1)}", QDialogButtonBox.ButtonRole.ActionRole
            )
            self.fix_button.setToolTip(
                "Send conforming copies (resized, converted); the originals are untouched"
            )
            self.fix_button.clicked.connect(lambda: self.done(FIX_CODE))
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self._fill()

        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addLayout(model_row)
        layout.addWidget(self.cost_label)
        layout.addLayout(folder_row)
        layout.addWidget(self.buttons)

    def _model_changed(self) -> None:
        self.plan.tryon_model = str(self.model_box.currentData())
        self._fill()

    def _fill(self) -> None:
        """The rows, the cost and the start button, for the chosen try-on model."""
        plan = self.plan
        for row, p in enumerate(plan.looks):
            status = "ready to send" if p.sendable else "not sent: " + "; ".join(p.problems)
            if p.problems and p.fixable:
                status += " (Fix can cure this)"
            sent = sent_files(p.look.files)
            note = plan.coarse_note(p)
            if note:
                sent += f" · {note}"
            cost = str(plan.cost_of(p)) if p.sendable else "—"
            for col, text in enumerate((p.look.name, sent, cost, status)):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.table.setItem(row, col, item)
        self.needs_override = not self.demo and not plan.affordable
        self.start_button.setText("Start anyway" if self.needs_override else "Start")
        self.start_button.setToolTip(
            "The balance may not cover every look" if self.needs_override else ""
        )
        self.cost_label.setStyleSheet(
            "color: #b03020; font-weight: bold;" if self.needs_override else ""
        )
        if plan.sendable:
            self.cost_label.setText(
                plan.balance_line() + (" (demo: not billed)" if self.demo else "")
            )
        else:
            self.cost_label.setText("Nothing to send: every look has a problem (see the list).")

    def _show_folder(self) -> None:
        self.folder_label.setText(f"Results and summary.csv go to: {self.out_dir}")

    def _choose_folder(self) -> None:
        chosen = QFileDialog.getExistingDirectory(self, "Output folder", str(self.out_dir))
        if chosen:
            self.out_dir = Path(chosen)
            self._show_folder()
