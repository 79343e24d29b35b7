"""The window's side of a batch run in its own process (:mod:`refiner_gui.batch.child`).

:class:`BatchProcess` starts the child with :class:`QProcess`, sends it the batch and the
user's commands, and turns its frames into a signal. Everything happens on the GUI thread
in the event loop: no thread of the window's process waits on the child, so none takes
the GIL from the GUI thread while a batch runs (that was the point of the process).

GUI thread only.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from PySide6.QtCore import (
    QByteArray,
    QObject,
    QProcess,
    QProcessEnvironment,
    QTimer,
    Signal,
    Slot,
)

import refiner_gui
from refiner_gui.batch.child import CHILD_FLAG, ChildStart, FrameError, FrameReader, encode_frame

__all__ = ["BatchProcess", "child_command", "live_batch_processes"]

log = logging.getLogger(__name__)
child_log = logging.getLogger("refiner_gui.batch.child")

_LIVE: set[BatchProcess] = set()


def live_batch_processes() -> list[BatchProcess]:
    """Batch processes started and not yet ended (for shutdown checks and tests)."""
    return list(_LIVE)


def child_command() -> list[str]:
    """How to start the child: this program again when frozen, else this Python (with
    ``-P``: the window's working folder must not shadow the package)."""
    if getattr(sys, "frozen", False):
        return [sys.executable, CHILD_FLAG]
    return [sys.executable, "-P", "-m", "refiner_gui.batch.child"]


class BatchProcess(QObject):
    """One run of a batch in a child process; :meth:`start` starts it.

    Signals: ``frame(object)`` for each frame the child sends (see
    :mod:`refiner_gui.batch.child`), in order, then ``ended(bool)`` once it exited and its
    last frame was delivered (True when it exited normally, with code 0). Both are
    emitted from the event loop, never from inside :meth:`start`.
    """

    frame = Signal(object)
    ended = Signal(bool)

    def __init__(self, start: ChildStart, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._start = start
        self._reader = FrameReader()
        self._exited = False  # the child is gone (it may still have frames to deliver)
        self._done = False  # ended was emitted
        self._reading = False  # _read is delivering frames (a slot may re-enter it)
        self._end_pending: bool | None = None  # how it exited, while frames were delivered
        self.error = ""  # why the child could not start or ended badly, for the user
        proc = self._proc = QProcess(self)
        program, *args = child_command()
        proc.setProgram(program)
        proc.setArguments(args)
        env = QProcessEnvironment.systemEnvironment()
        if not getattr(sys, "frozen", False):
            # The child imports this very copy of the package, wherever it was loaded from.
            root = str(Path(refiner_gui.__file__).resolve().parent.parent)
            old = env.value("PYTHONPATH")
            env.insert("PYTHONPATH", root + (os.pathsep + old if old else ""))
        proc.setProcessEnvironment(env)
        proc.readyReadStandardOutput.connect(self._read)
        proc.readyReadStandardError.connect(self._read_errors)
        proc.finished.connect(self._finished)
        proc.errorOccurred.connect(self._failed)

    def start(self) -> None:
        """Start the child and send it the batch. Connect the signals first: a child that
        cannot start ends at once (``ended(False)``, with :attr:`error` saying why)."""
        _LIVE.add(self)
        self._proc.start()
        self.send(self._start)

    @property
    def pid(self) -> int:
        """The child's process id (0 before it started or after it ended)."""
        return int(self._proc.processId())

    def send(self, obj: object) -> None:
        """Send a frame (the start, or a command) to the child; dropped once it exited."""
        if not self._exited and self._proc.state() != QProcess.ProcessState.NotRunning:
            self._proc.write(QByteArray(encode_frame(obj)))

    def stop(self, timeout_ms: int) -> bool:
        """Tell the child to stop (resumable) and wait up to ``timeout_ms`` for it to exit;
        True when it exited. Its input is closed too, so it stops even if the command is
        lost. A child still running when this object is destroyed afterwards (the window
        gone) is killed by Qt, as a thread would end with the process; a look it was
        uploading then stays "outcome unknown", never sent again."""
        if self._exited:
            return True
        self.send(("stop",))
        self._proc.closeWriteChannel()
        self._proc.waitForFinished(max(1, timeout_ms))
        return self._exited

    # -- from QProcess (GUI thread) -------------------------------------------------------

    @Slot()
    def _read(self) -> None:
        # A slot of `frame` may run a nested event loop (a dialog, stop()'s wait) in which
        # more output arrives: the outer call delivers it, so the frames keep their order.
        if self._reading:
            return
        self._reading = True
        try:
            while self._proc.bytesAvailable() > 0:
                data = bytes(self._proc.readAllStandardOutput().data())
                try:
                    frames = self._reader.feed(data)
                except FrameError as exc:
                    self._protocol_error(str(exc))
                    return
                for frame in frames:
                    self.frame.emit(frame)
        finally:
            self._reading = False
        if self._end_pending is not None:
            self._end(self._end_pending)

    def _protocol_error(self, what: str) -> None:
        self.error = "The batch process sent something unreadable and was stopped."
        log.error("%s (%s)", self.error, what)
        self._proc.kill()  # finished() follows and ends this run

    @Slot()
    def _read_errors(self) -> None:
        text = bytes(self._proc.readAllStandardError().data()).decode("utf-8", "replace")
        for line in text.splitlines():
            if line.strip():
                child_log.warning("batch process %d: %s", self.pid, line)  # the log redacts

    @Slot(QProcess.ProcessError)
    def _failed(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self.error = f"The batch process could not start ({self._proc.errorString()})."
            log.error("%s", self.error)
            self._exited = True
            # Qt may report this from inside start(): ended comes from the event loop.
            QTimer.singleShot(0, self, lambda: self._end(False))

    @Slot(int, QProcess.ExitStatus)
    def _finished(self, code: int, status: QProcess.ExitStatus) -> None:
        self._exited = True
        self._read_errors()
        normal = status == QProcess.ExitStatus.NormalExit and code == 0
        if not normal and not self.error:
            how = "crashed" if status == QProcess.ExitStatus.CrashExit else f"exited ({code})"
            self.error = f"The batch process {how}."
            log.error("%s", self.error)
        self._end_pending = normal
        self._read()  # its last frames first, then ended (at once, or after the outer read)

    def _end(self, normal: bool) -> None:
        if self._done:
            return
        if self._reading:  # delivered by the outer _read once its frames are out
            self._end_pending = normal
            return
        self._done = True
        _LIVE.discard(self)
        self.ended.emit(normal)
