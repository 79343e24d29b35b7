"""What counting the service's 5 running tasks in the shared file costs a batch.

The 100-look, small-input batch of ``bench/batch.py`` (sandbox latency 1 s, concurrency
5: ideal 20 s), run alternately with the running-task slots where the app keeps them (the
data folder's SQLite file, :class:`refiner_gui.api.task_slots.FileSlots`) and in memory
(:class:`~refiner_gui.api.task_slots.MemorySlots`, the baseline: the same waits, no file
writes), ``--rounds`` of each, a fresh sandbox and data folder per run. Prints each wall
time and the ratio file / memory of the means.

Reproduce from the repository root: ``python bench/slots_overhead.py`` (``--rounds 2``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from batch import spawn, start_sandbox  # noqa: E402  (bench/batch.py, beside this file)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--looks", type=int, default=100)
    a = p.parse_args()
    walls: dict[str, list[float]] = {"file": [], "memory": []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(a.rounds):
            for kind in ("file", "memory") if r % 2 == 0 else ("memory", "file"):
                home = Path(tmp) / f"{kind}-{r}"
                sandbox, url = start_sandbox(1.0, home / "sandbox")
                try:
                    os.environ["BENCH_SLOTS"] = kind
                    args = ["--child", "wall", "--url", url, "--looks", str(a.looks)]
                    got = spawn([*args, "--poll", "0.5"], home / "wall")
                finally:
                    sandbox.terminate()
                    sandbox.wait(10)
                walls[kind].append(got["wall"])
                print(f"{kind:6s} round {r}: {got['wall']:.2f} s, {got['done']} done")
    file_mean, memory_mean = statistics.mean(walls["file"]), statistics.mean(walls["memory"])
    print(
        f"slots in the file {file_mean:.2f} s, in memory {memory_mean:.2f} s; "
        f"ratio file / memory {file_mean / memory_mean:.3f}"
    )


if __name__ == "__main__":
    main()
