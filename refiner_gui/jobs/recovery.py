"""Recovery: finishing, at start-up or on ``refiner-cli resume --all``, the jobs a crash or
a quit left unfinished. No Qt.

Never uploads anything again: SUBMITTED jobs are polled and downloaded through
:func:`~refiner_gui.jobs.runner.run_job` (at the service each was submitted to, see
:mod:`refiner_gui.jobs.routing`), SUBMITTING ones become OUTCOME_UNKNOWN, PENDING ones
CANCELLED, and any older than 24 hours EXPIRED. The one submission it makes: a two-stage
job stopped between its stages (its coarse image made, billed and stored; the refinement
never sent) gets its refinement sent, which bills 25 credits when it succeeds, and only to
the service that made the coarse image (:func:`~refiner_gui.jobs.routing.refining_client`:
otherwise it is left PENDING, or settled EXPIRED when that was a sandbox now gone).
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING

from refiner_gui.api.errors import ErrorInfo, RefinerError, SubmissionOutcomeUnknown
from refiner_gui.api.models import CancelToken
from refiner_gui.jobs.models import Job, JobState
from refiner_gui.jobs.runner import HeldElsewhere, run_job
from refiner_gui.jobs.store import RESULT_TTL, JobHeld, JobStore, StoreError

if TYPE_CHECKING:
    from refiner_gui.api.client import RefinerClient

log = logging.getLogger(__name__)


def expire_or_abandon(store: JobStore, job: Job, now: float | None = None) -> Job | None:
    """Settle a job that cannot be resumed; return it, or None if it can be resumed (also
    a PENDING two-stage job whose coarse image is stored: its refinement is sent next).

    Based on ``job`` as given; the store only changes a job that is still unfinished.
    Call it only while holding the job (:meth:`JobStore.claim`, as :func:`recover`
    does): a SUBMITTING job of a live process is not abandoned, its answer is on its way.
    """
    now = time.time() if now is None else now
    born = job.submitted_at or job.created_at
    if now - born > RESULT_TTL:
        if job.state is JobState.PENDING and job.tryon_done:
            message = (
                "Older than 24 hours: its coarse image was made (and billed) and is kept in "
                "the job, but the refinement was never sent. Re-run the job to refine it."
            )
        elif job.state is JobState.PENDING:
            message = (
                "Older than 24 hours and never sent (nothing was billed). "
                "Re-run the job to refine these images."
            )
        else:
            message = (
                "Older than 24 hours before its result was stored: the service no "
                "longer keeps it. Re-run the job to refine these images again."
            )
        return store.mark_finished(
            job.id,
            JobState.EXPIRED,
            expected=(job.state,),
            error={"type": "Expired", "message": message, "task_id": job.task_id},
        )
    if job.state is JobState.SUBMITTING:
        err = SubmissionOutcomeUnknown(
            "The app stopped while uploading this job, so we cannot tell whether the service "
            "took it. It was NOT sent again (that could bill twice). Check your AILabTools "
            "usage, then re-run if needed.",
            ErrorInfo(),
        )
        return store.mark_finished(
            job.id, JobState.OUTCOME_UNKNOWN, err.to_dict(), expected=(job.state,)
        )
    if job.state is JobState.PENDING and not (job.kind == "tryon_refine" and job.tryon_done):
        return store.mark_finished(
            job.id,
            JobState.CANCELLED,
            expected=(job.state,),
            error={
                "type": "Cancelled",
                "message": "The app stopped before the upload started: nothing was sent. "
                "Re-run the job to submit it.",
            },
        )
    return None


def recover(
    store: JobStore,
    client_factory: Callable[[], RefinerClient],
    *,
    cancel: CancelToken | None = None,
    on_job: Callable[[Job, RefinerError | None], None] | None = None,
    now: float | None = None,
    only: Collection[int] | None = None,
) -> list[Job]:
    """Finish every unfinished job (or those of them whose id is in ``only``): resume the
    young SUBMITTED ones, settle the rest.

    Never uploads again: SUBMITTED jobs are polled and downloaded, SUBMITTING ones
    become OUTCOME_UNKNOWN, PENDING ones CANCELLED, and any older than 24 h EXPIRED
    (``now`` replaces the clock, for tests). Except: a two-stage job whose coarse image
    is stored gets its refinement submitted (billed, 25 credits, on success), at the
    service that made the coarse image only (see the module's note). Partial downloads
    of the jobs it handles are removed. A job that fails unexpectedly is reported and
    the others still run.

    Task ids in the journal beside the store are recorded first (a job settled as
    OUTCOME_UNKNOWN whose id was journalled becomes resumable). Each job is claimed
    before it is touched: a job that a live process holds (an upload in another window
    or ``refiner-cli`` run) is left alone, reported to ``on_job`` with a
    :class:`HeldElsewhere` error and not returned; it is taken over only once its holder
    is gone (:mod:`refiner_gui.jobs.ownership`).

    Returns the jobs as they ended up. ``on_job(job, error)`` is called after each one,
    on the calling thread. Worker thread; any time (jobs this process runs on other
    threads are held, so they are left alone too).
    """
    out: list[Job] = []
    client: RefinerClient | None = None
    try:
        store.apply_journal()
    except (sqlite3.Error, StoreError) as exc:  # still locked: the journal stays for later
        log.warning("the task-id journal could not be applied yet: %s", exc)
    try:
        for snapshot in store.unfinished():
            if cancel is not None and cancel.cancelled:
                break
            if only is not None and snapshot.id not in only:
                continue
            # Re-read: earlier jobs may have taken minutes, and another process may have
            # moved this one on meanwhile (mark_finished also checks the state it saw).
            try:
                job = store.get(snapshot.id)
            except KeyError:
                continue
            if job.state.finished:
                continue
            try:
                store.claim(job.id)
            except JobHeld as held:
                if on_job is not None:
                    on_job(job, HeldElsewhere(str(held), ErrorInfo(task_id=job.task_id)))
                continue
            except KeyError:
                continue
            try:
                client = _recover_claimed(
                    store, client, client_factory, job, cancel, on_job, out, now
                )
            finally:
                store.release(job.id)
    finally:
        if client is not None:
            client.close()
    return out


def _recover_claimed(
    store: JobStore,
    client: RefinerClient | None,
    client_factory: Callable[[], RefinerClient],
    job: Job,
    cancel: CancelToken | None,
    on_job: Callable[[Job, RefinerError | None], None] | None,
    out: list[Job],
    now: float | None,
) -> RefinerClient | None:
    """Settle or resume one claimed job; returns the client (made on first need)."""
    job = store.get(job.id)  # as it is now that we hold it
    if job.state.finished:
        return client
    settled = expire_or_abandon(store, job, now)
    if settled is not None:
        if settled.tryon is not None:  # a two-stage job: its error names the stage
            settled = store.label_error(settled.id, job.stage)
        store.remove_partial_files(job.id)
        out.append(settled)
        if on_job is not None:
            on_job(settled, None)
        return client
    if client is None:
        client = client_factory()
    # Only this job's leftovers: another process may be downloading other jobs.
    store.remove_partial_files(job.id)
    error: RefinerError | None = None
    try:
        run_job(store, client, job, cancel=cancel)
    except RefinerError as err:
        error = err
    except Exception as exc:  # one broken job must not stop the others
        log.exception("recovering job %d failed", job.id)
        error = RefinerError(
            f"Could not resume this job: {type(exc).__name__}: {exc}",
            ErrorInfo(task_id=job.task_id),
        )
        store.note_error(job.id, error.to_dict())
    current = store.get(job.id)
    out.append(current)
    if on_job is not None:
        on_job(current, error)
    return client
