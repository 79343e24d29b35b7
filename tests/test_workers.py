"""The helpers that keep worker threads from stalling the GUI thread (refiner_gui.workers), and
load_image, which decodes by the format the core names from the content.

It takes an injected clock (and sleep), so this test neither sleeps nor times anything. The
progress throttle, once here too, is tested in tests/test_progress.py.
"""

from __future__ import annotations

import pytest
from PySide6.QtGui import QImage

from refiner_gui.images.formats import SNIFF_BYTES, sniff_qt_format
from refiner_gui.workers import GilYield, load_image
from tests.helpers.images import make_image


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_gil_yield_sleeps_at_most_once_per_interval():
    clock = FakeClock()
    sleeps: list[float] = []
    give_way = GilYield(every=0.004, pause=0.0005, clock=clock, sleep=sleeps.append)
    give_way()  # nothing has run for long yet
    clock.now += 0.003
    give_way()
    assert sleeps == []
    clock.now += 0.001
    give_way()
    give_way()  # the interval restarts after a pause
    assert sleeps == [0.0005]
    clock.now += 0.010
    give_way()
    assert sleeps == [0.0005, 0.0005]


# --- load_image: the core names the format, Qt's plugins never probe ---------------------


@pytest.mark.parametrize(
    "fmt,name",
    [
        ("JPEG", "jpeg"),
        ("PNG", "png"),
        ("BMP", "bmp"),
        ("WEBP", "webp"),
        ("TIFF", "tiff"),
        ("GIF", "gif"),
    ],
)
def test_sniff_names_every_format_the_app_decodes(tmp_path, fmt, name):
    path = make_image(tmp_path / "x.img", (40, 30), fmt=fmt)
    assert sniff_qt_format(path.read_bytes()[:SNIFF_BYTES]) == name


@pytest.mark.parametrize(
    "head",
    [
        b"<svg xmlns='http://www.w3.org/2000/svg'/>",
        b"%PDF-1.7\n",
        b"%!PS-Adobe-3.0 EPSF",
        b"",
        b"\x00\x00\x00\x18ftypmp42",
    ],
)
def test_sniff_refuses_everything_else(head):
    assert sniff_qt_format(head) is None


def test_load_image_goes_by_content_not_name(qapp, tmp_path):
    jpeg_named_png = make_image(tmp_path / "photo.png", (200, 100), fmt="JPEG")
    image = load_image(jpeg_named_png)
    assert (image.width(), image.height()) == (200, 100)
    thumb = load_image(jpeg_named_png, max_side=50)
    assert (thumb.width(), thumb.height()) == (50, 25)


def test_load_image_refuses_other_content_and_missing_files(qapp, tmp_path):
    svg = tmp_path / "garment.png"
    svg.write_text("<svg xmlns='http://www.w3.org/2000/svg' width='9' height='9'/>")
    assert load_image(svg).isNull()
    assert load_image(tmp_path / "gone.jpg").isNull()
    truncated = tmp_path / "cut.png"
    truncated.write_bytes(make_image(tmp_path / "whole.png", (64, 64)).read_bytes()[:40])
    assert isinstance(load_image(truncated), QImage)  # no crash; Qt decides what is left
