"""Difference view: the heatmap laid over the left image. GUI-thread only.

The difference values arrive once per image pair as an 8-bit indexed QImage (computed on a
worker thread). A threshold change only swaps that image's 256-entry colour table and
rebuilds one pixmap — no difference is recomputed and no Python touches single pixels.
"""

from __future__ import annotations

from PySide6.QtGui import QImage, QPainter, QPixmap
from PySide6.QtWidgets import QWidget

from refiner_gui.ui.viewer.difference import DEFAULT_THRESHOLD, heatmap_color_table
from refiner_gui.ui.viewer.image_canvas import ImageCanvas, build_levels, make_pixmap_item


class DifferenceCanvas(ImageCanvas):
    """The left image, dimmed where unchanged and coloured yellow→red where changed."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Difference heatmap", parent)
        self.setToolTip(
            "Yellow to red: where the refined image differs from the coarse one "
            "by more than the threshold. Wheel to zoom, drag to pan."
        )
        self.base_item = self.add_pixmap_item(make_pixmap_item())
        self.heat_item = self.add_pixmap_item(make_pixmap_item())
        self.scene().addItem(self.base_item)
        self.scene().addItem(self.heat_item)
        self._difference = QImage()
        self._threshold = DEFAULT_THRESHOLD

    def has_difference(self) -> bool:
        return not self._difference.isNull()

    def set_difference(self, difference: QImage | None) -> None:
        """Show a new difference map (``Format_Indexed8``, values 0..255), or none."""
        self._difference = QImage(difference) if difference is not None else QImage()
        self._render()

    def threshold(self) -> int:
        return self._threshold

    def set_threshold(self, threshold: int) -> None:
        """Recolour for ``threshold`` (0..255); cheap relative to computing the map."""
        self._threshold = max(0, min(255, int(threshold)))
        self._render()

    def heatmap_image(self) -> QImage:
        """The heatmap overlay alone (ARGB, left image size); null if not computed yet."""
        if self._difference.isNull():
            return QImage()
        return self._colored().convertToFormat(QImage.Format.Format_ARGB32)

    def rendered_image(self, base: QImage) -> QImage:
        """``base`` with the heatmap drawn over it, as the view shows it at 1:1."""
        if self._difference.isNull() or base.isNull():
            return QImage()
        result = base.convertToFormat(QImage.Format.Format_ARGB32_Premultiplied)
        painter = QPainter(result)
        try:
            painter.drawImage(0, 0, self._colored())
        finally:
            painter.end()
        return result

    def _colored(self) -> QImage:
        image = QImage(self._difference)
        image.setColorTable(heatmap_color_table(self._threshold))
        return image

    def _render(self) -> None:
        if self._difference.isNull():
            self.heat_item.set_photo(QPixmap())
            return
        colored = self._colored().convertToFormat(QImage.Format.Format_ARGB32_Premultiplied)
        # Averaged levels keep a few changed pixels visible (faded) at fit zoom, where
        # plain bilinear sampling could skip them entirely.
        self.heat_item.set_photo(QPixmap.fromImage(colored), build_levels(colored))
