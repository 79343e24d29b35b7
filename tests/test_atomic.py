"""The one atomic-write helper: whole new content or the old file, never a partial one."""

from __future__ import annotations

import os
import stat

import pytest

from refiner_gui import atomic
from refiner_gui.atomic import (
    SHARED_MODE,
    atomic_open,
    atomic_path,
    write_bytes_atomic,
    write_text_atomic,
)


def leftovers(folder):
    return [p.name for p in folder.iterdir() if p.name.endswith(".part")]


def test_writes_land_whole_and_leave_no_temp(tmp_path):
    dest = tmp_path / "a.bin"
    assert write_bytes_atomic(dest, b"one") == dest and dest.read_bytes() == b"one"
    write_text_atomic(dest, "two")
    assert dest.read_text("utf-8") == "two"
    with atomic_path(dest) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".a.bin.") and tmp.exists()
        tmp.write_bytes(b"three")
    assert dest.read_bytes() == b"three" and not leftovers(tmp_path)


@pytest.mark.parametrize("error", [ValueError, KeyboardInterrupt])
def test_a_failure_keeps_the_old_file_and_removes_the_temp(tmp_path, error):
    dest = tmp_path / "a.txt"
    dest.write_text("old")
    with pytest.raises(error), atomic_open(dest, encoding="utf-8") as fh:
        fh.write("half")
        raise error
    assert dest.read_text() == "old" and not leftovers(tmp_path)


def test_a_refused_rename_keeps_the_old_file(tmp_path, monkeypatch):
    dest = tmp_path / "a.txt"
    dest.write_text("old")

    def refuse(src, dst):
        raise PermissionError(13, "open in another program", str(dst))

    monkeypatch.setattr(atomic.os, "replace", refuse)
    with pytest.raises(PermissionError):
        write_bytes_atomic(dest, b"new")
    assert dest.read_text() == "old" and not leftovers(tmp_path)


def test_a_missing_folder_fails_before_any_work(tmp_path):
    with pytest.raises(FileNotFoundError), atomic_path(tmp_path / "nope" / "a.png"):
        pytest.fail("the block must not run")


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_private_by_default_shared_on_request(tmp_path):
    private = write_bytes_atomic(tmp_path / "p", b"x")
    shared = write_bytes_atomic(tmp_path / "s", b"x", mode=SHARED_MODE)
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert stat.S_IMODE(shared.stat().st_mode) == 0o666 & ~umask
