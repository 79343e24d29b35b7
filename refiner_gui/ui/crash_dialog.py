"""The crash dialog: what happened, the redacted traceback, copy-report and open-log.

The hooks that catch unhandled exceptions on any thread and bring them here live in
:mod:`refiner_gui.ui.crash_hook` (re-exported below); this module holds the dialog, which
is imported at the first crash only. GUI thread only.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt, QUrl, Slot
from PySide6.QtGui import QDesktopServices, QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from refiner_gui.config import app_paths
from refiner_gui.ui.crash_hook import (
    CrashReport,
    current_dialog,
    install_exception_hook,
    uninstall_exception_hook,
)

__all__ = [
    "CrashDialog",
    "CrashReport",
    "current_dialog",
    "install_exception_hook",
    "uninstall_exception_hook",
]

log = logging.getLogger(__name__)


class CrashDialog(QDialog):
    """Shows one crash: what happened, the traceback, copy-report and open-log buttons.

    GUI thread only. Modal via ``exec()`` in the app; tests patch ``exec`` to not block.
    """

    def __init__(self, report: CrashReport, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.report = report
        self.setWindowTitle("Unexpected error")
        self.setAccessibleName("Unexpected error")

        icon = QLabel(self)
        size = self.style().pixelMetric(QStyle.PixelMetric.PM_MessageBoxIconSize)
        icon.setPixmap(
            self.style()
            .standardIcon(QStyle.StandardPixmap.SP_MessageBoxCritical)
            .pixmap(size, size)
        )
        icon.setAccessibleName("Error icon")
        intro = QLabel(
            "refiner-gui hit an unexpected error. It has been written to the log. If it "
            "keeps happening, copy the report and send it to the developers (it never "
            "contains your API key).",
            self,
        )
        intro.setWordWrap(True)
        intro.setAccessibleName("Explanation")
        self.message_label = QLabel(report.summary(), self)
        self.message_label.setWordWrap(True)
        self.message_label.setTextFormat(Qt.TextFormat.PlainText)
        self.message_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        font = self.message_label.font()
        font.setBold(True)
        self.message_label.setFont(font)
        self.message_label.setAccessibleName("Error message")
        self.message_label.setToolTip("The error's message")

        self.traceback_view = QPlainTextEdit(report.traceback, self)
        self.traceback_view.setReadOnly(True)
        self.traceback_view.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.traceback_view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.traceback_view.setAccessibleName("Traceback")
        self.traceback_view.setToolTip("Where the error happened, for the developers")

        self.copy_button = QPushButton("&Copy report", self)
        self.copy_button.setAccessibleName("Copy report")
        self.copy_button.setToolTip("Copy versions, platform and traceback to the clipboard")
        self.copy_button.clicked.connect(self.copy_report)
        self.log_button = QPushButton("Open &log folder", self)
        self.log_button.setAccessibleName("Open log folder")
        self.log_button.setToolTip("Show the folder with the app's log files")
        self.log_button.clicked.connect(self.open_log_folder)
        self.status_label = QLabel("", self)
        self.status_label.setAccessibleName("Report status")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        close = buttons.button(QDialogButtonBox.StandardButton.Close)
        close.setAccessibleName("Close")
        close.setToolTip("Close this message; the app keeps running")
        buttons.rejected.connect(self.reject)

        head = QHBoxLayout()
        head.addWidget(icon, 0)
        text = QVBoxLayout()
        text.addWidget(intro)
        text.addWidget(self.message_label)
        head.addLayout(text, 1)
        actions = QHBoxLayout()
        actions.addWidget(self.copy_button)
        actions.addWidget(self.log_button)
        actions.addWidget(self.status_label, 1)
        actions.addWidget(buttons)
        layout = QVBoxLayout(self)
        layout.addLayout(head)
        layout.addWidget(self.traceback_view, 1)
        layout.addLayout(actions)
        self.resize(680, 420)

    @Slot()
    def copy_report(self) -> None:
        QGuiApplication.clipboard().setText(self.report.report_text())
        self.status_label.setText("Report copied.")

    @Slot()
    def open_log_folder(self) -> None:
        folder = app_paths().logs
        folder.mkdir(parents=True, exist_ok=True)
        # Looked up on the class at call time so tests can replace it.
        if not QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder))):
            self.status_label.setText(f"Could not open {folder}.")
