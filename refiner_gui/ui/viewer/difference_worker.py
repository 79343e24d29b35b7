"""Compute the difference map of two QImages off the GUI thread.

A :class:`~refiner_gui.threads.Worker` started with
:func:`~refiner_gui.threads.start_worker`, like every worker of the app: the registry
there keeps the thread referenced until it has ended, so a viewer destroyed while a map
is computed never drops a running QThread, and shutdown waits for it.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable

from PIL import Image
from PySide6.QtCore import QSize, QThread, Signal
from PySide6.QtGui import QImage

from refiner_gui.threads import Worker, WorkerHandle, live_workers, start_worker
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


class DifferenceWorker(Worker):
    """Computes the difference map of two images; lives on a worker QThread.

    Signals are emitted from the worker thread; connect them to ``@Slot`` methods on the GUI
    thread (queued). A cancelled job emits neither; ``finished`` always comes last.
    """

    resultReady = Signal(object)  # DifferenceResult
    failed = Signal(int, str)  # token, message

    def __init__(self, left: QImage, right: QImage, token: int) -> None:
        super().__init__()
        # QImage is implicitly shared with an atomic refcount: holding copies here and only
        # reading them on the worker thread is safe while the GUI thread keeps its own.
        self._left = QImage(left)
        self._right = QImage(right)
        self._token = token

    def work(self) -> None:
        """Compute and emit; runs on the worker thread."""
        try:
            left, left_buffer = qimage_to_pil(self._left)
            right, right_buffer = qimage_to_pil(self._right)
            diff = max_channel_difference(left, right, self.cancel_event)
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
            if not self.cancel_event.is_set():
                self.resultReady.emit(result)
        except DifferenceCancelled:
            log.debug("difference job %d cancelled", self._token)
        except Exception as exc:  # reported as data; the GUI shows it in the caption
            log.exception("difference job %d failed", self._token)
            self.failed.emit(self._token, str(exc) or type(exc).__name__)
        finally:
            self._left = QImage()
            self._right = QImage()


DifferenceJob = WorkerHandle
"""A running difference computation (``cancel()``, ``stop(ms)``, ``is_running()``)."""

THREAD_PREFIX = "difference-"
STOP_WAIT_MS = 10_000  # one Pillow step in progress takes ~0.2 s on 4095x4095


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
    neither.
    """
    worker = DifferenceWorker(left, right, token)
    worker.resultReady.connect(on_result)
    worker.failed.connect(on_failed)
    return start_worker(worker, f"{THREAD_PREFIX}{token}", QThread.Priority.LowPriority)


def running_jobs() -> list[DifferenceJob]:
    """Difference jobs whose thread is still running (tests and shutdown). GUI thread."""
    return [h for h in live_workers() if h.name.startswith(THREAD_PREFIX)]
