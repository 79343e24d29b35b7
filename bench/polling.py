"""Detection lag and polls per job: the learned poll schedule against fixed and back-off
polling, on a virtual clock and then through the real job path against the sandbox.

Detection lag: from the task finishing at the service to the poll that sees it. Polls
per job count every poll (fixed and back-off polling poll once at once, the learned
schedule waits for its first planned poll). Strategies, side by side on the same durations:

* fixed 5 s (the vendor's advice, the old default), fixed 1 s (the floor for the service),
* back-off: 5 s, x1.5 per poll, capped at 45 s (Google's long-running-operation clients),
* learned: :func:`refiner_gui.jobs.poll_schedule.plan` on the
  :class:`~refiner_gui.jobs.durations.DurationEstimate` of the jobs before (starting cold
  from the contract's timings, recent jobs weighing more), within the polls of fixed 5 s;
  "learned x1.5" is the same with half as many polls again, to show the trade-off.

1. Simulation: thousands of jobs per mix on a virtual clock (no sleeping). The learned
   schedule is re-planned every ``--refresh`` jobs (the app re-plans before every job).
2. Sandbox: ``--sandbox-jobs`` jobs per mix through ``run_job`` (store, client, the wait
   loop's ``next_interval`` hook, the history table) against the sandbox, time scaled by
   ``--scale`` (durations multiplied, the client's interval 5 s x scale: the app then
   scales its plan the same way). Lags are measured on the client: from the submit's
   answer plus the task's duration to the answer of the first "done" poll, and given in
   service seconds (divided by the scale).

    python bench/polling.py [--jobs 2000] [--refresh 10] [--sandbox-jobs 60] [--scale 0.02]
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from refiner_gui.api import RefinerClient  # noqa: E402
from refiner_gui.api.models import TaskState, TaskStatus  # noqa: E402
from refiner_gui.jobs import JobStore, run_job  # noqa: E402
from refiner_gui.jobs.durations import (  # noqa: E402
    PREMIUM,
    PRIORS,
    PRO,
    REFINER,
    Bracket,
    DurationEstimate,
    Lognormal,
)
from refiner_gui.jobs.poll_schedule import PollSchedule, fixed, plan  # noqa: E402
from refiner_gui.sandbox import SandboxServer  # noqa: E402
from tests.helpers.images import make_image  # noqa: E402

Sampler = Callable[[random.Random, int, int], float]


def lognormal(dist: Lognormal) -> Sampler:
    return lambda rnd, i, n: rnd.lognormvariate(math.log(dist.median), dist.sigma)


def bimodal(rnd: random.Random, i: int, n: int) -> float:
    median = 8.0 if rnd.random() < 0.5 else 45.0
    return rnd.lognormvariate(math.log(median), 0.15)


WIDE = Lognormal.between(5.0, 60.0)


def slowdown(rnd: random.Random, i: int, n: int) -> float:
    return lognormal(WIDE)(rnd, i, n) * (3.0 if i >= n // 2 else 1.0)


# name -> (sampler, endpoint whose contract timings start the learned schedule)
MIXES: dict[str, tuple[Sampler, str]] = {
    "lognormal 5-60 s": (lognormal(WIDE), REFINER),
    "bimodal 8 s / 45 s": (bimodal, REFINER),
    "slowdown x3 mid-run": (slowdown, REFINER),
    "Pro ~40 s": (lognormal(Lognormal(40.0, 0.2)), PRO),
    "Premium ~80 s": (lognormal(Lognormal(80.0, 0.2)), PREMIUM),
}


def backoff(first: float = 5.0, factor: float = 1.5, cap: float = 45.0) -> PollSchedule:
    times, t, gap = [0.0], 0.0, first  # polls at once, like fixed polling
    while t < 3600:
        t += gap
        times.append(t)
        gap = min(gap * factor, cap)
    return PollSchedule(tuple(times), cap, 1.0)


class Fixed:
    def __init__(self, schedule: PollSchedule) -> None:
        self.schedule = schedule

    def next_schedule(self) -> PollSchedule:
        return self.schedule

    def observe(self, bracket: Bracket) -> None:
        pass


class Learned:
    def __init__(self, endpoint: str, refresh: int, budget_factor: float = 1.0) -> None:
        self.prior = PRIORS[endpoint]
        self.refresh = refresh
        self.factor = budget_factor
        self.history: list[Bracket] = []  # newest first
        self.schedule: PollSchedule | None = None
        self.since = 0

    def next_schedule(self) -> PollSchedule:
        if self.schedule is None or self.since >= self.refresh:
            est = DurationEstimate.from_brackets(self.history[:100], self.prior)
            self.schedule = plan(est, budget_factor=self.factor)
            self.since = 0
        self.since += 1
        return self.schedule

    def observe(self, bracket: Bracket) -> None:
        self.history.insert(0, bracket)
        del self.history[100:]


def one_job(schedule: PollSchedule, duration: float) -> tuple[float, int, Bracket]:
    ages = [schedule.first_delay(0.0)]
    while ages[-1] < duration:
        ages.append(ages[-1] + schedule.next_delay(ages[-1]))
    lo = ages[-2] if len(ages) > 1 else 0.0
    return ages[-1] - duration, len(ages), Bracket(lo, ages[-1])


def strategies(endpoint: str, refresh: int) -> dict[str, Fixed | Learned]:
    return {
        "fixed 5 s": Fixed(fixed(5.0)),
        "fixed 1 s": Fixed(fixed(1.0)),
        "back-off 5 s x1.5": Fixed(backoff()),
        "learned": Learned(endpoint, refresh),
        "learned x1.5": Learned(endpoint, refresh, 1.5),
    }


def p95(xs: list[float]) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(0.95 * len(s)))]


def simulate(jobs: int, refresh: int, seed: int) -> None:
    print(f"\n## Simulation: {jobs} jobs per mix, virtual clock, re-plan every {refresh} jobs")
    print("| mix | strategy | mean lag | p95 lag | polls/job |")
    print("|---|---|---|---|---|")
    for name, (sampler, endpoint) in MIXES.items():
        rnd = random.Random(seed)
        durations = [sampler(rnd, i, jobs) for i in range(jobs)]
        t0 = time.perf_counter()
        for label, strat in strategies(endpoint, refresh).items():
            lags, polls = [], []
            for d in durations:
                lag, n, bracket = one_job(strat.next_schedule(), d)
                strat.observe(bracket)
                lags.append(lag)
                polls.append(n)
            mean_lag = sum(lags) / len(lags)
            print(
                f"| {name} | {label} | {mean_lag:.2f} s | {p95(lags):.2f} s |"
                f" {sum(polls) / len(polls):.2f} |"
            )
        print(f"<!-- {name}: {time.perf_counter() - t0:.1f} s -->", file=sys.stderr)


class Timed(RefinerClient):
    """The app's client, noting when the first "done" answer arrived (monotonic)."""

    done_at: float | None = None

    def query(self, task_id: str) -> TaskStatus:
        st = super().query(task_id)
        if st.state is TaskState.SUCCEEDED and self.done_at is None:
            self.done_at = time.monotonic()
        return st

    def submit(self, *args, **kw):  # type: ignore[no-untyped-def]
        sub = super().submit(*args, **kw)
        self.submitted = time.monotonic()
        return sub


