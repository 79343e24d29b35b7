"""Swipe view: the right image over the left one, split by a draggable vertical divider.

The right image is a child of a clip item whose rect starts at the divider, so moving the
divider only changes one rect — no pixels are copied. GUI-thread only.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRect, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QKeyEvent, QMouseEvent, QPainter, QPen, QPolygonF
from PySide6.QtWidgets import QGraphicsItem, QGraphicsRectItem, QGraphicsView, QWidget

from refiner_gui.ui.viewer.image_canvas import ImageCanvas, make_pixmap_item
from refiner_gui.ui.viewer.keys import SWIPE_KEYS

GRAB_DISTANCE = 12
"""How far (viewport pixels) from the divider a press still grabs it."""

HANDLE_RADIUS = 16
KEY_STEP = 0.02


class SwipeCanvas(ImageCanvas):
    """One view; left of the divider shows the left image, right of it the right image.

    Dragging near the divider (or its round handle) moves it; dragging elsewhere pans.
    Shift+Left / Shift+Right move it from the keyboard.

    Signals:
        splitChanged(float): the divider's position as a fraction 0..1 of the image width.
    """

    splitChanged = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Swipe comparison", parent)
        self.setToolTip(
            "Drag the divider to compare; drag elsewhere to pan; wheel to zoom.\n"
            "Shift+Left / Shift+Right move the divider."
        )
        # The divider and its handle are drawn in viewport coordinates (the handle stays at
        # the vertical middle of what is visible), so scrolling must repaint rather than
        # blit-shift the old pixels.
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.FullViewportUpdate)
        self.viewport().setMouseTracking(True)
        self.left_item = self.add_pixmap_item(make_pixmap_item())
        self.right_clip = QGraphicsRectItem()
        self.right_clip.setPen(QPen(Qt.PenStyle.NoPen))
        self.right_clip.setBrush(QBrush(Qt.BrushStyle.NoBrush))
        self.right_clip.setFlag(QGraphicsItem.GraphicsItemFlag.ItemClipsChildrenToShape)
        self.right_item = self.add_pixmap_item(make_pixmap_item())
        self.right_item.setParentItem(self.right_clip)
        self.scene().addItem(self.left_item)
        self.scene().addItem(self.right_clip)
        self._split = 0.5
        self._dragging = False

    # --------------------------------------------------------------------- API
    def split(self) -> float:
        """Divider position as a fraction of the image width (0 = all right image)."""
        return self._split

    def set_split(self, fraction: float) -> None:
        """Move the divider; ``fraction`` is clamped to 0..1."""
        fraction = max(0.0, min(1.0, fraction))
        changed = fraction != self._split
        self._split = fraction
        self._update_clip()
        if changed:
            self.splitChanged.emit(fraction)

    def divider_viewport_x(self) -> float:
        """The divider's x in viewport coordinates (for hit tests and tests)."""
        return self._divider_viewport_line()[0]

    def set_image_rect(self, rect: QRectF) -> None:
        super().set_image_rect(rect)
        self._update_clip()

    # ---------------------------------------------------------------- internal
    def _divider_scene_x(self) -> float:
        rect = self.sceneRect()
        return rect.left() + rect.width() * self._split

    def _divider_viewport_line(self) -> tuple[float, float, float]:
        """x, top and bottom of the divider in viewport coordinates, clipped to the view."""
        rect = self.sceneRect()
        transform = self.viewportTransform()
        top_left = transform.map(QPointF(self._divider_scene_x(), rect.top()))
        bottom = transform.map(QPointF(self._divider_scene_x(), rect.bottom())).y()
        height = self.viewport().height()
        return top_left.x(), max(0.0, top_left.y()), min(float(height), bottom)

    def _update_clip(self) -> None:
        rect = self.sceneRect()
        x = self._divider_scene_x()
        self.right_clip.setRect(QRectF(x, rect.top(), rect.right() - x, rect.height()))
        self.viewport().update()

    def _near_divider(self, pos: QPointF) -> bool:
        if not self.has_image():
            return False
        x, top, bottom = self._divider_viewport_line()
        return abs(pos.x() - x) <= GRAB_DISTANCE and top - GRAB_DISTANCE <= pos.y() <= (
            bottom + GRAB_DISTANCE
        )

    def _split_at(self, pos: QPointF) -> float:
        rect = self.sceneRect()
        scene_x = self.viewportTransform().inverted()[0].map(pos).x()
        return (scene_x - rect.left()) / rect.width() if rect.width() else 0.5

    # ------------------------------------------------------------------ events
    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        if event.button() == Qt.MouseButton.LeftButton and self._near_divider(event.position()):
            self._dragging = True
            self.viewport().setCursor(Qt.CursorShape.SplitHCursor)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        if self._dragging:
            self.set_split(self._split_at(event.position()))
            event.accept()
            return
        super().mouseMoveEvent(event)
        if not event.buttons():
            # Tell the user the divider can be grabbed before they press.
            cursor = (
                Qt.CursorShape.SplitHCursor
                if self._near_divider(event.position())
                else Qt.CursorShape.OpenHandCursor
            )
            self.viewport().setCursor(cursor)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        if self._dragging and event.button() == Qt.MouseButton.LeftButton:
            self._dragging = False
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt override)
        # The keys are data (viewer.keys), which the keyboard help also lists.
        direction = SWIPE_KEYS.get(Qt.Key(event.key())) if event.key() in SWIPE_KEYS else None
        if event.modifiers() & Qt.KeyboardModifier.ShiftModifier and direction is not None:
            self.set_split(self._split + direction * KEY_STEP)
            event.accept()
            return
        super().keyPressEvent(event)

    def drawForeground(self, painter: QPainter, rect: QRectF | QRect) -> None:  # noqa: N802
        if not self.has_image():
            return
        x, top, bottom = self._divider_viewport_line()
        if bottom <= top:
            return
        painter.save()
        painter.resetTransform()  # draw in viewport pixels: constant width at every zoom
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        # A dark outline under a white line keeps the divider visible on white shirts and
        # black trousers alike.
        painter.setPen(QPen(QColor(0, 0, 0, 140), 4))
        painter.drawLine(QPointF(x, top), QPointF(x, bottom))
        painter.setPen(QPen(QColor(255, 255, 255), 2))
        painter.drawLine(QPointF(x, top), QPointF(x, bottom))
        cy = (top + bottom) / 2
        center = QPointF(x, cy)
        painter.setPen(QPen(QColor(0, 0, 0, 140), 1.5))
        painter.setBrush(QColor(255, 255, 255))
        painter.drawEllipse(center, HANDLE_RADIUS, HANDLE_RADIUS)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(40, 40, 40))
        for direction in (-1, 1):
            tip = x + direction * 10
            base = x + direction * 3
            painter.drawPolygon(
                QPolygonF([QPointF(tip, cy), QPointF(base, cy - 6), QPointF(base, cy + 6)])
            )
        painter.restore()
