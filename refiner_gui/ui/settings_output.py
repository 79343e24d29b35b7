"""The Settings dialog's "Saved results" group: output folder and file name pattern.

A part of :class:`~refiner_gui.ui.settings_dialog.SettingsDialog`: it edits the two
fields and shows what a file name would look like; the dialog reads and saves them.
GUI thread only.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QAbstractButton,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QToolButton,
    QWidget,
)

from refiner_gui.config import app_paths
from refiner_gui.outputs import NAME_TOKENS, TOKENS, render_name
from refiner_gui.slots import COARSE, PERSON, TOP
from refiner_gui.ui.note import Note

PREVIEW_TASK_ID = "T123"
PREVIEW_GENDER = "woman"

_TOKEN_RE = re.compile(r"\{(\w+)\}")
_TOKEN_HELP = {
    "date": "the day the result was saved (2025-01-31)",
    "time": "the time it was saved (142501)",
    "task_id": "the service's task id",
    "gender": "the gender chosen for the job",
    "person_name": "the person photo's file name, without extension",
    "top_name": "the top garment's file name, without extension",
    "bottom_name": "the bottom garment's file name (empty without one)",
    "coarse_name": "the coarse image's file name, without extension",
}
# Names shown by the preview for the file-name tokens.
PREVIEW_NAMES = {PERSON: "model_01.jpg", TOP: "shirt_blue.png", COARSE: "coarse_01.png"}


class OutputGroup(QGroupBox):
    """The output folder (with Browse…), the file name pattern with a button per token,
    a live preview of the name and a note about unknown tokens or an empty pattern.

    Args:
        save_format: ``"jpg"`` or ``"png"``: the extension the preview shows.
    """

    def __init__(self, save_format: str, parent: QWidget | None = None) -> None:
        super().__init__("Saved results", parent)
        self._save_format = save_format
        box = self  # the fields are built as in the dialog they came from
        form = QFormLayout(box)

        self.output_edit = QLineEdit(box)
        self.output_edit.setAccessibleName("Output folder")
        self.output_edit.setToolTip(
            "Where refined images are saved; empty means the default folder shown in grey"
        )
        self.output_edit.setPlaceholderText(_display_path(app_paths().outputs))
        self.browse_button = QPushButton("&Browse…", box)
        self.browse_button.setAccessibleName("Browse for output folder")
        self.browse_button.setToolTip("Choose the output folder")
        self.browse_button.clicked.connect(self.browse_output_dir)
        row = QHBoxLayout()
        row.addWidget(self.output_edit, 1)
        row.addWidget(self.browse_button)
        folder_label = QLabel("&Folder:", box)
        folder_label.setBuddy(self.output_edit)
        form.addRow(folder_label, row)

        self.pattern_edit = QLineEdit(box)
        self.pattern_edit.setAccessibleName("File name pattern")
        self.pattern_edit.setToolTip(
            "File name of a saved result, without extension. "
            "Tokens: " + " ".join(_token(t) for t in TOKENS)
        )
        self.pattern_edit.textChanged.connect(self.update_preview)
        pattern_label = QLabel("File &name:", box)
        pattern_label.setBuddy(self.pattern_edit)
        form.addRow(pattern_label, self.pattern_edit)

        # Two rows: what the job is (date, time, task, gender), then the input files' names;
        # one row of eight would squeeze the buttons to "{…}" in a dialog of usual width.
        self.token_buttons: dict[str, QToolButton] = {}
        token_rows = ([t for t in TOKENS if t not in NAME_TOKENS], list(NAME_TOKENS))
        for r, names in enumerate(token_rows):
            tokens = QHBoxLayout()
            if r == 0:
                tokens.addWidget(QLabel("Insert:", box))
            for token in names:
                button = QToolButton(box)
                button.setText(_token(token))
                button.setAccessibleName(f"Insert {token.replace('_', ' ')} token")
                button.setToolTip(f"Insert {{{token}}} at the cursor: {_TOKEN_HELP[token]}")
                button.clicked.connect(self._on_token_clicked)
                button.setProperty("token", token)
                tokens.addWidget(button)
                self.token_buttons[token] = button
            tokens.addStretch(1)
            form.addRow("", tokens)

        self.preview_label = QLabel(box)
        self.preview_label.setTextFormat(Qt.TextFormat.PlainText)
        self.preview_label.setAccessibleName("File name preview")
        self.preview_label.setToolTip("What a result's file name would look like now")
        self.preview_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        preview_caption = QLabel("Preview:", box)
        preview_caption.setBuddy(self.preview_label)
        form.addRow(preview_caption, self.preview_label)
        self.pattern_note = Note("File name pattern problem", box)
        form.addRow(self.pattern_note)

    @Slot()
    def browse_output_dir(self) -> None:
        """Ask for a folder with the platform dialog (modal: GUI thread)."""
        start = self.output_edit.text().strip() or str(app_paths().outputs)
        # Looked up on the class at call time so a test can replace it.
        chosen = QFileDialog.getExistingDirectory(
            self, "Choose the output folder", os.path.expanduser(start)
        )
        if chosen:
            self.output_edit.setText(chosen)

    @Slot()
    def _on_token_clicked(self) -> None:
        button = self.sender()
        if isinstance(button, QAbstractButton):
            self.pattern_edit.insert(_token(str(button.property("token"))))
            self.pattern_edit.setFocus()

    @Slot()
    def update_preview(self) -> None:
        """Show the name a result would get now; warn about unknown tokens."""
        pattern = self.pattern_edit.text().strip()
        ext = "jpg" if self._save_format == "jpg" else "png"
        stem = render_name(
            pattern, task_id=PREVIEW_TASK_ID, gender=PREVIEW_GENDER, names=PREVIEW_NAMES
        )
        self.preview_label.setText(f"{stem}.{ext}")
        unknown = sorted({t for t in _TOKEN_RE.findall(pattern) if t not in TOKENS})
        if unknown:
            names = ", ".join(_token(t) for t in unknown)
            self.pattern_note.show_message(
                "warning",
                f"Unknown token {names} will be left out. Use "
                + " ".join(_token(t) for t in TOKENS)
                + ".",
            )
        elif not pattern:
            self.pattern_note.show_message("info", "An empty pattern saves files as {task_id}.")
        else:
            self.pattern_note.clear()


def _token(name: str) -> str:
    return "{" + name + "}"


def _display_path(path: Path) -> str:
    """``path`` with the home folder shown as ``~`` (shorter, and no user name on screen)."""
    try:
        return "~" + os.sep + str(path.relative_to(Path.home()))
    except ValueError:
        return str(path)
