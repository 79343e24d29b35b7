"""The job store's record of a two-stage job's first stage (the coarse image's making).

:class:`StagesMixin` is mixed into :class:`~refiner_gui.jobs.store.JobStore`. A two-stage
job (``kind`` "tryon" or "tryon_refine", :mod:`refiner_gui.jobs.two_stage`) walks the
job's own states twice, the first stage recorded in the ``tryon_*`` columns::

    PENDING -> SUBMITTING -> SUBMITTED(tryon task id) -> (coarse stored)
        "tryon":        -> SUCCEEDED (the coarse image is the result)
        "tryon_refine": -> PENDING again, with the coarse input -> the refinement's path

so every rule of a one-stage job (no re-upload after SUBMITTING, the task id committed
before the first poll, delete refused while a task may bill) holds for each stage. No Qt.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

from refiner_gui.jobs.errors import JobStateError
from refiner_gui.jobs.models import STAGE_NAMES, Job, JobState, StoredInput
from refiner_gui.jobs.store_base import StoreBase
from refiner_gui.slots import COARSE

if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

__all__ = ["StagesMixin", "check_kind", "stage_message"]

log = logging.getLogger(__name__)

_UNFINISHED = (JobState.PENDING.value, JobState.SUBMITTING.value, JobState.SUBMITTED.value)


class StagesMixin(StoreBase):
    """Writes for a two-stage job's first stage. Thread-safe like the rest of the store."""

    results_dir: Path

    def get(self, job_id: int) -> Job:
        """The job with ``job_id`` (:meth:`JobStore.get <refiner_gui.jobs.JobStore.get>`)."""
        raise NotImplementedError

    def _update_if(self, job_id: int, states: Sequence[str], **fields: Any) -> bool:
        raise NotImplementedError

    def mark_tryon_submitting(self, job_id: int, base_url: str | None = None) -> Job:
        """Committed before the first byte of the try-on upload: compare-and-set from a
        PENDING job whose first stage was never sent; else :class:`JobStateError`.

        ``base_url`` is the service the upload goes to: the try-on task is only ever polled
        there, and the refinement only sent there (see :mod:`refiner_gui.jobs.routing`).
        """
        with self._write() as c:
            cur = c.execute(
                "UPDATE jobs SET state = ?, tryon_state = ?, error = NULL, updated_at = ?, "
                "base_url = COALESCE(?, base_url) "
                "WHERE id = ? AND state = ? AND tryon_state = ?",
                (
                    JobState.SUBMITTING.value,
                    JobState.SUBMITTING.value,
                    time.time(),
                    base_url,
                    job_id,
                    JobState.PENDING.value,
                    JobState.PENDING.value,
                ),
            )
            if cur.rowcount == 1:
                return self.get(job_id)
        current = self.get(job_id)
        raise JobStateError(
            f"Job {job_id} is {current.state.value} (its coarse image: "
            f"{current.tryon.state.value if current.tryon else 'none'}): the try-on is not "
            "uploaded (again)."
        )

    def mark_tryon_submitted(
        self, job_id: int, task_id: str, request_id: str | None = None, log_id: str | None = None
    ) -> Job:
        """Commit the try-on's task id before its first poll; the job is SUBMITTED (at its
        first stage) from here on and can always be resumed. Kept whatever the job's state
        unless it already SUCCEEDED, like :meth:`JobStore.mark_submitted`: if another
        process settled the upload meanwhile (OUTCOME_UNKNOWN, CANCELLED...), the id we now
        hold is the better truth. A refused id is logged (the job is returned as it is)."""
        now = time.time()
        states = [s.value for s in JobState if s is not JobState.SUCCEEDED]
        recorded = self._update_if(
            job_id,
            states,
            state=JobState.SUBMITTED.value,
            tryon_state=JobState.SUBMITTED.value,
            tryon_task_id=task_id,
            tryon_request_id=request_id,
            tryon_log_id=log_id,
            tryon_submitted_at=now,
            submitted_at=now,
            error=None,
            finished_at=None,
        )
        if not recorded:
            log.warning("job %d already succeeded; try-on task id %s not recorded", job_id, task_id)
        return self.get(job_id)

    def coarse_download_path(self, job_id: int, suffix: str = ".png") -> Path:
        """Where the try-on's result is downloaded (not created): beside the results,
        never taken for the job's own result (:meth:`JobStore.existing_result`)."""
        return self.results_dir / f"job-{job_id}-coarse{suffix}"

    def existing_coarse(self, job_id: int) -> Path | None:
        """A complete try-on result already downloaded for ``job_id`` (a previous run died
        before recording it), or None. Downloads appear only when whole."""
        for p in sorted(self.results_dir.glob(f"job-{job_id}-coarse.*")):
            if p.suffix != ".part" and not p.name.endswith(".preview.jpg") and p.is_file():
                return p
        return None

    def mark_tryon_succeeded(
        self,
        job_id: int,
        coarse: StoredInput,
        download: Path,
        request_id: str | None = None,
        log_id: str | None = None,
    ) -> Job:
        """Record the coarse image (the stored copy ``coarse``) as the job's coarse input,
        in one transaction with the stage's end: a "tryon" job SUCCEEDS with ``download``
        as its result; a "tryon_refine" job is PENDING again, ready for its refinement.
        Only an unfinished job changes (:class:`JobStateError` otherwise)."""
        job = self.get(job_id)
        now = time.time()
        fields: dict[str, Any] = {
            "tryon_state": JobState.SUCCEEDED.value,
            "tryon_finished_at": now,
            "updated_at": now,
            "error": None,
            "result_url": None,
        }
        if request_id:
            fields["tryon_request_id"] = request_id
        if log_id:
            fields["tryon_log_id"] = log_id
        if job.kind == "tryon":
            fields.update(
                state=JobState.SUCCEEDED.value, result_path=self._rel(download), finished_at=now
            )
        else:
            fields.update(state=JobState.PENDING.value, submitted_at=None)
        cols = ", ".join(f"{k} = ?" for k in fields)
        with self._write() as c:
            cur = c.execute(
                f"UPDATE jobs SET {cols} WHERE id = ? AND state IN (?, ?, ?)",
                (*fields.values(), job_id, *_UNFINISHED),
            )
            if cur.rowcount != 1:
                raise JobStateError(f"Job {job_id} finished meanwhile; its coarse image is kept.")
            c.execute(
                "INSERT OR REPLACE INTO job_inputs (job_id, slot, path, sha256, name) "
                "VALUES (?, ?, ?, ?, ?)",
                (job_id, COARSE, self._rel(coarse.path), coarse.sha256, coarse.name),
            )
        return self.get(job_id)

    def label_error(self, job_id: int, stage: str) -> Job:
        """Say which stage the job's recorded error belongs to: ``"stage"`` is added and
        the message starts "generating the coarse image failed: " (or "refining failed:
        "). Done once; a job without an error is left as it is."""
        job = self.get(job_id)
        error = dict(job.error or {})
        if not error or error.get("stage"):
            return job
        error["stage"] = stage
        error["message"] = stage_message(stage, str(error.get("message") or ""))
        with self._write() as c:
            c.execute("UPDATE jobs SET error = ? WHERE id = ?", (json.dumps(error), job_id))
        return self.get(job_id)


def stage_message(stage: str, message: str) -> str:
    """``message`` prefixed with its stage: "refining failed: <message>"."""
    name = STAGE_NAMES.get(stage, stage)
    return f"{name[:1].upper()}{name[1:]} failed: {message}"


def check_kind(kind: str, tryon_model: str | None, *, has_coarse: bool) -> bool:
    """Whether a new job of ``kind`` has two stages; ValueError for an unknown kind, or a
    try-on job without a model ("pro", "premium") or with a coarse image already."""
    two_stage = kind in ("tryon", "tryon_refine")
    if kind != "refine" and not two_stage:
        raise ValueError(f"unknown job kind {kind!r}")
    if two_stage and (tryon_model not in ("pro", "premium") or has_coarse):
        raise ValueError("a try-on job needs tryon_model 'pro' or 'premium' and no coarse")
    return two_stage
