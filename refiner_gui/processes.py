"""Small facts about processes: whether one exists (the one question the job store's
ownership and the app-wide task slots both ask of a pid), and a background process's
lower CPU priority. Standard library only (the app's start reads this first). No Qt."""

from __future__ import annotations

import os
import sys

__all__ = ["BACKGROUND_NICE", "BATCH_PROCESS_FLAG", "lower_priority", "pid_alive"]


# The argument that makes a frozen app its own batch process (refiner_gui.batch.child);
# here, with only the standard library, because the app's start reads it first.
BATCH_PROCESS_FLAG = "--batch-process"
# How much a background process (a window's batch) yields to the window: at nice 10 the
# kernel gives the GUI thread about 9 times its CPU share whenever both want a core, so
# the window paints on time while the batch works; alone on the machine, the batch
# still gets every core it can use.
BACKGROUND_NICE = 10


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


def lower_priority() -> bool:
    """Lower this process's CPU priority to a background one (:data:`BACKGROUND_NICE`;
    "below normal" on Windows); True when it was lowered. Never raises: a process that
    may not change its priority just runs at the normal one."""
    try:
        if sys.platform == "win32":
            below_normal = 0x4000  # BELOW_NORMAL_PRIORITY_CLASS
            return bool(_kernel32.SetPriorityClass(_kernel32.GetCurrentProcess(), below_normal))
        os.nice(BACKGROUND_NICE)
    except (OSError, AttributeError):
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
    _kernel32.GetCurrentProcess.restype = wintypes.HANDLE
    _kernel32.SetPriorityClass.argtypes = (wintypes.HANDLE, wintypes.DWORD)

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
