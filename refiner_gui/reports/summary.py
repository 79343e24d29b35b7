"""What every export says about a set of jobs: the review summary and per-job fields.

Plain data only (no files, no Qt), so CSV, JSON, HTML and the contact sheet agree.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from refiner_gui.jobs.models import DEFECT_TAGS, VERDICTS, Job, JobState
from refiner_gui.slots import BOTTOM, COARSE, PERSON, TOP

# Report order and the short names used in column names and labels.
INPUT_SLOTS: tuple[tuple[str, str, str], ...] = (
    (PERSON, "person", "Person"),
    (TOP, "top", "Top"),
    (BOTTOM, "bottom", "Bottom"),
    (COARSE, "coarse", "Coarse"),
)

# Only these keys of a stored error are exported: a future field can never leak by accident.
ERROR_FIELDS = (
    "type",
    "http_status",
    "code",
    "message",
    "vendor_message",
    "request_id",
    "log_id",
    "task_id",
    "slot",
    "stage",  # a two-stage job's failed stage: "tryon" or "refine"
)


def iso_utc(ts: float | None) -> str:
    """ISO 8601 in UTC with an explicit offset (``2026-11-25T10:03:00+00:00``), or ``""``."""
    if ts is None:
        return ""
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="seconds")


def human_utc(ts: float | None) -> str:
    """``2026-11-25 10:03 UTC`` for people; UTC so a report reads the same everywhere."""
    if ts is None:
        return ""
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def tag_label(tag: str) -> str:
    """The display label of a defect tag; an unknown id (from a newer version) shows as is."""
    return DEFECT_TAGS.get(tag, tag)


def verdict_text(job: Job) -> str:
    """``PASS``, ``FAIL`` or ``Unreviewed``."""
    return job.verdict.upper() if job.verdict in VERDICTS else "Unreviewed"


def error_code(job: Job) -> str:
    """The stored error's vendor code, or an empty string."""
    code = (job.error or {}).get("code")
    return "" if code is None else str(code)


def safe_error(job: Job) -> dict[str, Any] | None:
    """The stored error's :data:`ERROR_FIELDS` that are set, or None without an error."""
    if not job.error:
        return None
    return {k: job.error[k] for k in ERROR_FIELDS if job.error.get(k) is not None}


def summarize(jobs: Sequence[Job]) -> dict[str, Any]:
    """The review summary shown at the top of the HTML report and in the JSON.

    ``pass_rate`` is passes / reviewed jobs (``None`` when nothing is reviewed), not passes
    / all jobs: unreviewed looks say nothing about quality. ``tags`` lists every known
    defect tag in :data:`DEFECT_TAGS` order (zeros included, so reports compare row by
    row), then any unknown tag ids found; a tag counts once per job that carries it,
    whatever the verdict. ``states`` counts jobs per state value.
    """
    passes = sum(1 for j in jobs if j.verdict == "pass")
    fails = sum(1 for j in jobs if j.verdict == "fail")
    reviewed = passes + fails
    counts: Counter[str] = Counter(t for j in jobs for t in set(j.tags))
    order = list(DEFECT_TAGS) + sorted(t for t in counts if t not in DEFECT_TAGS)
    states: Counter[str] = Counter(j.state.value for j in jobs)
    return {
        "jobs": len(jobs),
        "reviewed": reviewed,
        "pass": passes,
        "fail": fails,
        "unreviewed": len(jobs) - reviewed,
        "pass_rate": (passes / reviewed) if reviewed else None,
        "tags": [{"id": t, "label": tag_label(t), "count": counts.get(t, 0)} for t in order],
        "states": dict(sorted(states.items())),
    }


def unreviewed_split(jobs: Sequence[Job]) -> dict[str, int]:
    """The unreviewed jobs by why they are unreviewed; the four counts add up to the
    summary's ``unreviewed``.

    ``looks``: a result waits for a verdict; ``failed``: the service refused the request
    or the task failed (nothing to review, nothing billed); ``outcome_unknown``: uploaded
    without an answer (may have been billed; see the contract); ``other``: still under way,
    expired or cancelled.
    """
    split = {"looks": 0, "failed": 0, "outcome_unknown": 0, "other": 0}
    for j in jobs:
        if j.verdict in VERDICTS:
            continue
        if j.state is JobState.SUCCEEDED:
            split["looks"] += 1
        elif j.state is JobState.FAILED:
            split["failed"] += 1
        elif j.state is JobState.OUTCOME_UNKNOWN:
            split["outcome_unknown"] += 1
        else:
            split["other"] += 1
    return split


def format_rate(rate: float | None) -> str:
    """``75%`` or ``75.5%``, ``—`` when there is no rate."""
    if rate is None:
        return "—"
    pct = rate * 100
    return f"{pct:.0f}%" if abs(pct - round(pct)) < 0.05 else f"{pct:.1f}%"
