"""Atomic file writes: a temporary file beside the destination, renamed into place when whole.

The one helper every writer of a file that someone else may read uses (results, previews,
stored inputs, exports, settings, reports, downloads). The contract, for all of them:

* ``dest`` either keeps its previous content (or stays absent), or holds the complete new
  content, never a partial file, also after a crash: the data is flushed to disk
  (``fsync``) before the rename, so the rename cannot land before the data.
* The temporary file is named ``.<dest name>.<random>.part`` in ``dest``'s folder: hidden,
  plainly partial (:meth:`refiner_gui.jobs.JobStore.remove_partial_files` sweeps them), and
  on the same file system, so ``os.replace`` is an atomic rename, not a copy.
* On any exception, ``KeyboardInterrupt`` included, the temporary file is removed and the
  exception propagates.
* The destination folder must exist and be writable, else ``OSError`` before anything is
  written (the temporary file is created on entry, before any expensive work).

No Qt; any thread. Two writers of the same ``dest`` never share a temporary file; the last
rename wins.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

PRIVATE_MODE = 0o600
"""Permissions of a file only this user reads (what ``tempfile.mkstemp`` gives)."""

SHARED_MODE = 0o666
"""Permissions of a file made to be shared (the usual ``0o666`` less the umask)."""

PART_SUFFIX = ".part"


def temp_path_for(dest: Path) -> Path:
    """A fresh, hidden, plainly partial name beside ``dest`` (not created)."""
    dest = Path(dest)
    return dest.with_name(f".{dest.name}.{secrets.token_hex(6)}{PART_SUFFIX}")


def _create(dest: Path, mode: int) -> tuple[Path, int]:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = temp_path_for(dest)
        try:
            return tmp, os.open(tmp, flags, mode)
        except FileExistsError:  # 48 random bits collided: pick another name
            continue


@contextlib.contextmanager
def atomic_path(dest: Path, *, mode: int = PRIVATE_MODE) -> Iterator[Path]:
    """Yield a temporary path beside ``dest``; when the block ends normally it becomes ``dest``.

    For writers that open the file themselves (Pillow's ``Image.save``,
    ``shutil.copyfile``, ``QImage.save``): they may overwrite the (empty) temporary file.
    ``mode`` sets the new file's permissions (:data:`PRIVATE_MODE` by default,
    :data:`SHARED_MODE` for files made to be shared). See the module for the contract.
    """
    dest = Path(dest)
    tmp, fd = _create(dest, mode)
    os.close(fd)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


@contextlib.contextmanager
def atomic_open(
    dest: Path, *, binary: bool = False, mode: int = PRIVATE_MODE, **open_kwargs: Any
) -> Iterator[IO[Any]]:
    """Yield an open file (text unless ``binary``); when the block ends normally it
    becomes ``dest``. ``open_kwargs`` go to :func:`open` (``encoding``, ``newline``).
    Same contract as :func:`atomic_path`."""
    dest = Path(dest)
    tmp, fd = _create(dest, mode)
    try:
        with os.fdopen(fd, "wb" if binary else "w", **open_kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def shared_path(dest: Path) -> contextlib.AbstractContextManager[Path]:
    """:func:`atomic_path` for a file made to be shared (:data:`SHARED_MODE`, so the
    user's umask decides): every export (saved results, their provenance, reports,
    pasted pictures) uses this or :func:`shared_open`, so they all get the same
    permissions."""
    return atomic_path(dest, mode=SHARED_MODE)


def shared_open(
    dest: Path, *, binary: bool = False, **open_kwargs: Any
) -> contextlib.AbstractContextManager[IO[Any]]:
    """:func:`atomic_open` for a file made to be shared (see :func:`shared_path`)."""
    return atomic_open(dest, binary=binary, mode=SHARED_MODE, **open_kwargs)


def write_bytes_atomic(dest: Path, data: bytes, *, mode: int = PRIVATE_MODE) -> Path:
    """Write ``data`` to ``dest`` atomically (see :func:`atomic_path`); return ``dest``."""
    with atomic_open(dest, binary=True, mode=mode) as fh:
        fh.write(data)
    return Path(dest)


def write_text_atomic(
    dest: Path, text: str, *, encoding: str = "utf-8", mode: int = PRIVATE_MODE
) -> Path:
    """Write ``text`` to ``dest`` atomically (see :func:`atomic_path`); return ``dest``."""
    with atomic_open(dest, encoding=encoding, mode=mode) as fh:
        fh.write(text)
    return Path(dest)
