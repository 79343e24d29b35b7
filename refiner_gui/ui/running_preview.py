"""What the compare page shows while a job runs: its coarse try-on, never a blank page or
the previous job's result.

A view: the window content says which coarse image (a file) and when the job ended. The
file is decoded on the thread pool; the pixmap is made and scaled here. GUI thread only.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QImage, QPixmap, QResizeEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from refiner_gui.threads import run_task
from refiner_gui.workers import load_image

PREVIEW_MAX_SIDE = 2048  # decoded at most this big: the page is never larger
CAPTION = "The coarse try-on. The refined image appears here when the job is done."
GENERATING_CAPTION = (
    "Generating the coarse try-on: it appears here once made, then the refined image "
    "when the job is done."
)
GENERATING_ONLY_CAPTION = "Generating the coarse try-on: it appears here when it is made."
GENERATED_CAPTION = (
    "The generated coarse try-on, now being refined. The refined image appears here when "
    "the job is done."
)


class RunningPreview(QWidget):
    """The running job's coarse image, fitted, under a caption saying the result is on
    its way."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("runningPreview")
        self.setAccessibleName("Coarse image of the running job")
        self.caption = QLabel(CAPTION)
        self.caption.setTextFormat(Qt.TextFormat.PlainText)
        self.caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.caption.setWordWrap(True)
        self.picture = QLabel()
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.picture.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.picture.setMinimumSize(QSize(64, 64))
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.caption)
        box.addWidget(self.picture, 1)
        self._image = QImage()
        self._path: Path | None = None
        self._covered: list[QWidget] = []  # what the preview stands in for, to show again
        self.hide()

    def has_image(self) -> bool:
        """Whether the coarse image is decoded and shown."""
        return not self._image.isNull()

    def show_coarse(self, path: Path | None, cover: Iterable[QWidget] = ()) -> None:
        """Show the coarse image at ``path`` (once decoded) in place of the widgets of
        ``cover`` that are shown now (hidden until :meth:`stop` with ``uncover``)."""
        self._path = path
        self._image = QImage()
        self.picture.clear()
        self.caption.setText(CAPTION)
        self._covered = [widget for widget in cover if not widget.isHidden()]
        for widget in self._covered:
            widget.hide()
        self.show()
        if path is not None:
            self._load(path)

    def _load(self, path: Path) -> None:
        run_task(
            lambda: load_image(path, PREVIEW_MAX_SIDE),
            lambda image: self._on_loaded(path, image),
            lambda _exc: None,  # the caption still says what runs; nothing to show
            owner=self,
        )

    def set_caption(self, text: str) -> None:
        """Say what is shown (or coming) above the picture."""
        self.caption.setText(text)

    def set_coarse(self, path: Path, caption: str) -> None:
        """While shown: put the coarse image at ``path`` (once decoded) in the picture, a
        two-stage job's generated one, say; what :meth:`show_coarse` covered stays so."""
        if self.isHidden():
            return
        self.caption.setText(caption)
        self._path = path
        self._load(path)

    def stop(self, *, uncover: bool = False) -> None:
        """The job ended: forget the image and hide; with ``uncover``, show again what
        :meth:`show_coarse` covered (no new result came to take its place)."""
        self._path = None
        self._image = QImage()
        self.picture.clear()
        self.hide()
        covered, self._covered = self._covered, []
        for widget in covered if uncover else ():
            widget.show()

    def _on_loaded(self, path: Path, image: QImage) -> None:
        if path != self._path or image.isNull():  # a newer job, or an unreadable file
            return
        self._image = image
        self._fit()

    def _fit(self) -> None:
        if self._image.isNull():
            return
        size = self.picture.size()
        if size.width() < 2 or size.height() < 2:
            size = QSize(640, 640)
        scaled = self._image.scaled(
            size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
        )
        self.picture.setPixmap(QPixmap.fromImage(scaled))

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt override)
        """Refit the picture to the new size."""
        super().resizeEvent(event)
        self._fit()
