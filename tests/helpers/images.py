"""Make real image files for tests: small, deterministic, in any format Pillow writes."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw


def make_image(
    path: Path,
    size: tuple[int, int] = (300, 400),
    *,
    fmt: str | None = None,
    mode: str = "RGB",
    color: tuple[int, ...] | int = (180, 140, 120),
    **save_kwargs,
) -> Path:
    """Write an image of ``size`` to ``path`` with a simple figure on it, and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.new(mode, size, color)
    if mode in ("RGB", "RGBA"):
        d = ImageDraw.Draw(img)
        w, h = size
        d.ellipse((w * 0.4, h * 0.05, w * 0.6, h * 0.2), fill=(230, 200, 180))
        d.rectangle((w * 0.3, h * 0.2, w * 0.7, h * 0.6), fill=(40, 60, 160))
        d.rectangle((w * 0.35, h * 0.6, w * 0.65, h * 0.95), fill=(30, 30, 30))
    img.save(path, format=fmt, **save_kwargs)
    return path


def make_photo(path: Path, size: tuple[int, int] = (320, 480), *, seed: int = 1) -> Path:
    """A "photo": a figure on a busy background (a gradient with deterministic noise), so
    its border is anything but plain, as a picture taken in a room or outdoors is."""
    import random

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    w, h = size
    rng = random.Random(seed)
    img = Image.new("RGB", size)
    d = ImageDraw.Draw(img)
    for y in range(0, h, 8):
        for x in range(0, w, 8):
            shade = (x * 255 // w + rng.randrange(-60, 60)) % 256
            d.rectangle((x, y, x + 7, y + 7), fill=(shade, (y * 200 // h) % 256, 255 - shade))
    d.ellipse((w * 0.4, h * 0.05, w * 0.6, h * 0.2), fill=(230, 200, 180))
    d.rectangle((w * 0.3, h * 0.2, w * 0.7, h * 0.6), fill=(40, 60, 160))
    d.rectangle((w * 0.35, h * 0.6, w * 0.65, h * 0.95), fill=(30, 30, 30))
    img.save(path)
    return path


def make_product_shot(
    path: Path, size: tuple[int, int] = (300, 300), *, colour=(40, 90, 170)
) -> Path:
    """A garment "product shot": one shape on a white background (a plain border)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    w, h = size
    img = Image.new("RGB", size, (255, 255, 255))
    d = ImageDraw.Draw(img)
    d.rectangle((w * 0.2, h * 0.15, w * 0.8, h * 0.9), fill=colour)
    d.polygon([(w * 0.2, h * 0.15), (w * 0.05, h * 0.4), (w * 0.2, h * 0.45)], fill=colour)
    d.polygon([(w * 0.8, h * 0.15), (w * 0.95, h * 0.4), (w * 0.8, h * 0.45)], fill=colour)
    img.save(path)
    return path
