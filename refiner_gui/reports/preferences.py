"""How often the refined image won the blind comparisons, overall and per defect tag.

Plain data (no files, no Qt): a blind review stores, per job, which image the reviewer
found better with the sides hidden (``Job.preference``: ``"refined"``, ``"coarse"`` or
``"same"``, already unblinded). Jobs without an answer are not comparisons and count
nowhere here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from refiner_gui.jobs.models import DEFECT_TAGS, PREFERENCES, Job


@dataclass(frozen=True)
class PreferenceCount:
    """The answers of one group of blind comparisons.

    Attributes:
        refined: comparisons the refined image won.
        coarse: comparisons the coarse image won.
        same: comparisons answered "same".
    """

    refined: int = 0
    coarse: int = 0
    same: int = 0

    @property
    def total(self) -> int:
        """Every answered comparison in the group."""
        return self.refined + self.coarse + self.same

    @property
    def refined_share(self) -> float | None:
        """``refined / total`` (None with no comparison)."""
        return self.refined / self.total if self.total else None

    def describe(self) -> str:
        """``"refined preferred 3 of 5 blind comparisons"``."""
        noun = "comparison" if self.total == 1 else "comparisons"
        return f"refined preferred {self.refined} of {self.total} blind {noun}"


@dataclass(frozen=True)
class BlindSummary:
    """All blind answers of a set of jobs.

    Attributes:
        overall: every answered comparison.
        by_tag: per defect tag id (DEFECT_TAGS order first, then unknown stored ids), the
            comparisons of looks carrying that tag; only tags with at least one.
        untagged: the comparisons of looks with no defect tag.
    """

    overall: PreferenceCount
    by_tag: dict[str, PreferenceCount]
    untagged: PreferenceCount


def _count(jobs: Sequence[Job]) -> PreferenceCount:
    answers = [j.preference for j in jobs]
    return PreferenceCount(*(answers.count(p) for p in PREFERENCES))


def blind_summary(jobs: Sequence[Job]) -> BlindSummary:
    """Count the blind answers of ``jobs`` (those without one are left out)."""
    answered = [j for j in jobs if j.preference in PREFERENCES]
    order = list(DEFECT_TAGS)
    order += sorted({t for j in answered for t in j.tags} - set(order))
    by_tag = {tag: _count([j for j in answered if tag in j.tags]) for tag in order}
    return BlindSummary(
        _count(answered),
        {t: c for t, c in by_tag.items() if c.total},
        _count([j for j in answered if not j.tags]),
    )


__all__ = ["BlindSummary", "PreferenceCount", "blind_summary"]
