"""Side by side mode's link between its two canvases: one zoom, one scroll position.

GUI thread only (the canvases' signals are same-thread, delivered directly).
"""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QScrollBar

from refiner_gui.ui.viewer.image_canvas import ImageCanvas


class PaneSync(QObject):
    """Copies every zoom and scroll change of either canvas to the other.

    Lives as long as its parent (the viewer); the canvases must not outlive it.
    """

    def __init__(self, first: ImageCanvas, second: ImageCanvas, parent: QObject) -> None:
        super().__init__(parent)
        self._syncing = False
        self._link(first, second)
        self._link(second, first)

    def _link(self, source: ImageCanvas, target: ImageCanvas) -> None:
        source.transformChanged.connect(partial(self._copy_view, source, target))
        source.horizontalScrollBar().valueChanged.connect(
            partial(self._copy_scroll, target.horizontalScrollBar())
        )
        source.verticalScrollBar().valueChanged.connect(
            partial(self._copy_scroll, target.verticalScrollBar())
        )

    def _copy_view(self, source: ImageCanvas, target: ImageCanvas) -> None:
        # The guard stops the echo: the target's own transformChanged / scroll signals
        # would otherwise copy back to the source mid-update.
        if self._syncing:
            return
        self._syncing = True
        try:
            target.copy_view_from(source)
        finally:
            self._syncing = False

    def _copy_scroll(self, target_bar: QScrollBar, value: int) -> None:
        if self._syncing:
            return
        self._syncing = True
        try:
            target_bar.setValue(value)
        finally:
            self._syncing = False
