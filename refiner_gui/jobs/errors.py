"""The store's errors: unusable store, refused state change, job held elsewhere, bad row.

No Qt, no SQL. All are re-exported by :mod:`refiner_gui.jobs.store` and
:mod:`refiner_gui.jobs`.
"""

from __future__ import annotations

from refiner_gui.jobs.ownership import Holder

__all__ = ["BadRow", "JobHeld", "JobStateError", "StoreError"]


class StoreError(RuntimeError):
    """The store cannot be used (newer schema, unwritable folder)."""


class JobStateError(StoreError):
    """A state change was refused because the job is no longer in a state that allows it.

    Raised above all by :meth:`JobStore.mark_submitting` when the job is not PENDING any
    more: another thread or process took it (or settled it), so uploading it again could
    bill twice.
    """


class JobHeld(JobStateError):
    """Another live process (or another thread of this one) is working on the job.

    Nothing was done to the job; it is that process's to finish. ``holder`` describes it
    (None for another thread of this process).
    """

    def __init__(self, job_id: int, holder: Holder | None) -> None:
        self.job_id = job_id
        self.holder = holder
        who = holder.describe() if holder is not None else "another task of this app"
        super().__init__(
            f"Job {job_id}: another process is working on it ({who}), so it was left "
            "alone. It finishes there; if that process stops, resume again later (nothing "
            "is sent twice)."
        )


class BadRow(StoreError):
    """A row of the store holds a value the app never writes (edited outside the app)."""
