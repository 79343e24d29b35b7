"""The screenshot script runs end to end (into a temp folder), so the README's pictures
can always be regenerated; and each picture is a real, non-blank image."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from PIL import Image, ImageStat

ROOT = Path(__file__).resolve().parents[1]


def test_screenshot_script_captures_every_state(qtbot, tmp_path):
    spec = importlib.util.spec_from_file_location(
        "make_screenshots", ROOT / "docs" / "make_screenshots.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    written = module.capture(tmp_path, latency=0.3)
    names = {p.stem for p in written}
    assert {
        "window_empty",
        "window_filled",
        "window_running",
        "window_result",
        "review",
        "window_swipe",
        "window_flicker",
        "window_difference",
        "window_history",
        "window_error",
        "shortcuts",
        "laptop-1280x720",
        "half-screen-960x1040",
        "half-screen-960x1040-strip",
        "hidpi-2x",
        "batch-queue",
    } <= names
    sizes = {}
    for p in written:
        with Image.open(p) as im:
            sizes[p.stem] = im.size
    assert sizes["laptop-1280x720"] == (1280, 720)
    assert sizes["batch-queue"] == (1280, 720)
    assert sizes["half-screen-960x1040"] == (960, 1040)
    assert sizes["hidpi-2x"] == (2200, 1400)  # 1100 x 700 at two device pixels per pixel
    for p in written:
        with Image.open(p) as im:
            assert im.size[0] >= (500 if p.stem == "shortcuts" else 960)
            assert max(ImageStat.Stat(im.convert("L")).stddev) > 5  # not a blank frame
