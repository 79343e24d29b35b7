"""The rows of the batch queue view: one per look, with a small thumbnail of its person
photo. GUI thread only; thumbnails are decoded on the thread pool at their shown size
(:func:`refiner_gui.workers.load_image`), so no full image is ever held.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor, QImage, QImageReader, QPixmap

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

Index = QModelIndex | QPersistentModelIndex


class BatchModel(QAbstractTableModel):
    """The looks of one batch, in order; :meth:`set_views` replaces, :meth:`update` one."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
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
        self.beginResetModel()
        self._views = list(views)
        self._row_of = {v.position: i for i, v in enumerate(self._views)}
        self.endResetModel()
        for v in self._views:
            self._want_thumb(v.thumbnail)

    def update(self, view: LookView) -> None:
        """One look changed."""
        row = self._row_of.get(view.position)
        if row is None:
            return
        self._views[row] = view
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))

    # -- Qt model ---------------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802 - Qt API
        """Number of looks."""
        return 0 if parent.isValid() else len(self._views)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802 - Qt API
        """Number of columns."""
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(  # noqa: N802 - Qt API
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> object:
        """Column titles."""
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        """Name with thumbnail, status word (coloured), stage or why it failed."""
        view = self.view_at(index.row()) if index.isValid() else None
        if view is None:
            return None
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if col == 0:
                return view.name
            if col == 1:
                return _STATUS_WORDS[view.status]
            return view.error or view.stage or (str(view.output.name) if view.output else "")
        if role == Qt.ItemDataRole.DecorationRole and col == 0 and view.thumbnail is not None:
            return self._thumbs.get(view.thumbnail)
        if role == Qt.ItemDataRole.ForegroundRole and col == 1:
            return _STATUS_COLOURS.get(view.status)
        if role == Qt.ItemDataRole.ToolTipRole:
            return view.error or (str(view.output) if view.output else None)
        return None

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
                    self.dataChanged.emit(self.index(row, 0), self.index(row, 0))
        self._next_thumb()

    def thumbnail_count(self) -> int:
        """How many thumbnails are ready (tests)."""
        return len(self._thumbs)
