"""A job's stored inputs as the client takes them, and why they cannot be sent. No Qt."""

from __future__ import annotations

from refiner_gui.api.models import RefineInputs
from refiner_gui.jobs.models import Job
from refiner_gui.slots import BOTTOM, COARSE, GENDERS, PERSON, TOP

__all__ = ["input_problem", "job_inputs"]


def job_inputs(job: Job) -> RefineInputs:
    """The stored copies of a job's inputs, as the client takes them.

    With their recorded hashes: the client refuses a copy whose bytes no longer match,
    so the hash recorded for a job always names what was uploaded.
    """
    return RefineInputs(
        person=job.inputs[PERSON].path,
        top=job.inputs[TOP].path,
        coarse=job.inputs[COARSE].path,
        gender=job.gender,
        bottom=job.input_path(BOTTOM),
        sha256={slot: item.sha256 for slot, item in job.inputs.items()},
    )


def input_problem(job: Job) -> str | None:
    """Why the stored inputs cannot be uploaded, or None.

    Checked before SUBMITTING, so a job with a missing file fails plainly (nothing sent)
    instead of ending "outcome unknown".
    """
    missing = [slot for slot in (PERSON, TOP, COARSE) if slot not in job.inputs]
    if missing:
        return f"The job has no {', '.join(missing)}; it cannot be sent."
    if job.gender not in GENDERS:
        return f"The job's gender is {job.gender!r}; it must be one of {', '.join(GENDERS)}."
    gone = [item.name for item in job.inputs.values() if not item.path.is_file()]
    if gone:
        return (
            f"The stored copies of {', '.join(gone)} are missing from the data folder; "
            "nothing was sent. Create the job again from the original images."
        )
    return None
