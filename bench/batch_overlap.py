"""What the batch's two session-9 changes buy its wall time, each against the code before.

The 100-look, small-input batch of ``bench/batch.py`` (sandbox latency 1 s, concurrency
5: ideal 20 s), run in turn in four ways, ``--rounds`` times each (the order rotates per
round), a fresh sandbox and data folder per run:

- ``now``: the app as it is. ``concurrency`` turns at the service and
  :data:`~refiner_gui.batch.queue.AHEAD` more worker threads, so one look's download and
  export overlap the next look's task (:mod:`refiner_gui.jobs.task_turns`); buckets of a
  few tokens, so requests that meet leave together (:mod:`refiner_gui.api.limits`).
- ``no-ahead``: one worker thread per turn (each look's local steps keep its lane idle).
- ``one-token``: the buckets of one token at 9 submits and 18 polls a second.
- ``before``: both, the code of session 8 (the baseline).

Prints each wall time and its ratio to the ideal, then each way's mean and its ratio to
``before``. Reproduce from the repository root: ``python bench/batch_overlap.py``
(``--rounds 2``, ~5 min).
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

from refiner_gui.batch.queue import AHEAD  # noqa: E402

WAYS = {  # BENCH_AHEAD, BENCH_BURST (read by bench/batch.py's wall child)
    "now": (AHEAD, "0"),
    "no-ahead": (0, "0"),
    "one-token": (AHEAD, "1"),
    "before": (0, "1"),
}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--looks", type=int, default=100)
    a = p.parse_args()
    ideal = a.looks / 5 * 1.0
    walls: dict[str, list[float]] = {k: [] for k in WAYS}
    names = list(WAYS)
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(a.rounds):
            for way in names[r % len(names) :] + names[: r % len(names)]:
                home = Path(tmp) / f"{way}-{r}"
                sandbox, url = start_sandbox(1.0, home / "sandbox")
                try:
                    os.environ["BENCH_AHEAD"] = str(WAYS[way][0])
                    os.environ["BENCH_BURST"] = WAYS[way][1]
                    args = ["--child", "wall", "--url", url, "--looks", str(a.looks)]
                    got = spawn([*args, "--poll", "0.5"], home / "wall")
                finally:
                    sandbox.terminate()
                    sandbox.wait(10)
                walls[way].append(got["wall"])
                print(
                    f"{way:9s} round {r}: {got['wall']:.2f} s ({got['wall'] / ideal:.3f} of the "
                    f"ideal), {got['done']} done",
                    flush=True,
                )
    before = statistics.mean(walls["before"])
    for way in names:
        mean = statistics.mean(walls[way])
        print(
            f"{way:9s} mean {mean:.2f} s ({mean / ideal:.3f} of the ideal; goal <= 1.15), "
            f"ratio to before {mean / before:.3f}"
        )


if __name__ == "__main__":
    main()
