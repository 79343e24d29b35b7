"""A zoomable, pannable QGraphicsView for photos, with caption overlays.

Zoom and pan are only a view transform and scroll position: the pixmaps are never rescaled,
and QGraphicsView repaints only the exposed part of the viewport, so two 4095x4095 images
stay fluid. All methods are GUI-thread only.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QEvent, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QImage,
    QPainter,
    QPixmap,
    QResizeEvent,
    QTransform,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QFrame,
    QGraphicsPixmapItem,
    QGraphicsScene,
    QGraphicsView,
    QLabel,
    QStyleOptionGraphicsItem,
    QWidget,
)

from refiner_gui.zoom_levels import scaled_levels

CANVAS_GREY = QColor(0x6E, 0x6E, 0x6E)
"""Neutral mid grey behind the photos: neither light nor dark theme may tint how a garment's
colour is judged, so this one colour is fixed on purpose."""

MIN_ZOOM = 0.02
MAX_ZOOM = 32.0
ZOOM_STEP = 1.25
CAPTION_MARGIN = 8

# Captions sit on photographs, not on the window palette, so they carry their own contrast:
# white on a translucent black plate reads on any garment colour in light and dark themes.
_CAPTION_STYLE = (
    "QLabel { color: white; background-color: rgba(0, 0, 0, 165);"
    " border-radius: 4px; padding: 3px 8px; font-weight: 600; }"
)


class ViewState:
    """Where a canvas looks: scale, scene point at the viewport centre, and fit mode."""

    __slots__ = ("scale", "center", "fit")

    def __init__(self, scale: float, center: QPointF, fit: bool) -> None:
        self.scale = scale
        self.center = center
        self.fit = fit


class Caption(QLabel):
    """A label drawn over the photo; invisible to the mouse so it never blocks panning."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setStyleSheet(_CAPTION_STYLE)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.hide()


