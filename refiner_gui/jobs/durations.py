"""How long an endpoint's tasks take, learned from the job store's history. No Qt.

Every finished task leaves an interval-censored sample of its duration: it was still
running at the last "running" poll and done by the first "done" poll (both recorded in
the ``poll_bounds`` table by :func:`record_bounds`). :class:`DurationEstimate` turns the
recent samples of one endpoint into a distribution on a grid:

* each sample is spread uniformly over its bracket (widened a little, so a handful of
  narrow brackets still gives a smooth curve);
* recent jobs weigh more: the weight halves every :data:`HALF_LIFE_JOBS` jobs back, so a
  service that slows down or speeds up is followed within a few dozen jobs;
* the contract's typical timings (:data:`PRIORS`) stand in for missing history, as a few
  pseudo-samples whose weight fades the same way as the oldest real ones.

Durations are in seconds since the job's ``submitted_at``. Malformed rows (negative,
non-finite, inverted, longer than a day) are skipped, never trusted.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

REFINER = "refiner"
PRO = "pro"
PREMIUM = "premium"

HALF_LIFE_JOBS = 20.0  # a job's weight halves every this many newer jobs
PRIOR_WEIGHT = 2.0  # the contract's timings count as this many (fading) samples
HISTORY_LIMIT = 100  # samples read per endpoint: older ones weigh < 0.1% anyway
STEP = 0.25  # grid step, seconds
HORIZON = 600.0  # the grid's end (the default task timeout); beyond it, "the tail"
MAX_DURATION = 24 * 3600.0  # results live a day: a longer bracket is not a duration


@dataclass(frozen=True)
class Lognormal:
    """A lognormal duration: ``median`` seconds, ``sigma`` the log-space spread."""

    median: float
    sigma: float

    def cdf(self, t: float) -> float:
        """P(duration <= t)."""
        if t <= 0:
            return 0.0
        return 0.5 * (1.0 + math.erf(math.log(t / self.median) / (self.sigma * math.sqrt(2))))

    @classmethod
    def between(cls, low: float, high: float, coverage: float = 0.9) -> Lognormal:
        """The lognormal with ``coverage`` of its mass between ``low`` and ``high``."""
        z = _normal_quantile(0.5 + coverage / 2)
        return cls(math.sqrt(low * high), math.log(high / low) / (2 * z))


def _normal_quantile(p: float) -> float:
    lo, hi = -10.0, 10.0
    for _ in range(80):
        mid = (lo + hi) / 2
        if 0.5 * (1 + math.erf(mid / math.sqrt(2))) < p:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


# The contract (section 5 and 6): a refinement takes 10-60 s through the vendor, Try on
# Clothes Pro about 40 s, Premium about 80 s. Read as 90% ranges.
PRIORS: dict[str, Lognormal] = {
    REFINER: Lognormal.between(10.0, 60.0),
    PRO: Lognormal.between(25.0, 65.0),
    PREMIUM: Lognormal.between(50.0, 130.0),
}


@dataclass(frozen=True)
class Bracket:
    """One task's duration, known only to lie in ``(lo, hi]`` seconds after submit."""

    lo: float
    hi: float

    def valid(self) -> bool:
        """Finite, ordered, non-negative and shorter than a day."""
        return (
            math.isfinite(self.lo)
            and math.isfinite(self.hi)
            and 0.0 <= self.lo < self.hi <= MAX_DURATION
        )


@lru_cache(maxsize=16)
def _prior_masses(prior: Lognormal, n: int) -> tuple[float, ...]:
    cdf = [prior.cdf(i * STEP) for i in range(n + 1)]
    return tuple(cdf[i + 1] - cdf[i] for i in range(n))


