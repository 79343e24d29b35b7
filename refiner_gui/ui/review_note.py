"""The review bar's note field: a line edit that Esc and Enter leave. GUI thread only."""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QFocusEvent, QKeyEvent
from PySide6.QtWidgets import QLineEdit


class NoteEdit(QLineEdit):
    """The note field. Esc and Enter leave it (``leaveRequested``); losing focus is
    reported (``focusLeft``) so the bar can report the edit at once."""

    leaveRequested = Signal()
    focusLeft = Signal()

    def __init__(self, max_length: int) -> None:
        super().__init__()
        self.setMaxLength(max_length)
        self.setPlaceholderText("What did you see? (E to type, Enter or Esc to leave)")
        self.setAccessibleName("Review note")
        self.setToolTip(
            "A free note for this look (E). Keys type text here; Enter or Esc goes back."
        )
        self.setClearButtonEnabled(True)

    def event(self, event: QEvent) -> bool:
        """Qt: claims Esc as a shortcut override (see the comment)."""
        # Claim Esc before the window's shortcuts see it: the main window binds Esc to
        # "Cancel job", and leaving the note must never cancel a running job.
        if (
            event.type() == QEvent.Type.ShortcutOverride
            and isinstance(event, QKeyEvent)
            and event.key() == Qt.Key.Key_Escape
            and not event.modifiers()
        ):
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt override)
        """Qt: Esc, Enter and Return emit ``leaveRequested``; other keys edit."""
        if not event.modifiers() and event.key() in (
            Qt.Key.Key_Escape,
            Qt.Key.Key_Return,
            Qt.Key.Key_Enter,
        ):
            event.accept()
            self.leaveRequested.emit()
            return
        super().keyPressEvent(event)

    def focusOutEvent(self, event: QFocusEvent) -> None:  # noqa: N802 (Qt override)
        """Qt: emits ``focusLeft`` after the base class."""
        super().focusOutEvent(event)
        self.focusLeft.emit()
