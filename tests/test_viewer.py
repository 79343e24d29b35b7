"""Tests of the result viewer (refiner_gui.ui.viewer).

Screenshots of every mode go to ``docs/screenshots/viewer_*.png`` when
``REFINER_SCREENSHOTS=1``, otherwise to the test's tmp_path (they are still taken, so the
drawing code runs in every test run).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import Image, ImageChops
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QColor, QCursor, QImage, QLinearGradient, QPainter, QWheelEvent
from PySide6.QtWidgets import QAbstractButton, QApplication, QSlider

from refiner_gui.ui.viewer import CompareViewer, ViewMode, difference_worker
from refiner_gui.ui.viewer.difference import (
    DIM_ARGB,
    count_above,
    heatmap_color_table,
    max_channel_difference,
)
from refiner_gui.ui.viewer.image_canvas import ZOOM_STEP
from refiner_gui.zoom_levels import scaled_levels

REPO = Path(__file__).resolve().parent.parent

SKIN = QColor(180, 140, 120)
SHIRT = QColor(40, 60, 160)
TROUSERS = QColor(30, 30, 30)
# In the refined image: a strongly changed patch and a slightly changed one.
STRONG_RECT = (200, 200, 150, 100)  # x, y, w, h — shirt turned red: difference 160
SLIGHT_RECT = (60, 600, 80, 100)  # skin + 32 in every channel: difference 32


def make_pair(width: int = 600, height: int = 800) -> tuple[QImage, QImage]:
    """Coarse and refined QImages that differ in two known rectangles."""
    coarse = QImage(width, height, QImage.Format.Format_RGB32)
    coarse.fill(SKIN)
    painter = QPainter(coarse)
    painter.fillRect(180, 160, 240, 320, SHIRT)
    painter.fillRect(210, 480, 180, 280, TROUSERS)
    painter.end()
    refined = coarse.copy()
    painter = QPainter(refined)
    painter.fillRect(*STRONG_RECT, QColor(200, 40, 40))
    painter.fillRect(*SLIGHT_RECT, QColor(212, 172, 152))
    painter.end()
    return coarse, refined


def make_figure_pair(width: int = 900, height: int = 1200) -> tuple[QImage, QImage]:
    """A person-like figure for screenshots; the refined one has a changed shirt and collar."""

    def draw(refined: bool) -> QImage:
        image = QImage(width, height, QImage.Format.Format_RGB32)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        backdrop = QLinearGradient(0, 0, 0, height)
        backdrop.setColorAt(0, QColor(236, 232, 226))
        backdrop.setColorAt(1, QColor(196, 190, 182))
        painter.fillRect(0, 0, width, height, backdrop)
        w, h = width, height
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(225, 190, 165))
        painter.drawEllipse(QPointF(w * 0.5, h * 0.13), w * 0.085, h * 0.075)
        painter.drawRect(int(w * 0.47), int(h * 0.19), int(w * 0.06), int(h * 0.04))
        shirt = QColor(72, 104, 172) if refined else QColor(44, 70, 140)
        painter.setBrush(shirt)
        painter.drawRoundedRect(int(w * 0.3), int(h * 0.22), int(w * 0.4), int(h * 0.36), 30, 30)
        painter.drawRoundedRect(int(w * 0.22), int(h * 0.23), int(w * 0.1), int(h * 0.3), 20, 20)
        painter.drawRoundedRect(int(w * 0.68), int(h * 0.23), int(w * 0.1), int(h * 0.3), 20, 20)
        if refined:
            painter.setBrush(QColor(245, 245, 240))
            painter.drawRect(int(w * 0.45), int(h * 0.22), int(w * 0.1), int(h * 0.05))
            painter.setBrush(QColor(230, 230, 225))
            for i in range(4):
                painter.drawEllipse(QPointF(w * 0.5, h * (0.3 + i * 0.07)), 6, 6)
        painter.setBrush(QColor(40, 40, 46))
        painter.drawRect(int(w * 0.32), int(h * 0.58), int(w * 0.16), int(h * 0.38))
        painter.drawRect(int(w * 0.52), int(h * 0.58), int(w * 0.16), int(h * 0.38))
        painter.end()
        return image

    return draw(False), draw(True)


def to_pil(image: QImage) -> Image.Image:
    """A Pillow RGBA copy of a QImage, for counting pixels in bulk."""
    image = image.convertToFormat(QImage.Format.Format_RGBA8888)
    return Image.frombytes(
        "RGBA",
        (image.width(), image.height()),
        bytes(image.constBits()),
        "raw",
        "RGBA",
        image.bytesPerLine(),
    )


def is_heat(color: QColor) -> bool:
    """Yellow-to-red heatmap colour (as opposed to a dimmed photo pixel)."""
    return color.red() > 200 and color.blue() < 80 and color.red() - color.blue() > 150


def heat_pixel_count(image: QImage) -> int:
    """Pixels of a heatmap overlay that are coloured (alpha above the dimming veil's)."""
    alpha = to_pil(image).getchannel("A")
    dim_alpha = DIM_ARGB >> 24
    return sum(alpha.histogram()[dim_alpha + 1 :])


def screenshot_path(tmp_path: Path, name: str) -> Path:
    if os.environ.get("REFINER_SCREENSHOTS") == "1":
        folder = REPO / "docs" / "screenshots"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"viewer_{name}.png"
    return tmp_path / f"viewer_{name}.png"


@pytest.fixture
def viewer(qtbot):
    """A shown viewer with the test pair; on teardown no difference thread may be left."""
    widget = CompareViewer()
    qtbot.addWidget(widget)
    widget.resize(1200, 700)
    widget.show()
    qtbot.waitExposed(widget)
    widget.set_images(*make_pair())
    yield widget
    widget.close()
    assert not difference_worker.running_jobs(), "a difference thread outlived the viewer"


def wait_difference(qtbot, viewer: CompareViewer) -> None:
    if not viewer.is_difference_ready():
        with qtbot.waitSignal(viewer.differenceReady, timeout=10_000):
            pass


def send_wheel(widget, pos: QPoint, notches: float) -> None:
    event = QWheelEvent(
        QPointF(pos),
        QPointF(widget.mapToGlobal(pos)),
        QPoint(0, 0),
        QPoint(0, int(120 * notches)),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(widget, event)


# --------------------------------------------------------------------- basics
def test_defaults(viewer):
    assert viewer.mode() is ViewMode.SIDE_BY_SIDE
    assert viewer.labels() == ("Coarse", "Refined")
    top_left = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop
    assert viewer.left_pane.caption(top_left).text() == "Coarse"
    assert viewer.right_pane.caption(top_left).text() == "Refined"
    assert viewer.left_pane.caption(top_left).isVisible()
    assert viewer.left_pane.is_fit()
    # The left pane (not a toolbar button) starts with the keyboard focus.
    assert viewer.left_pane.hasFocus()


def test_set_images_rejects_null(qtbot):
    widget = CompareViewer()
    qtbot.addWidget(widget)
    with pytest.raises(ValueError):
        widget.set_images(QImage(), make_pair()[1])


def test_mode_switch_emits_and_checks_button(viewer, qtbot):
    for mode in (ViewMode.SWIPE, ViewMode.FLICKER, ViewMode.DIFFERENCE, ViewMode.SIDE_BY_SIDE):
        with qtbot.waitSignal(viewer.modeChanged, check_params_cb=lambda m, mode=mode: m is mode):
            viewer.set_mode(mode)
        assert viewer.mode() is mode
        assert viewer._mode_buttons[mode].isChecked()
    with qtbot.assertNotEmitted(viewer.modeChanged):
        viewer.set_mode(ViewMode.SIDE_BY_SIDE)


def test_mode_buttons_switch_mode(viewer, qtbot):
    button = viewer._mode_buttons[ViewMode.SWIPE]
    assert button.text() == "Swipe"
    with qtbot.waitSignal(viewer.modeChanged):
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert viewer.mode() is ViewMode.SWIPE
    assert viewer._threshold_box.isHidden()
    qtbot.mouseClick(viewer._mode_buttons[ViewMode.DIFFERENCE], Qt.MouseButton.LeftButton)
    assert not viewer._threshold_box.isHidden()
    wait_difference(qtbot, viewer)


def test_controls_have_accessible_names_and_tooltips(viewer):
    controls = viewer.findChildren(QAbstractButton) + viewer.findChildren(QSlider)
    assert len(controls) >= 9
    for control in controls:
        assert control.accessibleName(), control
        assert control.toolTip(), control.accessibleName()
    for canvas in (viewer.swipe_canvas, viewer.flicker_canvas, viewer.difference_canvas):
        assert canvas.accessibleName() and canvas.toolTip()


# ------------------------------------------------------------- zoom and pan
def test_zoom_is_synchronised(viewer, qtbot):
    with qtbot.waitSignal(viewer.zoomChanged, check_params_cb=lambda z: abs(z - 2.0) < 1e-9):
        viewer.left_pane.zoom_to(2.0)
    assert viewer.right_pane.transform() == viewer.left_pane.transform()
    assert viewer.zoom() == pytest.approx(2.0)
    assert viewer._zoom_label.text() == "200 %"
    # And the other way round.
    viewer.right_pane.zoom_to(3.0)
    assert viewer.left_pane.transform() == viewer.right_pane.transform()
    assert viewer.zoom() == pytest.approx(3.0)


def test_pan_is_synchronised(viewer):
    viewer.left_pane.zoom_to(2.0)
    left_h = viewer.left_pane.horizontalScrollBar()
    left_v = viewer.left_pane.verticalScrollBar()
    right_h = viewer.right_pane.horizontalScrollBar()
    right_v = viewer.right_pane.verticalScrollBar()
    assert left_h.maximum() > 100 and left_v.maximum() > 100
    left_h.setValue(left_h.minimum() + 37)
    left_v.setValue(left_v.maximum() - 11)
    assert (right_h.value(), right_v.value()) == (left_h.value(), left_v.value())
    right_h.setValue(right_h.minimum() + 80)
    assert left_h.value() == right_h.value()


def test_fit_and_actual_size(viewer):
    viewer.actual_size()
    assert viewer.zoom() == pytest.approx(1.0)
    assert not viewer.left_pane.is_fit()
    viewer.fit()
    pane = viewer.left_pane
    assert pane.is_fit()
    shown = pane.mapFromScene(pane.sceneRect()).boundingRect()
    view = pane.viewport().rect()
    assert shown.width() <= view.width() + 1 and shown.height() <= view.height() + 1
    # Fitted means one side touches the viewport, and the image is centred.
    assert abs(shown.height() - view.height()) <= 2 or abs(shown.width() - view.width()) <= 2
    assert abs(shown.center().x() - view.center().x()) <= 2
    assert viewer.right_pane.transform() == pane.transform()


def test_fit_follows_resize(viewer, qtbot):
    before = viewer.zoom()
    viewer.resize(900, 500)
    qtbot.waitUntil(lambda: viewer.zoom() < before)


def test_zoom_keys_on_focused_view(viewer, qtbot):
    pane = viewer.left_pane
    pane.setFocus()
    viewer.actual_size()
    qtbot.keyClick(pane, Qt.Key.Key_Plus)
    assert viewer.zoom() == pytest.approx(ZOOM_STEP)
    assert viewer.right_pane.zoom() == pytest.approx(ZOOM_STEP)
    qtbot.keyClick(pane, Qt.Key.Key_Minus)
    assert viewer.zoom() == pytest.approx(1.0)
    qtbot.keyClick(pane, Qt.Key.Key_Minus)
    assert viewer.zoom() == pytest.approx(1.0 / ZOOM_STEP)
    qtbot.keyClick(pane, Qt.Key.Key_1)
    assert viewer.zoom() == pytest.approx(1.0)
    qtbot.keyClick(pane, Qt.Key.Key_0)
    assert pane.is_fit() and viewer.zoom() < 1.0
    # The keys also reach the viewer when a toolbar button has the focus.
    button = viewer._mode_buttons[ViewMode.SWIPE]
    button.setFocus()
    qtbot.keyClick(button, Qt.Key.Key_1)
    assert viewer.zoom() == pytest.approx(1.0)


def test_zoom_buttons(viewer, qtbot):
    viewer.actual_size()
    qtbot.mouseClick(viewer._zoom_in_button, Qt.MouseButton.LeftButton)
    assert viewer.zoom() == pytest.approx(ZOOM_STEP)
    qtbot.mouseClick(viewer._zoom_out_button, Qt.MouseButton.LeftButton)
    assert viewer.zoom() == pytest.approx(1.0)
    qtbot.mouseClick(viewer._fit_button, Qt.MouseButton.LeftButton)
    assert viewer.left_pane.is_fit()
    qtbot.mouseClick(viewer._actual_button, Qt.MouseButton.LeftButton)
    assert viewer.zoom() == pytest.approx(1.0)


def test_wheel_zooms_about_the_cursor(viewer, qtbot):
    pane = viewer.left_pane
    pane.zoom_to(2.0)
    cursor = QPoint(140, 210)
    scene_point = pane.mapToScene(cursor)
    with qtbot.waitSignal(viewer.zoomChanged):
        send_wheel(pane.viewport(), cursor, 1)
    assert viewer.zoom() == pytest.approx(2.0 * ZOOM_STEP)
    after = pane.mapFromScene(scene_point)
    assert abs(after.x() - cursor.x()) <= 2 and abs(after.y() - cursor.y()) <= 2
    assert viewer.right_pane.transform() == pane.transform()
    assert viewer.right_pane.horizontalScrollBar().value() == pane.horizontalScrollBar().value()
    send_wheel(pane.viewport(), cursor, -1)
    assert viewer.zoom() == pytest.approx(2.0)


def test_zooming_never_rescales_the_pixmap(viewer):
    item = viewer._left_pane_item
    key = item.pixmap().cacheKey()
    for _ in range(5):
        viewer.zoom_in()
    viewer.fit()
    assert item.pixmap().cacheKey() == key
    assert item.pixmap().size().width() == 600


def test_large_photos_are_drawn_from_averaged_levels(qtbot):
    widget = CompareViewer()
    qtbot.addWidget(widget)
    coarse, refined = make_pair(2400, 3200)
    widget.set_images(coarse, refined)
    item = widget._left_pane_item
    widths = [level.width() for level in item.levels()]
    assert widths == [1200, 600, 300]
    assert item.level_for(1.0) is None
    assert item.level_for(0.3).width() == 1200  # 720 px shown: the 1200 px level
    assert item.level_for(0.2).width() == 600  # 480 px shown
    assert item.level_for(0.01).width() == 300
    # Built once per image and shared by every view, not once per view.
    right_key = widget._right_pane_item.levels()[0].cacheKey()
    assert widget.swipe_canvas.right_item.levels()[0].cacheKey() == right_key
    assert widget.flicker_canvas.right_item.levels()[0].cacheKey() == right_key


def noisy_image(width: int, height: int, fmt: QImage.Format) -> QImage:
    """Pixels that differ everywhere, so any misplaced strip would show."""
    rgba = Image.effect_noise((width, height), 60).convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize((width, height)))
    image = QImage(rgba.tobytes(), width, height, 4 * width, QImage.Format.Format_RGBA8888)
    return image.convertToFormat(fmt)  # also detaches from the bytes object


def whole_image_levels(image: QImage, fmt: QImage.Format) -> list[QImage]:
    """The levels as one Qt call per level makes them (what the strips must reproduce)."""
    levels, image = [], image.convertToFormat(fmt)
    while max(image.width(), image.height()) // 2 >= 256:
        image = image.scaled(
            max(1, image.width() // 2),
            max(1, image.height() // 2),
            Qt.AspectRatioMode.IgnoreAspectRatio,
            Qt.TransformationMode.SmoothTransformation,
        )
        levels.append(image)
    return levels


@pytest.mark.parametrize(
    ("fmt", "level_fmt"),
    [
        (QImage.Format.Format_RGB32, QImage.Format.Format_RGB32),
        (QImage.Format.Format_ARGB32, QImage.Format.Format_ARGB32_Premultiplied),
        (QImage.Format.Format_RGB888, QImage.Format.Format_RGB32),
    ],
)
def test_levels_made_in_strips_equal_whole_image_scaling(qapp, fmt, level_fmt):
    # 2048 x 1536 halves evenly down to 256 px, where strips and one call agree exactly.
    image = noisy_image(2048, 1536, fmt)
    pauses: list[int] = []
    levels = scaled_levels(image, pause=lambda: pauses.append(1))
    expected = whole_image_levels(image, level_fmt)
    assert [level.size() for level in levels] == [level.size() for level in expected]
    assert [level.format() for level in levels] == [level_fmt] * len(expected)
    assert all(a == b for a, b in zip(levels, expected, strict=True))
    # The worker is offered a pause between strips, not once per level.
    assert len(pauses) > len(levels)


def test_levels_of_odd_sizes_keep_the_sizes_and_stay_close(qapp):
    image = noisy_image(1501, 1023, QImage.Format.Format_RGB32)
    levels = scaled_levels(image)
    expected = whole_image_levels(image, QImage.Format.Format_RGB32)
    assert [level.size() for level in levels] == [level.size() for level in expected]
    for level, reference in zip(levels, expected, strict=True):
        a = Image.frombytes("RGBA", (level.width(), level.height()), level.constBits())
        b = Image.frombytes("RGBA", (level.width(), level.height()), reference.constBits())
        # Qt's row mapping restarts per strip: rows may shift by a fraction of a source
        # row, which changes a pixel of pure noise a little on average and never a lot.
        diff = ImageChops.difference(a, b).convert("L")
        assert sum(i * n for i, n in enumerate(diff.histogram())) / diff.width / diff.height < 8


def test_mode_switch_keeps_zoom(viewer):
    viewer.left_pane.zoom_to(2.0)
    viewer.set_mode(ViewMode.SWIPE)
    assert viewer.zoom() == pytest.approx(2.0)
    assert not viewer.swipe_canvas.is_fit()
    viewer.fit()
    viewer.set_mode(ViewMode.FLICKER)
    assert viewer.flicker_canvas.is_fit()


# -------------------------------------------------------------------- swipe
def test_swipe_divider_drag(viewer, qtbot):
    viewer.set_mode(ViewMode.SWIPE)
    canvas = viewer.swipe_canvas
    assert canvas.split() == pytest.approx(0.5)
    x = round(canvas.divider_viewport_x())
    y = canvas.viewport().height() // 2
    port = canvas.viewport()
    with qtbot.waitSignal(canvas.splitChanged):
        qtbot.mousePress(port, Qt.MouseButton.LeftButton, pos=QPoint(x + 5, y))
        qtbot.mouseMove(port, QPoint(x - 120, y))
        qtbot.mouseRelease(port, Qt.MouseButton.LeftButton, pos=QPoint(x - 120, y))
    assert canvas.split() < 0.5
    assert canvas.divider_viewport_x() == pytest.approx(x - 120, abs=1.5)


def test_swipe_drag_away_from_divider_pans(viewer, qtbot):
    viewer.set_mode(ViewMode.SWIPE)
    canvas = viewer.swipe_canvas
    canvas.zoom_to(3.0)
    port = canvas.viewport()
    x = round(canvas.divider_viewport_x())
    start = QPoint(x + 200, 300)
    bar = canvas.horizontalScrollBar()
    before = bar.value()
    with qtbot.assertNotEmitted(canvas.splitChanged):
        qtbot.mousePress(port, Qt.MouseButton.LeftButton, pos=start)
        qtbot.mouseMove(port, start + QPoint(-60, 0))
        qtbot.mouseMove(port, start + QPoint(-120, 0))
        qtbot.mouseRelease(port, Qt.MouseButton.LeftButton, pos=start + QPoint(-120, 0))
    assert bar.value() > before


def test_swipe_shows_left_image_left_of_divider(viewer, qtbot):
    viewer.set_mode(ViewMode.SWIPE)
    canvas = viewer.swipe_canvas
    x, y, w, h = STRONG_RECT
    canvas.set_split((x + w / 2) / 600)  # the divider cuts the red patch in half
    canvas.repaint()
    shot = canvas.viewport().grab().toImage()
    left_of = canvas.mapFromScene(QPointF(x + w * 0.25, y + h / 2))
    right_of = canvas.mapFromScene(QPointF(x + w * 0.75, y + h / 2))
    assert shot.pixelColor(left_of).blue() > 120  # coarse: blue shirt
    assert shot.pixelColor(right_of).red() > 150  # refined: red patch
    assert shot.pixelColor(right_of).blue() < 80


def test_swipe_keys_move_divider(viewer, qtbot):
    viewer.set_mode(ViewMode.SWIPE)
    canvas = viewer.swipe_canvas
    qtbot.keyClick(canvas, Qt.Key.Key_Left, Qt.KeyboardModifier.ShiftModifier)
    assert canvas.split() < 0.5


# ------------------------------------------------------------------ flicker
def test_flicker_toggles_on_space_and_button(viewer, qtbot):
    viewer.set_mode(ViewMode.FLICKER)
    canvas = viewer.flicker_canvas
    caption = canvas.caption(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
    assert canvas.hasFocus()
    assert caption.text() == "Showing: Coarse"
    with qtbot.waitSignal(canvas.flickered, check_params_cb=lambda right: right):
        qtbot.keyClick(canvas, Qt.Key.Key_Space)
    assert viewer.flicker_showing_right()
    assert canvas.right_item.isVisible() and not canvas.left_item.isVisible()
    assert caption.text() == "Showing: Refined"
    qtbot.keyClick(canvas, Qt.Key.Key_Space)
    assert not viewer.flicker_showing_right()
    with qtbot.assertNotEmitted(viewer.modeChanged):
        qtbot.mouseClick(viewer._mode_buttons[ViewMode.FLICKER], Qt.MouseButton.LeftButton)
    assert viewer.flicker_showing_right()


def test_space_does_nothing_outside_flicker(viewer, qtbot):
    qtbot.keyClick(viewer.left_pane, Qt.Key.Key_Space)
    assert not viewer.flicker_showing_right()


# --------------------------------------------------------------- difference
def test_difference_is_lazy(viewer, qtbot):
    assert not viewer.is_difference_ready()
    assert not difference_worker.running_jobs()
    viewer.set_mode(ViewMode.SWIPE)
    assert not difference_worker.running_jobs()
    viewer.set_mode(ViewMode.DIFFERENCE)
    wait_difference(qtbot, viewer)
    assert viewer.is_difference_ready()


def test_difference_colours_changed_pixels_only(viewer, qtbot):
    viewer.set_mode(ViewMode.DIFFERENCE)
    wait_difference(qtbot, viewer)
    image = viewer.difference_image()
    assert image.size() == viewer._left_image.size()
    x, y, w, h = STRONG_RECT
    assert is_heat(image.pixelColor(x + w // 2, y + h // 2))
    assert is_heat(image.pixelColor(SLIGHT_RECT[0] + 5, SLIGHT_RECT[1] + 5))
    for point in ((5, 5), (300, 300), (300, 600), (x - 3, y + 3), (590, 790)):
        assert not is_heat(image.pixelColor(*point)), point
    # Unchanged pixels are the coarse image, dimmed.
    dimmed = image.pixelColor(5, 5)
    assert dimmed.red() < SKIN.red() * 0.5 and dimmed.red() > 10
    changed = STRONG_RECT[2] * STRONG_RECT[3] + SLIGHT_RECT[2] * SLIGHT_RECT[3]
    assert heat_pixel_count(viewer.difference_canvas.heatmap_image()) == changed
    assert viewer.changed_fraction() == pytest.approx(changed / (600 * 800))


def test_difference_is_drawn_on_screen(viewer, qtbot):
    viewer.set_mode(ViewMode.DIFFERENCE)
    wait_difference(qtbot, viewer)
    canvas = viewer.difference_canvas
    canvas.repaint()
    shot = canvas.viewport().grab().toImage()
    x, y, w, h = STRONG_RECT
    assert is_heat(shot.pixelColor(canvas.mapFromScene(QPointF(x + w / 2, y + h / 2))))
    assert not is_heat(shot.pixelColor(canvas.mapFromScene(QPointF(300, 400))))


def test_threshold_changes_coloured_pixel_count(viewer, qtbot):
    viewer.set_mode(ViewMode.DIFFERENCE)
    wait_difference(qtbot, viewer)
    strong = STRONG_RECT[2] * STRONG_RECT[3]
    slight = SLIGHT_RECT[2] * SLIGHT_RECT[3]
    assert heat_pixel_count(viewer.difference_canvas.heatmap_image()) == strong + slight
    viewer.set_diff_threshold(40)  # above the slight change (32)
    assert viewer._threshold_slider.value() == 40
    assert heat_pixel_count(viewer.difference_canvas.heatmap_image()) == strong
    assert "differ by more than 40" in viewer._difference_text()
    viewer.set_diff_threshold(255)
    assert heat_pixel_count(viewer.difference_canvas.heatmap_image()) == 0
    # The slider recolours too (coalesced through a zero timer).
    viewer._threshold_slider.setValue(10)
    qtbot.waitUntil(lambda: viewer.difference_canvas.threshold() == 10)
    assert heat_pixel_count(viewer.difference_canvas.heatmap_image()) == strong + slight


def test_difference_of_different_sizes_scales_refined(qtbot):
    widget = CompareViewer()
    qtbot.addWidget(widget)
    widget.resize(1000, 600)
    widget.show()
    coarse, refined = make_pair()
    refined = refined.scaled(300, 400)
    widget.set_images(coarse, refined)
    widget.set_mode(ViewMode.DIFFERENCE)
    wait_difference(qtbot, widget)
    assert widget.difference_image().size() == coarse.size()
    note = widget.difference_canvas.caption(
        Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom
    ).text()
    assert "scaled from 300\u00d7400 to 600\u00d7800" in note
    assert not widget.right_pane.caption(
        Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom
    ).isHidden()
    # The refined image is laid over the coarse one at the same size in every view.
    item = widget.swipe_canvas.right_item
    assert item.mapRectToScene(item.boundingRect()).size().toSize() == coarse.size()
    widget.close()
    assert not difference_worker.running_jobs()


def test_new_images_replace_the_difference(viewer, qtbot):
    viewer.set_mode(ViewMode.DIFFERENCE)
    wait_difference(qtbot, viewer)
    coarse, _ = make_pair()
    with qtbot.waitSignal(viewer.differenceReady, timeout=10_000):
        viewer.set_images(coarse, coarse.copy())
    assert viewer.changed_fraction() == 0.0


def test_closing_during_computation_leaves_no_thread(qtbot):
    widget = CompareViewer()
    qtbot.addWidget(widget)
    widget.set_images(*make_pair(2000, 2000))
    widget.set_mode(ViewMode.DIFFERENCE)
    assert difference_worker.running_jobs() or widget.is_difference_ready()
    widget.close()
    assert not difference_worker.running_jobs()


def test_large_images_stay_cheap(qtbot):
    """4095x4095: setting, zooming and switching modes do not touch pixels; the difference
    arrives from the worker without blocking the GUI thread."""
    widget = CompareViewer()
    qtbot.addWidget(widget)
    widget.resize(1200, 700)
    widget.show()
    qtbot.waitExposed(widget)
    coarse = QImage(4095, 4095, QImage.Format.Format_RGB32)
    coarse.fill(SKIN)
    refined = coarse.copy()
    painter = QPainter(refined)
    painter.fillRect(1000, 1000, 500, 400, SHIRT)
    painter.end()
    widget.set_images(coarse, refined)
    for _ in range(4):
        widget.zoom_in()
    widget.set_mode(ViewMode.SWIPE)
    widget.set_mode(ViewMode.DIFFERENCE)
    assert not widget.is_difference_ready()  # computing off the GUI thread
    wait_difference(qtbot, widget)
    assert widget.changed_fraction() == pytest.approx(500 * 400 / 4095**2)
    widget.close()
    assert not difference_worker.running_jobs()


# ------------------------------------------------------- pure difference code
def test_max_channel_difference_takes_the_largest_channel():
    left = Image.new("RGB", (4, 2), (100, 100, 100))
    right = left.copy()
    right.putpixel((1, 0), (100, 130, 90))  # channel differences 0, 30, 10
    right.putpixel((2, 1), (0, 100, 100))
    diff = max_channel_difference(left, right)
    assert diff.mode == "L"
    assert diff.getpixel((1, 0)) == 30
    assert diff.getpixel((2, 1)) == 100
    assert diff.getpixel((0, 0)) == 0


def test_max_channel_difference_resizes_right():
    left = Image.new("RGB", (8, 8), (10, 20, 30))
    right = Image.new("RGB", (4, 4), (10, 20, 30))
    diff = max_channel_difference(left, right)
    assert diff.size == (8, 8)
    assert ImageChops.difference(diff, Image.new("L", (8, 8))).getbbox() is None


def test_heatmap_color_table():
    table = heatmap_color_table(24)
    assert len(table) == 256
    assert table[0] == table[24] == DIM_ARGB
    assert table[25] != DIM_ARGB
    assert (table[25] >> 8) & 0xFF > (table[200] >> 8) & 0xFF  # yellow turns red
    assert (table[255] >> 16) & 0xFF == 255
    assert heatmap_color_table(255) == [DIM_ARGB] * 256


def test_count_above():
    histogram = [0] * 256
    histogram[0], histogram[30], histogram[200] = 10, 5, 2
    assert count_above(histogram, 24) == 7
    assert count_above(histogram, 30) == 2
    assert count_above(histogram, 0) == 7


# ------------------------------------------------- comparison, labels, clear
def test_comparison_image_has_both_images_and_labels(viewer):
    image = viewer.comparison_image()
    assert 2 * 600 <= image.width() <= 2.05 * 600
    header = image.height() - 800
    assert header > 0
    pil = to_pil(image).convert("L")
    left_header = pil.crop((0, 0, 600, header))
    right_header = pil.crop((image.width() - 600, 0, image.width(), header))
    # White label text on a dark strip, in each half.
    assert left_header.getextrema()[1] > 200 and right_header.getextrema()[1] > 200
    # Coarse on the left, refined (with the red patch) on the right.
    x, y, w, h = STRONG_RECT
    right_x = image.width() - 600
    assert image.pixelColor(x + w // 2, header + y + h // 2).blue() > 120
    assert image.pixelColor(right_x + x + w // 2, header + y + h // 2).red() > 150


def test_comparison_without_labels_has_no_strip(viewer):
    viewer.set_labels("", "")
    assert viewer.comparison_image().height() == 800
    top_left = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop
    assert not viewer.left_pane.caption(top_left).isVisible()


def test_set_labels_updates_every_view(viewer):
    viewer.set_labels("A", "B")
    top_left = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop
    top_right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop
    assert viewer.left_pane.caption(top_left).text() == "A"
    assert viewer.right_pane.caption(top_left).text() == "B"
    assert viewer.swipe_canvas.caption(top_right).text() == "B"
    assert viewer.flicker_canvas.caption(top_left).text() == "Showing: A"
    assert "Coarse" not in viewer._difference_text()


def test_clear(viewer, qtbot):
    viewer.set_mode(ViewMode.DIFFERENCE)
    viewer.clear()
    assert not viewer.has_images()
    assert viewer.comparison_image().isNull()
    assert viewer.difference_image().isNull()
    center = viewer.difference_canvas.caption(Qt.AlignmentFlag.AlignCenter)
    assert center.isVisible() and "No result" in center.text()
    assert not viewer._zoom_in_button.isEnabled()
    viewer.zoom_in()  # harmless without images
    viewer.set_images(*make_pair())
    assert not center.isVisible()
    wait_difference(qtbot, viewer)


# -------------------------------------------------------------- screenshots
@pytest.mark.parametrize("mode", list(ViewMode), ids=lambda m: m.name.lower())
def test_screenshot(qtbot, tmp_path, mode):
    widget = CompareViewer()
    qtbot.addWidget(widget)
    widget.resize(1200, 700)
    widget.show()
    qtbot.waitExposed(widget)
    widget.set_images(*make_figure_pair())
    widget.set_mode(mode)
    if mode is ViewMode.DIFFERENCE:
        wait_difference(qtbot, widget)
    if mode is ViewMode.SWIPE:
        widget.swipe_canvas.set_split(0.42)
    # The offscreen cursor rests at the screen's origin, over the first toolbar button,
    # whose hover frame would look like a second selection in the picture.
    QCursor.setPos(widget.mapToGlobal(QPoint(widget.width() - 4, widget.height() - 4)))
    qtbot.waitUntil(lambda: not widget._mode_buttons[ViewMode.SIDE_BY_SIDE].underMouse())
    path = screenshot_path(tmp_path, mode.name.lower())
    assert widget.grab().save(str(path))
    assert path.stat().st_size > 5_000
    if mode is ViewMode.SIDE_BY_SIDE:
        comparison = screenshot_path(tmp_path, "comparison_image")
        assert (
            widget.comparison_image()
            .scaledToHeight(700, Qt.TransformationMode.SmoothTransformation)
            .save(str(comparison))
        )
    widget.close()
