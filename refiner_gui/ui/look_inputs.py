"""The shown look's own inputs, beside the compare viewer: what this job was made from.

A read-only view of a stored job's inputs (``Job.inputs``: the copies kept in the data
folder, with their original file names) and gender, so a look opened from the history or
in review never seems to come from whatever the input slots hold now. "Use these inputs"
asks for them to be loaded into the slots for a new run; the slots keep their own files
until then.

Thumbnails are decoded on the thread pool (:func:`~refiner_gui.threads.run_task`,
plain ``QImage``); the pixmaps are made here, on the GUI thread. GUI thread only.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal, Slot
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QGridLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from refiner_gui.jobs.models import Job
from refiner_gui.reports.summary import INPUT_SLOTS
from refiner_gui.slots import COARSE
from refiner_gui.threads import run_task
from refiner_gui.workers import load_image

THUMB_BOX = QSize(64, 86)  # portrait, like most person photos
GENDER_WORDS = {"woman": "Woman", "man": "Man"}


class LookInputs(QWidget):
    """Title, a 2×2 grid of the inputs (thumbnail and file name each), the gender, and
    "Use these inputs".

    Signals:
        useRequested(int): the user asked to load this job's inputs into the slots.
    """

    useRequested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Inputs of the shown look")
        self._job: Job | None = None
        self._generation = 0
        self._hide_coarse = False
        column = QVBoxLayout(self)
        column.setContentsMargins(6, 0, 0, 0)
        column.setSpacing(4)
        self.title = QLabel("Its inputs")
        self.title.setAccessibleName("Look inputs title")
        self.title.setToolTip("What the shown look was made from (stored with the job)")
        bold = self.title.font()
        bold.setBold(True)
        self.title.setFont(bold)
        column.addWidget(self.title)
        grid = QGridLayout()
        grid.setSpacing(4)
        self._pictures: dict[str, QLabel] = {}
        self._names: dict[str, QLabel] = {}
        for i, (slot, _short, label) in enumerate(INPUT_SLOTS):
            picture = QLabel()
            picture.setFixedSize(THUMB_BOX)
            picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
            picture.setAccessibleName(f"{label} thumbnail")
            picture.setStyleSheet("QLabel { border: 1px solid palette(mid); }")
            name = QLabel()
            name.setTextFormat(Qt.TextFormat.PlainText)  # file names are user text
            name.setFixedWidth(THUMB_BOX.width())
            name.setAccessibleName(f"{label} file")
            small = name.font()
            small.setPointSizeF(small.pointSizeF() * 0.85)
            name.setFont(small)
            row, col = divmod(i, 2)
            grid.addWidget(picture, row * 2, col)
            grid.addWidget(name, row * 2 + 1, col)
            self._pictures[slot] = picture
            self._names[slot] = name
        column.addLayout(grid)
        self.gender_label = QLabel()
        self.gender_label.setAccessibleName("Look gender")
        self.gender_label.setToolTip("The gender this look was refined with")
        column.addWidget(self.gender_label)
        self.use_button = QPushButton("Use these inputs")
        self.use_button.setAccessibleName("Use these inputs")
        self.use_button.setToolTip(
            "Put this look's inputs and gender in the input slots for a new run\n"
            "(replaces what the slots hold now; nothing is sent until you press Refine)"
        )
        self.use_button.clicked.connect(self._on_use)
        column.addWidget(self.use_button)
        column.addStretch(1)
        self.setFixedWidth(2 * THUMB_BOX.width() + 4 + 6)

    # -- public API ---------------------------------------------------------------------

    def job_id(self) -> int | None:
        """The job whose inputs are shown."""
        return self._job.id if self._job else None

    def show_job(self, job: Job, *, hide_coarse: bool = False) -> None:
        """Show ``job``'s stored inputs and gender (thumbnails follow from the pool).

        ``hide_coarse``: leave the coarse thumbnail out (blind review with the sides still
        hidden: it would tell which side is coarse). Same job and inputs: only that
        changes."""
        same = self._job is not None and (self._job.id, self._job.inputs) == (job.id, job.inputs)
        self._job = job
        if same and hide_coarse == self._hide_coarse:
            return
        self._hide_coarse = hide_coarse
        self._generation += 1
        self.title.setText(f"Job {job.id}’s inputs")
        self.gender_label.setText(GENDER_WORDS.get(job.gender, job.gender or "No gender"))
        for slot, _short, label in INPUT_SLOTS:
            item = job.inputs.get(slot)
            picture, name = self._pictures[slot], self._names[slot]
            picture.clear()
            if item is None:
                picture.setText("none")
                name.setText(f"No {label.lower()}")
                name.setToolTip("")
                continue
            text = name.fontMetrics().elidedText(
                item.name, Qt.TextElideMode.ElideMiddle, THUMB_BOX.width()
            )
            name.setText(text)
            name.setToolTip(f"{label}: {item.name}")
            picture.setToolTip(f"{label}: {item.name}")
            if slot == COARSE and hide_coarse:
                picture.setText("hidden\n(blind)")
                continue
            picture.setText("…")
            self._load(slot, item.path)
        self.use_button.setEnabled(bool(job.inputs))

    def names(self) -> dict[str, str]:
        """Slot -> the full original file name shown ("" when the slot was empty)."""
        if self._job is None:
            return {}
        return {slot: item.name for slot, item in self._job.inputs.items()}

    def has_thumbnail(self, slot: str) -> bool:
        """Whether the thumbnail of ``slot`` has arrived (for tests and the screenshot)."""
        pixmap = self._pictures[slot].pixmap()
        return pixmap is not None and not pixmap.isNull()

    # -- internals ----------------------------------------------------------------------

    def _load(self, slot: str, path: Path) -> None:
        generation = self._generation
        dpr = self.devicePixelRatioF()
        side = round(max(THUMB_BOX.width(), THUMB_BOX.height()) * dpr)

        def done(image: QImage) -> None:  # GUI thread
            if generation == self._generation:
                self._set_picture(slot, image, dpr)

        def failed(_exc: Exception) -> None:  # GUI thread
            if generation == self._generation:
                self._pictures[slot].setText("unreadable")

        def decode() -> QImage:  # pool thread: no widgets
            # A deleted copy is "missing", not a decoder warning.
            return load_image(path, side) if path.is_file() else QImage()

        run_task(decode, done, failed, owner=self)

    def _set_picture(self, slot: str, image: QImage, dpr: float) -> None:
        picture = self._pictures[slot]
        if image.isNull():
            picture.setText("missing")
            return
        box = QSize(round(THUMB_BOX.width() * dpr) - 2, round(THUMB_BOX.height() * dpr) - 2)
        pixmap = QPixmap.fromImage(
            image.scaled(
                box, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
            )
        )
        pixmap.setDevicePixelRatio(dpr)
        picture.setPixmap(pixmap)

    @Slot()
    def _on_use(self) -> None:
        if self._job is not None:
            self.useRequested.emit(self._job.id)


__all__ = ["LookInputs"]
