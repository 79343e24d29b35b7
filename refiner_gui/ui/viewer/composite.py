"""Compose the two images and their labels into one picture, for "save comparison".

GUI thread (it uses QFont/QPainter text, which Qt only guarantees there).
"""

from __future__ import annotations

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter

HEADER_BACKGROUND = QColor(0x20, 0x20, 0x20)
HEADER_TEXT = QColor(0xFF, 0xFF, 0xFF)


def compose_side_by_side(left: QImage, right: QImage, left_label: str, right_label: str) -> QImage:
    """Return ``left | right`` on one image with a label strip above each half.

    The right image is scaled to the left image's size if the sizes differ (so both halves
    show the same framing, as in the viewer). A thin gap separates the halves; the label
    strip's height follows the image height so the text stays legible on large images and
    unobtrusive on small ones. If both labels are empty (e.g. a blind review) no strip is
    drawn.

    Raises:
        ValueError: if either image is null.
    """
    if left.isNull() or right.isNull():
        raise ValueError("both images are needed for a comparison")
    width, height = left.width(), left.height()
    if right.size() != left.size():
        right = right.scaled(
            left.size(),
            Qt.AspectRatioMode.IgnoreAspectRatio,
            Qt.TransformationMode.SmoothTransformation,
        )
    gap = max(4, width // 100)
    header = max(28, round(height * 0.045)) if (left_label or right_label) else 0
    result = QImage(2 * width + gap, height + header, QImage.Format.Format_RGB32)
    result.fill(HEADER_BACKGROUND)
    painter = QPainter(result)
    try:
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.drawImage(0, header, left)
        painter.drawImage(width + gap, header, right)
        if header:
            painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
            font = QFont()
            font.setPixelSize(max(12, round(header * 0.55)))
            font.setBold(True)
            painter.setFont(font)
            painter.setPen(HEADER_TEXT)
            metrics = QFontMetrics(font)
            pad = max(6, header // 3)
            for x, text in ((0, left_label), (width + gap, right_label)):
                box = QRect(x + pad, 0, width - 2 * pad, header)
                elided = metrics.elidedText(text, Qt.TextElideMode.ElideRight, box.width())
                painter.drawText(
                    box, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, elided
                )
    finally:
        painter.end()
    return result
