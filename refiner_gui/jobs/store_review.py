"""The job store's review writes: the verdict, defect tags and note, and the blind
review's preference.

:class:`ReviewMixin` is mixed into :class:`~refiner_gui.jobs.store.JobStore`. No Qt.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import Any

from refiner_gui.jobs.models import DEFECT_TAGS, PREFERENCES, VERDICTS, Job
from refiner_gui.jobs.store_base import StoreBase

__all__ = ["ReviewMixin"]


class ReviewMixin(StoreBase):
    """Review writes. Thread-safe like the rest of the store."""

    def _update(self, job_id: int, **fields: Any) -> Job:
        raise NotImplementedError  # JobStore's

    def set_review(
        self, job_id: int, verdict: str | None, tags: Iterable[str] = (), note: str = ""
    ) -> Job:
        """Set the review (replacing the previous one).

        Raises ValueError for a verdict not in :data:`VERDICTS` (or None), a tag not in
        :data:`DEFECT_TAGS`, or a note that is not a string; KeyError for an unknown job.
        """
        if verdict is not None and verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS} or None, not {verdict!r}")
        if isinstance(tags, str):  # a bare string would be split into letters
            raise ValueError("tags must be a collection of tag names, not one string")
        tag_set = set(tags)
        unknown = sorted(str(t) for t in tag_set if t not in DEFECT_TAGS)
        if unknown:
            raise ValueError(f"unknown defect tags {unknown}; known: {sorted(DEFECT_TAGS)}")
        if not isinstance(note, str):
            raise ValueError("note must be a string")
        return self._update(
            job_id,
            verdict=verdict,
            tags=json.dumps(sorted(tag_set)),
            note=note,
            reviewed_at=time.time() if verdict else None,
        )

    def set_preference(self, job_id: int, preference: str | None) -> Job:
        """Record the blind review's answer to "which looks better?" (or clear it).

        ``preference`` is one of :data:`PREFERENCES` (which image won, unblinded:
        ``"refined"``, ``"coarse"`` or ``"same"``) or None. The verdict, tags and note
        are left alone. Raises ValueError for anything else; KeyError for an unknown job.
        """
        if preference is not None and preference not in PREFERENCES:
            raise ValueError(f"preference must be one of {PREFERENCES} or None, not {preference!r}")
        return self._update(job_id, preference=preference)
