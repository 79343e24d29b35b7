"""Fix: make a copy of an image that the service accepts, never touching the original.

What Fix does, in order: refuses files pre-flight calls unfixable (too small, damaged, not an
image, decompression bombs); decodes the first frame; applies the EXIF orientation (the service
ignores it); converts to 8-bit RGB (CMYK, 16-bit, palette, grey and transparency, which is
flattened onto white because the service drops alpha and a JPEG cannot hold it); shrinks to fit
4095 px per side keeping the aspect, or to an exact ``target_size``; and encodes.

Output format: PNG when the source was lossless (PNG, BMP, GIF, TIFF) and small enough that a
PNG copy will likely fit, else JPEG at quality 95, stepping down until the file fits. The size
goal is 5,000,000 bytes, below the 5 × 1024 × 1024 that pre-flight accepts, so the copy passes
whichever "5 MB" the service means.

Output name: ``<stem>.<hash>.fixed.<jpg|png>`` in ``dest_dir``, where ``<hash>`` is 12 hex
digits of SHA-256 over the source bytes and the fix parameters. The stem keeps it readable;
the hash keeps two different photos both called ``IMG_0001.jpg`` (say a person photo and a
garment) from overwriting each other in one folder, and makes the name repeatable for the same
input. The file is written to a temporary name in ``dest_dir``, checked with
:func:`check_image`, and moved into place (:func:`refiner_gui.atomic.atomic_path`), so a reader
never sees a partial file.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

from PIL import Image, ImageOps

from refiner_gui.atomic import atomic_path
from refiner_gui.images.preflight import (
    MAX_SIDE,
    MAX_SIDE_EXCLUSIVE,
    MIN_SIDE_EXCLUSIVE,
    ImageReport,
    _subject,
    aspects_match,
    check_image,
    downscaled_size,
    open_image,
    upright_size,
)

TARGET_BYTES = 5_000_000
"""Fix's size goal: the stricter, decimal reading of the service's "5 MB"."""

JPEG_QUALITIES = (95, 90, 85, 80, 75, 70, 60, 50)
"""Quality steps tried in turn until the JPEG fits; below 50 we shrink the pixels instead."""

_SHRINK_STEP = 0.85
_LOSSLESS_SOURCES = frozenset({"PNG", "BMP", "GIF", "TIFF"})
_WHITE = (255, 255, 255)
# Bump when the output for a given input changes, so names (which hash the parameters) change.
_FIX_VERSION = "1"


class ImageFixError(Exception):
    """Fix cannot make a conforming copy. ``message`` is in plain words for the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def fix_image(
    path: str | Path,
    dest_dir: str | Path,
    *,
    slot: str | None = None,
    target_size: tuple[int, int] | None = None,
) -> Path:
    """Write a copy of ``path`` that passes :func:`check_image` into ``dest_dir`` and return it.

    ``dest_dir`` is created if missing. The original file is only read. ``target_size``
    ``(width, height)`` forces that exact size (to make a coarse image match a person photo);
    it must be within the service's limits, must not enlarge the upright image in either
    direction, and must keep its aspect within
    :data:`~refiner_gui.images.preflight.ASPECT_TOLERANCE`. Without it the image is only shrunk,
    and only if a side is 4096 or more.

    Fix never enlarges. It raises :class:`ImageFixError` (with a message for the user) when the
    file has a problem Fix cannot cure (see ``check_image(path).fixable``), when ``target_size``
    is not possible, or when decoding fails. Only the returned file is created; on failure no
    file is left behind.
    """
    path = Path(path)
    dest_dir = Path(dest_dir)
    report = check_image(path, slot)
    blocking = [p for p in report.problems if not p.fixable]
    if blocking:
        raise ImageFixError(blocking[0].message)
    assert report.width is not None and report.height is not None

    upright = upright_size(report.width, report.height, report.orientation)
    final = _final_size(report, upright, target_size)

    try:
        source_bytes = path.read_bytes()
    except OSError as e:
        raise ImageFixError(f"{_subject(slot)} cannot be read ({e.strerror}).") from e

    img, fmt = _decode(path, report, final, slot)
    icc = img.info.get("icc_profile") if img.mode in ("RGB", "RGBA", "P", "PA") else None
    try:
        img = _to_rgb(img)
    except ValueError as e:  # a mode Pillow cannot convert (rare: LAB, HSV...)
        raise ImageFixError(
            f"{_subject(slot)} uses a colour format the app cannot convert ({img.mode})."
        ) from e
    if img.size != final:
        img = img.resize(final, Image.Resampling.LANCZOS, reducing_gap=3.0)

    data, ext = _encode(
        img,
        icc=icc,
        try_png=fmt in _LOSSLESS_SOURCES and report.file_size <= TARGET_BYTES,
        may_shrink=target_size is None,
        slot=slot,
    )

    digest = hashlib.sha256(source_bytes)
    digest.update(f"|v{_FIX_VERSION}|{target_size}".encode())
    out = dest_dir / f"{path.stem}.{digest.hexdigest()[:12]}.fixed.{ext}"
    _write_checked(data, out, slot, final if target_size is not None else None)
    return out


