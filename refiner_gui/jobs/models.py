"""What a job is, as plain data. No Qt, no SQL."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class JobState(str, enum.Enum):
    """Where a job is. The durable-job rule: once ``SUBMITTING`` starts, a job can only end
    in a state that says what happened; it is never silently dropped or re-sent."""

    PENDING = "pending"  # inputs stored, nothing sent yet
    SUBMITTING = "submitting"  # the upload is under way: the service may or may not get it
    SUBMITTED = "submitted"  # the task id is stored; waiting / downloading (resumable)
    SUCCEEDED = "succeeded"  # the result file is stored in the data folder
    FAILED = "failed"  # the service refused the request or the task failed (not billed)
    OUTCOME_UNKNOWN = "outcome_unknown"  # uploaded, no answer: may exist and bill; not re-sent
    EXPIRED = "expired"  # older than 24 h before its result was stored
    CANCELLED = "cancelled"  # stopped by the user before anything was taken

    @property
    def finished(self) -> bool:
        """True once the job can change no more (everything but PENDING, SUBMITTING, SUBMITTED)."""
        return self not in (JobState.PENDING, JobState.SUBMITTING, JobState.SUBMITTED)

    @property
    def label(self) -> str:
        """The state in plain words, for lists and messages."""
        return _LABELS[self]


_LABELS = {
    JobState.PENDING: "Not sent",
    JobState.SUBMITTING: "Uploading",
    JobState.SUBMITTED: "Waiting",
    JobState.SUCCEEDED: "Done",
    JobState.FAILED: "Failed",
    JobState.OUTCOME_UNKNOWN: "Outcome unknown",
    JobState.EXPIRED: "Expired",
    JobState.CANCELLED: "Cancelled",
}

VERDICTS = ("pass", "fail")

# The blind review's answer to "which looks better?", stored as which image won.
PREFERENCES = ("refined", "coarse", "same")

DEFECT_TAGS: dict[str, str] = {
    "face_identity": "Face or identity changed",
    "hands": "Hands",
    "garment_colour": "Garment colour",
    "pattern_logo": "Pattern or logo lost",
    "garment_shape": "Garment shape or fit",
    "background": "Background changed",
    "artifacts": "Artifacts",
    "crop_framing": "Crop or framing",
    "other": "Other",
}


@dataclass(frozen=True)
class StoredInput:
    """One input file as kept in the data folder (copied by content hash)."""

    path: Path
    sha256: str
    name: str  # the name of the file uploaded (a fixed copy's name after Fix), for display
    original_name: str = ""  # the file the user gave, when ``name`` is a copy made by Fix

    @property
    def given_name(self) -> str:
        """The name of the file the user gave: ``original_name`` if set, else ``name``."""
        return self.original_name or self.name


KINDS = ("refine", "tryon", "tryon_refine")
"""What a job does: refine a coarse image; make one (Try on Clothes Pro/Premium) only; or
make one, then refine it (:mod:`refiner_gui.jobs.two_stage`)."""

STAGE_NAMES = {"tryon": "generating the coarse image", "refine": "refining"}
"""A two-stage job's stages as errors and progress name them."""


@dataclass(frozen=True)
class TryOnStage:
    """The first stage of a two-stage job: the Try on Clothes call that makes the coarse
    image. ``state`` is PENDING, SUBMITTING, SUBMITTED or SUCCEEDED (a failure ends the
    whole job: the job's own state and error say how)."""

    model: str  # "pro" | "premium"
    state: JobState
    task_id: str | None = None
    request_id: str | None = None
    log_id: str | None = None
    submitted_at: float | None = None
    finished_at: float | None = None

    @property
    def done(self) -> bool:
        """Whether the coarse image is stored (as the job's coarse input)."""
        return self.state is JobState.SUCCEEDED


@dataclass(frozen=True)
class Job:
    """One durable job as stored: inputs, state, ids, result and review. Immutable snapshot."""

    id: int
    state: JobState
    gender: str
    inputs: dict[str, StoredInput]  # by slot name (refiner_gui.slots)
    created_at: float  # unix seconds
    updated_at: float
    task_id: str | None = None
    request_id: str | None = None
    log_id: str | None = None
    submitted_at: float | None = None
    finished_at: float | None = None
    error: dict[str, Any] | None = None  # RefinerError.to_dict() or {"message": ...}
    result_path: Path | None = None
    verdict: str | None = None  # "pass" | "fail" | None
    tags: tuple[str, ...] = field(default_factory=tuple)
    note: str = ""
    reviewed_at: float | None = None
    parent_id: int | None = None  # the job this one re-runs
    result_url: str | None = None  # the last result link seen (kept when its download failed)
    base_url: str | None = None  # the service address the job was (or will be) sent to
    preference: str | None = None  # blind review: one of PREFERENCES, or None
    kind: str = "refine"  # one of KINDS
    tryon: TryOnStage | None = None  # the first stage, for "tryon" and "tryon_refine"

    @property
    def tryon_done(self) -> bool:
        """Whether this two-stage job's coarse image is stored (False for a refinement)."""
        return self.tryon is not None and self.tryon.done

    @property
    def tryon_task_id(self) -> str | None:
        """The try-on task that made this job's coarse image, or None."""
        return self.tryon.task_id if self.tryon is not None else None

    @property
    def stage(self) -> str:
        """The stage the job is at (or stopped at): "tryon" until the coarse image is
        stored, then "refine"; always "refine" for a plain refinement."""
        if self.tryon is not None and not self.tryon.done:
            return "tryon"
        return "refine"

    def input_path(self, slot: str) -> Path | None:
        """The stored copy of the input in ``slot``, or None when the slot is empty."""
        item = self.inputs.get(slot)
        return item.path if item else None

    @property
    def error_message(self) -> str:
        """The stored error's message, or an empty string."""
        return str((self.error or {}).get("message") or "")
