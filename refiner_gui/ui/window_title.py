"""The main window's title: what it shows, then the app's name, once.

Qt appends the application display name to every window title (" — Refiner") on Linux
and Windows unless the title already ends with it; macOS shows the title as it is. A
title that ends with :data:`APP_NAME` therefore reads the same everywhere, with the name
once. GUI thread only (it only builds strings, but it is for widgets).
"""

from __future__ import annotations

APP_NAME = "Refiner"
"""The name the app shows (``QApplication.applicationDisplayName``)."""

DEMO_TEXT = "DEMO (local sandbox)"
SEPARATOR = " — "


def window_title(*, demo: bool = False, detail: str = "") -> str:
    """``"<detail> — DEMO (local sandbox) — Refiner"``, leaving out the parts not given."""
    parts = [part for part in (detail, DEMO_TEXT if demo else "") if part]
    return SEPARATOR.join([*parts, APP_NAME])
