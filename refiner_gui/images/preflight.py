"""Pre-flight checks: will the service accept this image file, and if not, can Fix repair it?

The rules come from the API contract (section 1): JPEG, PNG or BMP by content; at most 5 MB;
each side strictly larger than 150 and strictly smaller than 4096 pixels; and the coarse
image must have exactly the person photo's pixel size.

Contracts kept here:

* Checking never raises for a bad file: every failure becomes a :class:`Problem` in the
  :class:`ImageReport`. Only programming errors (wrong argument types) raise.
* Checking never decodes pixel data. It reads the header through Pillow's lazy
  ``Image.open`` and, to catch truncated files, looks for the format's end marker in the
  last 64 KB of the file (falling back to a byte scan, still no decoding, when a trailer such
  as a phone's "motion photo" video follows the end marker).
* The 5 MB limit is read as 5 × 1024 × 1024 bytes (what the vendor's servers are most likely
  to mean by "MB"). :mod:`refiner_gui.images.fix` aims lower, at 5,000,000 bytes, so a fixed
  copy passes under either reading.
"""

from __future__ import annotations

import contextlib
import struct
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from PIL import Image, UnidentifiedImageError

from refiner_gui.images.formats import open_untrusted
from refiner_gui.sizes import format_bytes, format_pixels
from refiner_gui.slots import BOTTOM, COARSE, PERSON, SLOT_LABELS, TOP

MAX_FILE_BYTES = 5 * 1024 * 1024
"""Largest accepted file, in bytes (the contract's "5 MB", read as MiB)."""

MIN_SIDE_EXCLUSIVE = 150
"""Each side must be strictly larger than this ("larger than 150x150")."""

MAX_SIDE_EXCLUSIVE = 4096
"""Each side must be strictly smaller than this ("smaller than 4096x4096")."""

MAX_SIDE = MAX_SIDE_EXCLUSIVE - 1
"""The largest side Fix produces."""

ACCEPTED_FORMATS = frozenset({"JPEG", "PNG", "BMP"})
"""Formats the service takes, by Pillow's name for the real content."""

# MPO is what phones write for multi-picture JPEGs: the first picture is an ordinary JPEG
# stream, so any JPEG decoder on the service side reads it. Treat it as JPEG.
_JPEG_LIKE = frozenset({"JPEG", "MPO"})

ASPECT_TOLERANCE = 0.01
"""How far (relative) the coarse image's aspect may differ from the person photo's and still be
resized to it by Fix. Try-on services round sizes to even or multiple-of-8 pixels, which moves
the aspect by well under 1%; more than that means the coarse image was made from another photo
(or a rotated one) and resizing would distort the body."""

_TAIL_BYTES = 64 * 1024
_SCAN_CHUNK = 1024 * 1024
_JPEG_EOI = b"\xff\xd9"
_PNG_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"

# Leading bytes of formats we can name even when Pillow cannot open the file, so a damaged
# photo is reported as damaged rather than as "not an image".
_MAGIC = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"BM", "BMP"),
    (b"GIF8", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
)


@dataclass(frozen=True)
class Problem:
    """One reason the service would refuse (or mishandle) an image.

    ``code`` is a stable identifier for programs (see :data:`PROBLEM_CODES`); ``message`` is
    for a stylist, in plain words, and says what to do; ``fixable`` is true when
    :func:`refiner_gui.images.fix_image` can make a conforming copy that cures it.
    """

    code: str
    message: str
    fixable: bool


PROBLEM_CODES = (
    "missing",  # no file at the path (or no path chosen)
    "unreadable",  # the file exists but cannot be read (permissions, a folder, I/O error)
    "empty",  # zero bytes
    "not_an_image",  # Pillow cannot identify it
    "truncated",  # the file ends early or is damaged
    "decompression_bomb",  # declared pixel count beyond Pillow's safety limit
    "unsupported_format",  # an image, but not JPEG/PNG/BMP (fixable: converted)
    "file_too_large",  # more than MAX_FILE_BYTES (fixable: re-encoded)
    "too_small",  # a side <= 150 px (never fixable: Fix does not upscale)
    "too_large_resolution",  # a side >= 4096 px (fixable if downscaling leaves both sides > 150)
    "size_mismatch",  # coarse image size differs from the person photo's (check_inputs only)
    "exif_rotated",  # EXIF orientation other than 1: the service would see it sideways
    "cmyk",  # CMYK colour: many decoders refuse or show wrong colours
    "sixteen_bit",  # 16 bits per channel
    "alpha",  # transparency: the service drops it, leaving whatever colour lies underneath
)
"""Every ``Problem.code`` this module produces. Each one makes the report not ``ok``."""


