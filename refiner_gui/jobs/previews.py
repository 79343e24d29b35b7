"""Small JPEG previews stored beside each result, made once when the result is stored.

A 4095 px PNG result takes ~0.5 s to decode; reports and lists that show hundreds of them
read the preview instead (a 640 px JPEG decodes in a few milliseconds). No Qt; any thread.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PIL import Image, ImageOps

from refiner_gui.atomic import atomic_path
from refiner_gui.images.formats import open_untrusted

log = logging.getLogger(__name__)

PREVIEW_PX = 640


def preview_path(path: Path) -> Path:
    """Where the preview of ``path`` lives: ``<name>.preview.jpg`` beside it."""
    return Path(path).with_name(Path(path).name + ".preview.jpg")


def preview_for(path: Path, box: int) -> Path:
    """The preview of ``path`` when it exists and is big enough for ``box``, else ``path``."""
    candidate = preview_path(path)
    return candidate if box <= PREVIEW_PX and candidate.is_file() else Path(path)


def write_preview(path: Path) -> Path | None:
    """Write ``<name>.preview.jpg`` (upright, on white, at most 640 px) atomically.

    Returns its path, or None when the image cannot be read (logged; never raises: the
    result itself is what matters).
    """
    path = Path(path)
    dest = preview_path(path)
    try:
        with open_untrusted(path) as im:
            if im.format == "JPEG":
                im.draft("RGB", (PREVIEW_PX, PREVIEW_PX))
            # Shrink first, then turn upright: exif_transpose copies the image, and a copy
            # of a 4095 px result is another 50 MB per look in flight (the box is square,
            # so the order does not change the size).
            im.thumbnail((PREVIEW_PX, PREVIEW_PX), Image.Resampling.LANCZOS)
            img = ImageOps.exif_transpose(im)
            if img.mode in ("RGBA", "LA", "PA", "P"):
                rgba = img.convert("RGBA")
                img = Image.new("RGB", rgba.size, (255, 255, 255))
                img.paste(rgba, mask=rgba.getchannel("A"))
            img = img.convert("RGB")
            with atomic_path(dest) as tmp:
                img.save(tmp, "JPEG", quality=85)
        return dest
    except Exception as exc:  # a preview is a convenience; never fail a job for it
        log.warning("no preview for %s: %s", path.name, exc)
        return None
