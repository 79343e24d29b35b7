"""Dragging a slot's thumbnail onto another slot, to swap the two slots' files.

The drag carries :data:`~refiner_gui.ui.drop_mime.SLOT_MIME` (this process and the source
slot), never the file: the target slot emits ``swapRequested(source)`` and the window's
loader swaps the two files. GUI thread only.
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QDrag, QPixmap
from PySide6.QtWidgets import QWidget

from refiner_gui.ui.drop_mime import slot_mime

DRAG_PIXMAP_SIDE = 96
"""Size of the picture under the pointer while dragging (logical pixels)."""


def start_slot_drag(source: QWidget, slot: str, picture: QPixmap) -> Qt.DropAction:
    """Drag ``slot``'s thumbnail from ``source`` (blocks until dropped, as QDrag does)."""
    drag = QDrag(source)
    drag.setMimeData(slot_mime(slot))
    dpr = source.devicePixelRatioF()
    side = round(DRAG_PIXMAP_SIDE * dpr)
    small = picture.scaled(
        side, side, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
    )
    small.setDevicePixelRatio(dpr)
    drag.setPixmap(small)
    drag.setHotSpot(QPoint(round(small.width() / dpr / 2), round(small.height() / dpr / 2)))
    return drag.exec(Qt.DropAction.MoveAction)
