"""Help ▸ Keyboard shortcuts: every key the window knows, grouped, searchable.

The rows are generated from the tables the key handlers themselves use
(:data:`~refiner_gui.ui.actions.MENU_ACTIONS`, :data:`~refiner_gui.ui.review_keys.
REVIEW_KEYS`, :data:`~refiner_gui.ui.viewer.keys.VIEWER_KEY_HELP`, ...), so the list
cannot go out of date. GUI thread only.
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import QSize, Qt, Slot
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLineEdit,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from refiner_gui.ui.actions import menu_key_help
from refiner_gui.ui.drop_slot import DROP_SLOT_KEYS
from refiner_gui.ui.history.table import HISTORY_KEYS
from refiner_gui.ui.key_help import KeyHelp
from refiner_gui.ui.review_keys import REVIEW_KEYS
from refiner_gui.ui.viewer.keys import VIEWER_KEY_HELP


def all_key_help() -> tuple[KeyHelp, ...]:
    """Every help row: the menus (as this platform binds them), then the review bar, the
    viewer, the input slots and the history list. Needs a QGuiApplication."""
    return (*menu_key_help(), *REVIEW_KEYS, *VIEWER_KEY_HELP, *DROP_SLOT_KEYS, *HISTORY_KEYS)


class ShortcutsDialog(QDialog):
    """A two-column list (keys, what they do) under one heading per section, with a search
    field that hides the rows whose keys and words do not contain the text.

    Args:
        parent: the window it belongs to (it is modal to it when shown with ``exec``).
        rows: the rows to list; :func:`all_key_help` by default.
    """

    def __init__(
        self, parent: QWidget | None = None, *, rows: Iterable[KeyHelp] | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.setAccessibleName("Keyboard shortcuts")
        self._rows = tuple(all_key_help() if rows is None else rows)

        self.search_edit = QLineEdit(self)
        self.search_edit.setPlaceholderText("Search keys or actions…")
        self.search_edit.setAccessibleName("Search shortcuts")
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.textChanged.connect(self.set_filter)

        self.tree = QTreeWidget(self)
        self.tree.setAccessibleName("Shortcuts")
        self.tree.setColumnCount(2)
        self.tree.setHeaderLabels(["Keys", "Action"])
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.header().setStretchLastSection(True)
        self._items: list[tuple[QTreeWidgetItem, KeyHelp]] = []
        sections: dict[str, QTreeWidgetItem] = {}
        for row in self._rows:
            section = sections.get(row.where)
            if section is None:
                section = QTreeWidgetItem(self.tree, [row.where])
                section.setFirstColumnSpanned(True)
                font = section.font(0)
                font.setBold(True)
                section.setFont(0, font)
                section.setFlags(Qt.ItemFlag.ItemIsEnabled)
                sections[row.where] = section
            item = QTreeWidgetItem(section, [row.keys, row.what])
            self._items.append((item, row))
        self._sections = sections
        self.tree.expandAll()

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(self.search_edit)
        layout.addWidget(self.tree, 1)
        layout.addWidget(buttons)
        self.search_edit.setFocus()

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        """Qt: tall enough for about 35 rows; the list scrolls beyond."""
        return QSize(560, 600)

    def rows(self) -> tuple[KeyHelp, ...]:
        """Every row the dialog lists, in order."""
        return self._rows

    def visible_rows(self) -> list[KeyHelp]:
        """The rows the search leaves shown, in order."""
        return [row for item, row in self._items if not item.isHidden()]

    @Slot(str)
    def set_filter(self, text: str) -> None:
        """Show only rows whose keys, words or section contain ``text`` (any case); a
        section with no row left is hidden too. Empty text shows everything."""
        needle = text.strip().casefold()
        shown_sections: set[str] = set()
        for item, row in self._items:
            hit = not needle or any(
                needle in part.casefold() for part in (row.keys, row.what, row.where)
            )
            item.setHidden(not hit)
            if hit:
                shown_sections.add(row.where)
        for where, section in self._sections.items():
            section.setHidden(where not in shown_sections)


__all__ = ["ShortcutsDialog", "all_key_help"]
