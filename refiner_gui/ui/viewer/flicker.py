"""Flicker (A/B) view: both images in one place, one visible at a time. GUI-thread only."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWidget

from refiner_gui.ui.viewer.image_canvas import ImageCanvas, make_pixmap_item


class FlickerCanvas(ImageCanvas):
    """Shows the left or the right image at the same place and zoom.

    Switching is an item visibility flip, so it is instant even for 4095x4095 images and
    the eye catches every moved pixel. Space is handled by the owning viewer.

    Signals:
        flickered(bool): True when the right image is now shown.
    """

    flickered = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Flicker comparison", parent)
        self.setToolTip("Press Space (or click Flicker again) to switch images; wheel to zoom.")
        self.left_item = self.add_pixmap_item(make_pixmap_item())
        self.right_item = self.add_pixmap_item(make_pixmap_item())
        self.scene().addItem(self.left_item)
        self.scene().addItem(self.right_item)
        self._showing_right = False
        self.right_item.setVisible(False)

    def showing_right(self) -> bool:
        """True if the right (refined) image is the one on screen."""
        return self._showing_right

    def set_showing_right(self, right: bool) -> None:
        if right == self._showing_right:
            return
        self._showing_right = right
        # Hide the lower item too: the upper one may be transparent or smaller.
        self.right_item.setVisible(right)
        self.left_item.setVisible(not right)
        self.flickered.emit(right)

    def toggle(self) -> None:
        self.set_showing_right(not self._showing_right)
