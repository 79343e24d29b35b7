"""The window on a laptop and half a screen: it fits, nothing is cut off, no sideways
scroll bar, it never resizes itself, it remembers its geometry and panels per screen, it
follows a dark palette, and on a 2x screen 100 % is one image pixel per device pixel.

Marked ``window``: CI runs these once more under a real X server (``xvfb-run``), where a
window manager sizes the window, which the offscreen platform does not do.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QGuiApplication, QImage, QPalette, QPixmap
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractScrollArea,
    QApplication,
    QComboBox,
    QLineEdit,
    QSlider,
    QWidget,
)

from refiner_gui.settings import Settings
from refiner_gui.slots import COARSE, PERSON
from refiner_gui.ui.main_window import MainWindow
from refiner_gui.ui.theme import is_dark
from refiner_gui.ui.viewer.image_canvas import ImageCanvas, make_pixmap_item
from refiner_gui.ui.window_geometry import (
    DEFAULT_SIZE,
    clamp_rect,
    initial_size,
    screen_key,
)
from tests.test_main_window import factory, fill, run_job

pytestmark = pytest.mark.window

SIZES = [QSize(1280, 720), QSize(960, 1040)]
INTERACTIVE = (QAbstractButton, QComboBox, QLineEdit, QSlider)


def settle() -> None:
    for _ in range(5):
        QApplication.processEvents()


@pytest.fixture
def open_window(qtbot, sandbox):
    windows: list[MainWindow] = []

    def make(size: QSize | None = None, strip: bool | None = None) -> MainWindow:
        """A demo window, at ``size`` if given (else where it opens by itself), its inputs
        in full or as a strip if ``strip`` is given (else as restored: the offscreen screen
        is 800 px wide, too narrow for the full inputs, so they start as a strip)."""
        w = MainWindow(client_factory=factory(sandbox), settings=Settings(), demo=True)
        qtbot.addWidget(w)
        windows.append(w)
        if strip is not None:
            w.inputs_column.set_compact(strip)
        if size is not None:
            w.resize(size)
        w.show()
        qtbot.waitExposed(w)
        settle()
        return w

    yield make
    for w in windows:
        w.shutdown()


def with_result(qtbot, w: MainWindow, job_images) -> None:
    fill(qtbot, w, job_images, bottom=True)
    run_job(qtbot, w)
    assert w.shown is not None, w.stage_label.text()
    settle()


def clipped_children(window: QWidget) -> list[str]:
    """Visible interactive widgets that stick out of a visible ancestor, or are squeezed
    below their own size. Inside a scroll area's viewport only the width counts
    (scrolling up and down is allowed, sideways is not): what the viewport shows of the
    widget is what its outer ancestors must show."""
    problems = []
    origin = QPoint(0, 0)
    for child in window.findChildren(QWidget):
        if not isinstance(child, INTERACTIVE) or not child.isVisibleTo(window):
            continue
        name = child.accessibleName() or child.objectName() or type(child).__name__
        if child.width() < min(child.minimumSizeHint().width(), child.sizeHint().width()):
            problems.append(f"{name}: {child.width()} px wide, needs {child.sizeHint().width()}")
        shown = QRect(child.mapTo(window, origin), child.size())  # window coordinates
        ancestor = child.parentWidget()
        while ancestor is not None and ancestor is not window.parentWidget():
            outer = QRect(ancestor.mapTo(window, origin), ancestor.size())
            owner = ancestor.parentWidget()
            viewport = isinstance(owner, QAbstractScrollArea) and ancestor is owner.viewport()
            if shown.left() < outer.left() or shown.right() > outer.right():
                problems.append(f"{name}: cut off at the side by {type(ancestor).__name__}")
                break
            if viewport:
                shown = shown.intersected(outer)
                if shown.isEmpty():
                    break  # scrolled out of view, which is allowed
            elif shown.top() < outer.top() or shown.bottom() > outer.bottom():
                problems.append(f"{name}: cut off at the top or bottom by {ancestor.objectName()}")
                break
            if ancestor is window:
                break
            ancestor = owner
    return problems


def horizontal_bars(window: QWidget) -> list[str]:
    return [
        area.accessibleName() or area.objectName() or type(area).__name__
        for area in window.findChildren(QAbstractScrollArea)
        if area.isVisibleTo(window) and area.horizontalScrollBar().isVisibleTo(window)
    ]


def assert_fits(w: MainWindow, size: QSize) -> None:
    hint = w.minimumSizeHint()
    assert hint.width() <= size.width() and hint.height() <= size.height(), hint
    assert w.size() == size
    assert horizontal_bars(w) == []
    assert clipped_children(w) == []


# -- opening size and memory -----------------------------------------------------------------


def test_default_size_fits_the_available_screen():
    assert initial_size(QRect(0, 0, 2560, 1400)) == DEFAULT_SIZE
    small = initial_size(QRect(0, 0, 1280, 770))
    assert small.width() <= 1280 * 0.9 and small.height() <= 770 * 0.9


def test_clamp_keeps_a_saved_rect_on_the_screen():
    available = QRect(0, 0, 1280, 770)
    assert clamp_rect(QRect(900, 500, 1400, 860), available) == available
    assert clamp_rect(QRect(2000, -50, 600, 400), available) == QRect(680, 0, 600, 400)


def test_window_opens_inside_the_available_screen(open_window):
    w = open_window()
    available = w.screen().availableGeometry()
    assert w.width() <= available.width() and w.height() <= available.height()
    assert available.contains(w.geometry().topLeft())
    assert clipped_children(w) == [] and horizontal_bars(w) == []
    # A screen too narrow for the full inputs (the offscreen one: 800 px) starts with the
    # strip; a wide one (xvfb's 1920 px) with the full inputs.
    w.inputs_column.set_compact(False)
    settle()
    full_width = w.minimumSizeHint().width()
    again = open_window()
    assert again.inputs.compact == (full_width > available.width())


def test_geometry_and_panels_are_remembered_per_screen(qtbot, open_window):
    available = QGuiApplication.primaryScreen().availableGeometry().size()
    size = QSize(1000, 700).boundedTo(available - QSize(10, 60))  # not the whole screen
    w = open_window(size)
    w.inputs_column.set_compact(True)
    wide = w.inputs_column.wide_width()
    assert wide > w.content.parts.root.sizes()[0]
    sizes = w.content.parts.root.sizes()
    w.close()
    from refiner_gui.config import app_paths

    ini = (app_paths().config / "window.ini").read_text()
    assert screen_key(w.screen()) in ini

    again = open_window()
    assert again.size() == size
    assert again.inputs.compact and again.inputs_column.toggle.isChecked()
    assert again.content.parts.root.sizes() == sizes
    assert again.inputs_column.wide_width() == wide  # what the strip expands back to
    again.inputs_column.set_compact(False)
    assert again.content.parts.root.sizes()[0] > sizes[0]


def test_a_saved_geometry_larger_than_the_screen_is_clamped(open_window):
    w = open_window()
    available = w.screen().availableGeometry()
    w.setGeometry(QRect(available.topLeft(), available.size() + QSize(500, 400)))
    w.close()
    again = open_window()
    assert again.width() <= available.width() and again.height() <= available.height()


# -- fits laptops and half screens -----------------------------------------------------------


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s.width()}x{s.height()}")
def test_fits_and_never_resizes_itself(qtbot, open_window, job_images, size):
    w = open_window(size, strip=False)
    assert_fits(w, size)
    minimum_width = w.minimumSizeHint().width()
    with_result(qtbot, w, job_images)
    assert_fits(w, size)  # the result arrived: same size, still nothing cut off
    # Nor does its minimum grow: a window shrunk to it would otherwise be widened by Qt.
    assert w.minimumSizeHint().width() == minimum_width
    assert w.review_bar.isVisible()
    # The gender choice stays in view however far the slots are scrolled.
    for name in ("Woman", "Man"):
        (button,) = [b for b in w.findChildren(QAbstractButton) if b.accessibleName() == name]
        assert button.isVisible()
        assert w.rect().contains(QRect(button.mapTo(w, QPoint(0, 0)), button.size()))
    w.tabs.setCurrentWidget(w.history)
    qtbot.waitUntil(lambda: w.history.model.rowCount() > 0)
    settle()
    assert_fits(w, size)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s.width()}x{s.height()}")
def test_an_error_fits_too(qtbot, open_window, sandbox, job_images, size):
    from refiner_gui.sandbox import Fault

    w = open_window(size, strip=False)
    sandbox.inject(Fault("submit", "poll_http_error", code="ERROR_NO_FACE_IN_FILE"))
    fill(qtbot, w, job_images, bottom=True)
    run_job(qtbot, w)
    settle()
    assert w.error_panel.isVisible()
    assert_fits(w, size)


def test_history_hides_low_value_columns_first(open_window):
    from refiner_gui.ui.history.model import GENDER, NOTE, STATE, TASK, THUMBS, VERDICT

    w = open_window(QSize(960, 1040))
    w.tabs.setCurrentWidget(w.history)
    settle()
    table = w.history.table
    table.fit_columns(400)
    assert table.isColumnHidden(GENDER) and table.isColumnHidden(TASK)
    for kept in (THUMBS, STATE, VERDICT, NOTE):
        assert not table.isColumnHidden(kept)
    table.fit_columns(5000)
    assert not any(table.isColumnHidden(c) for c in range(table.model().columnCount()))


def test_inputs_collapse_to_a_strip_and_give_the_room_to_the_viewer(qtbot, open_window, job_images):
    w = open_window(QSize(960, 1040), strip=False)
    fill(qtbot, w, job_images)
    splitter = w.content.parts.root
    wide = splitter.sizes()[0]
    w.inputs_column.toggle.click()
    settle()
    assert w.inputs.compact and w.inputs.columns() == 1
    # The strip takes its own minimum width (a task id: the status line reserves one),
    # giving the rest to the viewer.
    assert splitter.sizes()[0] == w.inputs_column.minimumSizeHint().width() < wide - 150
    person = w.inputs.slot_view(PERSON)
    assert person.compact and person.verdict_text()  # the verdict is still shown
    assert w.size() == QSize(960, 1040)
    assert clipped_children(w) == [] and horizontal_bars(w) == []
    w.inputs_column.toggle.click()
    settle()
    assert not w.inputs.compact and splitter.sizes()[0] == wide
    assert w.inputs.slot_view(COARSE).name_text()


# -- dark palette ------------------------------------------------------------------------------


@pytest.fixture
def dark_palette(qapp):
    previous = QPalette(qapp.palette())
    dark = QPalette()
    for role, colour in (
        (QPalette.ColorRole.Window, QColor(45, 45, 48)),
        (QPalette.ColorRole.WindowText, QColor(230, 230, 230)),
        (QPalette.ColorRole.Base, QColor(30, 30, 30)),
        (QPalette.ColorRole.AlternateBase, QColor(50, 50, 50)),
        (QPalette.ColorRole.Button, QColor(55, 55, 58)),
        (QPalette.ColorRole.ButtonText, QColor(230, 230, 230)),
        (QPalette.ColorRole.Text, QColor(230, 230, 230)),
    ):
        dark.setColor(role, colour)
    qapp.setPalette(dark)
    yield dark
    qapp.setPalette(previous)


def test_a_dark_palette_gives_a_dark_refine_button(qtbot, open_window, dark_palette):
    assert is_dark(dark_palette)
    w = open_window(QSize(1280, 720))
    image = w.refine_button.grab().toImage()
    centre_row = image.height() // 2
    # Sample the button's face away from its centred label.
    samples = [image.pixelColor(x, centre_row) for x in range(6, image.width() // 4)]
    mean = sum(c.lightness() for c in samples) / len(samples)
    assert mean < 110, f"Refine button face is light ({mean:.0f}) under a dark palette"
    assert is_dark(w.palette())


# -- 2x screens --------------------------------------------------------------------------------


@pytest.fixture
def canvas_2x(qtbot, monkeypatch):
    canvas = ImageCanvas("test")
    qtbot.addWidget(canvas)
    monkeypatch.setattr(canvas, "device_pixel_ratio", lambda: 2.0)
    canvas.resize(400, 300)
    item = make_pixmap_item()
    image = QImage(800, 600, QImage.Format.Format_RGB32)
    image.fill(QColor("grey"))
    item.set_photo(QPixmap.fromImage(image))
    canvas.scene().addItem(item)
    canvas.add_pixmap_item(item)
    canvas.set_image_rect(QRectF(0, 0, 800, 600))
    return canvas, item


def test_100_percent_is_one_image_pixel_per_device_pixel(canvas_2x):
    canvas, _ = canvas_2x
    canvas.actual_size()
    assert canvas.zoom() == pytest.approx(1.0)
    assert canvas.transform().m11() == pytest.approx(0.5)  # 2 logical px = 1 device px each


def test_fit_counts_device_pixels(canvas_2x):
    canvas, _ = canvas_2x
    canvas.fit()
    # 800 image px into a 400 logical px (800 device px) viewport: 100 %.
    view = canvas.viewport().width()
    assert canvas.zoom() == pytest.approx(view * 2.0 / 800, rel=0.02)


def test_zoom_above_100_percent_shows_sharp_pixels(canvas_2x):
    canvas, item = canvas_2x
    canvas.zoom_to(4.0)
    assert item.transformationMode() == Qt.TransformationMode.FastTransformation
    canvas.zoom_to(1.0)
    assert item.transformationMode() == Qt.TransformationMode.FastTransformation
    canvas.zoom_to(0.5)
    assert item.transformationMode() == Qt.TransformationMode.SmoothTransformation


def test_the_real_pixel_ratio_is_used(qtbot):
    canvas = ImageCanvas("test")
    qtbot.addWidget(canvas)
    assert canvas.device_pixel_ratio() == pytest.approx(
        QGuiApplication.primaryScreen().devicePixelRatio()
    )


def test_the_refine_button_has_no_style_sheet(open_window):
    # A style sheet hands a button's drawing to the style-sheet style; native styles then
    # draw it light under a dark palette (the white slab). Its size comes from its font.
    w = open_window(QSize(1280, 720))
    assert w.refine_button.styleSheet() == ""
    assert w.refine_button.font().bold()


def test_a_dark_palette_switches_a_light_only_style_to_fusion(qapp, dark_palette):
    from refiner_gui.ui.theme import follow_dark_palette

    previous = qapp.style().name()
    qapp.setStyle("Windows")
    qapp.setPalette(dark_palette)
    try:
        assert follow_dark_palette(qapp)
        assert qapp.style().name().lower() == "fusion"
        assert is_dark(qapp.palette())  # the system's dark palette is kept
        assert not follow_dark_palette(qapp)  # already following
    finally:
        qapp.setStyle(previous)


HIDPI_SCRIPT = """
import json
from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QImage, QPixmap
from PySide6.QtWidgets import QApplication
from refiner_gui.ui.viewer.image_canvas import ImageCanvas, make_pixmap_item

