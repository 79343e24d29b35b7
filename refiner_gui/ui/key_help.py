"""One row of keyboard help: which keys, what they do, and where they work.

Qt-free plain data. Each module that handles keys declares its own rows beside the code
that handles them (:data:`refiner_gui.ui.review_keys.REVIEW_KEYS`,
:data:`refiner_gui.ui.viewer.keys.VIEWER_KEYS`, ...); the menus' rows come from
:data:`refiner_gui.ui.actions.MENU_ACTIONS`. :class:`~refiner_gui.ui.shortcuts_dialog.
ShortcutsDialog` lists them all.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KeyHelp:
    """A help row.

    Attributes:
        keys: the keys as a person reads them ("Ctrl+B", "N or ]", "+ or =").
        what: what they do, in plain words.
        where: the section they work in ("File menu", "Review", "Viewer"...); the shortcuts
            dialog groups rows by it.
    """

    keys: str
    what: str
    where: str


__all__ = ["KeyHelp"]
