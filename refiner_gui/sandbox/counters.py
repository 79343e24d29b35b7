"""What the sandbox saw, counted on the service's side: request rates and running tasks.

Tests of the client's limits assert against these (the service's own counts), never the
client's. Thread-safe; times come from the sandbox's clock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable


def peak_in_window(times: Iterable[float], window: float) -> int:
    """The most events in any half-open window ``[t, t + window)`` of sorted-or-not ``times``."""
    ordered = sorted(times)
    best = 0
    start = 0
    for end, t in enumerate(ordered):
        while ordered[start] <= t - window:
            start += 1
        best = max(best, end - start + 1)
    return best


class Counters:
    """Arrival times per endpoint, the peak number of tasks running at once, and the
    submits refused because that many ran."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._arrivals: dict[str, list[float]] = {}
        self.max_running = 0  # written under the app's lock, at each accepted submit
        self.refused_running = 0  # submits answered 429 for the running limit (same lock)

    def arrived(self, endpoint: str) -> None:
        """Note one request to ``endpoint`` now."""
        now = self._clock()
        with self._lock:
            self._arrivals.setdefault(endpoint, []).append(now)

    def count(self, endpoint: str) -> int:
        """Requests to ``endpoint`` so far."""
        with self._lock:
            return len(self._arrivals.get(endpoint, ()))

    def arrivals(self, endpoint: str) -> list[float]:
        """When each request to ``endpoint`` arrived, in order (the sandbox's clock)."""
        with self._lock:
            return list(self._arrivals.get(endpoint, ()))

    def peak_rate(self, endpoint: str, window: float = 1.0) -> int:
        """The most requests to ``endpoint`` that arrived within any ``window`` seconds."""
        with self._lock:
            times = list(self._arrivals.get(endpoint, ()))
        return peak_in_window(times, window) if times else 0
