"""A small dialog that asks which slot each file is for, when names and pictures did not say.

One row per file, in the order the user gave them: its thumbnail, its name, what the rules
found ("from its name", "looks like a garment: plain background") and a role to choose.
Roles the rules were sure of are chosen already; the rest start at "Choose…", never at a
guess and never in alphabetical order. **Load** stays disabled until every file has a role
(or "Not used"), no slot is chosen twice, and the required slots are filled, unless the
user ticks that a partial load is what they want. GUI thread only.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QImage, QPalette, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from refiner_gui.role_guess import RoleGuess
from refiner_gui.slots import REQUIRED_SLOTS, SLOT_LABELS, SLOTS
from refiner_gui.ui.slot_look import ERROR, status_colour

THUMB_SIDE = 72
"""Logical size of each row's thumbnail."""

NOT_USED = ""
"""The role of a file the user leaves out (a combo's data)."""


def role_title(slot: str) -> str:
    """ "Person photo", "Top garment"…: a slot's label as a menu entry."""
    return SLOT_LABELS[slot][:1].upper() + SLOT_LABELS[slot][1:]


def assignment_problem(
    choices: Mapping[Path, str | None], filled: Collection[str], *, partial_ok: bool
) -> tuple[str | None, list[str]]:
    """Why ``choices`` (file → slot, ``NOT_USED`` or None for "not chosen yet") cannot be
    loaded, or None; and the required slots that would stay empty.

    ``filled`` are the slots that keep their current file. Missing required slots block
    only while ``partial_ok`` is False.
    """
    for path, slot in choices.items():
        if slot is None:
            return f"Choose what {path.name} is (or “Not used”).", []
    chosen = [s for s in choices.values() if s]
    for slot in SLOTS:
        if chosen.count(slot) > 1:
            return f"Two files are chosen as the {SLOT_LABELS[slot]}.", []
    if not chosen:
        return "Choose a role for at least one file.", []
    missing = [s for s in REQUIRED_SLOTS if s not in chosen and s not in filled]
    if missing and not partial_ok:
        names = " and the ".join(SLOT_LABELS[s] for s in missing)
        return f"The {names} would be missing. Tick the box below to load anyway.", missing
    return None, missing


