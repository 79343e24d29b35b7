"""A corpus of broken and awkward input files, made by the test into a folder it gives.

Each :class:`BadInput` says what pre-flight must report (its first problem code, or None
when the file is fine as it is) and whether ``--fix`` / the Fix button can cure it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.helpers.broken_images import (
    truncate,
    write_animated_gif,
    write_bomb_png,
    write_exif_rotated_jpeg,
    write_rgb48_png,
)
from tests.helpers.images import make_image


@dataclass(frozen=True)
class BadInput:
    id: str
    make: Callable[[Path], Path]
    code: str | None  # the problem pre-flight reports (None: the file is acceptable)
    fixable: bool = False

    @property
    def ok(self) -> bool:
        return self.code is None


def _text_as_jpg(d: Path) -> Path:
    p = d / "notes.jpg"
    p.write_text("These are my notes, not a photo.\n" * 20, "utf-8")
    return p


def _zero(d: Path) -> Path:
    p = d / "zero.jpg"
    p.write_bytes(b"")
    return p


def _folder(d: Path) -> Path:
    p = d / "folder.jpg"
    p.mkdir()
    return p


def _huge(d: Path) -> Path:
    # 25 megapixels of flat colour: a few hundred KB as a JPEG.
    return make_image(d / "huge.jpg", (5000, 5000), fmt="JPEG", quality=30)


CORPUS: list[BadInput] = [
    BadInput(
        "truncated-jpeg",
        lambda d: truncate(make_image(d / "cut.jpg", (400, 500), fmt="JPEG"), 0.5),
        "truncated",
    ),
    BadInput(
        "truncated-png",
        lambda d: truncate(make_image(d / "cut.png", (400, 500), fmt="PNG"), 0.6),
        "truncated",
    ),
    BadInput("zero-bytes", _zero, "empty"),
    BadInput("text-named-jpg", _text_as_jpg, "not_an_image"),
    BadInput("jpeg-named-png", lambda d: make_image(d / "really-a-jpeg.png", fmt="JPEG"), None),
    BadInput("decompression-bomb", lambda d: write_bomb_png(d / "bomb.png"), "decompression_bomb"),
    BadInput("huge-5000x5000", _huge, "too_large_resolution", fixable=True),
    BadInput(
        "cmyk-jpeg",
        lambda d: make_image(d / "cmyk.jpg", fmt="JPEG", mode="CMYK", color=(0, 100, 200, 0)),
        "cmyk",
        fixable=True,
    ),
    BadInput(
        "png-16-bit",
        lambda d: write_rgb48_png(d / "deep.png", 300, 400),
        "sixteen_bit",
        fixable=True,
    ),
    BadInput(
        "animated-gif",
        lambda d: write_animated_gif(d / "anim.gif"),
        "unsupported_format",
        fixable=True,
    ),
    BadInput(
        "exif-rotated-jpeg",
        lambda d: write_exif_rotated_jpeg(d / "sideways.jpg", (400, 300), 6),
        "exif_rotated",
        fixable=True,
    ),
    BadInput(
        "webp",
        lambda d: make_image(d / "shop.webp", fmt="WEBP"),
        "unsupported_format",
        fixable=True,
    ),
    BadInput("directory", _folder, "unreadable"),
    BadInput("missing", lambda d: d / "not-there.jpg", "missing"),
]
