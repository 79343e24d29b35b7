"""Per-pixel difference of two images and the colour ramp that turns it into a heatmap.

No Qt here: the computation is plain Pillow so it can run on any thread (Pillow releases the
GIL inside its C loops) and be tested without a display. The Qt side lives in
``difference_worker`` (thread) and ``compare_view`` (drawing).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from PIL import Image, ImageChops

DEFAULT_THRESHOLD = 24
"""Differences at or below this (0..255, max over channels) count as "the same".

JPEG re-encoding alone moves pixels by a few levels; 24 hides that noise but keeps the
garment edits a refiner makes visible.
"""

RAMP_SPAN = 96
"""Levels above the threshold over which the colour goes from yellow to red."""

DIM_ARGB = 0xA0000000
"""Colour laid over unchanged pixels: black at ~63 % opacity, so the coarse image stays
recognisable but everything that changed stands out."""

HEAT_ALPHA = 0xE6


class DifferenceCancelled(Exception):
    """Raised by :func:`max_channel_difference` when its cancel event is set."""


def max_channel_difference(
    left: Image.Image,
    right: Image.Image,
    cancel: threading.Event | None = None,
) -> Image.Image:
    """Return an ``"L"`` image of ``max(|left - right|)`` over the colour channels.

    Args:
        left: the reference image (the coarse one); its size is the size of the result.
        right: the image compared with it; resized (bilinear) to ``left.size`` if it differs.
        cancel: checked between the bulk steps; a set event raises
            :class:`DifferenceCancelled`. A single Pillow step is not interruptible
            (~0.2 s on 4095x4095), which bounds how long a cancel takes.

    The maximum over channels, not luminance, so a colour change of equal brightness
    (a red garment turned green) still shows. Every step is a Pillow bulk operation;
    there is no Python loop over pixels. Safe to call from any thread.
    """

    def check() -> None:
        if cancel is not None and cancel.is_set():
            raise DifferenceCancelled

    if left.mode != right.mode or left.mode not in ("RGB", "RGBX", "RGBA", "L"):
        left = left.convert("RGB")
        right = right.convert("RGB")
    if right.size != left.size:
        right = right.resize(left.size, Image.Resampling.BILINEAR)
    check()
    diff = ImageChops.difference(left, right)
    check()
    bands = diff.split()
    result = bands[0]
    for band in bands[1:]:
        check()
        result = ImageChops.lighter(result, band)
    return result


def heatmap_color_table(threshold: int) -> list[int]:
    """Return 256 ARGB colours (``0xAARRGGBB``) that map a difference value to the heatmap.

    Values at or below ``threshold`` get :data:`DIM_ARGB` (a dimming veil over the image
    beneath); values above it go from yellow to red over :data:`RAMP_SPAN` levels.
    ``threshold`` is clamped to 0..255; 255 therefore colours nothing.
    """
    threshold = max(0, min(255, int(threshold)))
    table = [DIM_ARGB] * 256
    for value in range(threshold + 1, 256):
        frac = min(1.0, (value - threshold) / RAMP_SPAN)
        green = round(220 * (1.0 - frac))
        table[value] = (HEAT_ALPHA << 24) | (255 << 16) | (green << 8)
    return table


def count_above(histogram: Sequence[int], threshold: int) -> int:
    """Number of pixels whose difference is above ``threshold``, from a 256-bin histogram."""
    threshold = max(0, min(255, int(threshold)))
    return sum(histogram[threshold + 1 : 256])
