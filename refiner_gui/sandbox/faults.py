"""Faults the sandbox can inject, and the thread-safe queue that hands them out.

A :class:`Fault` is queued by a test (or demo mode) with :meth:`SandboxServer.inject`, from
any thread, and consumed by request-handler threads. Each fault applies to the next
``times`` requests of its endpoint that it can apply to, in the order faults were queued.

Kinds fall into three groups, which decide *when* a fault is taken:

- answer kinds replace the answer before any processing (no task is created, nothing billed);
- delivery kinds let the request be processed normally (a submit creates its task) and then
  delay, withhold or cut the answer: the "did it reach the server?" ambiguity;
- task kinds are taken only by a submit that creates a task, and decide how that task ends.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from refiner_gui.api.codes import lookup

# "tryon": the Try on Clothes Pro and Premium submits (both), "submit": the refiner's.
ENDPOINTS = frozenset({"submit", "tryon", "poll", "download", "credits", "any"})
SUBMITS = ("submit", "tryon")

ANSWER_KINDS = frozenset({"error", "error_in_200", "rate_limit", "gateway_html", "expire_url"})
DELIVERY_KINDS = frozenset({"drop_connection", "hang", "slow"})
TASK_KINDS = frozenset({"task_failed", "poll_http_error"})
KINDS = ANSWER_KINDS | DELIVERY_KINDS | TASK_KINDS

# The code each kind uses when the fault names none.
DEFAULT_CODES: dict[str, str] = {
    "error": "SERVICE_INTERNAL_ERROR",
    "error_in_200": "PROCESSING_FAILURE",
    "task_failed": "PROCESSING_FAILURE",
    "poll_http_error": "ERROR_NO_FACE_IN_FILE",
    "rate_limit": "EXCEEDING_LIMITS",
}


@dataclass
class Fault:
    """One misbehaviour to inject. See the package docstring for every kind.

    ``code`` must be in the vendor table unless ``http_status`` is given (the table gives the
    status otherwise). Invalid combinations raise ``ValueError`` at construction, so a typo
    in a test fails loudly instead of silently never firing.
    """

    endpoint: str  # "submit" | "tryon" | "poll" | "download" | "credits" | "any"
    kind: str
    code: str | None = None
    http_status: int | None = None
    message: str | None = None
    retry_after: float | None = None
    delay: float = 0.0
    times: int = 1

    def __post_init__(self) -> None:
        if self.endpoint not in ENDPOINTS:
            raise ValueError(f"unknown fault endpoint {self.endpoint!r}")
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}")
        if self.kind in TASK_KINDS and self.endpoint not in (*SUBMITS, "any"):
            raise ValueError(f"{self.kind!r} applies to the task a submit creates")
        if self.kind == "expire_url" and self.endpoint not in ("download", "any"):
            raise ValueError("'expire_url' applies to downloads")
        if self.times < 1:
            raise ValueError("times must be >= 1")
        if self.delay < 0:
            raise ValueError("delay must be >= 0")
        if self.code is not None and lookup(self.code) is None and self.http_status is None:
            raise ValueError(f"code {self.code!r} is not in the vendor table: give http_status")

    @property
    def effective_code(self) -> str | None:
        """The code this fault answers with: its own, else the kind's default."""
        return self.code or DEFAULT_CODES.get(self.kind)

    def applies_to(self, endpoint: str) -> bool:
        """Whether this fault may be taken by a request to ``endpoint``."""
        if self.endpoint not in ("any", endpoint):
            return False
        if self.kind in TASK_KINDS:
            return endpoint in SUBMITS
        if self.kind == "expire_url":
            return endpoint == "download"
        return True


class FaultQueue:
    """FIFO of faults with remaining use counts. All methods are thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: list[list[Any]] = []  # [fault, remaining uses]

    def add(self, fault: Fault) -> None:
        """Append ``fault`` with ``fault.times`` uses."""
        with self._lock:
            self._queue.append([fault, fault.times])

    def take(self, endpoint: str, kinds: frozenset[str]) -> Fault | None:
        """Consume one use of the first queued fault for ``endpoint`` with a kind in ``kinds``."""
        with self._lock:
            for entry in self._queue:
                fault: Fault = entry[0]
                if fault.kind in kinds and fault.applies_to(endpoint):
                    entry[1] -= 1
                    if entry[1] <= 0:
                        self._queue.remove(entry)
                    return fault
        return None

    def pending(self) -> list[Fault]:
        """The faults not used up yet (for assertions in tests)."""
        with self._lock:
            return [entry[0] for entry in self._queue]