class DurationEstimate:
    """A duration distribution on a :data:`STEP` grid up to :data:`HORIZON` seconds.

    Mass beyond the horizon is kept as the tail (``survival(HORIZON)``). Immutable once
    built; any thread.
    """

    def __init__(
        self, cdf: Sequence[float], samples: int, effective: float, has_prior: bool
    ) -> None:
        self._cdf = tuple(cdf)  # cdf[i] = P(T <= i * STEP), i = 0..n
        self.samples = samples
        self.effective_samples = effective
        self.has_prior = has_prior
        self.horizon = (len(self._cdf) - 1) * STEP

    @classmethod
    def from_brackets(
        cls,
        brackets: Sequence[Bracket],
        prior: Lognormal | None,
        *,
        half_life: float = HALF_LIFE_JOBS,
        prior_weight: float = PRIOR_WEIGHT,
    ) -> DurationEstimate | None:
        """The estimate from ``brackets`` (most recent first) and ``prior``.

        Invalid brackets are skipped. Returns None when there is nothing to go on (no
        valid bracket and no prior).
        """
        good = [b for b in brackets if b.valid()]
        if not good and prior is None:
            return None
        n = int(HORIZON / STEP)
        mass = [0.0] * n  # whatever lies beyond the horizon stays out: the tail
        weights: list[float] = []
        for rank, b in enumerate(good):
            w = 0.5 ** (rank / half_life)
            weights.append(w)
            pad = 0.25 + 0.05 * b.hi  # a little smoothing, relative to the duration
            start, end = max(0.0, b.lo - pad), b.hi + pad
            density = w / (end - start)
            i0 = int(start / STEP)
            i1 = min(n - 1, int(end / STEP))
            for i in range(i0, i1 + 1):
                left, right = max(start, i * STEP), min(end, (i + 1) * STEP)
                if right > left:
                    mass[i] += density * (right - left)
        total = sum(weights)
        if prior is not None:
            pw = prior_weight * 0.5 ** (len(good) / half_life)
            for i, m in enumerate(_prior_masses(prior, n)):
                mass[i] += pw * m
            total += pw
        cdf = [0.0]
        acc = 0.0
        for m in mass:
            acc += m
            cdf.append(min(1.0, acc / total))
        squares = sum(w * w for w in weights)
        effective = (sum(weights) ** 2 / squares) if squares else 0.0
        return cls(cdf, len(good), effective, prior is not None)

    def cdf(self, t: float) -> float:
        """P(T <= t), linear between grid points."""
        if t <= 0:
            return 0.0
        x = t / STEP
        i = int(x)
        if i >= len(self._cdf) - 1:
            return self._cdf[-1]
        return self._cdf[i] + (self._cdf[i + 1] - self._cdf[i]) * (x - i)

    def survival(self, t: float) -> float:
        """P(T > t)."""
        return 1.0 - self.cdf(t)

    def quantile(self, q: float) -> float | None:
        """The smallest grid time with P(T <= t) >= q, or None beyond the horizon."""
        lo, hi = 0, len(self._cdf) - 1
        if self._cdf[hi] < q:
            return None
        while lo < hi:
            mid = (lo + hi) // 2
            if self._cdf[mid] >= q:
                hi = mid
            else:
                lo = mid + 1
        return lo * STEP

    def expected_left(self, age: float) -> float | None:
        """The median time still to wait for a task running for ``age`` seconds.

        None when the task is already in the estimate's far tail (then nobody knows).
        """
        alive = self.survival(age)
        if alive < 0.05:
            return None
        q = self.quantile(1.0 - alive / 2)
        return None if q is None else max(0.0, q - age)


# -- the store's poll_bounds table ---------------------------------------------------------


def _connect(db: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(db, timeout=30, isolation_level=None)
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


def record_bounds(
    db: Path,
    job_id: int,
    endpoint: str,
    submitted_at: float,
    last_running_poll_at: float | None,
    first_done_poll_at: float,
) -> None:
    """Store the polls that bracketed job ``job_id``'s completion (epoch seconds).

    ``db`` is the job store's file (``JobStore.path``), already migrated. Replaces an
    earlier record of the same job. Raises :class:`sqlite3.Error` on failure.
    """
    conn = _connect(db)
    try:
        conn.execute(
            "INSERT OR REPLACE INTO poll_bounds (job_id, endpoint, submitted_at,"
            " last_running_poll_at, first_done_poll_at) VALUES (?, ?, ?, ?, ?)",
            (job_id, endpoint, submitted_at, last_running_poll_at, first_done_poll_at),
        )
    finally:
        conn.close()


def load_brackets(
    db: Path, endpoint: str, limit: int = HISTORY_LIMIT, scale: float = 1.0
) -> list[Bracket]:
    """The most recent brackets of ``endpoint``, newest first, in seconds / ``scale``.

    Only tasks seen running at least once give a bracket (a task already done at its
    first poll, e.g. resumed the next day, says little). Rows are not validated here.
    """
    conn = _connect(db)
    try:
        rows = conn.execute(
            "SELECT submitted_at, last_running_poll_at, first_done_poll_at FROM poll_bounds"
            " WHERE endpoint = ? AND last_running_poll_at IS NOT NULL"
            " ORDER BY first_done_poll_at DESC LIMIT ?",
            (endpoint, limit),
        ).fetchall()
    finally:
        conn.close()
    out = []
    for sub, lo, hi in rows:
        try:
            out.append(Bracket((float(lo) - float(sub)) / scale, (float(hi) - float(sub)) / scale))
        except (TypeError, ValueError):
            continue  # a hand-edited row
    return out


def load_estimate(db: Path, endpoint: str, scale: float = 1.0) -> DurationEstimate | None:
    """The estimate for ``endpoint`` from the store at ``db`` (see :func:`load_brackets`)."""
    brackets = load_brackets(db, endpoint, scale=scale)
    return DurationEstimate.from_brackets(brackets, PRIORS.get(endpoint))
