"""The sandbox's "refined" image: the coarse image, visibly stamped SANDBOX.

The sandbox is not a model and its output must never pass for a refinement, so the stamp is
a diagonal stripe plus an opaque-ish banner across the middle that no one can miss.
Pure function, callable from any thread (a handler thread calls it at first download).
"""

from __future__ import annotations

import io

from PIL import Image, ImageDraw, ImageFont

STAMP = "SANDBOX"
CAPTION = "demo result - not refined"


def _font(size: float) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=max(8.0, size))


def _fit_font(
    draw: ImageDraw.ImageDraw, text: str, size: float, max_width: float
) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """The largest font up to ``size`` whose rendering of ``text`` fits ``max_width``."""
    font = _font(size)
    width = draw.textlength(text, font=font)
    if width > max_width > 0:
        font = _font(size * max_width / width)
    return font


def _draw_centered(
    draw: ImageDraw.ImageDraw,
    text: str,
    font: ImageFont.FreeTypeFont | ImageFont.ImageFont,
    center: tuple[float, float],
    fill: tuple[int, int, int, int],
) -> None:
    # textbbox, not anchor="mm": anchors are unsupported by the bitmap fallback font.
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    x = center[0] - (right - left) / 2 - left
    y = center[1] - (bottom - top) / 2 - top
    draw.text((x, y), text, font=font, fill=fill)


def stamp_sandbox(
    coarse: bytes, caption: str = CAPTION, size: tuple[int, int] | None = None
) -> bytes:
    """Return a PNG of ``coarse`` (same pixel size, or ``size``) with the SANDBOX stamp
    and ``caption`` drawn over it."""
    with Image.open(io.BytesIO(coarse)) as source:
        has_alpha = "A" in source.getbands()
        image = source.convert("RGBA")
    if size is not None and size != image.size:
        image = image.resize(size)
    width, height = image.size
    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)

    stripe = max(6, min(width, height) // 10)
    draw.line([(0, 0), (width, height)], fill=(230, 30, 30, 170), width=stripe)

    band = max(30, height // 6)
    top = (height - band) // 2
    draw.rectangle((0, top, width, top + band), fill=(0, 0, 0, 190))
    big = _fit_font(draw, STAMP, band * 0.6, width * 0.9)
    _draw_centered(draw, STAMP, big, (width / 2, top + band * 0.42), (255, 255, 255, 255))
    small = _fit_font(draw, caption, band * 0.16, width * 0.9)
    _draw_centered(draw, caption, small, (width / 2, top + band * 0.85), (255, 220, 80, 255))

    result = Image.alpha_composite(image, overlay)
    if not has_alpha:
        result = result.convert("RGB")
    out = io.BytesIO()
    result.save(out, format="PNG")
    return out.getvalue()
