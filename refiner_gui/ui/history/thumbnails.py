"""Lazy thumbnails for the history table: a bounded LRU of pair pictures (coarse | refined).

A thumbnail is asked for only when the view paints a row (the model calls :meth:`get` from
``data(DecorationRole)``), so 10,000 jobs never mean 10,000 decodes. Decoding happens on the
global thread pool (:func:`~refiner_gui.threads.run_task`); the worker returns plain
``QImage``s and the ``QPixmap`` is composed here, on the GUI thread (STYLE.md: never build
GUI objects off the GUI thread).

Scheduling: at most a few decodes run at once (so the pool stays free for the rest of the
app), and waiting requests are served newest first with a bounded queue, because while the
user scrolls, the rows asked for last are the ones on screen; rows scrolled past are dropped
and asked for again if they are painted again.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QRectF, QSize, Qt, QThreadPool, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPalette, QPen, QPixmap

from refiner_gui.threads import run_task
from refiner_gui.workers import load_image

log = logging.getLogger(__name__)

#: ``loader(path, max_side) -> QImage`` (null image when unreadable). Any thread.
ImageLoader = Callable[[Path, int], QImage]

THUMB_HEIGHT = 64  # logical pixels
SLOT_WIDTH = 48  # one picture's box; person photos are portrait, ~2:3
SLOT_GAP = 4
PAIR_SIZE = QSize(2 * SLOT_WIDTH + SLOT_GAP, THUMB_HEIGHT)


@dataclass(frozen=True)
class ThumbKey:
    """What a pair picture depends on: both files and the device pixel size.

    A job whose result arrives gets a new key (``result`` changes), so it is decoded again;
    jobs sharing inputs and result share an entry.
    """

    coarse: str
    result: str
    dpr_x100: int  # device pixel ratio x 100: 2x screens get sharp pictures


def decode_pair(key: ThumbKey, loader: ImageLoader) -> tuple[QImage | None, QImage | None]:
    """Decode and scale both pictures of ``key`` to fit one slot each. Worker thread.

    Returns ``None`` for a missing or unreadable file (a deleted result is not an error
    worth a dialog in a list). QImage is not a GUI object, so this is safe off the GUI
    thread.
    """
    dpr = key.dpr_x100 / 100
    box = QSize(round(SLOT_WIDTH * dpr), round(THUMB_HEIGHT * dpr))

    def one(path: str) -> QImage | None:
        if not path:
            return None
        image = loader(Path(path), box.height())
        if image.isNull():
            return None
        if image.width() > box.width() or image.height() > box.height():
            image = image.scaled(
                box, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
            )
        return image

    return one(key.coarse), one(key.result)


class ThumbnailCache(QObject):
    """Pair pictures by :class:`ThumbKey`, decoded in the background on first request.

    GUI thread only (every public method and signal). ``ready(key)`` is emitted once the
    picture for ``key`` is in the cache (also when a file could not be read: the pair then
    shows an empty, outlined slot and is not retried until evicted).
    """

    ready = Signal(object)  # ThumbKey

    def __init__(
        self,
        *,
        loader: ImageLoader | None = None,
        capacity: int = 500,
        max_in_flight: int | None = None,
        max_queued: int = 64,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._loader: ImageLoader = loader or load_image
        self._capacity = capacity
        self._max_in_flight = max_in_flight or max(
            2, QThreadPool.globalInstance().maxThreadCount() // 2
        )
        self._max_queued = max_queued
        self._pixmaps: OrderedDict[ThumbKey, QPixmap] = OrderedDict()
        # Newest last; an OrderedDict so a repeated request moves to the end in O(1).
        self._queue: OrderedDict[ThumbKey, None] = OrderedDict()
        # Decodes started and not yet reported (a key is never decoded twice at once).
        self._running: set[ThumbKey] = set()
        self._idle = threading.Condition()
        self._busy_count = 0  # decodes not yet returned; guarded by _idle, any thread
        self._closed = False
        self._palette = QPalette()
        self.decodes_started = 0  # for tests and the benchmark

    # -- public -----------------------------------------------------------------------------

    def get(self, key: ThumbKey) -> QPixmap | None:
        """The picture for ``key``, or ``None`` after asking for it in the background."""
        pixmap = self._pixmaps.get(key)
        if pixmap is not None:
            self._pixmaps.move_to_end(key)
            return pixmap
        if self._closed or key in self._running:
            return None
        self._queue[key] = None
        self._queue.move_to_end(key)
        while len(self._queue) > self._max_queued:
            self._queue.popitem(last=False)  # scrolled past long ago
        self._pump()
        return None

    def peek(self, key: ThumbKey) -> QPixmap | None:
        """The cached picture for ``key`` without asking for it (tests, diagnostics)."""
        return self._pixmaps.get(key)

    def set_palette(self, palette: QPalette) -> None:
        """Colours for outlines of missing pictures; drops pictures drawn with the old one."""
        self._palette = QPalette(palette)
        self._pixmaps.clear()

    def placeholder(self, dpr: float) -> QPixmap:
        """What a row shows until its pictures arrive: two faint boxes (palette colours)."""
        return self._compose(None, None, dpr, loading=True)

    def __len__(self) -> int:
        return len(self._pixmaps)

    def shutdown(self, timeout_s: float = 10.0) -> bool:
        """Stop: drop queued requests and wait for running decodes. GUI thread.

        Results that arrive later are ignored. True when no decode is left running.
        """
        self._closed = True
        self._queue.clear()
        with self._idle:
            return self._idle.wait_for(lambda: self._busy_count == 0, timeout_s)

    # -- background -------------------------------------------------------------------------

    def _pump(self) -> None:
        while self._queue and len(self._running) < self._max_in_flight and not self._closed:
            key, _ = self._queue.popitem(last=True)  # newest first: it is on screen
            self._running.add(key)
            self.decodes_started += 1
            with self._idle:
                self._busy_count += 1
            run_task(
                self._job(key),
                functools.partial(self._on_done, key),
                functools.partial(self._on_error, key),
                owner=self,
            )

    def _job(self, key: ThumbKey) -> Callable[[], tuple[QImage | None, QImage | None]]:
        loader = self._loader
        idle = self._idle
        owner = self

        def run() -> tuple[QImage | None, QImage | None]:  # worker thread
            try:
                return decode_pair(key, loader)
            finally:
                with idle:
                    owner._busy_count -= 1
                    idle.notify_all()

        return run

    def _on_done(self, key: ThumbKey, result: tuple[QImage | None, QImage | None]) -> None:
        """GUI thread: a pair was decoded; compose and keep its picture."""
        self._running.discard(key)
        if self._closed:
            return
        coarse, refined = result
        self._store(
            key,
            self._compose(
                coarse, refined, key.dpr_x100 / 100, loading=False, has_result=bool(key.result)
            ),
        )
        self._pump()

    def _on_error(self, key: ThumbKey, exc: Exception) -> None:
        """GUI thread: decoding raised (a loader bug or an odd file); show an empty pair."""
        self._running.discard(key)
        if self._closed:
            return
        # A bad file must not be retried on every repaint: cache the empty pair.
        log.warning("thumbnail failed: %s", type(exc).__name__)
        self._store(
            key,
            self._compose(
                None, None, key.dpr_x100 / 100, loading=False, has_result=bool(key.result)
            ),
        )
        self._pump()

    def _store(self, key: ThumbKey, pixmap: QPixmap) -> None:
        self._pixmaps[key] = pixmap
        self._pixmaps.move_to_end(key)
        while len(self._pixmaps) > self._capacity:
            self._pixmaps.popitem(last=False)
        self.ready.emit(key)

    # -- drawing (GUI thread) ---------------------------------------------------------------

    def _compose(
        self,
        coarse: QImage | None,
        refined: QImage | None,
        dpr: float,
        *,
        loading: bool,
        has_result: bool = True,
    ) -> QPixmap:
        pixmap = QPixmap(round(PAIR_SIZE.width() * dpr), round(PAIR_SIZE.height() * dpr))
        pixmap.setDevicePixelRatio(dpr)
        pixmap.fill(Qt.GlobalColor.transparent)  # the row's own background shows through
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        slots = (
            QRectF(0, 0, SLOT_WIDTH, THUMB_HEIGHT),
            QRectF(SLOT_WIDTH + SLOT_GAP, 0, SLOT_WIDTH, THUMB_HEIGHT),
        )
        outline = QColor(self._palette.color(QPalette.ColorRole.Mid))
        for rect, image, expected in zip(slots, (coarse, refined), (True, has_result), strict=True):
            if image is not None:
                target = QRectF(0, 0, image.width() / dpr, image.height() / dpr)
                target.moveCenter(rect.center())
                painter.drawImage(target, image)
            elif loading:
                # Loading: a faint filled box, distinct from "no picture" below.
                fill = QColor(outline)
                fill.setAlpha(60)
                painter.setPen(Qt.PenStyle.NoPen)
                painter.setBrush(fill)
                painter.drawRoundedRect(rect.adjusted(2, 2, -2, -2), 3, 3)
            else:
                # No picture (no result yet, or the file is gone): a dashed empty box.
                pen = QPen(outline, 1, Qt.PenStyle.DashLine)
                painter.setPen(pen)
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawRoundedRect(rect.adjusted(2.5, 2.5, -2.5, -2.5), 3, 3)
                if expected:
                    # The file should be there but could not be read: cross it out.
                    painter.drawLine(
                        rect.adjusted(8, 12, -8, -12).topLeft(),
                        rect.adjusted(8, 12, -8, -12).bottomRight(),
                    )
        painter.end()
        return pixmap
