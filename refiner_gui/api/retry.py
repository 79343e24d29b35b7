"""The one retry policy: how many tries, how long between them, and which errors retry.

No Qt, no I/O of its own: :meth:`RetryPolicy.call` runs a single try given to it, and waits
through the ``wait`` function given to it (the client's cancellable sleep), so tests can
replace the delays (``tests/helpers/fast.py``) and still see every decision.

Two rules, because a submit bills and a poll does not:

* Idempotent calls (polls, downloads, credits) retry every error that says it is
  ``retryable``, up to :attr:`RetryPolicy.attempts` tries.
* A submit is re-sent only when the service certainly did not take it
  (:meth:`RetryPolicy.may_resubmit`), up to :attr:`RetryPolicy.submit_attempts` tries.

Delays grow exponentially with jitter; a ``Retry-After`` from the server is a floor.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from refiner_gui.api.errors import RateLimited, RefinerError

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, and the rules for what may be tried again.

    ``delay(n)`` is ``base * 2**n`` capped at ``cap``, times a random factor in
    ``[1 - jitter, 1 + jitter]``; a ``Retry-After`` from the server is a floor (itself
    capped at ``retry_after_cap``). Immutable, so one policy may serve many threads.
    """

    attempts: int = 6  # total tries for one poll/download/credits call
    submit_attempts: int = 4  # total tries of a submit the server certainly did not take
    base: float = 1.0
    cap: float = 30.0
    jitter: float = 0.25
    retry_after_cap: float = 120.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before try ``attempt + 1`` (``attempt`` counts from 0)."""
        d = min(self.cap, self.base * float(2**attempt))
        d *= 1 + random.uniform(-self.jitter, self.jitter)
        if retry_after is not None:
            d = max(d, min(retry_after, self.retry_after_cap))
        return max(0.0, d)

    @staticmethod
    def may_retry(err: RefinerError) -> bool:
        """Whether an idempotent call (poll, download, credits) may be tried again."""
        return err.retryable

    @staticmethod
    def may_resubmit(err: RefinerError, answered_status: int | None) -> bool:
        """Whether a failed submit may be sent again: only when the service certainly did
        not take it, because a second submit that it did take bills twice.

        Args:
            err: why the try failed.
            answered_status: the HTTP status of the service's answer, or None when no
                answer came (then ``err.retryable`` says whether nothing of the body was
                sent, see the client).
        """
        if answered_status is None:
            return err.retryable
        # Only a rate limit on submits and a 503 say "not taken" for sure.
        return (isinstance(err, RateLimited) and err.code == "EXCEEDING_LIMITS") or (
            answered_status == 503
        )

    def call(
        self,
        what: str,
        once: Callable[[], T],
        *,
        wait: Callable[[float], None],
        before: Callable[[], None] | None = None,
        attempts: int | None = None,
        retry_if: Callable[[RefinerError], bool] | None = None,
    ) -> T:
        """Run ``once()`` until it returns, retrying the errors ``retry_if`` allows.

        Args:
            what: names the call in the log ("poll", "download").
            once: one try; raises a :class:`RefinerError` on failure.
            wait: sleeps the given seconds between tries (may raise, e.g. ``Cancelled``).
            before: runs before every try (the cancel check); may raise.
            attempts: total tries; :attr:`attempts` by default.
            retry_if: whether an error may be retried; :meth:`may_retry` by default.

        Raises:
            RefinerError: the last error, once it may not be retried or the tries ran out.

        Thread: the caller's; ``once``, ``wait`` and ``before`` run on it.
        """
        limit = self.attempts if attempts is None else attempts
        allowed = self.may_retry if retry_if is None else retry_if
        failures = 0
        while True:
            if before is not None:
                before()
            try:
                return once()
            except RefinerError as err:
                failures += 1
                if failures >= limit or not allowed(err):
                    raise
                seconds = self.delay(failures - 1, err.info.retry_after)
                log.info(
                    "%s failed (%s %s); retry %d in %.1fs",
                    what,
                    type(err).__name__,
                    err.code or err.http_status or "",
                    failures,
                    seconds,
                )
            wait(seconds)
