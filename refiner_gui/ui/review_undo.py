"""Undo for the review: what a verdict, tag or blind-answer change replaced, per job.

Plain data (no Qt): the review controller pushes a :class:`ReviewSnapshot` before each
change it stores and pops one on Ctrl+Z. Note edits are not recorded here: the note field
has its own undo while typing, and restoring a verdict keeps the note as it is now.
"""

from __future__ import annotations

from dataclasses import dataclass

from refiner_gui.jobs.models import Job

UNDO_DEPTH = 200
"""How many changes can be undone (the oldest are forgotten first)."""


@dataclass(frozen=True)
class ReviewSnapshot:
    """A job's review before one change.

    Attributes:
        job_id: the job changed.
        verdict: its verdict before the change.
        tags: its tags before the change.
        preference: its blind answer before the change.
        what: what the change was, for the status line ("the verdict", "a tag", ...).
    """

    job_id: int
    verdict: str | None
    tags: tuple[str, ...]
    preference: str | None
    what: str

    @classmethod
    def before(cls, job: Job, what: str) -> ReviewSnapshot:
        """The review of ``job`` as stored now."""
        return cls(job.id, job.verdict, tuple(job.tags), job.preference, what)


def describe_change(old: Job, verdict: str | None, tags: tuple[str, ...]) -> str | None:
    """What setting ``verdict`` and ``tags`` on ``old`` changes, or None (a note edit)."""
    if verdict != old.verdict:
        return "the verdict"
    if set(tags) != set(old.tags):
        return "a tag"
    return None


class UndoStack:
    """Last in, first out, at most :data:`UNDO_DEPTH` snapshots."""

    def __init__(self) -> None:
        self._items: list[ReviewSnapshot] = []

    def push(self, snapshot: ReviewSnapshot) -> None:
        """Remember ``snapshot`` as the newest change."""
        self._items.append(snapshot)
        del self._items[:-UNDO_DEPTH]

    def pop(self) -> ReviewSnapshot | None:
        """The newest snapshot, removed; None when there is nothing to undo."""
        return self._items.pop() if self._items else None

    def drop_job(self, job_id: int) -> None:
        """Forget the snapshots of a deleted job."""
        self._items = [s for s in self._items if s.job_id != job_id]

    def __len__(self) -> int:
        return len(self._items)


__all__ = ["UNDO_DEPTH", "ReviewSnapshot", "UndoStack", "describe_change"]