class ImageCanvas(QGraphicsView):
    """A view of one scene whose rect is the (left) image's rect.

    Mouse: wheel zooms about the cursor, drag pans. Keys that change the zoom (+ - 0 1) are
    deliberately *not* handled here: they propagate to the owning viewer, which applies them
    to whichever canvases are on screen.

    Signals:
        transformChanged: the scale changed through this class' API (zoom, fit, state);
            the viewer uses it to synchronise panes. Scroll position changes are reported
            by the scroll bars' own ``valueChanged``.
        zoomChanged(float): the new zoom, 1.0 = one image pixel per *device* pixel.

    Zoom is counted in device pixels: on a 2x screen 100 % shows each image pixel on one
    screen pixel (the view's transform is then 0.5), not blown up to 2x2; above 100 % the
    pixels are drawn sharp (nearest neighbour) for close inspection, below it smoothed.
    """

    transformChanged = Signal()
    zoomChanged = Signal(float)

    def __init__(self, accessible_name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setBackgroundBrush(QBrush(CANVAS_GREY))
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        # Anchoring is done by hand (zoom_to): Qt's AnchorUnderMouse reads QCursor::pos(),
        # which synthetic wheel events and the offscreen platform do not move.
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        # Panning is by drag and arrow keys; scroll bars would only take room from the photo
        # and make the two side-by-side panes differ in size when one shows them.
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAccessibleName(accessible_name)
        self._fit = True
        self._last_ratio = 1.0  # the pixel ratio the transform was set for
        self._pixmap_items: list[PhotoItem] = []
        self._captions: dict[Qt.AlignmentFlag, Caption] = {}

    # ----------------------------------------------------------------- content
    def add_pixmap_item(self, item: PhotoItem) -> PhotoItem:
        """Register an item whose smoothing follows the zoom; add it to the scene yourself
        (or as a child of an item in the scene)."""
        self._pixmap_items.append(item)
        self._update_smoothing()
        return item

    def set_image_rect(self, rect: QRectF) -> None:
        """Set the scene rect (the area one can pan over) and fit it into the view."""
        self.setSceneRect(rect)
        self.fit()

    def has_image(self) -> bool:
        return not self.sceneRect().isEmpty()

    # ------------------------------------------------------------------- zoom
    def device_pixel_ratio(self) -> float:
        """Device pixels per logical pixel of the screen the canvas is on."""
        return self.devicePixelRatioF() or 1.0

    def zoom(self) -> float:
        """Current zoom in image pixels per device pixel (1.0 = 1:1 on any screen)."""
        return self.transform().m11() * self.device_pixel_ratio()

    def is_fit(self) -> bool:
        """True while the canvas keeps the image fitted (it refits on resize)."""
        return self._fit

    def fit(self) -> None:
        """Scale the whole image into the viewport, centred, and keep it fitted on resize."""
        self._fit = True
        rect = self.sceneRect()
        view = self.viewport().rect()
        if rect.isEmpty() or view.isEmpty():
            return
        # fitInView leaves an odd 2 px margin and can undershoot; compute the scale directly.
        scale = min(view.width() / rect.width(), view.height() / rect.height())
        scale *= self.device_pixel_ratio()  # logical fit, counted in device pixels
        self._set_scale(max(MIN_ZOOM, min(MAX_ZOOM, scale)))
        self.centerOn(rect.center())

    def zoom_to(self, scale: float, anchor: QPointF | None = None) -> None:
        """Set the scale, keeping the scene point under ``anchor`` (viewport coordinates,
        default the viewport centre) where it is. Leaves fit mode."""
        self._fit = False
        scale = max(MIN_ZOOM, min(MAX_ZOOM, scale))
        old = self.zoom()
        view_center = QRectF(self.viewport().rect()).center()
        if anchor is None:
            anchor = view_center
        anchor_scene = self.mapToScene(anchor.toPoint())
        center_scene = self.mapToScene(view_center.toPoint())
        self._set_scale(scale)
        # The scene point under the anchor stays put: the centre moves towards the anchor
        # by the same proportion the scale grew.
        ratio = old / scale if scale else 1.0
        self.centerOn(anchor_scene + (center_scene - anchor_scene) * ratio)

    def zoom_by(self, factor: float, anchor: QPointF | None = None) -> None:
        self.zoom_to(self.zoom() * factor, anchor)

    def zoom_in(self) -> None:
        self.zoom_by(ZOOM_STEP)

    def zoom_out(self) -> None:
        self.zoom_by(1.0 / ZOOM_STEP)

    def actual_size(self) -> None:
        self.zoom_to(1.0)

    def view_state(self) -> ViewState:
        center = self.mapToScene(self.viewport().rect().center())
        return ViewState(self.zoom(), QPointF(center), self._fit)

    def apply_view_state(self, state: ViewState) -> None:
        """Look where another canvas looks (used when the mode changes)."""
        if state.fit:
            self.fit()
            return
        self._fit = False
        self._set_scale(state.scale)
        self.centerOn(state.center)

    def copy_view_from(self, other: ImageCanvas) -> None:
        """Take ``other``'s transform and scroll position verbatim (same-size panes)."""
        self._fit = other._fit
        if not math.isclose(other.zoom(), self.zoom(), rel_tol=1e-12):
            self._set_scale(other.zoom())
        self.horizontalScrollBar().setValue(other.horizontalScrollBar().value())
        self.verticalScrollBar().setValue(other.verticalScrollBar().value())

    def _set_scale(self, scale: float) -> None:
        """Set the zoom (device pixels, see :meth:`zoom`)."""
        changed = not math.isclose(scale, self.zoom(), rel_tol=1e-12)
        self._last_ratio = self.device_pixel_ratio()
        logical = scale / self._last_ratio
        self.setTransform(QTransform.fromScale(logical, logical))
        if changed:
            self._update_smoothing()
            self.zoomChanged.emit(scale)
        self.transformChanged.emit()

    def _update_smoothing(self) -> None:
        # Filtering only when zoomed out: at 1:1 and above the stylist wants to see real
        # pixels (and nearest-neighbour is cheaper, keeping big-image pans fluid).
        mode = (
            Qt.TransformationMode.SmoothTransformation
            if self.zoom() < 1.0
            else Qt.TransformationMode.FastTransformation
        )
        for item in self._pixmap_items:
            item.setTransformationMode(mode)

    # ---------------------------------------------------------------- captions
    def caption(self, corner: Qt.AlignmentFlag) -> Caption:
        """The caption in ``corner`` (AlignLeft, AlignRight, AlignCenter, AlignBottom…)."""
        if corner not in self._captions:
            self._captions[corner] = Caption(self)
        return self._captions[corner]

    def set_caption(self, corner: Qt.AlignmentFlag, text: str, tooltip: str = "") -> None:
        """Show ``text`` in ``corner``; an empty text hides the caption."""
        label = self.caption(corner)
        label.setText(text)
        label.setToolTip(tooltip)
        label.setAccessibleName(text)
        label.setVisible(bool(text))
        label.adjustSize()
        self._place_captions()

    def _place_captions(self) -> None:
        area = self.viewport().geometry()
        for corner, label in self._captions.items():
            size = label.sizeHint()
            label.resize(size)
            if corner & Qt.AlignmentFlag.AlignRight:
                x = area.right() - CAPTION_MARGIN - size.width() + 1
            elif corner & Qt.AlignmentFlag.AlignHCenter:
                x = area.left() + (area.width() - size.width()) // 2
            else:
                x = area.left() + CAPTION_MARGIN
            if corner & Qt.AlignmentFlag.AlignBottom:
                y = area.bottom() - CAPTION_MARGIN - size.height() + 1
            elif corner & Qt.AlignmentFlag.AlignVCenter:
                y = area.top() + (area.height() - size.height()) // 2
            else:
                y = area.top() + CAPTION_MARGIN
            label.move(x, y)
            label.raise_()

    # ------------------------------------------------------------------ events
    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        if self._fit:
            self.fit()
        self._place_captions()

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt override)
        """Moved to a screen of another pixel ratio: keep the zoom in device pixels."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.DevicePixelRatioChange:
            if self._fit:
                self.fit()
            else:
                centre = self.mapToScene(self.viewport().rect().center())
                self._set_scale(self.transform().m11() * self._last_ratio)
                self.centerOn(centre)

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 (Qt override)
        delta = event.angleDelta().y()
        if delta == 0 or not self.has_image():
            super().wheelEvent(event)
            return
        # 120 units = one notch = one zoom step; trackpads send smaller deltas and so zoom
        # smoothly in proportion.
        self.zoom_by(ZOOM_STEP ** (delta / 120.0), event.position())
        event.accept()


def build_levels(
    image: QImage, levels: tuple[QImage, ...] | None = None, smallest: int = 256
) -> tuple[QPixmap, ...]:
    """The zoom levels of ``image`` as pixmaps: ``levels`` when a worker made them ahead
    (a job's outcome carries them), else made here.

    GUI thread (QPixmap).
    """
    if levels is None:
        levels = scaled_levels(image, smallest)
    return tuple(QPixmap.fromImage(level) for level in levels)


class PhotoItem(QGraphicsPixmapItem):
    """A pixmap item that draws from a smaller pre-averaged level when zoomed far out.

    Its geometry is always the full pixmap's, so picking, clipping and the scene rect do
    not depend on the level drawn.
    """

    def __init__(self) -> None:
        super().__init__()
        self.setShapeMode(QGraphicsPixmapItem.ShapeMode.BoundingRectShape)
        self._levels: tuple[QPixmap, ...] = ()

    def set_photo(self, pixmap: QPixmap, levels: tuple[QPixmap, ...] = ()) -> None:
        """Show ``pixmap``; ``levels`` are its downscaled copies, largest first."""
        self._levels = levels
        self.setPixmap(pixmap)

    def levels(self) -> tuple[QPixmap, ...]:
        return self._levels

    def level_for(self, scale: float) -> QPixmap | None:
        """The smallest level still at least as wide as the pixmap drawn at ``scale``,
        or None to draw the full pixmap."""
        shown_width = self.pixmap().width() * scale
        chosen = None
        for level in self._levels:
            if level.width() < shown_width:
                break
            chosen = level
        return chosen

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget=None) -> None:
        scale = QStyleOptionGraphicsItem.levelOfDetailFromTransform(painter.worldTransform())
        # On a 2x screen the photo covers twice as many device pixels as the logical scale
        # says; choosing by logical size would upscale a level and blur fine detail.
        device = painter.device()
        if device is not None:
            scale *= device.devicePixelRatioF()
        level = self.level_for(scale) if scale < 0.5 else None
        if level is None:
            super().paint(painter, option, widget)
            return
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        full = self.pixmap()
        painter.drawPixmap(QRectF(0, 0, full.width(), full.height()), level, QRectF(level.rect()))
        painter.restore()


def make_pixmap_item() -> PhotoItem:
    """An empty photo item (no cache: the view's own exposure handling is enough)."""
    item = PhotoItem()
    item.setCacheMode(QGraphicsPixmapItem.CacheMode.NoCache)
    return item
