"""Follow the system's light or dark palette.

The window draws with palette colours everywhere (no hard-coded light backgrounds, no
style sheets on buttons: a style sheet hands a button's drawing to Qt's style-sheet style,
which paints it light whatever the palette). What is left is the style: Windows' native
"windowsvista" style draws light controls even under a dark palette, so with a dark
palette the app switches to Fusion, which follows it. GUI thread only.
"""

from __future__ import annotations

from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication

LIGHT_ONLY_STYLES = frozenset({"windowsvista", "windows"})
"""Styles that ignore a dark palette for their controls."""


def is_dark(palette: QPalette) -> bool:
    """Whether ``palette`` is a dark one (its window colour's lightness under 128)."""
    return palette.color(QPalette.ColorRole.Window).lightness() < 128


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
