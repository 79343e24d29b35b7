"""The window's menu actions, made from the declarative table in :mod:`.actions`, with
their handlers and enabled-when conditions. GUI thread only.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMenu

from refiner_gui.ui.actions import MENU_ACTIONS, build_actions, update_enabled
from refiner_gui.ui.shortcuts_dialog import ShortcutsDialog
from refiner_gui.ui.viewer import ViewMode

if TYPE_CHECKING:
    from refiner_gui.ui.window_content import WindowContent

IMAGE_FILTER = "Images (*.jpg *.jpeg *.png *.bmp *.webp *.tif *.tiff *.gif *.heic);;All files (*)"


class WindowMenus(QObject):
    """Builds the menus' actions and keeps their enabled state; ``actions`` by name."""

    def __init__(
        self, window: QMainWindow, menus: dict[str, QMenu], content: WindowContent
    ) -> None:
        super().__init__(window)
        self._window = window
        self._content = content
        results = content.results
        viewer = content.viewer
        handlers: dict[str, Callable[[], object]] = {
            "open": self.open_images,
            "new_batch": lambda: content.batches.new_batch(),
            "save": results.save_refined,
            "save_comparison": results.save_comparison,
            "copy_refined": results.copy_refined,
            "open_output_folder": results.open_output_folder,
            "export_review": results.export_review,
            "quit": window.close,
            "undo_review": content.undo_review,
            "settings": content.open_settings,
            "refine": content.refine_or_cancel,
            "cancel": content.cancel_job,
            "view_side_by_side": lambda: viewer.set_mode(ViewMode.SIDE_BY_SIDE),
            "view_swipe": lambda: viewer.set_mode(ViewMode.SWIPE),
            "view_flicker": lambda: viewer.set_mode(ViewMode.FLICKER),
            "view_difference": lambda: viewer.set_mode(ViewMode.DIFFERENCE),
            "fit": viewer.fit,
            "actual_size": viewer.actual_size,
            "photo_rules": content.show_rules,
            "keyboard_shortcuts": self.show_shortcuts,
            "about": content.show_about,
        }
        self.actions: dict[str, QAction] = build_actions(window, menus, handlers, MENU_ACTIONS)

    def action(self, name: str) -> QAction:
        """The action called ``name`` in the table."""
        return self.actions[name]

    def update(
        self, *, can_refine: bool, running: bool, has_result: bool, can_undo: bool = False
    ) -> None:
        """Enable each action by its table's condition."""
        update_enabled(
            self.actions,
            {
                "can_refine": can_refine,
                "running": running,
                "has_result": has_result,
                "can_undo": can_undo,
            },
        )

    @Slot()
    def open_images(self) -> None:
        """File → Open images: one to four files (or more), each put in the slot its name
        or picture says; when that is unclear, a dialog asks. Never by order."""
        names, _ = QFileDialog.getOpenFileNames(
            self._window, "Open images (person, top, coarse, bottom)", "", IMAGE_FILTER
        )
        if names:
            self._content.loader.load([Path(name) for name in names])

    @Slot()
    def show_shortcuts(self) -> None:
        """Help → Keyboard shortcuts: every key of the app, from the tables (modal)."""
        ShortcutsDialog(self._window).exec()