@dataclass(frozen=True)
class ImageReport:
    """What pre-flight found about one file.

    ``format`` is the real format by content (Pillow's name, e.g. ``"JPEG"``), ``width`` and
    ``height`` the stored pixel size (before any EXIF rotation, since the service ignores EXIF);
    all three are ``None`` when the file could not be read as an image. ``file_size`` is 0 for
    a missing file.
    """

    path: Path
    slot: str | None
    format: str | None
    width: int | None
    height: int | None
    file_size: int
    problems: tuple[Problem, ...] = ()
    orientation: int = 1
    """EXIF orientation (1-8); 1 when absent. Informational, for predicting Fix's output size."""

    @property
    def ok(self) -> bool:
        """True when there is nothing to fix: the service should accept the file as it is."""
        return not self.problems

    @property
    def fixable(self) -> bool:
        """True when every problem can be cured by Fix (also true when there are none)."""
        return all(p.fixable for p in self.problems)

    @property
    def size(self) -> tuple[int, int] | None:
        """``(width, height)`` as stored, or ``None`` if unknown."""
        if self.width is None or self.height is None:
            return None
        return (self.width, self.height)

    def summary(self) -> str:
        """One line for a list row: ``"OK · JPEG 1024×1536 · 412 KB"`` or the first problem."""
        if self.problems:
            return self.problems[0].message
        assert self.width is not None and self.height is not None
        size = format_pixels(self.width, self.height)
        return f"OK · {self.format} {size} · {format_bytes(self.file_size)}"

    def with_problem(self, problem: Problem) -> ImageReport:
        """A copy of this report with ``problem`` added at the end."""
        return ImageReport(
            path=self.path,
            slot=self.slot,
            format=self.format,
            width=self.width,
            height=self.height,
            file_size=self.file_size,
            problems=(*self.problems, problem),
            orientation=self.orientation,
        )


def _subject(slot: str | None) -> str:
    """ "The person photo" for a known slot, else "The image"."""
    label = SLOT_LABELS.get(slot or "")
    return f"The {label}" if label else "The image"


def downscaled_size(width: int, height: int) -> tuple[int, int]:
    """The size Fix gives an image of ``width``×``height``: unchanged if both sides are at most
    :data:`MAX_SIDE`, else shrunk to fit, keeping the aspect (the long side becomes MAX_SIDE)."""
    longest = max(width, height)
    if longest <= MAX_SIDE:
        return (width, height)
    scale = MAX_SIDE / longest
    # The long side is set exactly, so rounding can never push it to 4096.
    if width >= height:
        return (MAX_SIDE, max(1, round(height * scale)))
    return (max(1, round(width * scale)), MAX_SIDE)


def upright_size(width: int, height: int, orientation: int) -> tuple[int, int]:
    """The size once EXIF ``orientation`` is applied (5-8 swap the sides)."""
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)


def planned_size(report: ImageReport) -> tuple[int, int] | None:
    """The pixel size :func:`fix_image` (without ``target_size``) would give this file: upright,
    then shrunk to fit. For a report that needs no Fix, its stored size. ``None`` if unknown."""
    if report.size is None:
        return None
    w, h = report.size
    if any(p.code == "exif_rotated" for p in report.problems):
        w, h = upright_size(w, h, report.orientation)
    return downscaled_size(w, h)


def aspects_match(a: tuple[int, int], b: tuple[int, int]) -> bool:
    """True when sizes ``a`` and ``b`` have the same aspect within :data:`ASPECT_TOLERANCE`."""
    ra, rb = a[0] / a[1], b[0] / b[1]
    return abs(ra - rb) <= ASPECT_TOLERANCE * rb