class AssignDialog(QDialog):
    """Asks the user to assign ``files`` to slots, starting from what ``guess`` was sure of.

    ``thumbnails`` are decoded images (None or null: "No preview"); ``filled`` names the
    slots that keep their current file if no row is chosen for them. Read
    :meth:`assignment` after it is accepted.
    """

    def __init__(
        self,
        files: Sequence[Path],
        guess: RoleGuess,
        thumbnails: Mapping[Path, QImage | None],
        filled: Collection[str] = (),
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Which image is which?")
        self.setAccessibleName("Assign images to slots")
        self._filled = set(filled)
        self._combos: dict[Path, QComboBox] = {}

        intro = QLabel(
            "The file names and pictures did not say which slot every image is for. "
            "Choose a role for each one."
        )
        intro.setWordWrap(True)

        grid = QGridLayout()
        grid.setHorizontalSpacing(12)
        grid.setVerticalSpacing(10)
        grid.setColumnStretch(1, 1)
        for row, path in enumerate(files):
            grid.addWidget(self._thumbnail(thumbnails.get(path), path), row, 0)
            grid.addWidget(self._description(path, guess), row, 1)
            combo = self._combo(path, guess.role_of(path))
            grid.addWidget(combo, row, 2, Qt.AlignmentFlag.AlignVCenter)
            self._combos[path] = combo

        self._partial = QCheckBox("Load anyway, with a required image missing")
        self._partial.setAccessibleName("Load with a required image missing")
        self._partial.toggled.connect(self._validate)
        self._problem = QLabel()
        self._problem.setWordWrap(True)
        self._problem.setTextFormat(Qt.TextFormat.PlainText)
        self._problem.setAccessibleName("What is missing")
        pal = self._problem.palette()
        pal.setColor(QPalette.ColorRole.WindowText, status_colour(ERROR, self.palette()))
        self._problem.setPalette(pal)

        self._buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.load_button = self._buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.load_button.setText("Load")
        self._buttons.accepted.connect(self.accept)
        self._buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.setSpacing(12)
        layout.addWidget(intro)
        layout.addLayout(grid)
        layout.addWidget(self._problem)
        layout.addWidget(self._partial)
        layout.addWidget(self._buttons)
        self.setMinimumWidth(560)
        self._validate()

    # -- rows -------------------------------------------------------------------------------

    @staticmethod
    def _thumbnail(image: QImage | None, path: Path) -> QLabel:
        label = QLabel()
        label.setFixedSize(THUMB_SIDE, THUMB_SIDE)
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        label.setFrameShape(QLabel.Shape.StyledPanel)
        label.setAccessibleName(f"Preview of {path.name}")
        if image is None or image.isNull():
            label.setText("No preview")
            label.setWordWrap(True)
            return label
        dpr = label.devicePixelRatioF()
        side = round((THUMB_SIDE - 4) * dpr)
        pix = QPixmap.fromImage(image).scaled(
            side,
            side,
            Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.SmoothTransformation,
        )
        pix.setDevicePixelRatio(dpr)
        label.setPixmap(pix)
        return label

    @staticmethod
    def _description(path: Path, guess: RoleGuess) -> QWidget:
        box = QWidget()
        column = QVBoxLayout(box)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        name = QLabel(path.name)
        name.setTextFormat(Qt.TextFormat.PlainText)  # file names are shown, never rendered
        name.setToolTip(str(path))
        font = name.font()
        font.setBold(True)
        name.setFont(font)
        slot = guess.role_of(path)
        if slot is not None:
            hint = f"{role_title(slot)} — {guess.reasons.get(path, 'as found')}"
        elif guess.candidates.get(path):
            hint = "Could be the " + " or the ".join(SLOT_LABELS[s] for s in guess.candidates[path])
        else:
            hint = "Nothing in its name or picture says"
        words = QLabel(hint)
        words.setTextFormat(Qt.TextFormat.PlainText)
        words.setWordWrap(True)
        words.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        column.addStretch(1)  # name and hint together, centred beside the thumbnail
        column.addWidget(name)
        column.addWidget(words)
        column.addStretch(1)
        return box

    def _combo(self, path: Path, chosen: str | None) -> QComboBox:
        combo = QComboBox()
        combo.setAccessibleName(f"Role of {path.name}")
        combo.addItem("Choose…", None)
        for slot in SLOTS:
            combo.addItem(role_title(slot), slot)
        combo.addItem("Not used", NOT_USED)
        if chosen is not None:
            combo.setCurrentIndex(combo.findData(chosen))
        combo.currentIndexChanged.connect(self._validate)
        return combo

    # -- state ------------------------------------------------------------------------------

    def choices(self) -> dict[Path, str | None]:
        """File → chosen slot, ``NOT_USED``, or None while "Choose…" is showing."""
        return {path: combo.currentData() for path, combo in self._combos.items()}

    def set_role(self, path: Path, slot: str | None) -> None:
        """Choose ``slot`` (or ``NOT_USED``) for ``path``, as the user would."""
        combo = self._combos[path]
        combo.setCurrentIndex(combo.findData(slot))

    def assignment(self) -> dict[str, Path]:
        """Slot → file, for the rows given a slot."""
        return {slot: path for path, slot in self.choices().items() if slot}

    def problem(self) -> str:
        """Why Load is disabled ("" when it is enabled)."""
        return self._problem.text()

    def set_partial_ok(self, ok: bool) -> None:
        """Tick (or untick) "load anyway, with a required image missing"."""
        self._partial.setChecked(ok)

    @Slot()
    def _validate(self) -> None:
        problem, missing = assignment_problem(
            self.choices(), self._filled, partial_ok=self._partial.isChecked()
        )
        self._partial.setVisible(bool(missing))
        self._problem.setText(problem or "")
        self._problem.setVisible(bool(problem))
        self.load_button.setEnabled(problem is None)
