"""How an input slot looks: its verdict kinds and their colours, and how its labels wrap.

Shared by :mod:`~refiner_gui.ui.drop_slot` and the review panel. GUI thread only.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor, QPalette, QPixmap
from PySide6.QtWidgets import QLabel, QSizePolicy

# Verdict kinds the controller passes to set_verdict().
NONE, BUSY, OK, PROBLEM, ERROR = "none", "busy", "ok", "problem", "error"

# (light theme, dark theme): dark enough to read on a light window, light enough on a dark one.
_COLOURS = {
    OK: ("#2e7d32", "#81c784"),
    PROBLEM: ("#8a5300", "#ffb74d"),
    ERROR: ("#c62828", "#ef9a9a"),
}


def _is_dark(palette: QPalette) -> bool:
    return palette.color(QPalette.ColorRole.Window).lightness() < 128


def status_colour(kind: str, palette: QPalette) -> QColor:
    """The text colour for a verdict ``kind`` that reads well on ``palette``'s window."""
    if kind in _COLOURS:
        light, dark = _COLOURS[kind]
        return QColor(dark if _is_dark(palette) else light)
    return palette.color(QPalette.ColorRole.PlaceholderText)


def wrap_in_given_width(label: QLabel) -> None:
    """Let a word-wrapped label take the width it is given instead of widening the slot,
    keeping height-for-width so every wrapped line stays visible."""
    policy = QSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
    policy.setHeightForWidth(True)
    label.setSizePolicy(policy)
    label.setMinimumWidth(1)


COMPACT_SLOT = QSize(112, 84)
"""A slot in the inputs strip: its minimum width and its thumbnail's height."""


def fit_thumbnail(source: QPixmap, area: QSize, ratio: float) -> QPixmap:
    """``source`` scaled to fit ``area`` (logical pixels) in device pixels at pixel ratio
    ``ratio``, never enlarged: sharp on 2x screens."""
    target = QSize(max(1, int(area.width() * ratio)), max(1, int(area.height() * ratio)))
    if source.width() <= target.width() and source.height() <= target.height():
        pix = QPixmap(source)
    else:
        pix = source.scaled(
            target, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
        )
    pix.setDevicePixelRatio(ratio)
    return pix