def sandbox(jobs: int, scale: float, seed: int, mixes: list[str]) -> None:
    print(f"\n## Sandbox: {jobs} jobs per mix through run_job, time x{scale:g}")
    print(
        "| mix | strategy | mean lag | p95 lag | polls/job"
        " | simulated: mean lag | p95 | polls/job |"
    )
    print("|---|---|---|---|---|---|---|---|")
    modes = {"fixed 5 s": (5.0, False), "fixed 1 s": (1.0, False), "learned": (5.0, True)}
    with tempfile.TemporaryDirectory() as tmp, SandboxServer(credits=10**9) as srv:
        d = Path(tmp)
        files = {
            "person_image": make_image(d / "p.jpg", (200, 300)),
            "top_garment": make_image(d / "t.png", (200, 200)),
            "coarse_image": make_image(d / "c.png", (200, 300)),
        }
        for name in mixes:
            sampler, _ = MIXES[name]
            rnd = random.Random(seed)
            durations = [sampler(rnd, i, jobs) for i in range(jobs)]
            stores = {label: JobStore(d / name / label / "jobs.sqlite3") for label in modes}
            lags: dict[str, list[float]] = {label: [] for label in modes}
            polls: dict[str, list[int]] = {label: [] for label in modes}
            try:
                for duration in durations:  # strategies alternate, job by job
                    for label, (interval, adaptive) in modes.items():
                        srv.latency = duration * scale
                        client = Timed(
                            "bench-key",
                            srv.base_url,
                            poll_interval=interval * scale,
                            adaptive_polling=adaptive,
                        )
                        before = sum(1 for r in srv.requests if r[1].endswith("async-task-result"))
                        try:
                            store = stores[label]
                            run_job(store, client, store.create_job(files, "woman"))
                        finally:
                            client.close()
                        after = sum(1 for r in srv.requests if r[1].endswith("async-task-result"))
                        assert client.done_at is not None
                        lag = client.done_at - (client.submitted + duration * scale)
                        lags[label].append(lag / scale)
                        polls[label].append(after - before)
            finally:
                for s in stores.values():
                    s.close()
            # The same durations on the virtual clock, re-planning before every job as
            # the app does: what the sandbox run should reproduce.
            sims = {
                "fixed 5 s": Fixed(fixed(5.0)),
                "fixed 1 s": Fixed(fixed(1.0)),
                "learned": Learned(REFINER, 1),
            }
            for label in modes:
                xs = lags[label]
                sim_lags, sim_polls = [], []
                for duration in durations:
                    lag, n, bracket = one_job(sims[label].next_schedule(), duration)
                    sims[label].observe(bracket)
                    sim_lags.append(lag)
                    sim_polls.append(n)
                print(
                    f"| {name} | {label} | {sum(xs) / len(xs):.2f} s | {p95(xs):.2f} s |"
                    f" {sum(polls[label]) / len(polls[label]):.2f} |"
                    f" {sum(sim_lags) / len(sim_lags):.2f} s | {p95(sim_lags):.2f} s |"
                    f" {sum(sim_polls) / len(sim_polls):.2f} |"
                )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=2000)
    ap.add_argument("--refresh", type=int, default=10)
    ap.add_argument("--sandbox-jobs", type=int, default=60)
    ap.add_argument("--scale", type=float, default=0.02)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--sandbox-mixes", default="lognormal 5-60 s,Pro ~40 s", help="comma-separated names"
    )
    args = ap.parse_args()
    t0 = time.perf_counter()
    simulate(args.jobs, args.refresh, args.seed)
    print(f"(simulation: {time.perf_counter() - t0:.1f} s)")
    if args.sandbox_jobs > 0:
        t0 = time.perf_counter()
        sandbox(args.sandbox_jobs, args.scale, args.seed, args.sandbox_mixes.split(","))
        print(f"(sandbox: {time.perf_counter() - t0:.1f} s)")


if __name__ == "__main__":
    main()
