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

from PySide6.QtCore import QByteArray, QObject, QProcess, QProcessEnvironment, Signal, Slot

import refiner_gui
from refiner_gui.batch.child import CHILD_FLAG, ChildStart, FrameReader, encode_frame

__all__ = ["BatchProcess", "child_command", "live_batch_processes"]

log = logging.getLogger(__name__)
child_log = logging.getLogger("refiner_gui.batch.child")

_LIVE: set[BatchProcess] = set()


def live_batch_processes() -> list[BatchProcess]:
    """Batch processes started and not yet ended (for shutdown checks and tests)."""
    return list(_LIVE)


def child_command() -> list[str]:
    """How to start the child: this program again when frozen, else this Python."""
    if getattr(sys, "frozen", False):
        return [sys.executable, CHILD_FLAG]
    return [sys.executable, "-m", "refiner_gui.batch.child"]


class BatchProcess(QObject):
    """One run of a batch in a child process.

    Signals: ``frame(object)`` for each frame the child sends (see
    :mod:`refiner_gui.batch.child`), then ``ended(bool)`` once it exited (True when it
    exited normally, with code 0).
    """

    frame = Signal(object)
    ended = Signal(bool)

    def __init__(self, start: ChildStart, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._reader = FrameReader()
        self._done = False
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
        _LIVE.add(self)
        proc.start()
        self.send(start)

    @property
    def pid(self) -> int:
        """The child's process id (0 before it started or after it ended)."""
        return int(self._proc.processId())

    def is_live(self) -> bool:
        """Whether the child has not ended yet."""
        return not self._done

    def send(self, obj: object) -> None:
        """Send a frame (the start, or a command) to the child; dropped once it ended."""
        if not self._done:
            self._proc.write(QByteArray(encode_frame(obj)))

    def stop(self, timeout_ms: int) -> bool:
        """Tell the child to stop (resumable) and wait up to ``timeout_ms`` for it to exit,
        delivering its last frames meanwhile; True when it ended. Never kills it: a child
        still winding down finishes on its own (its input closes when the window exits)."""
        if self._done:
            return True
        self.send(("stop",))
        self._proc.waitForFinished(max(1, timeout_ms))
        return self._done

    # -- from QProcess (GUI thread) -------------------------------------------------------

    @Slot()
    def _read(self) -> None:
        data = bytes(self._proc.readAllStandardOutput().data())
        try:
            frames = self._reader.feed(data)
        except Exception:
            log.exception("unreadable frame from the batch process")
            return
        for frame in frames:
            self.frame.emit(frame)

    @Slot()
    def _read_errors(self) -> None:
        text = bytes(self._proc.readAllStandardError().data()).decode("utf-8", "replace")
        for line in text.splitlines():
            if line.strip():
                child_log.warning("batch process: %s", line)

    @Slot(QProcess.ProcessError)
    def _failed(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self.error = f"The batch process could not start: {self._proc.errorString()}"
            log.error("%s", self.error)
            self._end(False)

    @Slot(int, QProcess.ExitStatus)
    def _finished(self, code: int, status: QProcess.ExitStatus) -> None:
        self._read()
        self._read_errors()
        normal = status == QProcess.ExitStatus.NormalExit and code == 0
        if not normal and not self.error:
            how = "crashed" if status == QProcess.ExitStatus.CrashExit else f"exited ({code})"
            self.error = f"The batch process {how}."
            log.error("%s", self.error)
        self._end(normal)

    def _end(self, normal: bool) -> None:
        if self._done:
            return
        self._done = True
        _LIVE.discard(self)
        self.ended.emit(normal)
