"""The helpers that keep worker threads from stalling the GUI thread (refiner_gui.workers).

Both take an injected clock (and sleep), so these tests neither sleep nor time anything.
"""

from __future__ import annotations

from refiner_gui.api import ProgressEvent, Stage
from refiner_gui.api.progress import ProgressThrottle
from refiner_gui.workers import GilYield


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_byte_updates_are_thinned_but_stages_and_final_counts_pass():
    clock = FakeClock()
    shown: list[ProgressEvent] = []
    throttle = ProgressThrottle(shown.append, interval=0.05, clock=clock)

    def chunk(stage: Stage, done: int | None, total: int | None = 1000) -> None:
        throttle(ProgressEvent(stage=stage, elapsed=0.0, bytes_done=done, bytes_total=total))

    chunk(Stage.UPLOADING, 0, None)  # a new stage always shows
    for done in range(100, 1000, 100):  # nine chunks within one interval: dropped
        chunk(Stage.UPLOADING, done)
    clock.now += 0.06
    chunk(Stage.UPLOADING, 950)  # the interval has passed
    chunk(Stage.UPLOADING, 960)
    chunk(Stage.UPLOADING, 1000)  # the transfer is complete: never dropped
    throttle(ProgressEvent(stage=Stage.QUEUED, elapsed=0.0, task_id="t1"))
    chunk(Stage.DOWNLOADING, None, None)  # no byte count: passes
    chunk(Stage.DOWNLOADING, 64, None)  # first count of the stage (total unknown)
    chunk(Stage.DOWNLOADING, 128, None)

    assert [(e.stage, e.bytes_done) for e in shown] == [
        (Stage.UPLOADING, 0),
        (Stage.UPLOADING, 950),
        (Stage.UPLOADING, 1000),
        (Stage.QUEUED, None),
        (Stage.DOWNLOADING, None),
        (Stage.DOWNLOADING, 64),
    ]


def test_gil_yield_sleeps_at_most_once_per_interval():
    clock = FakeClock()
    sleeps: list[float] = []
    give_way = GilYield(every=0.004, pause=0.0005, clock=clock, sleep=sleeps.append)
    give_way()  # nothing has run for long yet
    clock.now += 0.003
    give_way()
    assert sleeps == []
    clock.now += 0.001
    give_way()
    give_way()  # the interval restarts after a pause
    assert sleeps == [0.0005]
    clock.now += 0.010
    give_way()
    assert sleeps == [0.0005, 0.0005]
