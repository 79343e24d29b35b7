"""The result viewer's keys, as data.

:class:`~refiner_gui.ui.viewer.compare_view.CompareViewer` dispatches its key presses
through :data:`VIEWER_KEYS` and the swipe canvas moves its divider with
:data:`SWIPE_KEYS`; the keyboard help (:data:`VIEWER_KEY_HELP`) is generated from the same
tables, so what the help says is what the keys do.

These are focus keys, not window shortcuts: they work while the viewer (or one of its
canvases) has the focus. Qt-light: only ``QtCore.Qt`` enums.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt

from refiner_gui.ui.key_help import KeyHelp

VIEWER_SECTION = "Viewer (when the image has the focus)"

ZOOM_KEY_MODIFIERS = Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.KeypadModifier
"""Modifiers a viewer key may carry: + needs Shift on many layouts, and the keypad's keys
carry the keypad flag. Any other modifier (Ctrl, Alt...) leaves the key to others."""


@dataclass(frozen=True)
class ViewerKey:
    """A viewer key binding.

    Attributes:
        keys: the Qt keys that trigger it.
        command: the name of the :class:`CompareViewer` method it calls (no arguments).
        label: the keys as a person reads them, for the help.
        what: what it does, for the help.
        flicker_only: only in Flicker mode (elsewhere the key is left unhandled).
    """

    keys: tuple[Qt.Key, ...]
    command: str
    label: str
    what: str
    flicker_only: bool = False


VIEWER_KEYS: tuple[ViewerKey, ...] = (
    ViewerKey((Qt.Key.Key_Plus, Qt.Key.Key_Equal), "zoom_in", "+ or =", "Zoom in"),
    ViewerKey((Qt.Key.Key_Minus, Qt.Key.Key_Underscore), "zoom_out", "-", "Zoom out"),
    ViewerKey((Qt.Key.Key_0,), "fit", "0", "Fit the image into the view"),
    ViewerKey((Qt.Key.Key_1,), "actual_size", "1", "Actual size (1:1)"),
    ViewerKey(
        (Qt.Key.Key_Space,),
        "toggle_flicker",
        "Space",
        "Flicker: switch between the two images",
        flicker_only=True,
    ),
)
"""The keys the viewer itself handles (its canvases leave them unhandled)."""

SWIPE_KEYS: dict[Qt.Key, int] = {Qt.Key.Key_Left: -1, Qt.Key.Key_Right: +1}
"""Swipe mode, with Shift: key -> direction the divider moves (one step each press)."""

VIEWER_KEY_HELP: tuple[KeyHelp, ...] = (
    *(KeyHelp(key.label, key.what, VIEWER_SECTION) for key in VIEWER_KEYS),
    KeyHelp("Shift+Left or Shift+Right", "Swipe: move the divider", VIEWER_SECTION),
    KeyHelp("Arrow keys", "Pan the zoomed image", VIEWER_SECTION),
)
"""The viewer's keys for the keyboard help."""

_BY_KEY: dict[Qt.Key, ViewerKey] = {k: binding for binding in VIEWER_KEYS for k in binding.keys}


def viewer_key(key: Qt.Key | int, modifiers: Qt.KeyboardModifier) -> ViewerKey | None:
    """The binding for a key press, or None when the viewer does not handle it (also when
    it carries a modifier other than Shift or keypad)."""
    if modifiers & ~ZOOM_KEY_MODIFIERS:
        return None
    try:
        return _BY_KEY.get(Qt.Key(key))
    except ValueError:  # not a Qt.Key value (e.g. an unknown native key)
        return None


__all__ = [
    "SWIPE_KEYS",
    "VIEWER_KEYS",
    "VIEWER_KEY_HELP",
    "VIEWER_SECTION",
    "ViewerKey",
    "viewer_key",
]
