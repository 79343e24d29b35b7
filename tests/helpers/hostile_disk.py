"""Hostile disks for tests: a tiny or read-only tmpfs mounted over a folder, and filling it.

Mounting needs root (or CAP_SYS_ADMIN) and the ``mount`` tool; where either is missing,
:func:`tmpfs` skips the test with the reason. Every mount is unmounted on the way out.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def _can_mount() -> str | None:
    """None when this process may mount a tmpfs, else why not."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "mounting a small file system needs root"
    if shutil.which("mount") is None or shutil.which("umount") is None:
        return "no mount/umount tools"
    return None


@contextmanager
def tmpfs(where: Path, *, size: str = "256k", read_only: bool = False) -> Iterator[Path]:
    """Mount a tmpfs of ``size`` over the folder ``where`` (created if missing).

    Skips the test (with the reason) when mounting is not allowed here.
    """
    reason = _can_mount()
    if reason:
        pytest.skip(reason)
    where.mkdir(parents=True, exist_ok=True)
    opts = f"size={size},mode=0755" + (",ro" if read_only else "")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield where
    finally:
        if subprocess.run(["umount", str(where)], check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(where)], check=False)


def fill(folder: Path) -> Path:
    """Write a filler file in ``folder`` until its file system is full; return it."""
    filler = folder / "filler.bin"
    block = b"\0" * 4096
    with open(filler, "wb", buffering=0) as fh:
        while True:
            try:
                fh.write(block)
            except OSError as exc:
                if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                    break
                raise
    return filler
