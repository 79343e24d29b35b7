"""A layout that places its items in rows and wraps them onto a new row when narrow.

Used where a row of buttons would otherwise pin the window's minimum width (the review
bar's tags, the result actions, the gender choice): a flow layout's minimum width is its
widest single item, and its height follows the width it is given (height-for-width), so
a narrow window gets two rows instead of clipped buttons or a wider window.
GUI thread only.
"""

from __future__ import annotations

from PySide6.QtCore import QMargins, QPoint, QRect, QSize, Qt
from PySide6.QtWidgets import QHBoxLayout, QLayout, QLayoutItem, QWidget, QWidgetItem


class FlowLayout(QLayout):
    """Items left to right, wrapping to a new row when the next one does not fit.

    Args:
        parent: the widget to lay out, if any.
        spacing: pixels between items, across and between rows.
    """

    def __init__(self, parent: QWidget | None = None, spacing: int = 6) -> None:
        super().__init__(parent)
        self._items: list[QLayoutItem] = []
        self._stretched: set[int] = set()  # ids of items that take their row's spare width
        self._gap = spacing
        self.setContentsMargins(0, 0, 0, 0)  # a row inside something that has margins

    # QLayout's item interface ----------------------------------------------------------
    def addItem(self, item: QLayoutItem) -> None:  # noqa: N802 - Qt API
        self._items.append(item)

    def addWidget(self, widget: QWidget, stretch: bool = False) -> None:  # noqa: N802 - Qt API
        """Add ``widget`` at the end of the flow; a ``stretch`` one wraps by its minimum
        width and then takes the spare width of its row (a text field)."""
        self.addChildWidget(widget)
        item = QWidgetItem(widget)
        if stretch:
            self._stretched.add(id(item))
        self.addItem(item)
        self.invalidate()

    def insertWidget(self, index: int, widget: QWidget) -> None:  # noqa: N802 - Qt API
        """Put ``widget`` at ``index`` in the flow (0: first)."""
        self.addChildWidget(widget)
        self._items.insert(index, QWidgetItem(widget))
        self.invalidate()

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int) -> QLayoutItem | None:  # noqa: N802 - Qt API
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int) -> QLayoutItem | None:  # noqa: N802 - Qt API
        if not 0 <= index < len(self._items):
            return None
        item = self._items.pop(index)
        self._stretched.discard(id(item))
        return item

    def expandingDirections(self) -> Qt.Orientation:  # noqa: N802 - Qt API
        return Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:  # noqa: N802 - Qt API
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: N802 - Qt API
        return self._place(QRect(0, 0, width, 0), move=False)

    def setGeometry(self, rect: QRect) -> None:  # noqa: N802 - Qt API
        super().setGeometry(rect)
        self._place(rect, move=True)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        """All items on one row."""
        width = height = 0
        for item in self._visible():
            hint = item.sizeHint()
            width += hint.width() + (self._gap if width else 0)
            height = max(height, hint.height())
        return QSize(width, height).grownBy(self.contentsMargins())

    def minimumSize(self) -> QSize:  # noqa: N802 - Qt API
        """The widest single item (everything else can wrap)."""
        size = QSize()
        for item in self._visible():
            size = size.expandedTo(item.minimumSize())
        return size.grownBy(self.contentsMargins())

    # placing ---------------------------------------------------------------------------
    def _visible(self) -> list[QLayoutItem]:
        return [item for item in self._items if not item.isEmpty()]

    def _width_of(self, item: QLayoutItem) -> int:
        if id(item) in self._stretched:
            return item.minimumSize().width()
        return item.sizeHint().width()

    def _place(self, rect: QRect, *, move: bool) -> int:
        """Lay the items out in ``rect`` (only measure unless ``move``); the height used."""
        margins: QMargins = self.contentsMargins()
        area = rect.marginsRemoved(margins)
        rows: list[list[QLayoutItem]] = [[]]
        x = 0
        for item in self._visible():
            width = self._width_of(item)
            if rows[-1] and x + width > area.width():
                rows.append([])
                x = 0
            rows[-1].append(item)
            x += width + self._gap
        y = area.y()
        for row in rows:
            if not row:
                continue
            used = sum(self._width_of(item) for item in row) + self._gap * (len(row) - 1)
            stretched = [item for item in row if id(item) in self._stretched]
            spare = max(0, area.width() - used)
            placed = []
            for item in row:
                width = self._width_of(item)
                if stretched and id(item) in self._stretched:
                    width += spare // len(stretched)
                width = min(width, area.width())  # a wrapping label gets more lines
                tall = item.heightForWidth(width) if item.hasHeightForWidth() else -1
                placed.append((item, width, tall if tall > 0 else item.sizeHint().height()))
            height = max(item_height for _, _, item_height in placed)
            if move:
                x = area.x()
                for item, width, item_height in placed:
                    top = y + (height - item_height) // 2  # centred in the row
                    item.setGeometry(QRect(QPoint(x, top), QSize(width, item_height)))
                    x += width + self._gap
            y += height + self._gap
        return y - self._gap - rect.y() + margins.bottom() if y > area.y() else 0


def row_widget(*widgets: QWidget, stretch: QWidget | None = None, spacing: int = 6) -> QWidget:
    """``widgets`` side by side in one widget, kept together on one row of a flow; the
    ``stretch`` one takes the spare width."""
    box = QWidget()
    row = QHBoxLayout(box)
    row.setContentsMargins(0, 0, 0, 0)
    row.setSpacing(spacing)
    for widget in widgets:
        row.addWidget(widget, 1 if widget is stretch else 0)
    return box