def _final_size(
    report: ImageReport, upright: tuple[int, int], target_size: tuple[int, int] | None
) -> tuple[int, int]:
    """The output size: ``target_size`` if given (validated), else the upright size shrunk to
    fit. Raises ImageFixError when the result would break the rules or need enlarging."""
    subject = _subject(report.slot)
    if target_size is None:
        final = downscaled_size(*upright)
        if min(final) <= MIN_SIDE_EXCLUSIVE:
            # check_image already calls this unfixable; kept as a guard for direct callers.
            raise ImageFixError(
                f"{subject} is too narrow: shrinking it to fit would leave a side of "
                f"{min(final)} pixels. Crop it or use another photo."
            )
        return final
    tw, th = int(target_size[0]), int(target_size[1])
    if not (
        MIN_SIDE_EXCLUSIVE < tw < MAX_SIDE_EXCLUSIVE
        and MIN_SIDE_EXCLUSIVE < th < MAX_SIDE_EXCLUSIVE
    ):
        raise ImageFixError(
            f"The requested size {tw}×{th} is outside what the service accepts "
            f"(each side larger than {MIN_SIDE_EXCLUSIVE} and smaller than "
            f"{MAX_SIDE_EXCLUSIVE} pixels)."
        )
    if tw > upright[0] or th > upright[1]:
        raise ImageFixError(
            f"{subject} is {upright[0]}×{upright[1]} pixels, smaller than the required "
            f"{tw}×{th}; enlarging would lose quality. Make it again at the right size."
        )
    if not aspects_match(upright, (tw, th)):
        raise ImageFixError(
            f"{subject} is {upright[0]}×{upright[1]} pixels; resizing it to {tw}×{th} "
            "would distort it. Make it again from the same person photo."
        )
    return (tw, th)


def _decode(
    path: Path, report: ImageReport, final: tuple[int, int], slot: str | None
) -> tuple[Image.Image, str]:
    """Decode the first frame fully (upright), returning the image and its source format.

    For a JPEG that will be shrunk at least twofold, ask libjpeg to decode at 1/2, 1/4 or 1/8
    scale (``draft``): still at least the final size, but several times faster and smaller.
    """
    subject = _subject(slot)
    try:
        with open_image(path) as im:
            fmt = im.format or ""
            if fmt in ("JPEG", "MPO"):
                stored_final = upright_size(*final, report.orientation)
                if stored_final[0] < im.size[0] and stored_final[1] < im.size[1]:
                    im.draft(im.mode if im.mode in ("RGB", "L") else None, stored_final)
            im.load()
            img = im.copy() if report.orientation == 1 else ImageOps.exif_transpose(im)
    except Exception as e:
        # Decoders of untrusted files fail in many ways (OSError for truncated data, zlib
        # errors, SyntaxError, ValueError, MemoryError...); all mean "this file is broken".
        raise ImageFixError(
            f"{subject} is damaged and cannot be decoded ({e}). Export or download it again."
        ) from e
    return img, fmt


