"""The history's job table: a QTableView set up for many rows of thumbnails and text.

A view: :class:`JobTable` only configures itself and sizes its columns from the font;
the panel owns its actions, selection handling and sorting. GUI thread only.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QWidget,
)

from refiner_gui.ui.history.model import (
    DATE,
    GENDER,
    NOTE,
    STATE,
    TAGS,
    TASK,
    THUMBS,
    VERDICT,
    HistoryModel,
)
from refiner_gui.ui.history.thumbnails import PAIR_SIZE, THUMB_HEIGHT
from refiner_gui.ui.key_help import KeyHelp

HISTORY_SECTION = "History (when the job list has the focus)"

HISTORY_KEYS: tuple[KeyHelp, ...] = (
    KeyHelp("Enter", "Open the job in the viewer", HISTORY_SECTION),
    KeyHelp("Delete", "Delete the selected jobs (asks first)", HISTORY_SECTION),
    KeyHelp("Ctrl+C", "Copy the selected jobs' task ids", HISTORY_SECTION),
)
"""The job list's keys for the keyboard help (the panel binds Delete and Copy as the
platform's standard keys; these are their usual names)."""

LOW_VALUE_FIRST = (GENDER, TASK, TAGS, DATE)
"""Columns hidden, in this order, when the table is too narrow to show every column
without a horizontal scroll bar (the thumbnails, state, verdict and note always stay;
the hidden facts are still in each row's tooltip, the job's dialog and the exports)."""


class JobTable(QTableView):
    """Rows select whole, several at once; nothing is edited in place; fixed row heights
    (the view never measures 10,000 rows); a context menu is requested, not shown; the
    header's sort indicator starts on Date, newest first, and the caller handles clicks.
    """

    def __init__(self, model: HistoryModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("historyTable")
        self.setAccessibleName("Jobs")
        self.setAccessibleDescription(
            "One row per job. Enter opens it; the context menu has more actions."
        )
        self.setModel(model)
        # Task ids differ at both ends; cut them in the middle (the tooltip has all of it).
        self._middle_elide = MiddleElideDelegate(self)
        self.setItemDelegateForColumn(TASK, self._middle_elide)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        self.setShowGrid(False)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        vheader = self.verticalHeader()
        vheader.hide()
        vheader.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        vheader.setDefaultSectionSize(THUMB_HEIGHT + 8)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        header.setHighlightSections(False)
        header.setSectionsClickable(True)
        header.setSortIndicatorShown(True)
        header.setSortIndicator(DATE, Qt.SortOrder.DescendingOrder)
        self._size_columns(model)

    def _size_columns(self, model: HistoryModel) -> None:
        """Widths from the font, so 2x screens and large fonts keep every label readable,
        and the note column (the last, stretched) still shows in a 1,100 px window."""
        fm = self.fontMetrics()
        margin = 2 * fm.averageCharWidth() + 4  # cell margins on both sides
        arrow = 18  # the header's sort arrow

        def fit(sample: str, header: str, extra: int = 0, sortable: bool = False) -> int:
            return (
                max(
                    fm.horizontalAdvance(sample) + extra,
                    fm.horizontalAdvance(header) + (arrow if sortable else 0),
                )
                + margin
            )

        widths = {
            THUMBS: fit("", "Coarse · Refined", PAIR_SIZE.width()),
            STATE: fit("Outcome unknown", "State", 12 + 6, sortable=True),  # dot + gap
            DATE: fit("30 Sep 2099 23:59", "Date", sortable=True),
            GENDER: fit("Woman", "Gender", sortable=True),
            VERDICT: fit("✗ Fail", "Verdict", sortable=True),
            TAGS: fit("Garment colour, Hands", "Tags"),
            TASK: fit("0" * 16, "Task id"),
        }
        for col, width in widths.items():
            self.setColumnWidth(col, width)
        self._widths = widths
        self._note_min = fm.horizontalAdvance("Note") + margin
        self.horizontalHeader().setMinimumSectionSize(self._note_min)
        assert model.columnCount() - 1 == NOTE  # the note column takes the rest

    def fit_columns(self, width: int) -> None:
        """Show every column that fits ``width`` (the viewport's), hiding the
        :data:`LOW_VALUE_FIRST` ones first, so no horizontal scroll bar appears."""
        hidden: set[int] = set()
        # The stretched note column never gets narrower than the default section size.
        note = max(self._note_min, self.horizontalHeader().defaultSectionSize())
        needed = sum(self._widths.values()) + note
        for col in LOW_VALUE_FIRST:
            if needed <= width:
                break
            hidden.add(col)
            needed -= self._widths[col]
        for col in self._widths:
            if self.isColumnHidden(col) != (col in hidden):
                self.setColumnHidden(col, col in hidden)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt API
        """Hide or show the low-value columns for the new width."""
        super().resizeEvent(event)
        self.fit_columns(self.viewport().width())


class MiddleElideDelegate(QStyledItemDelegate):
    """Draws text elided in the middle rather than at the end."""

    def initStyleOption(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        """Qt: as the base class, with the middle elided."""
        super().initStyleOption(option, index)
        option.textElideMode = Qt.TextElideMode.ElideMiddle  # type: ignore[attr-defined]
