"""Atomic report files: written beside the destination, renamed into place when complete."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


def _temp_name(dest: Path) -> Path:
    # Hidden and clearly partial, in the destination folder so os.replace is a rename on
    # one file system (atomic) rather than a copy across devices.
    return dest.with_name(f".{dest.name}.{secrets.token_hex(6)}.part")


@contextlib.contextmanager
def atomic_output(dest: Path, *, binary: bool = False, **open_kwargs: Any) -> Iterator[IO[Any]]:
    """Yield a file object; when the ``with`` block ends normally, it becomes ``dest``.

    Contract: ``dest`` either keeps its previous content (or stays absent), or holds the
    complete new content — never a partial file. On any exception, including
    ``KeyboardInterrupt``, the temporary file is removed and the exception propagates.
    The destination folder must exist and be writable, else ``OSError`` (e.g.
    ``FileNotFoundError``, ``PermissionError``, ``NotADirectoryError``) before anything is
    written. The file gets the usual permissions for a new file (``0o666`` less the umask),
    unlike ``tempfile.mkstemp``'s private ``0o600``: a report is made to be shared.
    """
    dest = Path(dest)
    tmp = _temp_name(dest)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb" if binary else "w", **open_kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())  # the rename must not land before the data on a crash
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def atomic_path(dest: Path) -> contextlib.AbstractContextManager[Path]:
    """Like :func:`atomic_output`, but yields a temporary *path* for writers that open the
    file themselves (Pillow's ``Image.save``). Same contract."""
    return _atomic_path(Path(dest))


@contextlib.contextmanager
def _atomic_path(dest: Path) -> Iterator[Path]:
    tmp = _temp_name(dest)
    # Create it now, so an unwritable folder fails before any rendering work is done.
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
