"""Compute the difference map of two QImages off the GUI thread.

This is the only module of the viewer that crosses threads. The wiring follows the project
habit (a QObject worker moved to a QThread with one linear ``run`` slot):

    thread.started  -> worker.run
    worker.finished -> thread.quit, worker.deleteLater
    thread.finished -> thread.deleteLater, and the job leaves the registry

Jobs are kept in a module-level registry, not on the widget, so a viewer that is destroyed
while a job runs never drops the last Python reference to a running QThread (which would
abort the process). :func:`stop_all_jobs` cancels and joins whatever is left; it is hooked to
``QCoreApplication.aboutToQuit``.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable

import shiboken6
from PIL import Image
from PySide6.QtCore import QCoreApplication, QObject, QSize, QThread, Signal, Slot
from PySide6.QtGui import QImage

from refiner_gui.ui.viewer.difference import DifferenceCancelled, max_channel_difference

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class DifferenceResult:
    """What a finished job hands to the GUI thread.

    Attributes:
        token: the number the job was started with, so a stale result can be told apart.
        image: ``Format_Indexed8`` QImage of the left image's size; the pixel value is the
            difference 0..255 and the colour table is set by whoever draws it.
        histogram: 256 counts of the difference values.
        right_size: the size of the right image before it was scaled to the left one.
    """

    token: int
    image: QImage
    histogram: tuple[int, ...]
    right_size: QSize


def qimage_to_pil(image: QImage) -> tuple[Image.Image, QImage]:
    """Wrap a QImage's pixels as a Pillow ``"RGBX"`` image without copying them.

    Returns the Pillow image and the QImage whose buffer it reads; keep the latter alive as
    long as the former. The image is converted to ``Format_RGB32`` first (a no-op for most
    decoded images). Its byte order is B, G, R, 0xFF on little-endian machines, so the
    Pillow bands are mislabelled — harmless for a max-over-channels difference, which is the
    only use, and the constant X band contributes zero.
    """
    rgb32 = image.convertToFormat(QImage.Format.Format_RGB32)
    pil = Image.frombuffer(
        "RGBX",
        (rgb32.width(), rgb32.height()),
        rgb32.constBits(),  # type: ignore[arg-type]  # a buffer; Pillow's stub is narrower
        "raw",
        "RGBX",
        rgb32.bytesPerLine(),
        1,
    )
    return pil, rgb32


class DifferenceWorker(QObject):
    """Computes the difference map of two images; lives on a worker QThread.

    Signals are emitted from the worker thread; connect them to ``@Slot`` methods on the GUI
    thread (queued). ``finished`` is always emitted last, whether the job succeeded, failed
    or was cancelled.
    """

    resultReady = Signal(object)  # DifferenceResult
    failed = Signal(int, str)  # token, message
    finished = Signal()

    def __init__(self, left: QImage, right: QImage, token: int, cancel: threading.Event) -> None:
        super().__init__()
        # QImage is implicitly shared with an atomic refcount: holding copies here and only
        # reading them on the worker thread is safe while the GUI thread keeps its own.
        self._left = QImage(left)
        self._right = QImage(right)
        self._token = token
        self._cancel = cancel

    @Slot()
    def run(self) -> None:
        """Compute and emit; runs on the worker thread."""
        try:
            left, left_buffer = qimage_to_pil(self._left)
            right, right_buffer = qimage_to_pil(self._right)
            diff = max_channel_difference(left, right, self._cancel)
            del left, right, left_buffer, right_buffer
            width, height = diff.size
            image = QImage(diff.tobytes(), width, height, width, QImage.Format.Format_Indexed8)
            # copy(): the QImage above borrows the bytes object, which dies with this frame.
            result = DifferenceResult(
                token=self._token,
                image=image.copy(),
                histogram=tuple(diff.histogram()),
                right_size=self._right.size(),
            )
            if not self._cancel.is_set():
                self.resultReady.emit(result)
        except DifferenceCancelled:
            log.debug("difference job %d cancelled", self._token)
        except Exception as exc:  # reported as data; the GUI shows it in the caption
            log.exception("difference job %d failed", self._token)
            self.failed.emit(self._token, str(exc) or type(exc).__name__)
        finally:
            self._left = QImage()
            self._right = QImage()
            self.finished.emit()


@dataclasses.dataclass(eq=False)
class DifferenceJob:
    """A running job: the thread, its worker and the event that cancels it."""

    thread: QThread
    worker: DifferenceWorker
    cancel: threading.Event

    def __repr__(self) -> str:
        # The thread may already be deleted (deleteLater); never touch it here.
        return f"<DifferenceJob cancelled={self.cancel.is_set()}>"

    def is_running(self) -> bool:
        """True until the thread has ended. GUI thread only."""
        return shiboken6.isValid(self.thread) and self.thread.isRunning()

    def stop(self) -> None:
        """Cancel, wait for the thread to end and forget the job. GUI thread only.

        Waits at most for the one Pillow step in progress (~0.2 s on 4095x4095).
        """
        self.cancel.set()
        # The thread deletes itself (deleteLater) once finished; nothing left to wait for.
        if shiboken6.isValid(self.thread):
            self.thread.quit()
            self.thread.wait()
        _jobs.discard(self)


_jobs: set[DifferenceJob] = set()
_quit_hooked = False


def start_job(
    left: QImage,
    right: QImage,
    token: int,
    on_result: Callable[[DifferenceResult], None],
    on_failed: Callable[[int, str], None],
) -> DifferenceJob:
    """Start computing ``left`` vs ``right`` on a new thread and return the job.

    Call on the GUI thread. ``on_result`` and ``on_failed`` should be ``@Slot`` methods of a
    GUI-thread QObject; they are connected before the thread starts (a tiny image could
    otherwise finish first) and called queued, on the GUI thread. A cancelled job calls
    neither. The job stays referenced here until its thread has finished.
    """
    global _quit_hooked
    cancel = threading.Event()
    thread = QThread()
    thread.setObjectName(f"difference-{token}")
    worker = DifferenceWorker(left, right, token, cancel)
    worker.moveToThread(thread)
    job = DifferenceJob(thread, worker, cancel)
    worker.resultReady.connect(on_result)
    worker.failed.connect(on_failed)
    thread.started.connect(worker.run)
    worker.finished.connect(thread.quit)
    worker.finished.connect(worker.deleteLater)
    # Reap before deleteLater: queued calls run in connection order, so the registry lets go
    # of the job while its thread object still exists.
    thread.finished.connect(_JobReaper.instance().reap)
    thread.finished.connect(thread.deleteLater)
    _jobs.add(job)
    app = QCoreApplication.instance()
    if app is not None and not _quit_hooked:
        app.aboutToQuit.connect(stop_all_jobs)
        _quit_hooked = True
    thread.start(QThread.Priority.LowPriority)
    return job


def running_jobs() -> list[DifferenceJob]:
    """Jobs whose thread is still running (for tests and shutdown). GUI thread only."""
    return [job for job in _jobs if job.is_running()]


def stop_all_jobs() -> None:
    """Cancel and join every job. GUI thread only; also runs on ``aboutToQuit``."""
    for job in list(_jobs):
        job.stop()


class _JobReaper(QObject):
    """Drops a job's references once its thread has finished (lives on the GUI thread)."""

    _instance: _JobReaper | None = None

    @classmethod
    def instance(cls) -> _JobReaper:
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance

    @Slot()
    def reap(self) -> None:
        finished = self.sender()
        for job in list(_jobs):
            if job.thread is finished or not shiboken6.isValid(job.thread):
                _jobs.discard(job)
