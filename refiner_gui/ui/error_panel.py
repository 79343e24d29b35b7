"""A failure, shown in plain words with everything support asks for and a copy button.

View only: it emits ``resumeRequested(task_id)`` and ``dismissed()``; the window decides.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QStyle,
    QVBoxLayout,
)

from refiner_gui.api import (
    Cancelled,
    NetworkError,
    RateLimited,
    RefinerError,
    ServiceUnavailable,
    SubmissionOutcomeUnknown,
    TimedOut,
)


class ErrorPanel(QFrame):
    """Shows one :class:`RefinerError`. GUI thread only."""

    resumeRequested = Signal(str)
    dismissed = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("errorPanel")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAccessibleName("Error details")
        # A red-tinted frame that still follows light and dark palettes.
        self.setStyleSheet("#errorPanel { border: 2px solid #c0392b; border-radius: 6px; }")
        self._error: RefinerError | None = None

        icon = QLabel()
        icon.setPixmap(
            self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxCritical).pixmap(32, 32)
        )
        icon.setAlignment(Qt.AlignmentFlag.AlignTop)
        # Service text is shown as it is, never as HTML (images, links, headings).
        self.title = QLabel()
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        self.title.setStyleSheet("font-weight: bold; font-size: 13pt;")
        self.message = QLabel()
        self.message.setTextFormat(Qt.TextFormat.PlainText)
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details = QLabel()
        self.details.setTextFormat(Qt.TextFormat.PlainText)
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details.setAccessibleName("Support details")
        self.details.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)

        self.copy_button = QPushButton("Copy details")
        self.copy_button.setToolTip("Copy the code, request_id and log_id for AILabTools support")
        self.copy_button.setAccessibleName("Copy error details")
        self.copy_button.clicked.connect(self.copy_details)
        self.resume_button = QPushButton("Resume task")
        self.resume_button.setToolTip(
            "Keep waiting for this task: it may still finish "
            "(results are kept 24 hours). Nothing is submitted again."
        )
        self.resume_button.setAccessibleName("Resume task")
        self.resume_button.clicked.connect(self._resume)
        self.dismiss_button = QPushButton("Dismiss")
        self.dismiss_button.setAccessibleName("Dismiss error")
        self.dismiss_button.clicked.connect(self._dismiss)

        text = QVBoxLayout()
        text.addWidget(self.title)
        text.addWidget(self.message)
        text.addWidget(self.details)
        buttons = QHBoxLayout()
        buttons.addWidget(self.copy_button)
        buttons.addWidget(self.resume_button)
        buttons.addStretch(1)
        buttons.addWidget(self.dismiss_button)
        text.addLayout(buttons)
        row = QHBoxLayout(self)
        row.addWidget(icon)
        row.addLayout(text, 1)
        self.hide()

    def error(self) -> RefinerError | None:
        return self._error

    def show_error(self, err: RefinerError, *, resumable: bool | None = None) -> None:
        """Show ``err``. ``resumable`` (when the caller knows, e.g. from the job store)
        decides whether "Resume task" is offered; by default the error's type does."""
        self._error = err
        self.title.setText(err.title)
        self.message.setText(err.user_message)
        parts = []
        for label, value in (
            ("Code", err.code),
            ("HTTP", err.http_status),
            ("Task id", err.task_id),
            ("request_id", err.request_id),
            ("log_id", err.log_id),
        ):
            if value not in (None, ""):
                parts.append(f"{label}: {value}")
        if err.vendor_message and err.vendor_message not in err.user_message:
            parts.append(f"Service said: {err.vendor_message}")
        self.details.setText("   ·   ".join(parts))
        self.details.setVisible(bool(parts))
        # Resume only when waiting again is safe and useful: never after an unknown submit
        # (there is no task id to follow) and never for a task the service says failed.
        can_resume = (
            bool(err.task_id)
            and isinstance(
                err, (TimedOut, NetworkError, ServiceUnavailable, Cancelled, RateLimited)
            )
            and not isinstance(err, SubmissionOutcomeUnknown)
        )
        if resumable is not None:
            can_resume = resumable and bool(err.task_id)
        self.resume_button.setVisible(can_resume)
        self.copy_button.setVisible(not isinstance(err, Cancelled))
        self.show()

    @Slot()
    def copy_details(self) -> None:
        if self._error is not None:
            QGuiApplication.clipboard().setText(self._error.support_text())

    @Slot()
    def _resume(self) -> None:
        if self._error is not None and self._error.task_id:
            self.resumeRequested.emit(self._error.task_id)

    @Slot()
    def _dismiss(self) -> None:
        self._error = None
        self.hide()
        self.dismissed.emit()