@contextlib.contextmanager
def open_image(path: Path) -> Iterator[Image.Image]:
    """Open ``path`` lazily with Pillow, turning a decompression-bomb *warning* into an error.

    Pillow only warns (``DecompressionBombWarning``) between MAX_IMAGE_PIXELS and twice that,
    and raises ``DecompressionBombError`` beyond. Both must stop us, whatever the process's
    warning filters say (the tests turn all warnings into errors; an app may ignore them).
    ``warnings.catch_warnings`` is process-wide, not per-thread, on Python < 3.14: a warning
    raised by another thread during this window may be turned into an error too. Image.open
    only reads headers, so the window is short.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        im = open_untrusted(path)
    try:
        yield im
    finally:
        im.close()


def check_image(path: str | Path | None, slot: str | None = None) -> ImageReport:
    """Check one file against the service's image rules without decoding its pixels.

    Never raises for a bad, missing or unreadable file: the result's ``problems`` say what is
    wrong (codes in :data:`PROBLEM_CODES`), and ``ok`` is true only when there are none.
    ``slot`` (one of :data:`refiner_gui.slots.SLOTS`) only changes the wording of messages.
    ``size_mismatch`` is never reported here; :func:`check_inputs` adds it.
    """
    subject = _subject(slot)
    if path is None:
        return ImageReport(
            Path(),
            slot,
            None,
            None,
            None,
            0,
            (Problem("missing", f"{subject} has not been chosen yet.", False),),
        )
    path = Path(path)

    def failed(code: str, message: str, file_size: int = 0) -> ImageReport:
        problem = Problem(code, message, False)
        return ImageReport(path, slot, None, None, None, file_size, (problem,))

    try:
        st = path.stat()
    except FileNotFoundError:
        return failed("missing", f"{subject} was not found at {path}. Choose the file again.")
    except OSError as e:
        return failed(
            "unreadable", f"{subject} cannot be read ({e.strerror}). Choose another file."
        )
    if not path.is_file():
        return failed(
            "unreadable", f"{subject} path {path.name} is not a file. Choose an image file."
        )
    size = st.st_size
    if size == 0:
        return failed(
            "empty", f"{subject} file {path.name} is empty (0 bytes). Choose another file."
        )

    try:
        with path.open("rb") as f:
            head = f.read(64)
    except OSError as e:
        return failed(
            "unreadable", f"{subject} cannot be read ({e.strerror}). Choose another file.", size
        )

    try:
        with open_image(path) as im:
            return _check_open_image(im, path, slot, size, head)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return failed(
            "decompression_bomb",
            f"{subject} declares an enormous pixel size, far beyond what the service takes; "
            "it may be a damaged or malicious file. Choose another image.",
            size,
        )
    except UnidentifiedImageError:
        known = next((name for magic, name in _MAGIC if head.startswith(magic)), None)
        if known:
            return failed(
                "truncated",
                f"{subject} looks like a {known} file but is damaged and cannot be read. "
                "Export or download it again.",
                size,
            )
        return failed(
            "not_an_image",
            f"{subject} file {path.name} is not an image the app can read. "
            "Choose a JPG, PNG or BMP photo.",
            size,
        )
    except (OSError, SyntaxError, ValueError, struct.error, EOFError) as e:
        # Pillow's plugins signal broken headers with any of these.
        return failed(
            "truncated",
            f"{subject} is damaged and cannot be read ({e}). Export or download it again.",
            size,
        )


def _check_open_image(
    im: Image.Image, path: Path, slot: str | None, size: int, head: bytes
) -> ImageReport:
    """The checks that need an opened (but not decoded) image."""
    subject = _subject(slot)
    fmt = im.format or "unknown"
    w, h = im.size
    problems: list[Problem] = []

    truncated = _looks_truncated(im, path, size, fmt, head)
    if truncated:
        problems.append(
            Problem(
                "truncated",
                f"{subject} file is incomplete (it ends before the picture does), so it cannot be "
                "used or fixed. Export or download it again.",
                False,
            )
        )

    if fmt not in ACCEPTED_FORMATS and fmt not in _JPEG_LIKE:
        problems.append(
            Problem(
                "unsupported_format",
                f"{subject} is a {fmt} image; the service accepts only JPG, PNG or BMP. "
                "Use Fix to convert it.",
                True,
            )
        )

    if size > MAX_FILE_BYTES:
        problems.append(
            Problem(
                "file_too_large",
                f"{subject} is {format_bytes(size)}; the service accepts at most "
                "5 MB. Use Fix to make a smaller copy.",
                True,
            )
        )

    orientation = _orientation(im)
    pixels = format_pixels(w, h)
    too_small = w <= MIN_SIDE_EXCLUSIVE or h <= MIN_SIDE_EXCLUSIVE
    if too_small:
        problems.append(
            Problem(
                "too_small",
                f"{subject} is {pixels} pixels, too small: the service needs both sides larger "
                f"than {MIN_SIDE_EXCLUSIVE} pixels, and Fix does not enlarge pictures. Replace it "
                "with a bigger photo.",
                False,
            )
        )
    if w >= MAX_SIDE_EXCLUSIVE or h >= MAX_SIDE_EXCLUSIVE:
        small_after = min(downscaled_size(w, h)) <= MIN_SIDE_EXCLUSIVE
        if small_after and not too_small:
            message = (
                f"{subject} is {pixels} pixels; the service needs both sides smaller than "
                f"{MAX_SIDE_EXCLUSIVE}, and this picture is so narrow that shrinking it would "
                f"make its short side {MIN_SIDE_EXCLUSIVE} pixels or less. Crop it first."
            )
        else:
            message = (
                f"{subject} is {pixels} pixels; the service needs both sides smaller than "
                f"{MAX_SIDE_EXCLUSIVE} pixels. Use Fix to make a smaller copy."
            )
        problems.append(Problem("too_large_resolution", message, not small_after))

    if orientation != 1:
        problems.append(
            Problem(
                "exif_rotated",
                f"{subject} is stored sideways or flipped and only shown upright by a camera tag "
                "that the service ignores. Use Fix to make an upright copy.",
                True,
            )
        )

    mode = im.mode
    if mode == "CMYK":
        problems.append(
            Problem(
                "cmyk",
                f"{subject} uses print colours (CMYK), which the service may refuse or show with "
                "wrong colours. Use Fix to convert it to screen colours (RGB).",
                True,
            )
        )
    if _is_sixteen_bit(im, head):
        problems.append(
            Problem(
                "sixteen_bit",
                f"{subject} has 16 bits per colour channel; the service expects ordinary 8-bit "
                "images. Use Fix to convert it.",
                True,
            )
        )
    if _has_alpha(im):
        problems.append(
            Problem(
                "alpha",
                f"{subject} has transparent areas; the service ignores transparency, so they may "
                "turn black. Use Fix to put the picture on a white background.",
                True,
            )
        )

    return ImageReport(
        path=path,
        slot=slot,
        format=fmt,
        width=w,
        height=h,
        file_size=size,
        problems=tuple(problems),
        orientation=orientation,
    )


def _orientation(im: Image.Image) -> int:
    """EXIF orientation from the header, 1 when absent or unreadable.

    For PNG, Pillow's ``getexif`` decodes the whole image when the eXIf chunk is not before
    the pixel data; we only look at EXIF found in the header, which is where writers put it.
    """
    if im.format == "PNG" and "exif" not in im.info:
        return 1
    try:
        value = im.getexif().get(0x0112, 1)
    except Exception:  # broken EXIF must not break the check; it only loses this hint
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _is_sixteen_bit(im: Image.Image, head: bytes) -> bool:
    """True for 16-bit-per-channel content. Pillow opens 16-bit RGB(A) PNGs as 8-bit modes,
    so for PNG the bit depth is read from the IHDR chunk (byte 24 of the file)."""
    if im.mode.startswith("I;16") or im.mode in ("I", "F"):
        return True
    return im.format == "PNG" and len(head) > 24 and head[24] == 16


def _has_alpha(im: Image.Image) -> bool:
    """True for an alpha channel or a transparent palette/colour key (PNG tRNS, GIF)."""
    return im.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in im.info


def _looks_truncated(im: Image.Image, path: Path, size: int, fmt: str, head: bytes) -> bool:
    """Cheap end-of-file checks per format; formats without one are trusted here (Fix decodes
    them fully and reports damage then)."""
    try:
        with path.open("rb") as f:
            if fmt in _JPEG_LIKE:
                # Pillow stops reading right after the first scan's header. After that, the
                # bytes FF D9 can only be the end-of-image marker (entropy-coded data stuffs
                # every FF with 00), while an EXIF thumbnail's marker lies before it.
                fp = getattr(im, "fp", None)  # set while an ImageFile is open
                start = fp.tell() if fp is not None else 2
                return not _find_after(f, _JPEG_EOI, start, size)
            if fmt == "PNG":
                tiles = getattr(im, "tile", None)  # an ImageFile's undecoded tiles
                start = tiles[0][2] if tiles else 8
                return not _find_after(f, _PNG_IEND, start, size)
            if fmt == "BMP":
                return _bmp_truncated(im, size, head)
            if fmt == "WEBP" and head[:4] == b"RIFF":
                riff_len: int = struct.unpack("<I", head[4:8])[0]
                return size < riff_len + 8
    except OSError:
        return True
    return False


def _find_after(f: BinaryIO, marker: bytes, start: int, size: int) -> bool:
    """True when ``marker`` occurs in the file at or after ``start``.

    The last 64 KB are searched first (the marker is normally the file's last bytes); only if
    that fails, because data was appended after the end marker, is the rest scanned in chunks.
    """
    tail_start = max(start, size - _TAIL_BYTES)
    f.seek(tail_start)
    if marker in f.read():
        return True
    pos = start
    f.seek(pos)
    carry = b""
    while pos < tail_start:
        chunk = f.read(min(_SCAN_CHUNK, tail_start - pos))
        if not chunk:
            break
        pos += len(chunk)
        if marker in carry + chunk:
            return True
        carry = chunk[-(len(marker) - 1) :]
    # The marker could straddle the tail boundary.
    f.seek(max(start, tail_start - len(marker)))
    return marker in f.read(2 * len(marker))


def _bmp_truncated(im: Image.Image, size: int, head: bytes) -> bool:
    """For uncompressed BMP the pixel data must reach offset + stride × height; for any BMP the
    size field of the file header (when set) must not exceed the file."""
    tiles = getattr(im, "tile", None)  # an ImageFile's undecoded tiles
    if tiles:
        tile = tiles[0]
        args = tile[3]
        if tile[0] == "raw" and isinstance(args, tuple) and len(args) >= 2 and args[1]:
            return bool(size < tile[2] + args[1] * im.size[1])
    if len(head) >= 6:
        declared: int = struct.unpack("<I", head[2:6])[0]
        return bool(declared) and size < declared
    return False


def check_inputs(
    person: str | Path | None,
    top: str | Path | None,
    coarse: str | Path | None,
    bottom: str | Path | None = None,
) -> dict[str, ImageReport]:
    """Check all inputs of one refinement, keyed by slot name (``bottom`` only when given).

    Besides each file's own checks, the coarse report gets a ``size_mismatch`` problem when its
    size differs from the person photo's. Sizes are compared as they will be once each file is
    conforming (see :func:`planned_size`: upright, shrunk to fit), because that is what will be
    sent after Fix. The mismatch is fixable when the coarse image can be resized to exactly the
    person photo's planned size by shrinking (never enlarging) without changing its aspect by
    more than :data:`ASPECT_TOLERANCE`: Fix it with
    ``fix_image(coarse, dest, slot=COARSE, target_size=<the fixed person photo's size>)``.
    """
    reports = {
        PERSON: check_image(person, PERSON),
        TOP: check_image(top, TOP),
        COARSE: check_image(coarse, COARSE),
    }
    if bottom is not None:
        reports[BOTTOM] = check_image(bottom, BOTTOM)

    want = planned_size(reports[PERSON])
    have = planned_size(reports[COARSE])
    if want is not None and have is not None and want != have:
        # Judge shrinking against the coarse image's upright, full-resolution size: Fix
        # resizes from that straight to the target.
        c = reports[COARSE]
        assert c.width is not None and c.height is not None
        rotated = any(p.code == "exif_rotated" for p in c.problems)
        source = upright_size(c.width, c.height, c.orientation if rotated else 1)
        fixable = source[0] >= want[0] and source[1] >= want[1] and aspects_match(source, want)
        if fixable:
            message = (
                f"The coarse try-on result is {format_pixels(*have)} pixels but the person photo "
                f"is {format_pixels(*want)}; the service needs them the same size. Use Fix to "
                "resize the coarse result."
            )
        else:
            message = (
                f"The coarse try-on result is {format_pixels(*have)} pixels but the person photo "
                f"is {format_pixels(*want)}; the service needs them the same size, and this one "
                "cannot be resized to match without distorting or enlarging it. Make the coarse "
                "result again from this person photo (try-on resolution set to keep the size)."
            )
        reports[COARSE] = reports[COARSE].with_problem(Problem("size_mismatch", message, fixable))
    return reports
