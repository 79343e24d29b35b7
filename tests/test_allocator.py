"""refiner_gui.allocator: the mmap threshold is set where glibc exists, and never raises.

Its effect (GUI stalls and peak memory of a batch of big images) is measured by
bench/batch.py, not here: resident size after frees depends on the heap's history."""

from __future__ import annotations

import platform
import sys

from refiner_gui.allocator import map_big_blocks


def test_map_big_blocks_never_raises_and_says_what_it_did():
    result = map_big_blocks()
    assert isinstance(result, bool)
    if sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc":
        assert result
