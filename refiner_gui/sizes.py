"""How sizes are written for people: bytes and pixel sizes, one rounding everywhere. No Qt.

Every place that shows a file's size (a slot's facts line, a pre-flight message, a check
summary, a download limit) goes through :func:`format_bytes`, so one file never reads
"5.0 MB" in one place and "5.1 MB" in another. Sizes are rounded *up*: a file just over
the service's 5 MB can never read as "5 MB" next to "at most 5 MB".
"""

from __future__ import annotations

import math

KIB = 1024
"""One KB as the app counts it (like the service's limits)."""

MIB = 1024 * 1024
"""One MB as the app counts it (the contract's "5 MB" is read as 5 × 1024 × 1024)."""


def format_bytes(n: int) -> str:
    """A byte count in words: ``"512 bytes"``, ``"45 KB"``, ``"5 MB"``, ``"5.1 MB"``.

    Below 1 KB the exact count (never "0 KB", which reads like an empty file); below 1 MB
    whole KB, rounded up; from 1 MB on, MB with one decimal, rounded up, and without a
    trailing ".0" (so an exact limit reads "20 MB").
    """
    if n < KIB:
        return "1 byte" if n == 1 else f"{max(0, n)} bytes"
    if n < MIB:
        kb = math.ceil(n / KIB)
        if kb < 1024:
            return f"{kb} KB"
    tenths = math.ceil(n * 10 / MIB)
    whole, tenth = divmod(tenths, 10)
    return f"{whole} MB" if tenth == 0 else f"{whole}.{tenth} MB"


def format_pixels(width: int, height: int) -> str:
    """A pixel size as the app writes it everywhere: ``"1024×1536"``."""
    return f"{width}×{height}"
