"""The result viewer: a coarse and a refined try-on image compared four ways.

Layout: a toolbar (mode buttons, zoom controls, mode-specific controls) above a stack of
canvases, one page per :class:`ViewMode`. Every page shows the same QPixmaps (implicitly
shared, so four pages cost one copy of each image) in its own QGraphicsScene.

Threads: everything here runs on the GUI thread. The only off-thread work is the difference
map, started lazily the first time Difference mode is shown for an image pair (see
``difference_worker``); its result comes back through a queued ``@Slot``.

"Left" and "right" name image positions, not roles: ``set_images`` puts the coarse image on
the left, and ``set_labels`` names the positions. A blind review can therefore pass the
images in shuffled order and neutral labels without the viewer knowing which is which.
"""

from __future__ import annotations

import logging
from functools import partial

from PySide6.QtCore import QRectF, QSize, Qt, QTimer, Signal, Slot
from PySide6.QtGui import (
    QCloseEvent,
    QImage,
    QKeyEvent,
    QPixmap,
    QTransform,
)
from PySide6.QtWidgets import (
    QAbstractButton,
    QFrame,
    QHBoxLayout,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from refiner_gui.sizes import format_pixels
from refiner_gui.ui.viewer import difference_worker
from refiner_gui.ui.viewer.composite import compose_side_by_side
from refiner_gui.ui.viewer.difference import DEFAULT_THRESHOLD, count_above
from refiner_gui.ui.viewer.difference_worker import DifferenceJob, DifferenceResult
from refiner_gui.ui.viewer.flicker import FlickerCanvas
from refiner_gui.ui.viewer.heatmap import DifferenceCanvas
from refiner_gui.ui.viewer.image_canvas import (
    ImageCanvas,
    PhotoItem,
    build_levels,
    make_pixmap_item,
)
from refiner_gui.ui.viewer.keys import viewer_key
from refiner_gui.ui.viewer.modes import ViewMode
from refiner_gui.ui.viewer.pane_sync import PaneSync
from refiner_gui.ui.viewer.swipe import SwipeCanvas
from refiner_gui.ui.viewer.toolbar import ViewerToolbar

log = logging.getLogger(__name__)

DEFAULT_LABELS = ("Coarse", "Refined")


def _size_text(size: QSize) -> str:
    return format_pixels(size.width(), size.height())


class CompareViewer(QWidget):
    """Shows a coarse and a refined image side by side, as a swipe, as A/B flicker or as a
    difference heatmap, with synchronised zoom and pan.

    Keys (when the viewer or a child has focus): ``+``/``-`` zoom, ``0`` fit, ``1`` 1:1,
    Space switches images in Flicker mode. Wheel zooms about the cursor, drag pans.

    Signals:
        modeChanged(ViewMode): after the mode changed (not emitted if it stays the same).
        zoomChanged(float): the shown scale changed; 1.0 = one image pixel per
            device pixel (see :class:`~.image_canvas.ImageCanvas`).
        differenceReady(): the difference map for the current pair is available.

    All methods must be called on the GUI thread.
    """

    modeChanged = Signal(object)
    zoomChanged = Signal(float)
    differenceReady = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Result comparison")
        self._mode = ViewMode.SIDE_BY_SIDE
        self._left_image = QImage()
        self._right_image = QImage()
        self._labels = DEFAULT_LABELS
        self._threshold = DEFAULT_THRESHOLD
        self._last_zoom = 1.0
        self._diff_token = 0
        self._diff_job: DifferenceJob | None = None
        # Every job this viewer started whose thread may still run (including cancelled
        # and already-delivered ones), so closing the viewer can join them all.
        self._own_jobs: list[DifferenceJob] = []
        self._diff_result: DifferenceResult | None = None
        self._diff_error = ""

        self.left_pane = ImageCanvas("Left image")
        self.right_pane = ImageCanvas("Right image")
        self._left_pane_item = self.left_pane.add_pixmap_item(make_pixmap_item())
        self._right_pane_item = self.right_pane.add_pixmap_item(make_pixmap_item())
        self.left_pane.scene().addItem(self._left_pane_item)
        self.right_pane.scene().addItem(self._right_pane_item)
        for pane in (self.left_pane, self.right_pane):
            pane.setToolTip("Wheel to zoom at the cursor, drag to pan; both sides follow.")
        self.swipe_canvas = SwipeCanvas()
        self.flicker_canvas = FlickerCanvas()
        self.difference_canvas = DifferenceCanvas()

        side_by_side = QWidget()
        pair = QHBoxLayout(side_by_side)
        pair.setContentsMargins(0, 0, 0, 0)
        pair.setSpacing(2)
        pair.addWidget(self.left_pane, 1)
        pair.addWidget(self.right_pane, 1)
        self._pages: dict[ViewMode, QWidget] = {
            ViewMode.SIDE_BY_SIDE: side_by_side,
            ViewMode.SWIPE: self.swipe_canvas,
            ViewMode.FLICKER: self.flicker_canvas,
            ViewMode.DIFFERENCE: self.difference_canvas,
        }
        self._stack = QStackedWidget()
        for page in self._pages.values():
            self._stack.addWidget(page)

        self._pane_sync = PaneSync(self.left_pane, self.right_pane, self)
        for canvas in self._all_canvases():
            canvas.zoomChanged.connect(partial(self._on_canvas_zoom, canvas))
        self.flicker_canvas.flickered.connect(self._update_captions)

        self._threshold_timer = QTimer(self)
        self._threshold_timer.setSingleShot(True)
        # Interval 0: render once the event queue is drained, so a fast slider drag on
        # 4095x4095 images recolours for the latest value instead of queueing every step.
        self._threshold_timer.setInterval(0)
        self._threshold_timer.timeout.connect(self._apply_threshold)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        # The stack joins the focus chain before the toolbar, so the image (where the zoom
        # keys work) gets the initial focus rather than the first mode button.
        layout.addWidget(self._stack, 1)
        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        line.setFrameShadow(QFrame.Shadow.Sunken)
        layout.insertWidget(0, line)
        layout.insertWidget(0, self._build_toolbar())

        self._set_page(ViewMode.SIDE_BY_SIDE)
        self._update_captions()
        self._update_controls()

    # ================================================================ public API
    def set_images(
        self,
        coarse: QImage,
        refined: QImage,
        coarse_levels: tuple[QImage, ...] | None = None,
        refined_levels: tuple[QImage, ...] | None = None,
    ) -> None:
        """Show a new pair: ``coarse`` on the left, ``refined`` on the right.

        ``*_levels`` are the images' zoom levels when a worker made them ahead (see
        :func:`refiner_gui.zoom_levels.scaled_levels`); else they are made here.

        Builds the QPixmaps here (GUI thread); the QImages may have been decoded on any
        thread. If the sizes differ, the refined image is shown scaled to the coarse one's
        size so both line up, and the captions say so. Every view is fitted. A difference
        map for the previous pair is dropped; the new one is computed when Difference mode
        is shown.

        Raises:
            ValueError: if either image is null.
        """
        if coarse.isNull() or refined.isNull():
            raise ValueError("set_images needs two non-null images")
        self._cancel_difference()
        self._left_image = QImage(coarse)
        self._right_image = QImage(refined)
        left_pixmap = QPixmap.fromImage(coarse)
        right_pixmap = QPixmap.fromImage(refined)
        left_levels = build_levels(coarse, coarse_levels)
        right_levels = build_levels(refined, refined_levels)
        width, height = coarse.width(), coarse.height()
        right_transform = QTransform()
        if refined.size() != coarse.size():
            right_transform = QTransform.fromScale(
                width / refined.width(), height / refined.height()
            )
        for item in self._left_items():
            item.set_photo(left_pixmap, left_levels)
        for item in self._right_items():
            item.set_photo(right_pixmap, right_levels)
            item.setTransform(right_transform)
        self.difference_canvas.set_difference(None)
        rect = QRectF(0, 0, width, height)
        for canvas in self._all_canvases():
            canvas.set_image_rect(rect)
        if self._mode is ViewMode.DIFFERENCE:
            self._ensure_difference()
        self._update_captions()
        self._update_controls()
        self._emit_zoom()

    def clear(self) -> None:
        """Drop the images (and any difference being computed); the mode stays."""
        self._cancel_difference()
        self._left_image = QImage()
        self._right_image = QImage()
        for item in (*self._left_items(), *self._right_items()):
            item.set_photo(QPixmap())
        self.difference_canvas.set_difference(None)
        for canvas in self._all_canvases():
            canvas.set_image_rect(QRectF())
            canvas.resetTransform()
        self._update_captions()
        self._update_controls()
        self._emit_zoom()

    def has_images(self) -> bool:
        return not self._left_image.isNull()

    def mode(self) -> ViewMode:
        return self._mode

    def set_mode(self, mode: ViewMode) -> None:
        """Switch the presentation, keeping the zoom and the centre of view."""
        if mode is self._mode:
            self._mode_buttons[mode].setChecked(True)
            return
        state = self.active_canvas().view_state()
        had_focus = self.isAncestorOf(self.focusWidget()) if self.focusWidget() else False
        self._set_page(mode)
        self.active_canvas().apply_view_state(state)
        if mode is ViewMode.DIFFERENCE:
            self._ensure_difference()
        self._update_captions()
        if had_focus:
            self.active_canvas().setFocus(Qt.FocusReason.OtherFocusReason)
        self._emit_zoom()
        self.modeChanged.emit(mode)

    def fit(self) -> None:
        """Fit the image(s) into the view; stays fitted when the viewer is resized."""
        for canvas in self._visible_canvases():
            canvas.fit()
        self._emit_zoom()

    def actual_size(self) -> None:
        """Zoom to 1:1 about the centre of the view."""
        self.active_canvas().actual_size()
        self._emit_zoom()

    def zoom_in(self) -> None:
        self.active_canvas().zoom_in()
        self._emit_zoom()

    def zoom_out(self) -> None:
        self.active_canvas().zoom_out()
        self._emit_zoom()

    def zoom(self) -> float:
        """The scale of the canvas on screen (1.0 = 1:1)."""
        return self.active_canvas().zoom()

    def set_diff_threshold(self, value: int) -> None:
        """Set the Difference threshold (clamped to 0..255) and recolour at once."""
        value = max(0, min(255, int(value)))
        self._threshold = value
        self._threshold_slider.blockSignals(True)
        self._threshold_slider.setValue(value)
        self._threshold_slider.blockSignals(False)
        self._threshold_timer.stop()
        self._apply_threshold()

    def diff_threshold(self) -> int:
        return self._threshold

    def set_labels(self, left: str, right: str) -> None:
        """Name the left and right positions (default "Coarse" / "Refined").

        An empty label hides that caption in Side by side and Swipe; Flicker and
        Difference then say "left image" / "right image".
        """
        self._labels = (left, right)
        self._update_captions()

    def labels(self) -> tuple[str, str]:
        return self._labels

    def comparison_image(self) -> QImage:
        """The pair as one image: left | right at full resolution with their labels above.

        Returns a null QImage when no images are set.
        """
        if not self.has_images():
            return QImage()
        return compose_side_by_side(
            self._left_image, self._right_image, self._labels[0], self._labels[1]
        )

    def difference_image(self) -> QImage:
        """The heatmap over the left image at full resolution, as Difference mode shows it.

        Null until the difference map is ready (see ``differenceReady``).
        """
        return self.difference_canvas.rendered_image(self._left_image)

    def is_difference_ready(self) -> bool:
        return self._diff_result is not None

    def changed_fraction(self) -> float | None:
        """Share of pixels above the threshold, or None before the map is ready."""
        result = self._diff_result
        if result is None:
            return None
        total = sum(result.histogram)
        return count_above(result.histogram, self._threshold) / total if total else 0.0

    def flicker_showing_right(self) -> bool:
        return self.flicker_canvas.showing_right()

    def toggle_flicker(self) -> None:
        """Switch the image Flicker mode shows (works in any mode)."""
        self.flicker_canvas.toggle()

    def active_canvas(self) -> ImageCanvas:
        """The canvas whose zoom is reported (the left pane in Side by side)."""
        return {
            ViewMode.SIDE_BY_SIDE: self.left_pane,
            ViewMode.SWIPE: self.swipe_canvas,
            ViewMode.FLICKER: self.flicker_canvas,
            ViewMode.DIFFERENCE: self.difference_canvas,
        }[self._mode]

    def shutdown(self) -> None:
        """Cancel difference computations and wait for their threads (≤ ~0.3 s).

        Called from ``closeEvent``; a main window that is closed without closing this
        widget should call it from its own ``closeEvent``.
        """
        self._diff_job = None
        jobs, self._own_jobs = self._own_jobs, []
        for job in jobs:
            job.stop(difference_worker.STOP_WAIT_MS)

    # ================================================================== events
    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt override)
        # Canvases leave these keys unhandled so they land here whichever child has focus.
        # The bindings are data (viewer.keys), which the keyboard help also lists.
        binding = viewer_key(event.key(), event.modifiers())
        if binding is None or (binding.flicker_only and self._mode is not ViewMode.FLICKER):
            super().keyPressEvent(event)
            return
        getattr(self, binding.command)()
        event.accept()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt override)
        self.shutdown()
        super().closeEvent(event)

    # ================================================================ toolbar
    def _build_toolbar(self) -> QWidget:
        bar = ViewerToolbar(self._threshold)
        # The viewer reads and drives these controls; short names for them.
        self._mode_group = bar.mode_group
        self._mode_buttons = bar.mode_buttons
        self._zoom_out_button = bar.zoom_out_button
        self._zoom_label = bar.zoom_label
        self._zoom_in_button = bar.zoom_in_button
        self._fit_button = bar.fit_button
        self._actual_button = bar.actual_button
        self._threshold_box = bar.threshold_box
        self._threshold_slider = bar.threshold_slider
        self._threshold_value = bar.threshold_value
        self._mode_group.buttonClicked.connect(self._on_mode_button)
        self._zoom_out_button.clicked.connect(self.zoom_out)
        self._zoom_in_button.clicked.connect(self.zoom_in)
        self._fit_button.clicked.connect(self.fit)
        self._actual_button.clicked.connect(self.actual_size)
        self._threshold_slider.valueChanged.connect(self._on_threshold_slider)
        return bar

    # =============================================================== internals
    def _all_canvases(self) -> tuple[ImageCanvas, ...]:
        return (
            self.left_pane,
            self.right_pane,
            self.swipe_canvas,
            self.flicker_canvas,
            self.difference_canvas,
        )

    def _visible_canvases(self) -> tuple[ImageCanvas, ...]:
        if self._mode is ViewMode.SIDE_BY_SIDE:
            return (self.left_pane, self.right_pane)
        return (self.active_canvas(),)

    def _left_items(self) -> tuple[PhotoItem, ...]:
        return (
            self._left_pane_item,
            self.swipe_canvas.left_item,
            self.flicker_canvas.left_item,
            self.difference_canvas.base_item,
        )

    def _right_items(self) -> tuple[PhotoItem, ...]:
        return (
            self._right_pane_item,
            self.swipe_canvas.right_item,
            self.flicker_canvas.right_item,
        )

    def _set_page(self, mode: ViewMode) -> None:
        self._mode = mode
        self._stack.setCurrentWidget(self._pages[mode])
        self._mode_buttons[mode].setChecked(True)
        self._threshold_box.setVisible(mode is ViewMode.DIFFERENCE)

    def _on_canvas_zoom(self, canvas: ImageCanvas, _scale: float) -> None:
        if canvas is self.active_canvas():
            self._emit_zoom()

    def _emit_zoom(self) -> None:
        scale = self.zoom()
        self._zoom_label.setText(f"{scale * 100:.0f} %")
        if abs(scale - self._last_zoom) > 1e-9:
            self._last_zoom = scale
            self.zoomChanged.emit(scale)

    def _update_controls(self) -> None:
        enabled = self.has_images()
        for widget in (
            self._zoom_out_button,
            self._zoom_in_button,
            self._fit_button,
            self._actual_button,
            self._threshold_slider,
        ):
            widget.setEnabled(enabled)

    @Slot(QAbstractButton)
    def _on_mode_button(self, button: QAbstractButton) -> None:
        mode = next(m for m, b in self._mode_buttons.items() if b is button)
        if mode is self._mode and mode is ViewMode.FLICKER:
            self.toggle_flicker()
        else:
            self.set_mode(mode)

    @Slot(int)
    def _on_threshold_slider(self, value: int) -> None:
        self._threshold = value
        self._threshold_value.setText(str(value))
        self._threshold_timer.start()

    @Slot()
    def _apply_threshold(self) -> None:
        self._threshold_value.setText(str(self._threshold))
        self.difference_canvas.set_threshold(self._threshold)
        self._update_captions()

    # -------------------------------------------------------------- difference
    def _ensure_difference(self) -> None:
        if (
            not self.has_images()
            or self._diff_result is not None
            or self._diff_job is not None
            or self._diff_error
        ):
            return
        self._diff_token += 1
        self._own_jobs = [job for job in self._own_jobs if job.is_running()]
        self._diff_job = difference_worker.start_job(
            self._left_image,
            self._right_image,
            self._diff_token,
            self._on_difference_ready,
            self._on_difference_failed,
        )
        self._own_jobs.append(self._diff_job)
        self._update_captions()

    def _cancel_difference(self) -> None:
        # Not joined here: the thread registry keeps the thread referenced
        # until it ends, and a stale result is told apart by its token.
        job, self._diff_job = self._diff_job, None
        if job is not None:
            job.cancel()
        self._diff_token += 1
        self._diff_result = None
        self._diff_error = ""

    @Slot(object)
    def _on_difference_ready(self, result: DifferenceResult) -> None:
        """Receives the map from the worker thread (queued; runs on the GUI thread)."""
        if result.token != self._diff_token:
            return
        self._diff_job = None
        self._diff_result = result
        self.difference_canvas.set_threshold(self._threshold)
        self.difference_canvas.set_difference(result.image)
        self._update_captions()
        self.differenceReady.emit()

    @Slot(int, str)
    def _on_difference_failed(self, token: int, message: str) -> None:
        """Receives a worker error (queued; runs on the GUI thread)."""
        if token != self._diff_token:
            return
        self._diff_job = None
        self._diff_error = message
        self._update_captions()

    # ---------------------------------------------------------------- captions
    def _position_name(self, index: int) -> str:
        return self._labels[index] or ("left image", "right image")[index]

    @Slot()
    def _update_captions(self) -> None:
        top_left = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop
        top_right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop
        bottom_left = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom
        center = Qt.AlignmentFlag.AlignCenter
        left, right = self._labels
        has = self.has_images()
        scaled_note = ""
        if has and self._right_image.size() != self._left_image.size():
            scaled_note = (
                f"{self._position_name(1).capitalize()} scaled from "
                f"{_size_text(self._right_image.size())} to "
                f"{_size_text(self._left_image.size())} to line up"
            )

        for canvas in self._all_canvases():
            canvas.set_caption(center, "" if has else "No result to show yet")

        self.left_pane.set_caption(top_left, left if has else "")
        self.right_pane.set_caption(top_left, right if has else "")
        self.right_pane.set_caption(bottom_left, scaled_note)
        self.left_pane.setAccessibleName(f"{left or 'Left'} image")
        self.right_pane.setAccessibleName(f"{right or 'Right'} image")

        self.swipe_canvas.set_caption(top_left, left if has else "")
        self.swipe_canvas.set_caption(top_right, right if has else "")
        self.swipe_canvas.set_caption(bottom_left, scaled_note)

        shown, other = (1, 0) if self.flicker_canvas.showing_right() else (0, 1)
        self.flicker_canvas.set_caption(
            top_left,
            f"Showing: {self._position_name(shown)}" if has else "",
            f"Press Space to show the {self._position_name(other)}",
        )
        self.flicker_canvas.set_caption(
            bottom_left,
            f"Space: show {self._position_name(other)}" if has else "",
        )

        self.difference_canvas.set_caption(top_left, self._difference_text() if has else "")
        self.difference_canvas.set_caption(
            bottom_left,
            "\n".join(
                part
                for part in (
                    "Yellow \u2192 red: slight \u2192 strong change" if has else "",
                    scaled_note,
                )
                if part
            ),
        )

    def _difference_text(self) -> str:
        names = f"{self._position_name(1).capitalize()} vs {self._position_name(0)}"
        if self._diff_error:
            return f"Difference failed: {self._diff_error}"
        fraction = self.changed_fraction()
        if fraction is None:
            return f"Computing difference {names}\u2026"
        return (
            f"{names} \u00b7 {fraction * 100:.1f} % of pixels differ by more than {self._threshold}"
        )
