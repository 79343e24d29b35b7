"""The vendor's error-code table (``error_codes.csv``, shipped with the package).

Decide by the code first and the HTTP status second: the vendor moved 48 codes to new
statuses on 2026-01-08, so either status may arrive for the same code.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources


@dataclass(frozen=True)
class ErrorCode:
    """One row of the vendor's error table (``error_codes.csv``)."""

    code: str
    http_status: int
    description: str
    previous_http_status: int | None  # None when unchanged; the csv's "new" also maps to None


@lru_cache(maxsize=1)
def error_table() -> dict[str, ErrorCode]:
    """Return every vendor error code keyed by its name. Thread-safe after first call."""
    text = resources.files("refiner_gui.api").joinpath("error_codes.csv").read_text("utf-8")
    table: dict[str, ErrorCode] = {}
    for row in csv.DictReader(io.StringIO(text)):
        prev = row["previous_http_status"].strip()
        table[row["code"]] = ErrorCode(
            code=row["code"],
            http_status=int(row["http_status"]),
            description=row["description"],
            previous_http_status=int(prev) if prev.isdigit() else None,
        )
    return table


def lookup(code: str | None) -> ErrorCode | None:
    """The table's row for ``code``, or None for an empty or unknown code."""
    if not code:
        return None
    return error_table().get(code)
