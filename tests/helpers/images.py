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
