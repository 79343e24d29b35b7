"""The rows of the batch queue view: one per look, with a small thumbnail of its person
photo. GUI thread only; thumbnails are decoded on the thread pool at their shown size
(:func:`refiner_gui.workers.load_image`), so no full image is ever held.

The rows are plain Qt items (a :class:`QStandardItemModel`), set once per change of a
look, rather than a Python model that the view asks for every cell at every repaint. Why:
each such call takes the GIL, and while a batch runs the worker threads hold it in turns;
a repaint of the table then waited for it dozens of times. Measured with
``bench/table_gil.py`` (100 rows, one updated every 50 ms, beside five threads holding
the GIL in ~1.5 ms bursts): longest heartbeat gap 105 ms with a Python model, 44 ms with
items; gaps over 40 ms 75 against 1.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QColor, QImage, QImageReader, QPixmap, QStandardItem, QStandardItemModel

from refiner_gui.batch import LookStatus, LookView
from refiner_gui.threads import run_task
from refiner_gui.workers import load_image

THUMB_SIDE = 40
COLUMNS = ("Look", "Status", "Stage / reason")

_STATUS_WORDS = {
    LookStatus.INVALID: "not sent",
    LookStatus.WAITING: "waiting",
    LookStatus.RUNNING: "running",
    LookStatus.DONE: "done",
    LookStatus.FAILED: "failed",
    LookStatus.UNFINISHED: "unfinished",
    LookStatus.HELD: "held elsewhere",
    LookStatus.CANCELLED: "cancelled",
}
_STATUS_COLOURS = {
    LookStatus.DONE: QColor(40, 140, 70),
    LookStatus.FAILED: QColor(190, 50, 40),
    LookStatus.INVALID: QColor(190, 50, 40),
    LookStatus.RUNNING: QColor(30, 100, 200),
}
_FLAGS = Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEnabled  # shown, never edited

_ROLE_DISPLAY = Qt.ItemDataRole.DisplayRole
_ROLE_DECORATION = Qt.ItemDataRole.DecorationRole
_ROLE_FOREGROUND = Qt.ItemDataRole.ForegroundRole
_ROLE_TOOLTIP = Qt.ItemDataRole.ToolTipRole


def _cells(view: LookView) -> list[dict[int, object]]:
    """What each column of ``view``'s row shows, by role (thumbnail apart)."""
    tip = view.error or (str(view.output) if view.output else None)
    reason = view.error or view.stage or (str(view.output.name) if view.output else "")
    return [
        {_ROLE_DISPLAY: view.name, _ROLE_TOOLTIP: tip},
        {
            _ROLE_DISPLAY: _STATUS_WORDS[view.status],
            _ROLE_FOREGROUND: _STATUS_COLOURS.get(view.status),
            _ROLE_TOOLTIP: tip,
        },
        {_ROLE_DISPLAY: reason, _ROLE_TOOLTIP: tip},
    ]


class BatchModel(QStandardItemModel):
    """The looks of one batch, in order; :meth:`set_views` replaces, :meth:`update` one."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(0, len(COLUMNS), parent)
        self.setHorizontalHeaderLabels(list(COLUMNS))
        self._views: list[LookView] = []
        self._row_of: dict[int, int] = {}  # position -> row
        self._thumbs: dict[Path, QPixmap] = {}
        self._asked: set[Path] = set()
        self._todo: list[Path] = []  # thumbnails to decode, the first one in progress
        QImageReader.supportedImageFormats()  # load the image plugins on the GUI thread

    def views(self) -> list[LookView]:
        """The rows, in order."""
        return list(self._views)

    def view_at(self, row: int) -> LookView | None:
        """The look of ``row``, or None."""
        return self._views[row] if 0 <= row < len(self._views) else None

    def set_views(self, views: list[LookView]) -> None:
        """Show ``views`` (a new batch, or the same one started again)."""
        self._views = list(views)
        self._row_of = {v.position: i for i, v in enumerate(self._views)}
        self.removeRows(0, self.rowCount())
        self.setRowCount(len(self._views))
        for row, view in enumerate(self._views):
            for col in range(len(COLUMNS)):
                item = QStandardItem()
                item.setFlags(_FLAGS)
                self.setItem(row, col, item)
            self._fill(row, view)
        for v in self._views:
            self._want_thumb(v.thumbnail)

    def update(self, view: LookView) -> None:
        """One look changed."""
        row = self._row_of.get(view.position)
        if row is None:
            return
        self._views[row] = view
        self._fill(row, view)

    def _fill(self, row: int, view: LookView) -> None:
        """Set the row's items to ``view``, touching only what changed (each set repaints)."""
        for col, roles in enumerate(_cells(view)):
            item = self.item(row, col)
            for role, value in roles.items():
                if item.data(role) != value:
                    item.setData(value, role)
        thumb = self._thumbs.get(view.thumbnail) if view.thumbnail is not None else None
        first = self.item(row, 0)
        if thumb is not None and first.data(_ROLE_DECORATION) is None:
            first.setData(thumb, _ROLE_DECORATION)

    # -- thumbnails -------------------------------------------------------------------

    def _want_thumb(self, path: Path | None) -> None:
        if path is None or path in self._asked:
            return
        self._asked.add(path)
        self._todo.append(path)
        if len(self._todo) == 1:
            self._next_thumb()

    def _next_thumb(self) -> None:
        # One decode at a time: a batch of hundreds never floods the pool (or the CPU),
        # and the image plugins are never loaded by two threads at once (that crashed).
        if not self._todo:
            return
        path = self._todo[0]
        run_task(
            lambda: load_image(path, THUMB_SIDE),
            lambda image: self._thumb_ready(path, image),
            lambda _exc: self._thumb_ready(path, QImage()),  # the row shows its name alone
            owner=self,
        )

    def _thumb_ready(self, path: Path, image: QImage) -> None:
        if self._todo and self._todo[0] == path:
            self._todo.pop(0)
        if not image.isNull():
            self._thumbs[path] = QPixmap.fromImage(image)
            for row, v in enumerate(self._views):
                if v.thumbnail == path:
                    self._fill(row, v)
        self._next_thumb()

    def thumbnail_count(self) -> int:
        """How many thumbnails are ready (tests)."""
        return len(self._thumbs)
