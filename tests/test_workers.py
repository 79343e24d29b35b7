"""The helpers that keep worker threads from stalling the GUI thread (refiner_gui.workers).

It takes an injected clock (and sleep), so this test neither sleeps nor times anything. The
progress throttle, once here too, is tested in tests/test_progress.py.
"""

from __future__ import annotations

from refiner_gui.workers import GilYield


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


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
