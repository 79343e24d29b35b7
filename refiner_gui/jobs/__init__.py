"""Durable jobs: the SQLite store, and running/recovering jobs through it. No Qt."""

from refiner_gui.jobs.models import DEFECT_TAGS, PREFERENCES, VERDICTS, Job, JobState, StoredInput
from refiner_gui.jobs.recovery import expire_or_abandon, recover
from refiner_gui.jobs.runner import HeldElsewhere, LocalWriteError, job_inputs, run_job
from refiner_gui.jobs.store import (
    RESULT_TTL,
    SCHEMA_VERSION,
    BadRow,
    JobFilter,
    JobHeld,
    JobStateError,
    JobStore,
    StoreError,
)

__all__ = [
    "DEFECT_TAGS",
    "BadRow",
    "HeldElsewhere",
    "JobHeld",
    "LocalWriteError",
    "RESULT_TTL",
    "SCHEMA_VERSION",
    "PREFERENCES",
    "VERDICTS",
    "Job",
    "JobFilter",
    "JobState",
    "JobStateError",
    "JobStore",
    "StoreError",
    "StoredInput",
    "expire_or_abandon",
    "job_inputs",
    "recover",
    "run_job",
]
