"""Follow the system's light or dark palette; the verdict colours for either.

The window draws with palette colours everywhere (no hard-coded light backgrounds, no
style sheets on buttons: a style sheet hands a button's drawing to Qt's style-sheet style,
which paints it light whatever the palette). What is left is the style: Windows' native
"windowsvista" style draws light controls even under a dark palette, so with a dark
palette the app switches to Fusion, which follows it. GUI thread only.
"""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

LIGHT_ONLY_STYLES = frozenset({"windowsvista", "windows"})
"""Styles that ignore a dark palette for their controls."""


def is_dark(palette: QPalette) -> bool:
    """Whether ``palette`` is a dark one (its window colour's lightness under 128)."""
    return palette.color(QPalette.ColorRole.Window).lightness() < 128


# Verdict kinds the controller passes to set_verdict().
NONE, BUSY, OK, PROBLEM, ERROR = "none", "busy", "ok", "problem", "error"

# (light theme, dark theme): dark enough to read on a light window, light enough on a dark one.
_COLOURS = {
    OK: ("#2e7d32", "#81c784"),
    PROBLEM: ("#8a5300", "#ffb74d"),
    ERROR: ("#c62828", "#ef9a9a"),
}


def status_colour(kind: str, palette: QPalette) -> QColor:
    """The text colour for a verdict ``kind`` that reads well on ``palette``'s window."""
    if kind in _COLOURS:
        light, dark = _COLOURS[kind]
        return QColor(dark if is_dark(palette) else light)
    return palette.color(QPalette.ColorRole.PlaceholderText)


def follow_dark_palette(app: QApplication) -> bool:
    """Under a dark system palette, use a style that draws with it. True if switched."""
    style = app.style()
    name = style.name().lower() if style is not None else ""
    if is_dark(app.palette()) and name in LIGHT_ONLY_STYLES:
        palette = QPalette(app.palette())
        app.setStyle("Fusion")
        app.setPalette(palette)  # Fusion would otherwise install its own light palette
        return True
    return False
