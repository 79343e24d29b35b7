"""The window's first frame: an outline of the layout, painted before the real UI exists.

Building the full window (its panels, their Qt classes and the core they import) takes
longer than starting Qt itself, so a window that waited for all of it would appear late.
Instead the main window shows this widget first, then builds its content right after the
first paint (see ``MainWindow(deferred=True)``). It draws where the four slots and the
viewer will be, so the window keeps its shape when the content arrives.

Import cost matters here more than anywhere: this module touches only the Qt classes a
bare window already loads, plus QPainter. In particular not ``Qt`` (the namespace's enums
take ~15 ms to create on first use). GUI thread only.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, Signal
from PySide6.QtGui import QColor, QFontMetrics, QPainter, QPaintEvent, QPalette, QPen
from PySide6.QtWidgets import QWidget

# Where the real layout puts things at the default size (MainWindow: splitter 470 | rest).
LEFT_WIDTH = 470
MARGIN = 8
DEMO_BANNER_COLOUR = "#f5c542"  # as MainWindow's demo banner
DEMO_BANNER_TEXT = "#222222"
STATUS_BAR_HEIGHT = 22  # the window adds its status bar with the content
SLOT_TITLES = (
    ("Person photo", "Top garment (or dress)"),
    ("Coarse try-on result", "Bottom garment (optional)"),
)


class Skeleton(QWidget):
    """An outline of the main window's layout with a "Starting…" line. GUI thread.

    Emits ``painted`` after its first paint, once: the window builds its content then.
    """

    painted = Signal()

    def __init__(self, demo: bool = False, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("skeleton")
        self.setAccessibleName("Starting")
        self._demo = demo
        self._emitted = False

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt API
        p = QPainter(self)
        pal = self.palette()
        text = pal.color(QPalette.ColorRole.WindowText)
        faint = pal.color(QPalette.ColorRole.PlaceholderText)
        p.setPen(QPen(pal.color(QPalette.ColorRole.Mid), 1))
        bold = self.font()
        bold.setBold(True)
        fm = QFontMetrics(bold)

        top = MARGIN
        if self._demo:  # the window's DEMO banner, in its colours
            p.setPen(QColor(DEMO_BANNER_COLOUR))
            p.setBrush(QColor(DEMO_BANNER_COLOUR))
            p.drawRoundedRect(QRectF(MARGIN, MARGIN, LEFT_WIDTH - 2 * MARGIN, 52), 4, 4)
            p.setFont(bold)
            p.setPen(QColor(DEMO_BANNER_TEXT))
            p.drawText(MARGIN + 10, MARGIN + 10 + fm.ascent(), "DEMO — local sandbox")
            p.setBrush(QColor(0, 0, 0, 0))
            top += 60
        box_w = (LEFT_WIDTH - 3 * MARGIN - 5) / 2
        box_h = 204.0
        for row, titles in enumerate(SLOT_TITLES):
            y = top + row * (box_h + 36)
            for col, title in enumerate(titles):
                x = MARGIN + col * (box_w + MARGIN + 5)
                p.setPen(QPen(pal.color(QPalette.ColorRole.Mid), 1))
                p.drawRoundedRect(QRectF(x + 0.5, y + 0.5, box_w, box_h), 4, 4)
                p.setFont(bold)
                p.setPen(text)
                p.drawText(int(x + 10), int(y + 10 + fm.ascent()), title)

        # The compare pane, with the window's state in its middle.
        pane = QRectF(
            LEFT_WIDTH + 4.5,
            30.5,
            self.width() - LEFT_WIDTH - 13,
            self.height() - 39 - STATUS_BAR_HEIGHT,
        )
        p.setPen(QPen(pal.color(QPalette.ColorRole.Mid), 1))
        p.fillRect(pane, pal.color(QPalette.ColorRole.Base))
        p.drawRect(pane)
        p.setFont(bold)
        p.setPen(faint)
        line = "Starting…"
        p.drawText(
            int(pane.center().x() - fm.horizontalAdvance(line) / 2), int(pane.center().y()), line
        )
        p.end()
        if not self._emitted:
            self._emitted = True
            self.painted.emit()
