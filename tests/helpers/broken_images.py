"""Make awkward and broken image files for the pre-flight and Fix tests.

Everything is written by hand or by Pillow into a path the test gives; nothing is downloaded.
"""

from __future__ import annotations

import os
import random
import struct
import zlib
from pathlib import Path

from PIL import Image

RED = (220, 30, 30)
BLUE = (30, 30, 220)


def png_chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk with a correct CRC."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def write_png_by_hand(
    path: Path,
    width: int,
    height: int,
    *,
    bit_depth: int = 8,
    color_type: int = 2,
    idat: bytes | None = None,
) -> Path:
    """A PNG with the given IHDR. Without ``idat``, the pixel data is all zeros, compressed
    (only sensible for small sizes; pass ``idat=b""``-ish data for huge declared sizes)."""
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[color_type]
    if idat is None:
        row = b"\x00" + bytes(width * channels * bit_depth // 8)
        idat = zlib.compress(row * height)
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    data = (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )
    path.write_bytes(data)
    return path


def write_bomb_png(path: Path, width: int = 100_000, height: int = 100_000) -> Path:
    """A tiny PNG declaring ``width``×``height`` pixels (10 gigapixels by default)."""
    return write_png_by_hand(path, width, height, idat=zlib.compress(b"\x00" * 64))


def write_rgb48_png(path: Path, width: int, height: int, value: int = 40000) -> Path:
    """A 16-bit-per-channel RGB PNG (Pillow cannot write these itself); every sample ``value``."""
    sample = struct.pack(">H", value)
    row = b"\x00" + sample * (3 * width)
    return write_png_by_hand(
        path, width, height, bit_depth=16, color_type=2, idat=zlib.compress(row * height)
    )


def pad_png_to(path: Path, total_size: int) -> Path:
    """Insert a private ancillary chunk before IEND so the file is exactly ``total_size`` bytes."""
    data = path.read_bytes()
    iend = data.rindex(b"\x00\x00\x00\x00IEND")
    needed = total_size - len(data) - 12  # a chunk costs 12 bytes besides its data
    assert needed >= 0, "file already larger than the requested size"
    padded = data[:iend] + png_chunk(b"prVt", b"\x00" * needed) + data[iend:]
    assert len(padded) == total_size
    path.write_bytes(padded)
    return path


def truncate(path: Path, keep: float | int) -> Path:
    """Cut the file: keep a fraction of it (float), its first ``keep`` bytes (int >= 0), or all
    but its last ``-keep`` bytes (negative int)."""
    data = path.read_bytes()
    if isinstance(keep, float):
        n = int(len(data) * keep)
    else:
        n = keep if keep >= 0 else len(data) + keep
    path.write_bytes(data[:n])
    return path


def half_and_half(size: tuple[int, int]) -> Image.Image:
    """Left half red, right half blue: rotation and flips are visible in the pixels."""
    img = Image.new("RGB", size, BLUE)
    img.paste(RED, (0, 0, size[0] // 2, size[1]))
    return img


def write_exif_rotated_jpeg(path: Path, size: tuple[int, int], orientation: int = 6) -> Path:
    """A :func:`half_and_half` JPEG whose EXIF says to display it with ``orientation``."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    half_and_half(size).save(path, "JPEG", quality=95, exif=exif.tobytes())
    return path


def noise_image(size: tuple[int, int], seed: int = 0) -> Image.Image:
    """Random RGB pixels (incompressible), deterministic for a seed."""
    rnd = random.Random(seed)
    return Image.frombytes("RGB", size, rnd.randbytes(size[0] * size[1] * 3))


def write_large_bmp(path: Path, nbytes: int = 6 * 1024 * 1024) -> Path:
    """A valid noise BMP of at least ``nbytes`` (a BMP's size is predictable: 54 + 3·w·h)."""
    side = int(((nbytes - 54) / 3) ** 0.5) + 1
    side += (-side) % 4  # rows of 3·side bytes need no padding when side is a multiple of 4
    noise_image((side, side)).save(path, "BMP")
    assert path.stat().st_size >= nbytes
    return path


def write_animated_gif(path: Path, size: tuple[int, int] = (300, 400)) -> Path:
    """A two-frame GIF: red first frame, blue second."""
    frames = [Image.new("RGB", size, RED), Image.new("RGB", size, BLUE)]
    frames[0].save(path, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return path


def append_trailer(path: Path, nbytes: int) -> Path:
    """Append ``nbytes`` of non-image data after the end marker (phones' motion-photo videos)."""
    with path.open("ab") as f:
        f.write(os.urandom(nbytes))
    return path
