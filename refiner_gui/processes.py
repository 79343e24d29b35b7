"""Whether a process exists: the one question the job store's ownership and the app-wide
task slots both ask of a pid. No Qt."""

from __future__ import annotations

import os
import sys

__all__ = ["BATCH_PROCESS_FLAG", "pid_alive"]


# The argument that makes a frozen app its own batch process (refiner_gui.batch.child);
# here, with only the standard library, because the app's start reads it first.
BATCH_PROCESS_FLAG = "--batch-process"


def pid_alive(pid: int) -> bool:
    """Whether a process with ``pid`` exists on this machine."""
    if pid <= 0:
        return False
    if sys.platform == "win32":
        return _windows_pid_alive(pid)
    try:
        os.kill(pid, 0)  # signal 0 probes, sends nothing
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except OSError:
        return False
    return True


if sys.platform == "win32":
    import ctypes
    from ctypes import wintypes

    _kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    _kernel32.OpenProcess.restype = wintypes.HANDLE
    _kernel32.OpenProcess.argtypes = (wintypes.DWORD, wintypes.BOOL, wintypes.DWORD)
    _kernel32.GetExitCodeProcess.argtypes = (wintypes.HANDLE, ctypes.POINTER(wintypes.DWORD))
    _kernel32.CloseHandle.argtypes = (wintypes.HANDLE,)

    def _windows_pid_alive(pid: int) -> bool:
        # Not os.kill(pid, 0): on Windows signal 0 is CTRL_C_EVENT, sent to a whole
        # console process group.
        handle = _kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return ctypes.get_last_error() == 5  # access denied: it exists
        try:
            code = wintypes.DWORD()
            if not _kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
                return True
            return code.value == 259  # STILL_ACTIVE
        finally:
            _kernel32.CloseHandle(handle)
