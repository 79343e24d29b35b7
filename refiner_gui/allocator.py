"""Large image buffers come straight from the operating system. No Qt; call once, early.

Why (measured with ``bench/batch.py``, a batch of 4095 px looks in the window): glibc
raises its ``mmap`` threshold each time a big block is freed, so after the first few
images the 16 MB blocks Pillow allocates for each decode came from the heap instead.
Pillow zeroes a new image while it holds the GIL, and zeroing 67 MB of reused heap held
the GUI thread off for tens of milliseconds, per image; freed heap also stayed in the
process (peak RSS 397 MB for 40 looks). A fixed 1 MiB threshold keeps big blocks mapped:
fresh pages are already zero (touched later, while the decoder runs without the GIL),
and a freed image goes back to the system at once (peak 341 MB).
"""

from __future__ import annotations

import ctypes
import logging
import sys

log = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter (malloc.h)
MMAP_THRESHOLD_BYTES = 1 << 20


def map_big_blocks() -> bool:
    """Fix glibc's ``mmap`` threshold at 1 MiB for this process; True when it was set.

    Only on Linux with glibc; anywhere else (or if the C library refuses) nothing changes
    and False is returned. Never raises. Any thread, but call it before images are made.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        # The process's own symbols (libc among them): no library search, which would
        # start a subprocess (ctypes.util.find_library runs ldconfig).
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # musl and others have no mallopt
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    ok = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1
    if not ok:
        log.debug("mallopt refused the mmap threshold")
    return ok
