"""Zoom levels: half, quarter, … size copies of a photo, made ahead on a worker thread.

Apart from the viewer's widgets so that a worker can use it (the job worker makes a
finished job's levels; they travel to the viewer inside the job's outcome): this module
touches only QImage, QPainter, QRect and ``Qt``, which the GUI thread has loaded long
before. PySide6 builds a class's Python type the first time any thread touches it, and
two threads doing that at once can crash (seen with 6.11), so worker threads must not be
the first to touch a Qt class: importing the widget modules there would be. Any thread.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QImage, QPainter

_LEVEL_STRIP_ROWS = 128
"""Output rows made per Qt call when halving. PySide holds the GIL through
``QImage.scaled``/``copy``/``convertToFormat`` and ``QPainter.drawImage``: one call on a
whole 4095 px photo held it 20-40 ms, stalling the GUI thread's event loop that long while
a worker prepared levels. A strip of 256 source rows is ~1-3 ms of C work; between strips
the caller's ``pause`` hands the GIL to the GUI thread (see ``workers.GilYield`` for why
the switch interval alone does not)."""


def _level_format(image: QImage) -> QImage.Format:
    """The format levels are averaged in: premultiplied, or transparent pixels bleed."""
    if image.format() in (
        QImage.Format.Format_RGB32,
        QImage.Format.Format_ARGB32_Premultiplied,
    ):
        return image.format()
    return (
        QImage.Format.Format_ARGB32_Premultiplied
        if image.hasAlphaChannel()
        else QImage.Format.Format_RGB32
    )


def _halved(image: QImage, fmt: QImage.Format, pause: Callable[[], None] | None = None) -> QImage:
    """``image`` at half size (area-averaged, in ``fmt``), made strip by strip.

    Each strip of ``_LEVEL_STRIP_ROWS`` output rows is scaled from the source rows that
    map onto it proportionally (row ``y`` at source row ``y * h / (h // 2)``, rounded), so
    the GIL is never held for a whole image and the level still lines up with the full
    image when drawn stretched over it. With an even height this is exactly
    ``image.scaled(w // 2, h // 2, SmoothTransformation)``; with an odd one, rows may
    sit up to half a source row off from it (Qt's fixed-point mapping restarts at each
    strip): a fraction of a screen pixel at the zooms below 50 % that levels are drawn at.
    ``pause`` runs after each strip. Any thread (QImage and a QPainter on a QImage only).
    """
    src_w, src_h = image.width(), image.height()
    dst_w, dst_h = max(1, src_w // 2), max(1, src_h // 2)
    out = QImage(dst_w, dst_h, fmt)
    strips = -(-dst_h // _LEVEL_STRIP_ROWS)  # ceil
    painter = QPainter(out)
    # Source, not SourceOver: the strips replace the uninitialised pixels, alpha included.
    painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_Source)
    try:
        for i in range(strips):
            dst_y = i * _LEVEL_STRIP_ROWS
            rows = min(_LEVEL_STRIP_ROWS, dst_h - dst_y)
            # Rounded, so each strip starts within half a source row of where one call
            # would have placed it.
            src_y = (2 * dst_y * src_h + dst_h) // (2 * dst_h)
            src_end = (2 * (dst_y + rows) * src_h + dst_h) // (2 * dst_h)
            src_rows = src_end - src_y
            piece = image.copy(0, src_y, src_w, src_rows)
            if piece.format() != fmt:
                piece = piece.convertToFormat(fmt)  # a strip at a time, never the whole
            piece = piece.scaled(
                dst_w,
                rows,
                Qt.AspectRatioMode.IgnoreAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
            # Into a rectangle of device pixels: a piece keeps the source's device pixel
            # ratio, which drawImage(point, …) would apply.
            painter.drawImage(QRect(0, dst_y, dst_w, rows), piece)
            if pause is not None:
                pause()
    finally:
        painter.end()
    out.setDevicePixelRatio(image.devicePixelRatio())  # as scaled() keeps it
    return out


def scaled_levels(
    image: QImage, smallest: int = 256, *, pause: Callable[[], None] | None = None
) -> tuple[QImage, ...]:
    """Half, quarter, … size copies of ``image`` (area-averaged), down to ``smallest`` px.

    Drawing a 4095 px photo at 15 % with bilinear filtering samples one pixel in six and
    turns knits and stripes into moiré a stylist could mistake for a refiner artefact.
    Pre-averaged levels avoid that; they cost ~30 ms and a third more memory per image,
    once per image, never per frame. Any thread (QImage only). Made in strips (see
    :data:`_LEVEL_STRIP_ROWS`), calling ``pause`` between them, so that a worker doing
    this can let the GUI thread run (pass a ``workers.GilYield`` there).
    """
    levels: list[QImage] = []
    fmt = _level_format(image)
    while max(image.width(), image.height()) // 2 >= smallest:
        image = _halved(image, fmt, pause)
        levels.append(image)
    return tuple(levels)
