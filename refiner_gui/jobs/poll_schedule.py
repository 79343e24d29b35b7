"""When to poll a task: a schedule that minimises the expected detection lag under a
poll budget, from a :class:`~refiner_gui.jobs.durations.DurationEstimate`. No Qt, no I/O.

The lag is the time between the task finishing at the service and the poll that sees it.
A poll at age ``t`` costs something only if the task is still running then, so polls are
cheap where tasks are rarely still alive and lags are costly where tasks often finish.
Balancing the two (a Lagrange multiplier ``lam``, in seconds of lag per poll) gives each
gap ``g`` after a poll at ``t`` as the largest with::

    P(t < T <= t + g) * g <= 2 * lam * P(T > t)

(for a locally flat density, ``g = sqrt(2 lam / hazard)``): sparse early, dense around the
likely completion; a fresh task is first polled at the first planned age, not at once.
``lam`` is found by bisection so that the expected number of polls under the estimate
does not exceed the budget: what fixed polling every ``fallback`` seconds would cost on
the same estimate (less :data:`BUDGET_MARGIN`). Gaps are never shorter than
``min_gap`` (1 s for a remote service) nor longer than ``max_gap`` or the age by which
5% of tasks are done, whichever is longer (so a service that speeds up is noticed within
a few jobs, and a slow endpoint is not polled needlessly early); once the estimate
says fewer than 1% of tasks are still running (the tail nobody knows well, e.g. after a
slowdown), polling goes back to every ``fallback`` seconds. Planning costs ~5-10 ms.

Even an exact plan cannot reach every lag: at equal polls, the best mean lag is about
``(integral of sqrt(f * S / 2))**2 / polls`` (f the density, S the survival), ~1.7 s
for durations spread over 5-60 s, under 1 s for the narrower Pro and Premium timings.

All ages are seconds since submit. :meth:`PollSchedule.scaled` stretches a schedule in
time (a time-scaled sandbox on loopback plans in service seconds and polls in its own).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass, replace

from refiner_gui.jobs.durations import STEP, DurationEstimate

MIN_GAP_REMOTE = 1.0  # the contract's rule for the real service
FALLBACK_GAP = 5.0  # the vendor's recommended fixed period
MAX_GAP = 15.0  # never sparser than this (or the 5% quantile) before the tail
TAIL = 0.01  # below this survival the estimate is not trusted: fixed polling
MIN_EFFECTIVE_SAMPLES = 3.0
# The plan aims a little under the budget: the estimate is never the truth, and in the
# benchmark its errors cost 1-2% more polls than planned.
BUDGET_MARGIN = 0.97  # without a prior, fewer samples than this is no estimate


@dataclass(frozen=True)
class PollSchedule:
    """Planned poll ages after the first (immediate) poll, then every ``after`` seconds.

    A fresh task's first poll is at ``times[0]`` (a fixed schedule polls at once).
    ``expected_polls``, ``expected_lag`` and ``budget`` (the polls of fixed polling, less a
    small margin) are under the estimate the schedule was planned from; ``adaptive`` is
    False for a fixed schedule (``times`` empty). Immutable; any thread.
    """

    times: tuple[float, ...]
    after: float
    min_gap: float
    expected_polls: float = 0.0
    expected_lag: float = 0.0
    budget: float = 0.0
    adaptive: bool = False

    def next_delay(self, age: float) -> float:
        """Seconds to sleep after a poll answered "running" at ``age`` seconds."""
        i = bisect.bisect_right(self.times, age + 1e-9)
        if i >= len(self.times):
            return max(self.after, self.min_gap)
        return max(self.times[i] - age, self.min_gap)

    def first_delay(self, age: float) -> float:
        """Seconds to wait before the first poll of a task ``age`` seconds old: until the
        next planned poll (a fresh task is not polled at once), 0 past the plan or for a
        fixed schedule."""
        i = bisect.bisect_left(self.times, age)
        return self.times[i] - age if i < len(self.times) else 0.0

    def interval_fn(self, age_at_start: float) -> Callable[[float], float]:
        """The client's ``wait(next_interval=...)`` hook for a wait that started when the
        task was ``age_at_start`` seconds old (the hook gets seconds since that start):
        its first call gives the delay before the first poll, the others the gaps."""
        calls = 0

        def hook(elapsed: float) -> float:
            nonlocal calls
            calls += 1
            age = age_at_start + elapsed
            return self.first_delay(age) if calls == 1 else self.next_delay(age)

        return hook

    def scaled(self, k: float) -> PollSchedule:
        """The same schedule with every time multiplied by ``k``."""
        return replace(
            self,
            times=tuple(t * k for t in self.times),
            after=self.after * k,
            min_gap=self.min_gap * k,
            expected_lag=self.expected_lag * k,
        )


def fixed(interval: float) -> PollSchedule:
    """Poll every ``interval`` seconds (today's behaviour, and the fallback)."""
    return PollSchedule((), interval, interval)


def evaluate(times: tuple[float, ...], after: float, est: DurationEstimate) -> tuple[float, float]:
    """Expected polls and expected lag of the schedule under ``est``, over the estimate's
    horizon (the tail counted at ``after``). An empty ``times`` polls at once, then every
    ``after`` seconds."""
    pts = list(times) or [0.0]
    while pts[-1] < est.horizon:
        pts.append(pts[-1] + after)
    lag = 0.0
    j = 0
    prev = 0.0
    for i in range(int(est.horizon / STEP)):
        mid = (i + 0.5) * STEP
        while pts[j] < mid:
            j += 1
        now = est.cdf((i + 1) * STEP)
        lag += (now - prev) * (pts[j] - mid)
        prev = now
    lag += est.survival(est.horizon) * after / 2
    return _polls(list(times), after, est), lag


def _polls(times: list[float], after: float, est: DurationEstimate) -> float:
    # The first poll always happens; each later one iff the task outlived the one before.
    pts = times or [0.0]
    polls = 1.0
    for t in pts:
        polls += est.survival(t)
    t = pts[-1] + after
    while t <= est.horizon:
        alive = est.survival(t)
        if alive < 1e-6:
            break
        polls += alive
        t += after
    return polls


def _build(
    est: DurationEstimate, lam: float, min_gap: float, max_gap: float, fallback: float
) -> list[float]:
    times: list[float] = []
    t = 0.0
    while t < est.horizon:
        alive = est.survival(t)
        if alive < TAIL:
            break
        start = est.cdf(t)
        allowed = 2.0 * lam * alive
        lo, hi = min_gap, max_gap
        if (est.cdf(t + hi) - start) * hi <= allowed:
            gap = hi
        else:
            for _ in range(12):
                mid = (lo + hi) / 2
                if (est.cdf(t + mid) - start) * mid <= allowed:
                    lo = mid
                else:
                    hi = mid
            gap = lo
        t += gap
        times.append(round(t, 3))
    return times


def plan(
    est: DurationEstimate | None,
    *,
    min_gap: float = MIN_GAP_REMOTE,
    fallback: float = FALLBACK_GAP,
    max_gap: float = MAX_GAP,
    budget_factor: float = 1.0,
) -> PollSchedule:
    """The lag-minimising schedule within the fixed-``fallback`` poll budget under ``est``
    (times ``budget_factor``: the app uses 1; the benchmark shows the trade-off).

    Falls back to :func:`fixed` ``(fallback)`` when there is no estimate, when it rests on
    too few samples and no prior, or when planning cannot beat fixed polling.
    """
    if est is None or (not est.has_prior and est.effective_samples < MIN_EFFECTIVE_SAMPLES):
        return fixed(fallback)
    budget = _polls([], fallback, est) * budget_factor * BUDGET_MARGIN
    cap = max(max_gap, est.quantile(0.05) or max_gap)
    lo, hi = 1e-4, 1e3  # lam: small = dense (many polls), large = sparse
    best: list[float] | None = None
    for _ in range(22):
        lam = (lo * hi) ** 0.5
        times = _build(est, lam, min_gap, cap, fallback)
        if _polls(times, fallback, est) <= budget:
            best, hi = times, lam
        else:
            lo = lam
    if best is None:
        return fixed(fallback)
    chosen = tuple(best)
    polls, lag = evaluate(chosen, fallback, est)
    _, fixed_lag = evaluate((), fallback, est)
    if lag >= fixed_lag:
        return fixed(fallback)
    return PollSchedule(chosen, fallback, min_gap, polls, lag, budget, adaptive=True)
