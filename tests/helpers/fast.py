"""Fast, observable retry policies for tests: the backoff logic runs, the waiting does not."""

from __future__ import annotations

from dataclasses import dataclass, field

from refiner_gui.api import RetryPolicy


@dataclass(frozen=True)
class RecordingRetry(RetryPolicy):
    """Records every requested delay (and the Retry-After it honoured), then waits ~0."""

    calls: list = field(default_factory=list, compare=False, hash=False)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        wanted = super().delay(attempt, retry_after)
        self.calls.append((attempt, retry_after, wanted))
        return 0.001


def fast_retry(**kw) -> RecordingRetry:
    return RecordingRetry(**kw)
