"""Which image formats the app ever decodes, and the one way untrusted files are opened.

Every image the app reads came from outside: the user's files, a pasted link, the service's
result. Pillow picks a decoder by the file's content, and some of its plugins hand the data
to other programs (EPS and PS run Ghostscript) or are rarely exercised parsers. So every
untrusted open goes through :func:`open_untrusted`, which lets Pillow try only
`safe_formats()`: what the service takes (JPEG, PNG, BMP) plus what Fix converts from
(WEBP, TIFF, GIF, and HEIF/AVIF when a plugin for them is installed). Any other content,
whatever the file's name, fails with ``PIL.UnidentifiedImageError`` before a decoder runs.

The window decodes with Qt's ``QImageReader``, for the formats :func:`sniff_qt_format` names
from the content (the same list in Qt's names; ``refiner_gui.workers.load_image`` refuses
the rest). No Qt here.
"""

from __future__ import annotations

import functools
import os
from typing import IO

from PIL import Image

_BASE_FORMATS = ("JPEG", "PNG", "BMP", "WEBP", "TIFF", "GIF")
_OPTIONAL_FORMATS = ("HEIF", "AVIF")  # only when a plugin (pillow-heif, Pillow's AVIF) exists


@functools.cache
def safe_formats() -> tuple[str, ...]:
    """Pillow's names of the formats the app decodes from untrusted data (the only ones).

    The first call registers all of Pillow's plugins (~30 ms, importing runs no decoder) to
    learn whether HEIF/AVIF exist: Pillow refuses a ``formats=`` name it does not know.
    """
    Image.init()
    # MPO has no opener of its own: the JPEG one returns MPO images.
    return tuple(f for f in _BASE_FORMATS + _OPTIONAL_FORMATS if f in Image.OPEN)


SNIFF_BYTES = 32
"""How many leading bytes :func:`sniff_qt_format` needs."""

_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}


def sniff_qt_format(head: bytes) -> str | None:
    """Qt's format name for a file starting with ``head`` (its first :data:`SNIFF_BYTES`),
    or None for any other content (the formats of :func:`safe_formats`, in Qt's names).

    Why not ``QImageReader``'s own detection: it asks every installed image plugin to
    probe the bytes (SVG's probe builds a QTextStream, which connects a signal), and from a
    worker thread PySide makes those calls holding the GIL. A probe that waits for a Qt lock
    the GUI thread holds while it waits for the GIL (destroying a QObject calls into Python)
    hung the app. Naming the format here means only that format's decoder ever sees the
    file, and nothing else of Qt's runs on untrusted bytes.
    """
    if head[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if head[:2] == b"BM":
        return "bmp"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"avif", b"avis"):
            return "avif"
        if brand in _HEIF_BRANDS:
            return "heif"
    return None


REFUSED_MESSAGE = "is not a JPG, PNG, BMP, WEBP, TIFF or GIF image, so the app will not decode it"
"""The reason shown when a file's content is another format (follows the file's name)."""


def open_untrusted(fp: str | os.PathLike[str] | IO[bytes]) -> Image.Image:
    """``PIL.Image.open`` limited to `safe_formats()` (lazy: reads the header only).

    Raises ``PIL.UnidentifiedImageError`` for any other content (EPS, PDF, SVG, ICNS...),
    whatever the name says, and the usual ``OSError`` family for unreadable files.
    """
    return Image.open(fp, formats=safe_formats())
