"""How a batch look stands, derived from its row and its job: plain data for views. No Qt.

A look's state is never stored on its own: it follows from the ``batch_looks`` row (a
problem, cancelled, its current job) and that job's durable state, so a crash can never
leave the two disagreeing. :func:`classify` is that rule in one place.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path

from refiner_gui.jobs.models import Job, JobState
from refiner_gui.jobs.store_batches import BatchLook

__all__ = ["Counts", "LookStatus", "LookView", "classify", "not_taken"]


class LookStatus(str, enum.Enum):
    """Where a look of a batch is, as the queue view and summary.csv show it."""

    INVALID = "invalid"  # its row or its images have a problem: never sent
    WAITING = "waiting"  # not sent yet (or to be sent again: the last try was not taken)
    RUNNING = "running"  # a worker of this process is on it
    DONE = "done"  # the result is stored (and copied to the output folder)
    FAILED = "failed"  # the service refused it, the task failed, or its outcome is unknown
    UNFINISHED = "unfinished"  # submitted; its result is still to fetch (resumable)
    HELD = "held"  # another process is working on it: left alone
    CANCELLED = "cancelled"  # the user cancelled it

    @property
    def settled(self) -> bool:
        """True when the queue has nothing more to do for the look in this run."""
        return self not in (LookStatus.WAITING, LookStatus.RUNNING)


# Errors after which the service certainly did not take the look (nothing billed): it is
# sent again with a new job, never counted as failed.
_NOT_TAKEN = frozenset(
    {"RateLimited", "CreditsError", "ServiceUnavailable", "Cancelled", "AuthError", "NoFreeSlot"}
)


def not_taken(job: Job) -> bool:
    """Whether ``job`` ended without the service taking it (a rate limit, no credits, a
    busy service, a refused key, or stopped before the upload): the look may be sent
    again. A job with a task id was taken, whatever happened next."""
    if job.task_id or job.state not in (JobState.FAILED, JobState.CANCELLED):
        return False
    return str((job.error or {}).get("type") or "") in _NOT_TAKEN


def classify(look: BatchLook, job: Job | None) -> LookStatus:
    """The look's status from its row and its current job (None when it has none)."""
    if look.problem:
        return LookStatus.INVALID
    if look.cancelled:
        return LookStatus.CANCELLED
    if job is None:
        return LookStatus.WAITING
    if job.state is JobState.SUCCEEDED:
        return LookStatus.DONE
    if not job.state.finished:
        return LookStatus.UNFINISHED
    if not_taken(job):
        return LookStatus.WAITING
    return LookStatus.FAILED


@dataclass(frozen=True)
class LookView:
    """One row of the queue view and of summary.csv."""

    position: int
    name: str
    status: LookStatus
    stage: str = ""  # the running job's stage ("uploading", "queued", ...), else ""
    job_id: int | None = None
    task_id: str | None = None
    output: Path | None = None
    error: str = ""
    thumbnail: Path | None = None  # the person photo, for a small picture in the row
    tryon_task_id: str | None = None  # the try-on task that made the coarse image, if any


@dataclass(frozen=True)
class Counts:
    """The batch at a glance, with the time left estimated from this run's looks."""

    done: int = 0
    failed: int = 0
    running: int = 0
    waiting: int = 0
    invalid: int = 0
    cancelled: int = 0
    unfinished: int = 0
    held: int = 0
    eta: float | None = None  # seconds, once a look has finished in this run

    @classmethod
    def of(cls, views: list[LookView], eta: float | None = None) -> Counts:
        """Count ``views`` by status."""
        n = {s: 0 for s in LookStatus}
        for v in views:
            n[v.status] += 1
        return cls(
            done=n[LookStatus.DONE],
            failed=n[LookStatus.FAILED],
            running=n[LookStatus.RUNNING],
            waiting=n[LookStatus.WAITING],
            invalid=n[LookStatus.INVALID],
            cancelled=n[LookStatus.CANCELLED],
            unfinished=n[LookStatus.UNFINISHED],
            held=n[LookStatus.HELD],
            eta=eta,
        )

    def line(self) -> str:
        """One line for a progress display."""
        parts = [
            f"{self.done} done",
            f"{self.failed} failed",
            f"{self.running} running",
            f"{self.waiting} waiting",
        ]
        for n, word in (
            (self.unfinished, "unfinished"),
            (self.invalid, "invalid"),
            (self.held, "held elsewhere"),
            (self.cancelled, "cancelled"),
        ):
            if n:
                parts.append(f"{n} {word}")
        if self.eta is not None and (self.running or self.waiting):
            parts.append(f"about {self.eta:.0f}s left")
        return ", ".join(parts)
