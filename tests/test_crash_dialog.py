"""The exception hook: unhandled errors are logged, shown, copyable, and never leak the key."""

from __future__ import annotations

import logging
import sys
import threading

import pytest
from PySide6.QtCore import QObject, Qt, QTimer, QUrl, Signal, Slot
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QWidget
from shiboken6 import Shiboken

from refiner_gui.api.errors import register_secret
from refiner_gui.config import app_paths
from refiner_gui.ui import crash_dialog
from refiner_gui.ui.crash_dialog import (
    CrashDialog,
    CrashReport,
    install_exception_hook,
    uninstall_exception_hook,
)

SECRET = "sk-secret-xyz"


@pytest.fixture
def shown(monkeypatch):
    """Patch CrashDialog.exec to show without blocking; collects every dialog shown."""
    dialogs: list[CrashDialog] = []

    def fake_exec(self: CrashDialog) -> int:
        dialogs.append(self)
        self.show()
        return 0

    monkeypatch.setattr(CrashDialog, "exec", fake_exec)
    return dialogs


@pytest.fixture
def hook(qtbot, shown):
    """Install the hook for one test; restore whatever was there (pytest-qt's hook)."""
    before_sys, before_threading = sys.excepthook, threading.excepthook
    install_exception_hook(lambda: None)
    yield shown
    for dlg in shown:
        if Shiboken.isValid(dlg):  # an older dialog is deleted when the next one opens
            dlg.close()
    uninstall_exception_hook()
    assert sys.excepthook is before_sys
    assert threading.excepthook is before_threading


def raise_with_secret() -> None:
    raise RuntimeError(f"upload refused for key {SECRET}")


def excepthook_with(exc_factory) -> None:
    try:
        exc_factory()
    except Exception:
        sys.excepthook(*sys.exc_info())


def test_excepthook_shows_dialog_and_copies_redacted_report(qtbot, hook, caplog):
    register_secret(SECRET)
    excepthook_with(raise_with_secret)

    assert len(hook) == 1
    dlg = hook[0]
    assert dlg.isVisible()
    assert dlg.message_label.text() == "RuntimeError: upload refused for key ***"
    assert "raise_with_secret" in dlg.traceback_view.toPlainText()
    assert SECRET not in dlg.traceback_view.toPlainText()

    qtbot.mouseClick(dlg.copy_button, Qt.MouseButton.LeftButton)
    report = QGuiApplication.clipboard().text()
    assert "Traceback (most recent call last)" in report
    assert "raise_with_secret" in report
    assert "App version:" in report and "Python:" in report
    assert "Qt:" in report and "Platform:" in report
    assert SECRET not in report
    assert "Report copied" in dlg.status_label.text()

    assert "Unhandled exception" in caplog.text
    assert "raise_with_secret" in caplog.text
    assert SECRET not in caplog.text


class Emitter(QObject):
    fire = Signal()


class BrokenReceiver(QObject):
    @Slot()
    def on_fire(self) -> None:
        raise_with_secret()


def test_exception_in_qt_slot_is_shown(qtbot, hook):
    register_secret(SECRET)
    emitter, receiver = Emitter(), BrokenReceiver()
    emitter.fire.connect(receiver.on_fire)
    # Delivered from the event loop, as a real slot would be.
    QTimer.singleShot(0, emitter.fire.emit)
    qtbot.waitUntil(lambda: len(hook) == 1)
    assert "on_fire" in hook[0].report.traceback
    assert SECRET not in hook[0].report.report_text()


def test_worker_thread_exception_is_marshalled_to_gui_thread(qtbot, hook, monkeypatch):
    register_secret(SECRET)
    built_on: list[threading.Thread] = []
    real_init = CrashDialog.__init__

    def spy_init(self, report, parent=None):
        built_on.append(threading.current_thread())
        real_init(self, report, parent)

    monkeypatch.setattr(CrashDialog, "__init__", spy_init)
    worker = threading.Thread(target=raise_with_secret, name="refiner-test-worker")
    worker.start()
    worker.join()

    qtbot.waitUntil(lambda: len(hook) == 1)
    assert built_on == [threading.main_thread()]
    report = hook[0].report
    assert report.thread == "refiner-test-worker"
    assert report.exc_type == "RuntimeError"
    assert SECRET not in report.report_text()


def test_one_dialog_at_a_time(qtbot, monkeypatch):
    """A crash while the dialog is open is logged, not stacked into a second dialog."""
    dialogs: list[CrashDialog] = []

    def reentrant_exec(self: CrashDialog) -> int:
        dialogs.append(self)
        if len(dialogs) == 1:  # a second crash while the first dialog is "open"
            excepthook_with(lambda: 1 / 0)
        return 0

    monkeypatch.setattr(CrashDialog, "exec", reentrant_exec)
    install_exception_hook(lambda: None)
    try:
        excepthook_with(raise_with_secret)
    finally:
        uninstall_exception_hook()
    assert len(dialogs) == 1


def test_open_log_folder(qtbot, hook, monkeypatch):
    opened: list[QUrl] = []
    monkeypatch.setattr(
        QDesktopServices, "openUrl", staticmethod(lambda url: opened.append(url) or True)
    )
    excepthook_with(raise_with_secret)
    qtbot.mouseClick(hook[0].log_button, Qt.MouseButton.LeftButton)
    assert opened == [QUrl.fromLocalFile(str(app_paths().logs))]
    assert app_paths().logs.is_dir()


def test_parent_getter_is_used_and_may_fail(qtbot, hook):

    window = QWidget()
    qtbot.addWidget(window)
    install_exception_hook(lambda: window)  # second call only swaps the getter
    excepthook_with(raise_with_secret)
    assert hook[-1].parent() is window

    def broken():
        raise LookupError("no window")

    install_exception_hook(broken)
    excepthook_with(raise_with_secret)
    assert hook[-1].parent() is None


def test_keyboard_interrupt_goes_to_previous_hook(qtbot, shown, monkeypatch):
    seen: list[type[BaseException]] = []
    monkeypatch.setattr(sys, "excepthook", lambda t, v, tb: seen.append(t))
    install_exception_hook(lambda: None)
    try:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            sys.excepthook(*sys.exc_info())
    finally:
        uninstall_exception_hook()
    assert seen == [KeyboardInterrupt]
    assert shown == []


def test_without_hook_nothing_is_installed():
    assert crash_dialog.current_dialog() is None
    uninstall_exception_hook()  # harmless when not installed


def test_report_redacts_secret_registered_late():
    try:
        raise ValueError("late-secret-123 in text")
    except ValueError as exc:
        report = CrashReport.from_exception(type(exc), exc, exc.__traceback__)
    register_secret("late-secret-123")
    assert "late-secret-123" not in report.report_text()


def test_screenshot(qtbot, tmp_path, caplog):
    caplog.set_level(logging.CRITICAL)
    try:
        raise_with_secret()
    except RuntimeError as exc:
        report = CrashReport.from_exception(type(exc), exc, exc.__traceback__)
    dlg = CrashDialog(report)
    qtbot.addWidget(dlg)
    dlg.show()
    qtbot.waitExposed(dlg)
    target = tmp_path / "crash.png"
    assert dlg.grab().save(str(target))
