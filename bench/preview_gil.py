"""How long one worker making result previews holds a Python heartbeat back (the GIL).

A heartbeat thread sleeps 5 ms in a loop and records how late it wakes, first beside an
idle worker (the baseline), then beside a worker calling
:func:`refiner_gui.jobs.previews.write_preview` on a 4095 px PNG over and over (decode,
shrink, 640 px JPEG encode: the per-look image work of a batch), 6 s each, 2 rounds.
Prints the worst and 99th-percentile lateness of each and their ratio.

Reproduce from the repository root: ``python bench/preview_gil.py``.
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import Image  # noqa: E402

from refiner_gui.jobs.previews import write_preview  # noqa: E402

BEAT = 0.005
SECONDS = 6.0


def lateness(work: Callable[[], None]) -> tuple[float, float]:
    """(worst, p99) lateness of the heartbeat in ms while ``work`` runs in a loop."""
    stop, late = threading.Event(), []

    def heartbeat() -> None:
        last = time.perf_counter()
        while not stop.is_set():
            time.sleep(BEAT)
            now = time.perf_counter()
            late.append(now - last - BEAT)
            last = now

    beat = threading.Thread(target=heartbeat)
    beat.start()
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < SECONDS:
        work()
    stop.set()
    beat.join()
    late.sort()
    return late[-1] * 1000, late[int(len(late) * 0.99)] * 1000


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "result.png"
        Image.effect_noise((4095, 4095), 60).convert("RGB").save(src, compress_level=1)
        for r in range(2):
            idle = lateness(lambda: time.sleep(0.05))
            busy = lateness(lambda: write_preview(src))
            print(
                f"round {r}: idle worker worst {idle[0]:.1f} ms (p99 {idle[1]:.1f}); "
                f"previewing worker worst {busy[0]:.1f} ms (p99 {busy[1]:.1f}); "
                f"ratio worst {busy[0] / max(idle[0], 0.1):.1f}"
            )


if __name__ == "__main__":
    main()
