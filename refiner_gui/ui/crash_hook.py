"""The last line of defence: unhandled exceptions are logged and shown, never lost.

:func:`install_exception_hook` replaces ``sys.excepthook`` and ``threading.excepthook``.
Either hook may run on any thread (a slot on the GUI thread, a pool task, a plain
``threading.Thread``). It formats and redacts the traceback where it runs, logs it, and
hands a :class:`CrashReport` (plain data) to a QObject living on the GUI thread through a
signal, so the :class:`~refiner_gui.ui.crash_dialog.CrashDialog` is only ever built on the
GUI thread. The dialog's module is imported at the first crash, not at start-up: the hook
is installed before the window's first paint and must cost next to nothing.

Nothing here may ever show the API key: every text passes through
:func:`refiner_gui.api.errors.redact` before it is logged, shown or copied.
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, NamedTuple

import PySide6
from PySide6.QtCore import QCoreApplication, QObject, Signal, Slot, qVersion

from refiner_gui.redaction import redact

if TYPE_CHECKING:
    from PySide6.QtWidgets import QWidget

    from refiner_gui.ui.crash_dialog import CrashDialog

log = logging.getLogger(__name__)

ParentGetter = Callable[[], "QWidget | None"]


class CrashReport(NamedTuple):
    """One unhandled exception, already redacted. Plain, immutable data: safe to pass
    between threads. (A NamedTuple, not a dataclass: importing ``dataclasses`` would cost
    the start-up ~2 ms before the first paint.)"""

    exc_type: str
    message: str
    traceback: str
    thread: str
    when: str

    @classmethod
    def from_exception(
        cls,
        exc_type: type[BaseException],
        exc: BaseException | None,
        tb: TracebackType | None,
        thread: str | None = None,
    ) -> CrashReport:
        """Format and redact ``exc``. Any thread."""
        # Imported at the first crash: the hook is installed before the first paint.
        from datetime import datetime, timezone

        text = "".join(traceback.format_exception(exc_type, exc, tb))
        return cls(
            exc_type=exc_type.__name__,
            message=redact(str(exc) if exc is not None else ""),
            traceback=redact(text),
            thread=thread or threading.current_thread().name,
            when=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        )

    def summary(self) -> str:
        """The type and message ("ValueError: bad"), or the type alone without one."""
        return f"{self.exc_type}: {self.message}" if self.message else self.exc_type

    def report_text(self) -> str:
        """What "Copy report" puts on the clipboard: versions, platform, traceback."""
        # Imported when a report is copied, not while the hook is installed at start-up.
        import platform

        from refiner_gui import __version__

        lines = [
            "refiner-gui crash report",
            f"App version: {__version__}",
            f"Python: {sys.version.splitlines()[0]} ({platform.python_implementation()})",
            f"Qt: {qVersion()} (PySide6 {PySide6.__version__})",
            f"Platform: {platform.platform()}",
            f"Thread: {self.thread}",
            f"Time (UTC): {self.when}",
            f"Error: {self.summary()}",
            "",
            self.traceback.rstrip(),
        ]
        # Redacted again as a whole: the version and platform lines are not secret, but a
        # secret registered after the crash was formatted must not leak either.
        return redact("\n".join(lines)) + "\n"


class _CrashRelay(QObject):
    """Lives on the GUI thread; turns a report from any thread into a dialog there.

    ``crashed`` is emitted by the hooks on whatever thread crashed. With the default
    connection Qt calls :meth:`show_report` directly on the GUI thread and queues it from
    any other thread, which is exactly the marshalling needed.
    """

    crashed = Signal(object)  # CrashReport

    def __init__(self, parent_getter: ParentGetter) -> None:
        super().__init__()
        self.parent_getter = parent_getter
        self.dialog: CrashDialog | None = None  # built on first crash (its import is heavy)
        self._showing = False
        self.crashed.connect(self.show_report)

    @Slot(object)
    def show_report(self, report: CrashReport) -> None:
        """GUI thread. One dialog at a time: a crash while one is open is only logged."""
        if self._showing:
            return
        self._showing = True
        try:
            try:
                parent = self.parent_getter()
            except Exception:  # a broken getter must not hide the crash being reported
                parent = None
            # Not at the top: crash_dialog imports this module, and it is heavy.
            from refiner_gui.ui.crash_dialog import CrashDialog

            if self.dialog is not None:
                self.dialog.deleteLater()
            self.dialog = CrashDialog(report, parent)
            self.dialog.exec()
        finally:
            self._showing = False

    def close(self) -> None:
        if self.dialog is not None:
            self.dialog.deleteLater()
            self.dialog = None


_relay: _CrashRelay | None = None
_previous_excepthook: Callable[..., Any] | None = None
_previous_threading_hook: Callable[[threading.ExceptHookArgs], Any] | None = None


def _handle(
    exc_type: type[BaseException],
    exc: BaseException | None,
    tb: TracebackType | None,
    thread: str | None,
) -> bool:
    """Log and relay one exception. Any thread. False when no GUI can show it."""
    report = CrashReport.from_exception(exc_type, exc, tb, thread)
    # The traceback is formatted and redacted here rather than passed as exc_info: the log
    # filter redacts the message only, and an exception's text may quote the key.
    log.error("Unhandled exception in thread %s:\n%s", report.thread, report.traceback.rstrip())
    relay = _relay
    if relay is None or QCoreApplication.instance() is None:
        return False
    relay.crashed.emit(report)
    return True


def _sys_hook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    if issubclass(exc_type, KeyboardInterrupt) and _previous_excepthook is not None:
        _previous_excepthook(exc_type, exc, tb)  # Ctrl+C in a terminal keeps its meaning
        return
    if not _handle(exc_type, exc, tb, None) and _previous_excepthook is not None:
        _previous_excepthook(exc_type, exc, tb)


def _threading_hook(args: threading.ExceptHookArgs) -> None:
    if issubclass(args.exc_type, SystemExit):
        return  # what the default hook does: a thread that exits is not a crash
    name = args.thread.name if args.thread is not None else None
    if (
        not _handle(args.exc_type, args.exc_value, args.exc_traceback, name)
        and _previous_threading_hook is not None
    ):
        _previous_threading_hook(args)


def install_exception_hook(parent_getter: ParentGetter) -> None:
    """Route unhandled exceptions (all threads) to the log and a :class:`CrashDialog`.

    Call on the GUI thread after the QApplication exists. ``parent_getter`` returns the
    window to parent the dialog to (or None); it is called on the GUI thread at crash
    time. Calling again only replaces ``parent_getter``.
    """
    global _relay, _previous_excepthook, _previous_threading_hook
    if _relay is not None:
        _relay.parent_getter = parent_getter
        return
    _relay = _CrashRelay(parent_getter)
    _previous_excepthook = sys.excepthook
    _previous_threading_hook = threading.excepthook
    sys.excepthook = _sys_hook
    threading.excepthook = _threading_hook


def uninstall_exception_hook() -> None:
    """Restore the hooks that were in place before :func:`install_exception_hook`."""
    global _relay, _previous_excepthook, _previous_threading_hook
    if _relay is None:
        return
    if _previous_excepthook is not None:
        sys.excepthook = _previous_excepthook
    if _previous_threading_hook is not None:
        threading.excepthook = _previous_threading_hook
    _relay.close()
    _relay.deleteLater()
    _relay = None
    _previous_excepthook = None
    _previous_threading_hook = None


def current_dialog() -> CrashDialog | None:
    """The most recent crash dialog while the hook is installed (for the app and tests)."""
    return _relay.dialog if _relay is not None else None