def _to_rgb(img: Image.Image) -> Image.Image:
    """8-bit RGB, whatever the source: 16/32-bit and float scaled (not clipped) to 8 bits,
    CMYK converted, palette expanded, transparency flattened onto white."""
    mode = img.mode
    if mode.startswith("I;16") or mode in ("I", "F"):
        img = _to_8bit_grey(img)
        mode = img.mode
    if mode in ("RGBA", "LA", "La", "RGBa", "PA") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        flat = Image.new("RGB", rgba.size, _WHITE)
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    if mode != "RGB":
        return img.convert("RGB")
    return img


def _to_8bit_grey(img: Image.Image) -> Image.Image:
    """Scale a 16-bit, 32-bit or float single-channel image to 8-bit "L".

    Pillow's own ``convert("L")`` clips everything above 255 to white, which would turn most
    16-bit photos into a blank sheet.
    """
    if img.mode == "F":
        top = img.getextrema()[1]  # (min, max) for a single-channel image
        assert isinstance(top, (int, float))
        scale = 255.0 if top <= 1.0 else (255.0 / top if top > 255 else 1.0)
        return img.point(lambda v: v * scale).convert("L")
    img = img.convert("I")
    if img.mode != "I":  # pragma: no cover - convert("I") always yields "I"
        raise ValueError(img.mode)
    hi = img.getextrema()[1]
    assert isinstance(hi, int)
    if hi <= 255:
        return img.convert("L")
    # 16-bit sources use the full 0..65535 range by convention: keep their brightness.
    scale = 1 / 257 if hi <= 65535 else 255 / hi
    return img.point(lambda v: v * scale).convert("L")


def _encode(
    img: Image.Image,
    *,
    icc: bytes | None,
    try_png: bool,
    may_shrink: bool,
    slot: str | None,
) -> tuple[bytes, str]:
    """Encode to at most TARGET_BYTES: PNG if asked and it fits, else JPEG with falling quality,
    then (if allowed) smaller pixel sizes. Returns the bytes and the file extension."""
    extra = {"icc_profile": icc} if icc else {}
    if try_png:
        buf = io.BytesIO()
        img.save(buf, "PNG", compress_level=6, **extra)
        if buf.tell() <= TARGET_BYTES:
            return buf.getvalue(), "png"
    while True:
        for quality in JPEG_QUALITIES:
            buf = io.BytesIO()
            img.save(buf, "JPEG", quality=quality, **extra)
            if buf.tell() <= TARGET_BYTES:
                return buf.getvalue(), "jpg"
        smaller = (round(img.width * _SHRINK_STEP), round(img.height * _SHRINK_STEP))
        if not may_shrink or min(smaller) <= MIN_SIDE_EXCLUSIVE:
            raise ImageFixError(
                f"{_subject(slot)} cannot be made smaller than 5 MB at this size "
                "without ruining it. Use a simpler or smaller photo."
            )
        img = img.resize(smaller, Image.Resampling.LANCZOS)


def _write_checked(
    data: bytes, out: Path, slot: str | None, exact_size: tuple[int, int] | None
) -> None:
    """Write ``data`` to a temporary file beside ``out``, check it, then move it into place."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        tmp.write_bytes(data)
        # A guard against our own bugs: never hand over a copy the service would refuse.
        report = check_image(tmp, slot)
        if not report.ok or (exact_size is not None and report.size != exact_size):
            why = report.problems[0].message if report.problems else f"size {report.size}"
            raise ImageFixError(f"The fixed copy did not come out right ({why}).")


__all__ = ["ImageFixError", "fix_image", "TARGET_BYTES", "MAX_SIDE"]
