"""Atomic report files: :mod:`refiner_gui.atomic`, with the permissions of a shared file.

A report gets the usual permissions for a new file (``0o666`` less the umask), unlike the
app's private data files (``0o600``): a report is made to be shared.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import IO, Any

from refiner_gui.atomic import shared_open, shared_path


def atomic_output(
    dest: Path, *, binary: bool = False, **open_kwargs: Any
) -> contextlib.AbstractContextManager[IO[Any]]:
    """Yield a file object; when the ``with`` block ends normally, it becomes ``dest``.

    :func:`refiner_gui.atomic.shared_open`, the helper every export uses.
    """
    return shared_open(dest, binary=binary, **open_kwargs)


def atomic_path(dest: Path) -> contextlib.AbstractContextManager[Path]:
    """Like :func:`atomic_output`, but yields a temporary *path* for writers that open the
    file themselves (Pillow's ``Image.save``). Same contract."""
    return shared_path(dest)
