"""A damaged job store (cut short, overwritten): how to notice it cheaply, what to say.

The store never deletes or replaces a damaged file: the message says which file it is and
how the user can go on (restore a backup, or move it aside to start a new history).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path


def damaged_message(path: Path, why: str) -> str:
    """What to tell the user when the store file at ``path`` is damaged (``why``)."""
    return (
        f"The job history file {path} is damaged and cannot be read ({why}). The app "
        "leaves it where it is and never deletes it. To go on: quit the app (and any "
        "refiner-cli), then either restore the file from a backup, or move it aside (for "
        f"example rename it to {path.name}.damaged, together with any {path.name}-wal and "
        f"{path.name}-shm beside it) to start with an empty history."
    )


_SQLITE_CORRUPT, _SQLITE_NOTADB = 11, 26  # SQLite's primary result codes (stable)


def is_damage(exc: sqlite3.DatabaseError) -> bool:
    """True for "file is not a database" and "malformed" (SQLITE_NOTADB, SQLITE_CORRUPT)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None and code & 0xFF in (_SQLITE_CORRUPT, _SQLITE_NOTADB):
        return True
    text = str(exc).lower()
    return "malformed" in text or "not a database" in text


def check_whole(conn: sqlite3.Connection, path: Path) -> None:
    """Raise SQLITE_CORRUPT-like DatabaseError when the file is shorter than its header
    says (cut short by a full disk or a bad copy). Cheap: two header reads and a stat.
    Skipped while a write-ahead log holds pages not yet copied into the file."""
    wal = Path(f"{path}-wal")
    if wal.exists() and wal.stat().st_size > 0:
        return
    pages = int(conn.execute("PRAGMA page_count").fetchone()[0])
    size = int(conn.execute("PRAGMA page_size").fetchone()[0])
    actual = path.stat().st_size
    if actual < pages * size:
        raise sqlite3.DatabaseError(
            f"database disk image is malformed: {actual:,} bytes, {pages * size:,} expected"
        )
