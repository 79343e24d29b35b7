"""Where the window opens and how big, and the panel layout it remembers, per screen.

The window opens inside the screen's available area (at most 90 % of it, at most the
default size), and comes back where it was closed: its geometry, the splitter between
inputs and viewer and whether the inputs are collapsed to a strip are saved on close, in
``window.ini`` in the app's config folder, in a group per screen (its name and size), so
a laptop screen and an external monitor each keep their own layout. A restored geometry
is clamped to the available area of its screen (a monitor may have gone, or shrunk).

The window never resizes itself after that: nothing here runs when a result arrives.
GUI thread only.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, QRect, QSettings, QSize
from PySide6.QtGui import QGuiApplication, QScreen
from PySide6.QtWidgets import QMainWindow, QSplitter

from refiner_gui.config import app_paths

if TYPE_CHECKING:  # the frame imports this module before the content exists
    from refiner_gui.ui.inputs_column import InputsColumn

log = logging.getLogger(__name__)

DEFAULT_SIZE = QSize(1400, 860)
"""The size on a large screen with nothing saved."""

SCREEN_SHARE = 0.9
"""At most this share of the available screen, with nothing saved."""

SETTINGS_FILE = "window.ini"
LAST_SCREEN = "last_screen"


def screen_key(screen: QScreen) -> str:
    """The settings group of ``screen``: its name and pixel size, e.g. ``eDP-1_1280x800``."""
    size = screen.geometry().size()
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", screen.name()) or "screen"
    return f"{name}_{size.width()}x{size.height()}"


def initial_size(available: QRect) -> QSize:
    """The default size for a screen whose available area is ``available``: the default,
    shrunk to :data:`SCREEN_SHARE` of the area where that is smaller."""
    return DEFAULT_SIZE.boundedTo(
        QSize(int(available.width() * SCREEN_SHARE), int(available.height() * SCREEN_SHARE))
    )


def clamp_rect(rect: QRect, available: QRect) -> QRect:
    """``rect`` made to fit ``available``: no larger, and moved inside it."""
    width = min(rect.width(), available.width())
    height = min(rect.height(), available.height())
    x = min(max(rect.x(), available.x()), available.x() + available.width() - width)
    y = min(max(rect.y(), available.y()), available.y() + available.height() - height)
    return QRect(x, y, width, height)


class WindowGeometry:
    """Restores and saves one window's geometry and panel state. GUI thread only."""

    def __init__(self, window: QMainWindow) -> None:
        self._window = window
        path = app_paths().config / SETTINGS_FILE
        self._settings = QSettings(str(path), QSettings.Format.IniFormat)
        self._key = ""  # the group restore_window chose
        self._available = QRect()  # and its screen's available area

    def _screen(self) -> QScreen | None:
        """The screen the window last closed on, if still connected; else the primary."""
        last = self._settings.value(LAST_SCREEN, "")
        for screen in QGuiApplication.screens():
            if screen_key(screen) == last:
                return screen
        return QGuiApplication.primaryScreen()

    def restore_window(self) -> None:
        """Size and place the window (before it is shown): saved, clamped, or default."""
        screen = self._screen()
        if screen is None:  # no screen at all: leave Qt's default
            return
        available = screen.availableGeometry()
        window = self._window
        self._key = screen_key(screen)
        self._available = available
        saved = self._settings.value(f"{screen_key(screen)}/geometry")
        if isinstance(saved, QByteArray) and window.restoreGeometry(saved):
            if not window.isMaximized():
                window.setGeometry(clamp_rect(window.geometry(), available))
            return
        size = initial_size(available)
        window.resize(size)
        centre = available.center()
        window.move(centre.x() - size.width() // 2, centre.y() - size.height() // 2)

    def restore_panels(self, splitter: QSplitter, column: InputsColumn) -> None:
        """The splitter position and the inputs strip as last saved for this screen."""
        group = self._key or self._group()
        state = self._settings.value(f"{group}/splitter")
        if isinstance(state, QByteArray):
            splitter.restoreState(state)
        compact = self._settings.value(f"{group}/inputs_compact")
        if compact is None:
            # Nothing saved: a screen too narrow for the full inputs starts with the strip.
            narrow = self._window.minimumSizeHint().width() > self._available.width() > 0
            column.set_compact(narrow)
        else:
            column.set_compact(compact in (True, "true", "1", 1))
        wide = self._settings.value(f"{group}/inputs_width", 0)
        if column.is_compact() and str(wide).isdigit():
            column.set_wide_width(int(str(wide)))  # what the strip expands back to

    def save(self, splitter: QSplitter | None, column: InputsColumn | None) -> None:
        """Save the geometry (and the panels, when built) under the current screen."""
        group = self._group()
        settings = self._settings
        settings.setValue(f"{group}/geometry", self._window.saveGeometry())
        if splitter is not None:
            settings.setValue(f"{group}/splitter", splitter.saveState())
        if column is not None:
            settings.setValue(f"{group}/inputs_compact", column.is_compact())
            settings.setValue(f"{group}/inputs_width", column.wide_width())
        settings.setValue(LAST_SCREEN, group)
        settings.sync()
        if settings.status() != QSettings.Status.NoError:
            # Not worth a dialog on the way out: the next start uses the defaults.
            log.warning("could not save the window layout (%s)", settings.status())

    def _group(self) -> str:
        screen = self._window.screen() or QGuiApplication.primaryScreen()
        return screen_key(screen) if screen is not None else "screen"
