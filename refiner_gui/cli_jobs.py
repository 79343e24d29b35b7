"""``refiner-cli``'s side of the job store: opening it, running a stored job, exporting its result.

Also the ``jobs`` command, which lists the store. :mod:`refiner_gui.cli` builds the client
and hands it in; nothing here reads the API key.
"""

from __future__ import annotations

import argparse
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

from refiner_gui.api import Cancelled, CancelToken, RefinerClient
from refiner_gui.api.errors import ErrorInfo
from refiner_gui.api.models import TaskStatus
from refiner_gui.cli_output import (
    EXIT_OK,
    EXIT_USAGE,
    ProgressLines,
    Reporter,
    UsageError,
    job_dict,
    payload,
    table_cell,
)
from refiner_gui.config import DEFAULT_FILENAME_PATTERN, HOME_ENV, app_paths
from refiner_gui.jobs import Job, JobFilter, JobState, JobStore, StoreError, run_job
from refiner_gui.outputs import export_image, render_name
from refiner_gui.slots import COARSE


def open_store() -> JobStore:
    """The window's job store (``JobStore.open_default()``); StoreError if unusable."""
    try:
        return JobStore.open_default()
    except sqlite3.Error as exc:  # an unreadable or locked file: say so, exit 2
        raise StoreError(
            f"The job history cannot be opened: {exc}. If another refiner-cli or the "
            "window is busy with it, try again in a moment; if the disk is full, free "
            "some space. Nothing was sent."
        ) from None
    except OSError as exc:  # an unwritable home or data folder, a full disk
        raise StoreError(
            f"The app's data folder cannot be used: {os_reason(exc)}. Make "
            f"{app_paths().data} writable (or set {HOME_ENV} to a writable folder) and "
            "run again. Nothing was sent."
        ) from None


def os_reason(exc: OSError) -> str:
    """The reason of ``exc`` for a message: its strerror, and the file when it names one."""
    where = f" ({exc.filename})" if exc.filename else ""
    return f"{exc.strerror or exc}{where}"


def check_out(args: argparse.Namespace) -> None:
    """UsageError when ``--out`` has a wrong suffix or exists without ``--overwrite``."""
    if args.out is not None:
        if args.out.suffix.lower() not in (".png", ".jpg", ".jpeg"):
            raise UsageError(f"--out must end in .png or .jpg (got {args.out.name}).")
        if args.out.exists() and not args.overwrite:
            raise UsageError(
                f"{args.out} already exists. Choose another --out or pass --overwrite."
            )


def default_out(job: Job) -> Path:
    """Where ``job``'s result goes without ``--out``: the default name in the output folder."""
    stem = render_name(
        DEFAULT_FILENAME_PATTERN,
        task_id=job.task_id or (job.tryon and job.tryon.task_id) or f"job{job.id}",
        when=datetime.now(),
        gender=job.gender or None,
        names={slot: item.given_name for slot, item in job.inputs.items()},
    )
    suffix = job.result_path.suffix if job.result_path is not None else ".png"
    return app_paths().outputs / f"{stem}{suffix}"


def run_stored(
    args: argparse.Namespace,
    rep: Reporter,
    store: JobStore,
    client: RefinerClient,
    job: Job,
    cancel: CancelToken,
) -> int:
    """Run ``job`` through the store, then export its stored result and report it."""
    args.job_id = job.id
    final: list[TaskStatus] = []
    submit_ids: dict[str, Any] = {}

    def on_submitted(sub: Any) -> None:
        # Printed at once, after the id is committed and before any wait.
        rep.progress(f"submitted: task id {sub.task_id} (request_id {sub.request_id})")
        submit_ids["submit_request_id"] = sub.request_id

    try:
        done = run_job(
            store,
            client,
            job,
            cancel=cancel,
            on_event=ProgressLines(rep),
            on_submitted=on_submitted,
            on_result=final.append,
        )
    except KeyboardInterrupt:
        cancel.cancel()
        current = store.get(job.id)
        if current.state is not JobState.SUBMITTED:
            raise  # interrupted during the upload: run_job recorded OUTCOME_UNKNOWN
        err = Cancelled(
            "Interrupted while waiting; the task goes on at the service.",
            ErrorInfo(task_id=current.task_id),
        )
        store.note_error(job.id, err.to_dict())
        raise err from None
    image_url = final[-1].image_url if final else None
    return export_result(args, rep, done, image_url, submit_ids)


def export_result(
    args: argparse.Namespace, rep: Reporter, job: Job, image_url: str | None, extra: dict[str, Any]
) -> int:
    """Copy the stored result of a SUCCEEDED ``job`` to ``--out`` (or the default name).

    The result is already in the data folder, so an export problem never costs the
    refinement: it is reported with the stored path.
    """
    stored = job.result_path
    assert stored is not None
    out = args.out if getattr(args, "out", None) is not None else default_out(job)
    try:
        export_image(stored, out, overwrite=bool(getattr(args, "overwrite", False)))
    except (OSError, ValueError) as exc:
        rep.progress(f"error: could not write {out}: {exc}. The result is kept at {stored}.")
        rep.result(
            payload(
                "failed",
                task_id=job.task_id,
                output=str(stored),
                image_url=image_url,
                job_id=job.id,
                error={"http_status": None, "code": None, "message": f"could not write {out}"},
            ),
            f"saved to {stored} (could not write {out})",
        )
        return EXIT_USAGE
    if job.tryon is not None:  # a job that made its own coarse image: both calls
        extra = {
            **extra,
            "kind": job.kind,
            "tryon_model": job.tryon.model,
            "tryon_task_id": job.tryon.task_id,
            "coarse": str(job.input_path(COARSE)),
        }
    rep.result(
        payload(
            "done",
            task_id=job.task_id,
            request_id=job.request_id,
            log_id=job.log_id,
            output=str(out),
            image_url=image_url,
            job_id=job.id,
            **extra,
        ),
        str(out),
    )
    return EXIT_OK


def cmd_jobs(args: argparse.Namespace, rep: Reporter, cancel: CancelToken) -> int:
    """``jobs``: list the stored jobs, newest first."""
    if args.limit is not None and args.limit < 0:
        raise UsageError("--limit must be 0 or more.")
    store = open_store()
    try:
        f = JobFilter(states=tuple(JobState(s) for s in args.state or ()))
        jobs = store.list_jobs(f, sort="created_at", descending=True, limit=args.limit)
        total = store.count(f)
    finally:
        store.close()
    items = [job_dict(j) for j in jobs]
    header = "id\tstate\tcreated\tgender\ttask_id\tverdict\tresult\terror"
    lines = [header] + [
        "\t".join(
            table_cell(v)
            for v in (
                i["job_id"],
                _staged_state(i),
                i["created"],
                i["gender"],
                " -> ".join(t for t in (i["tryon_task_id"], i["task_id"]) if t) or None,
                i["verdict"],
                i["result_path"],
                i["error"],
            )
        )
        for i in items
    ]
    rep.result(
        {"status": "ok", "total": total, "jobs": items}, "\n".join(lines) if items else "no jobs"
    )
    return EXIT_OK


def _staged_state(item: dict[str, Any]) -> str:
    """The state cell: a job that makes its coarse image says which call it is at."""
    if item["kind"] == "refine":
        return str(item["state"])
    if item["kind"] == "tryon":
        return f"{item['state']} (coarse only)"
    stage = "coarse image" if item["stage"] == "tryon" else "refinement"
    return f"{item['state']} ({stage})"
