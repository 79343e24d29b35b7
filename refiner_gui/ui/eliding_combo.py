"""A combo box whose shown choice is cut short with "…" when narrow, instead of clipped.

A plain QComboBox either asks for the width of its longest entry (and so widens a narrow
column, or the window) or, given less, cuts its text off mid-letter. This one asks for
its longest entry when there is room, needs only a few characters' width, and draws the
current choice elided to the room it has; the drop-down list shows every entry whole.
GUI thread only.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPaintEvent
from PySide6.QtWidgets import QComboBox, QStyle, QStyleOptionComboBox, QStylePainter, QWidget

MIN_CHARACTERS = 10


class ElidingComboBox(QComboBox):
    """A QComboBox that elides its current text to fit (see the module doc)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt API
        """A few characters wide; the rest of the text is elided."""
        hint = super().minimumSizeHint()
        narrow = self.fontMetrics().averageCharWidth() * MIN_CHARACTERS + 40  # + the arrow
        return QSize(min(hint.width(), narrow), hint.height())

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt API
        """Draw the frame and arrow as the style does, and the text elided to the field."""
        painter = QStylePainter(self)
        option = QStyleOptionComboBox()
        self.initStyleOption(option)
        painter.drawComplexControl(QStyle.ComplexControl.CC_ComboBox, option)
        field = self.style().subControlRect(
            QStyle.ComplexControl.CC_ComboBox,
            option,
            QStyle.SubControl.SC_ComboBoxEditField,
            self,
        )
        option.currentText = self.fontMetrics().elidedText(  # type: ignore[attr-defined]
            option.currentText,  # type: ignore[attr-defined]
            Qt.TextElideMode.ElideRight,
            field.width(),
        )
        painter.drawControl(QStyle.ControlElement.CE_ComboBoxLabel, option)