app = QApplication([])
canvas = ImageCanvas("test")
canvas.resize(200, 200)
image = QImage(8, 8, QImage.Format.Format_RGB32)
for y in range(8):
    for x in range(8):
        image.setPixelColor(x, y, QColor("black") if (x + y) % 2 else QColor("white"))
item = make_pixmap_item()
item.set_photo(QPixmap.fromImage(image))
canvas.scene().addItem(item)
canvas.add_pixmap_item(item)
canvas.show()
canvas.set_image_rect(QRectF(0, 0, 8, 8))
app.processEvents()
canvas.actual_size()
print("ratio", canvas.devicePixelRatioF(), "zoom", canvas.zoom(), "m11", canvas.transform().m11())
canvas.zoom_to(8.0)
app.processEvents()
shot = canvas.viewport().grab().toImage()
centre = shot.rect().center()
greys = {
    shot.pixelColor(centre.x() + dx, centre.y() + dy).lightness()
    for dx in range(-20, 20)
    for dy in range(-20, 20)
}
print("size", shot.width(), shot.height(), "greys", json.dumps(sorted(greys)))
"""


def test_on_a_real_2x_screen_100_percent_is_one_device_pixel_and_zoom_is_sharp(tmp_path):
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "QT_SCALE_FACTOR": "2", "QT_QPA_PLATFORM": "offscreen"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-c", HIDPI_SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    lines = dict(line.split(" ", 1) for line in done.stdout.splitlines())
    ratio, _, zoom, _, m11 = lines["ratio"].split()
    assert float(ratio) == 2.0
    assert float(zoom) == pytest.approx(1.0)  # 100 %: one image pixel per device pixel
    assert float(m11) == pytest.approx(0.5)
    size_w, size_h, _, greys = lines["size"].split(" ", 3)
    assert int(size_w) == 400  # grabbed in device pixels
    # At 800 % every image pixel is an 8x8 block of pure black or white: no blending.
    assert set(json.loads(greys)) <= {0, 255}, greys


def test_tab_goes_from_the_last_slot_to_the_gender_choice(open_window):
    from refiner_gui.slots import BOTTOM

    w = open_window(QSize(1280, 720))
    # Walk the focus chain as Tab does (no focus needed: a bare X server has no window
    # manager to make the window active).
    widget = w.inputs.slot_view(BOTTOM).nextInFocusChain()
    while not (
        widget.focusPolicy() & Qt.FocusPolicy.TabFocus and widget.isVisible() and widget.isEnabled()
    ):
        widget = widget.nextInFocusChain()
    assert widget.accessibleName() == "Woman"
