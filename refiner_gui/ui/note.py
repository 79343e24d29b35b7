"""An inline message widget: a standard icon plus word-wrapped text. GUI thread only."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QStyle, QWidget


class Note(QWidget):
    """An inline message: a standard icon plus word-wrapped text in the palette's colours.

    The icon carries the kind (info, warning, error, ok), so meaning never rests on a
    colour alone and light and dark themes both read.
    """

    _ICONS = {
        "info": QStyle.StandardPixmap.SP_MessageBoxInformation,
        "warning": QStyle.StandardPixmap.SP_MessageBoxWarning,
        "error": QStyle.StandardPixmap.SP_MessageBoxCritical,
        "ok": QStyle.StandardPixmap.SP_DialogApplyButton,
    }

    changed = Signal()  # shown, hidden or new text: the window may need another height

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind = ""
        self._icon = QLabel(self)
        self._icon.setAlignment(Qt.AlignmentFlag.AlignTop)
        self._text = QLabel(self)
        self._text.setWordWrap(True)
        self._text.setTextFormat(Qt.TextFormat.PlainText)
        self._text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._text.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self._icon)
        row.addWidget(self._text, 1)
        self.setAccessibleName(name)
        self._text.setAccessibleName(name)
        self.hide()

    def text(self) -> str:
        """The message shown ("" when cleared)."""
        return self._text.text()

    def show_message(self, kind: str, text: str) -> None:
        """Show ``text`` with the icon for ``kind`` (``info``/``warning``/``error``/``ok``)."""
        self.kind = kind
        size = self.style().pixelMetric(QStyle.PixelMetric.PM_SmallIconSize)
        icon: QIcon = self.style().standardIcon(self._ICONS[kind])
        self._icon.setPixmap(icon.pixmap(size, size))
        self._text.setText(text)
        self.setAccessibleDescription(text)
        self.setToolTip(text if len(text) > 120 else "")
        self.show()
        self.changed.emit()

    def clear(self) -> None:
        """Hide the note and forget its text and kind."""
        self.kind = ""
        self._text.setText("")
        self.setAccessibleDescription("")
        self.hide()
        self.changed.emit()
