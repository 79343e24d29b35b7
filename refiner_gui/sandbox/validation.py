"""Check a refiner submission the way the real service does (contract, section 1).

Every rejection is an :class:`ApiError` whose message starts with the offending field name
(``"coarse_image: ..."``) so the client can point at the slot. Pure functions, callable
from any handler thread.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import BmpImagePlugin, ImageFile, JpegImagePlugin, PngImagePlugin

from refiner_gui.slots import BOTTOM, COARSE, GENDERS, PERSON, TOP

from .bodies import ApiError
from .multipart import Part

MAX_FILE_BYTES = 5 * 1024 * 1024
MIN_SIDE = 150  # sides must be strictly larger ...
MAX_SIDE = 4096  # ... and strictly smaller

REQUIRED_FIELDS = ("task_type", PERSON, TOP, COARSE, "gender")
IMAGE_FIELDS = (PERSON, TOP, COARSE, BOTTOM)

# Type is decided by content, not by file name or declared type, like the real service.
# The plugin classes are used directly (not Image.open) so that the size can be checked
# from the header before Pillow's decompression-bomb check warns or raises on huge images.
_SIGNATURES: tuple[tuple[bytes, str, type[ImageFile.ImageFile]], ...] = (
    (b"\xff\xd8\xff", "JPEG", JpegImagePlugin.JpegImageFile),
    (b"\x89PNG\r\n\x1a\n", "PNG", PngImagePlugin.PngImageFile),
    (b"BM", "BMP", BmpImagePlugin.BmpImageFile),
)


@dataclass(frozen=True)
class Submission:
    """A submission that passed every check."""

    gender: str
    size: tuple[int, int]  # the person photo's (and coarse image's) pixel size
    coarse: bytes  # the coarse image (a try-on: the person photo): the "result" is drawn from it
    has_bottom: bool
    kind: str = "refiner"  # the endpoint: "refiner", "pro" or "premium"
    resolution: int = -1  # a try-on's result size: -1 keeps the person photo's size
    restore_face: bool = False


def check_image(field: str, data: bytes) -> tuple[int, int]:
    """Return the pixel size of an acceptable image, else raise :class:`ApiError`."""
    if len(data) > MAX_FILE_BYTES:
        raise ApiError("FILE_SIZE_EXCEEDS_LIMIT", f"{field}: {len(data)} bytes is more than 5 MB")
    plugin = next((cls for magic, _, cls in _SIGNATURES if data.startswith(magic)), None)
    if plugin is None:
        raise ApiError("UNSUPPORTED_FILE_TYPES", f"{field}: the file is not a JPG, PNG or BMP")
    try:
        image = plugin(io.BytesIO(data))
    except Exception as exc:  # Pillow raises SyntaxError, OSError, ValueError... on bad headers
        raise ApiError("FILE_DECODING_FAILURE", f"{field}: the image cannot be decoded") from exc
    with image:
        width, height = image.size
        if width <= MIN_SIDE or height <= MIN_SIDE:
            raise ApiError(
                "ERROR_LOW_RESOLUTION", f"{field}: {width}x{height} is not larger than 150x150"
            )
        if width >= MAX_SIDE or height >= MAX_SIDE:
            raise ApiError(
                "FILE_RESOLUTION_EXCEEDS_LIMITS",
                f"{field}: {width}x{height} is not smaller than 4096x4096",
            )
        try:
            image.load()  # a truncated or corrupt body only shows when the pixels are read
        except Exception as exc:
            raise ApiError(
                "FILE_DECODING_FAILURE", f"{field}: the image cannot be decoded"
            ) from exc
    return width, height


def validate_submission(parts: list[Part]) -> Submission:
    """Check the form fields and files of a submit; raise :class:`ApiError` on the first fault.

    Order: required fields present, then values, then each image, then the size match.
    An empty value counts as missing (a form sends an empty field for an unset input).
    """
    values: dict[str, bytes] = {}
    for part in parts:
        values.setdefault(part.name, part.data)  # the first of repeated fields wins
    for name in REQUIRED_FIELDS:
        if not values.get(name):
            raise ApiError("MISSING_PARAMETERS", f"{name}: required parameter is missing")

    task_type = values["task_type"].decode("utf-8", "replace").strip()
    if task_type != "async":
        raise ApiError(
            "UNSUPPORTED_PARAMETER_VALUES",
            f"task_type: {task_type!r} is not supported; use 'async'",
        )
    gender = values["gender"].decode("utf-8", "replace").strip()
    if gender not in GENDERS:
        raise ApiError(
            "UNSUPPORTED_PARAMETER_VALUES",
            f"gender: {gender!r} is not supported; use 'woman' or 'man'",
        )

    sizes = {name: check_image(name, values[name]) for name in IMAGE_FIELDS if values.get(name)}
    if sizes[COARSE] != sizes[PERSON]:
        # The upstream model's own wording, prefixed with the field to replace.
        raise ApiError(
            "ERROR_INVALID_PARAMETER",
            f"{COARSE}: The size of person image and coarse_image are not the same",
        )
    return Submission(
        gender=gender, size=sizes[PERSON], coarse=values[COARSE], has_bottom=BOTTOM in sizes
    )


TRYON_REQUIRED = ("task_type", PERSON, TOP)
TRYON_RESOLUTIONS = (-1, 1024, 1280)


def _text(values: dict[str, bytes], name: str) -> str:
    return values[name].decode("utf-8", "replace").strip()


def validate_tryon(parts: list[Part], kind: str) -> Submission:
    """Check a Try on Clothes Pro/Premium submit (contract, section 6) like the refiner's.

    Fields: ``task_type=async``, ``person_image``, ``top_garment``, optional
    ``bottom_garment``, ``resolution`` (-1, 1024 or 1280; -1 when absent) and
    ``restore_face`` (true/false; false when absent). Raises :class:`ApiError`.
    """
    values: dict[str, bytes] = {}
    for part in parts:
        values.setdefault(part.name, part.data)
    for name in TRYON_REQUIRED:
        if not values.get(name):
            raise ApiError("MISSING_PARAMETERS", f"{name}: required parameter is missing")
    task_type = _text(values, "task_type")
    if task_type != "async":
        raise ApiError(
            "UNSUPPORTED_PARAMETER_VALUES",
            f"task_type: {task_type!r} is not supported; use 'async'",
        )
    resolution = -1
    if values.get("resolution"):
        raw = _text(values, "resolution")
        try:
            resolution = int(raw)
        except ValueError:
            resolution = 0
        if resolution not in TRYON_RESOLUTIONS:
            raise ApiError(
                "UNSUPPORTED_PARAMETER_VALUES",
                f"resolution: {raw!r} is not supported; use -1, 1024 or 1280",
            )
    restore_face = False
    if values.get("restore_face"):
        flag = _text(values, "restore_face").lower()
        if flag not in ("true", "false"):
            raise ApiError(
                "UNSUPPORTED_PARAMETER_VALUES",
                f"restore_face: {flag!r} is not supported; use true or false",
            )
        restore_face = flag == "true"
    sizes = {
        name: check_image(name, values[name]) for name in (PERSON, TOP, BOTTOM) if values.get(name)
    }
    return Submission(
        gender="",
        size=sizes[PERSON],
        coarse=values[PERSON],
        has_bottom=BOTTOM in sizes,
        kind=kind,
        resolution=resolution,
        restore_face=restore_face,
    )
