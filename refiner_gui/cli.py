"""``refiner-cli``: the same core as the window, from a terminal.

Every refinement is a durable job in the same store as the window's history
(:class:`~refiner_gui.jobs.JobStore` in the app's data folder, ``REFINER_GUI_HOME``
moves it): the inputs are copied in before anything is sent, the task id is committed
before the first poll, and the result is stored there before it is exported to ``--out``.
A killed run is finished by ``refiner-cli resume --all`` without submitting anything twice.

Exit codes (stable, for scripts):
    0   done
    2   usage error, or an input rejected before upload (nothing was sent)
    3   the service rejected the request or the task failed
    4   service or network unavailable after retries (also: submission outcome unknown)
    5   timed out waiting (the task id is printed for ``refiner-cli resume``)
    130 interrupted

Progress lines go to stderr; stdout carries only the result (one JSON object with
``--json``). The API key never appears in either.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sqlite3
import sys
import threading
from datetime import datetime
from pathlib import Path
from typing import IO, Any, NoReturn, TextIO

from PIL import Image

from refiner_gui import __version__
from refiner_gui.api import (
    Cancelled,
    CancelToken,
    ConfigError,
    DownloadError,
    NetworkError,
    ProgressEvent,
    RateLimited,
    RefinerClient,
    RefinerError,
    RetryPolicy,
    ServiceUnavailable,
    SubmissionOutcomeUnknown,
    TimedOut,
)
from refiner_gui.api.errors import ErrorInfo, redact
from refiner_gui.api.models import Stage, TaskStatus
from refiner_gui.config import (
    API_KEY_ENV,
    BASE_URL_ENV,
    DEFAULT_BASE_URL,
    DEFAULT_FILENAME_PATTERN,
    DEFAULT_POLL_INTERVAL,
    DEFAULT_TIMEOUT,
    app_paths,
)
from refiner_gui.images import ImageFixError, ImageReport, check_image, check_inputs, fix_image
from refiner_gui.jobs import Job, JobFilter, JobState, JobStore, StoreError, recover, run_job
from refiner_gui.outputs import export_image, render_name
from refiner_gui.slots import BOTTOM, COARSE, PERSON, TOP

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_REJECTED = 3
EXIT_UNAVAILABLE = 4
EXIT_TIMEOUT = 5
EXIT_INTERRUPTED = 130

log = logging.getLogger(__name__)


class UsageError(Exception):
    """Bad arguments or inputs found before anything was sent (exit 2)."""


def exit_code_for(err: RefinerError) -> int:
    if isinstance(err, Cancelled):
        return EXIT_INTERRUPTED
    if isinstance(err, TimedOut):
        return EXIT_TIMEOUT
    if isinstance(err, (ServiceUnavailable, NetworkError, RateLimited, SubmissionOutcomeUnknown)):
        return EXIT_UNAVAILABLE
    if isinstance(err, DownloadError) and err.retryable:
        return EXIT_UNAVAILABLE
    return EXIT_REJECTED


def _status_word(code: int) -> str:
    return {
        EXIT_OK: "done",
        EXIT_USAGE: "rejected_before_upload",
        EXIT_REJECTED: "failed",
        EXIT_UNAVAILABLE: "unavailable",
        EXIT_TIMEOUT: "timed_out",
        EXIT_INTERRUPTED: "interrupted",
    }[code]


# -- argument parsing -----------------------------------------------------------------------


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--base-url",
        default=None,
        help=f"service root (env {BASE_URL_ENV}; default {DEFAULT_BASE_URL})",
    )
    p.add_argument(
        "--api-key", default=None, help=f"API key (env {API_KEY_ENV}, else the OS keyring)"
    )
    p.add_argument(
        "--poll-interval",
        type=float,
        default=DEFAULT_POLL_INTERVAL,
        metavar="SECONDS",
        help="seconds between polls (default 5)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help="overall seconds to wait for the task (default 600)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")


class _Parser(argparse.ArgumentParser):
    """argparse, but its errors never echo argument values and go to the given stream.

    A mistyped flag (``--apikey KEY``) makes argparse list the key among the
    "unrecognized arguments"; only the option names are shown instead.
    """

    stream: TextIO | None = None  # set by run() for the duration of one parse

    def error(self, message: str) -> NoReturn:
        def hide_values(m: re.Match[str]) -> str:
            tokens = m.group(2).split()
            return m.group(1) + " ".join(t if t.startswith("-") else "…" for t in tokens)

        message = re.sub(r"(unrecognized arguments: )(.*)", hide_values, message)
        self.print_usage(self.stream or sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")

    def _print_message(self, message: str, file: IO[str] | None = None) -> None:
        # Help and --version go to stdout as usual; only error output is redirected.
        if file is None or file is sys.stderr:
            file = self.stream or sys.stderr
        if message:
            file.write(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="refiner-cli",
        description="Refine a coarse virtual try-on image with the AILabTools "
        "Try on Clothes Refiner API.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("refine", help="submit four images, wait, save the refined image")
    p.add_argument("--person", required=True, type=Path, help="the person photo")
    p.add_argument("--top", required=True, type=Path, help="the top garment (or dress)")
    p.add_argument("--coarse", required=True, type=Path, help="the coarse try-on result")
    p.add_argument("--bottom", type=Path, default=None, help="the bottom garment (optional)")
    p.add_argument("--gender", required=True, choices=["woman", "man"])
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="where to save the result (.png or .jpg); default: the output folder",
    )
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.add_argument(
        "--fix",
        action="store_true",
        help="upload conforming copies of images that break the rules (originals untouched)",
    )
    _common(p)

    p = sub.add_parser(
        "resume",
        help="wait for a submitted task and save its result; --all finishes every unfinished job",
    )
    p.add_argument(
        "task_id",
        nargs="?",
        default=None,
        help="the task id printed by refine (a job of the history, or any task)",
    )
    p.add_argument(
        "--all",
        action="store_true",
        help="finish every unfinished job (after a crash); never re-submits",
    )
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--overwrite", action="store_true")
    _common(p)

    p = sub.add_parser("jobs", help="list the stored jobs, newest first")
    p.add_argument(
        "--state",
        action="append",
        choices=[s.value for s in JobState],
        help="only jobs in this state (repeatable)",
    )
    p.add_argument(
        "--limit", type=int, default=None, metavar="N", help="at most N jobs (default: all)"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")

    p = sub.add_parser("check", help="check images against the service's rules (no upload)")
    p.add_argument("files", nargs="+", type=Path)
    _common(p)

    p = sub.add_parser("credits", help="show the account's credit balance")
    _common(p)

    p = sub.add_parser("sandbox", help="run the local sandbox of the API")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument(
        "--latency",
        type=float,
        default=3.0,
        metavar="SECONDS",
        help="seconds a task takes (default 3)",
    )
    _common(p)
    return parser


# -- output helpers ------------------------------------------------------------------------


class Reporter:
    """Progress on stderr, result on stdout (text or one JSON object)."""

    def __init__(
        self, as_json: bool, stdout: TextIO | None = None, stderr: TextIO | None = None
    ) -> None:
        self.as_json = as_json
        self.out = stdout or sys.stdout
        self.err = stderr or sys.stderr

    def progress(self, text: str) -> None:
        print(redact(text), file=self.err, flush=True)

    def event(self, ev: ProgressEvent) -> None:
        parts = [f"[{ev.elapsed:6.1f}s] {ev.stage.value}"]
        if ev.bytes_done is not None and ev.bytes_total:
            parts.append(f"{ev.bytes_done * 100 // max(ev.bytes_total, 1)}%")
        if ev.task_id:
            parts.append(f"task {ev.task_id}")
        self.progress("  ".join(parts))

    def result(self, payload: dict[str, Any], text: str) -> None:
        if self.as_json:
            print(redact(json.dumps(payload, sort_keys=True)), file=self.out, flush=True)
        else:
            print(redact(text), file=self.out, flush=True)


def _payload(status: str, **kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "status": status,
        "job_id": None,
        "task_id": None,
        "request_id": None,
        "log_id": None,
        "output": None,
        "image_url": None,
        "error": None,
    }
    base.update(kw)
    return base


def _error_payload(code: int, err: RefinerError, job_id: int | None = None) -> dict[str, Any]:
    return _payload(
        _status_word(code),
        task_id=err.task_id,
        request_id=err.request_id,
        log_id=err.log_id,
        job_id=job_id,
        error={
            "http_status": err.http_status,
            "code": err.code,
            "message": err.user_message,
            "type": type(err).__name__,
            "slot": err.slot,
        },
    )


def _still_waiting(job_id: int | None) -> bool:
    """Whether the job is still SUBMITTED: its task goes on, so resuming is the way on
    (e.g. after a refused key or result link while polling), never submitting again."""
    if job_id is None:
        return False
    try:
        store = JobStore.open_default()
        try:
            return store.get(job_id).state is JobState.SUBMITTED
        finally:
            store.close()
    except (KeyError, StoreError, OSError):
        return False


def _report_error(rep: Reporter, err: RefinerError, job_id: int | None = None) -> int:
    code = exit_code_for(err)
    rep.progress(f"error: {err.title}: {err.user_message}")
    for label, value in (
        ("code", err.code),
        ("http status", err.http_status),
        ("vendor message", err.vendor_message),
        ("request_id", err.request_id),
        ("log_id", err.log_id),
    ):
        if value:
            rep.progress(f"  {label}: {value}")
    if err.task_id and (
        code in (EXIT_TIMEOUT, EXIT_UNAVAILABLE, EXIT_INTERRUPTED) or _still_waiting(job_id)
    ):
        rep.progress(f"  task id: {err.task_id}  (continue with: refiner-cli resume {err.task_id})")
    if job_id is not None:
        rep.progress(f"  job: {job_id}  (see: refiner-cli jobs)")
    rep.result(_error_payload(code, err, job_id), f"failed: {err.user_message}")
    return code


# -- commands ------------------------------------------------------------------------------


def _api_key(args: argparse.Namespace, base_url: str) -> str:
    if args.api_key:
        return args.api_key
    from refiner_gui.keystore import get_api_key

    found = get_api_key().key
    if found:
        return found
    raise UsageError(
        f"No API key. Pass --api-key, set {API_KEY_ENV}, or save one in the app's "
        "Settings (it goes to the OS keyring)."
    )


def make_client(args: argparse.Namespace) -> RefinerClient:
    base_url = args.base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
    key = _api_key(args, base_url)
    try:
        return RefinerClient(
            key,
            base_url,
            poll_interval=args.poll_interval,
            timeout=args.timeout,
            retry=getattr(args, "retry", None),
        )
    except ConfigError as exc:
        raise UsageError(str(exc)) from None


def _open_store() -> JobStore:
    """The window's job store (``JobStore.open_default()``); StoreError if unusable."""
    try:
        return JobStore.open_default()
    except sqlite3.Error as exc:  # an unreadable or locked file: say so, exit 2
        raise StoreError(f"The job history cannot be opened: {exc}") from None


def _check_out(args: argparse.Namespace) -> None:
    if args.out is not None:
        if args.out.suffix.lower() not in (".png", ".jpg", ".jpeg"):
            raise UsageError(f"--out must end in .png or .jpg (got {args.out.name}).")
        if args.out.exists() and not args.overwrite:
            raise UsageError(
                f"{args.out} already exists. Choose another --out or pass --overwrite."
            )


def _default_out(job: Job) -> Path:
    stem = render_name(
        DEFAULT_FILENAME_PATTERN,
        task_id=job.task_id or f"job{job.id}",
        when=datetime.now(),
        gender=job.gender or None,
    )
    suffix = job.result_path.suffix if job.result_path is not None else ".png"
    return app_paths().outputs / f"{stem}{suffix}"


class _Progress:
    """Turns a job's progress events into a few stderr lines (not one per chunk)."""

    def __init__(self, rep: Reporter) -> None:
        self.rep = rep
        self._quarter = -1
        self._downloading = False

    def __call__(self, ev: ProgressEvent) -> None:
        if ev.stage is Stage.UPLOADING:
            if ev.bytes_total:
                quarter = (ev.bytes_done or 0) * 4 // max(ev.bytes_total, 1)
                if quarter != self._quarter:
                    self._quarter = quarter
                    self.rep.progress(f"uploading {(ev.bytes_done or 0) * 100 // ev.bytes_total}%")
        elif ev.stage in (Stage.QUEUED, Stage.PROCESSING):
            self.rep.progress(f"status: {ev.stage.value}")
        elif ev.stage is Stage.DOWNLOADING and not self._downloading:
            self._downloading = True
            self.rep.progress("downloading result")


def _run_stored(
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
            on_event=_Progress(rep),
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
    return _export(args, rep, done, image_url, submit_ids)


def _export(
    args: argparse.Namespace, rep: Reporter, job: Job, image_url: str | None, extra: dict[str, Any]
) -> int:
    """Copy the stored result of a SUCCEEDED ``job`` to ``--out`` (or the default name).

    The result is already in the data folder, so an export problem never costs the
    refinement: it is reported with the stored path.
    """
    stored = job.result_path
    assert stored is not None
    out = args.out if getattr(args, "out", None) is not None else _default_out(job)
    try:
        export_image(stored, out, overwrite=bool(getattr(args, "overwrite", False)))
    except (OSError, ValueError) as exc:
        rep.progress(f"error: could not write {out}: {exc}. The result is kept at {stored}.")
        rep.result(
            _payload(
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
    rep.result(
        _payload(
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


def cmd_refine(args: argparse.Namespace, rep: Reporter, cancel: CancelToken) -> int:
    _check_out(args)
    files = {"person": args.person, "top": args.top, "coarse": args.coarse, "bottom": args.bottom}
    reports = check_inputs(args.person, args.top, args.coarse, args.bottom)
    bad = {slot: r for slot, r in reports.items() if not r.ok}
    if bad and args.fix:
        bad, files = _apply_fixes(reports, files, rep)
    if bad:
        for slot, r in bad.items():
            for p in r.problems:
                rep.progress(f"{slot}: {r.path.name}: {p.message}")
        hint = " (try --fix)" if any(r.fixable for r in bad.values()) and not args.fix else ""
        if hint:
            rep.progress(
                "Run again with --fix to upload conforming copies (the originals are not touched)."
            )
        rep.result(
            _payload(
                "rejected_before_upload",
                error={
                    "http_status": None,
                    "code": "PREFLIGHT",
                    "message": "input images break the service's rules" + hint,
                    "slots": sorted(bad),
                },
            ),
            "rejected before upload: input images break the service's rules" + hint,
        )
        return EXIT_USAGE
    client = make_client(args)  # before the job exists: a missing key leaves no job behind
    store = _open_store()
    try:
        # The job (with copies of exactly what is uploaded) is committed before the upload.
        job = store.create_job(
            {
                PERSON: files["person"],
                TOP: files["top"],
                COARSE: files["coarse"],
                BOTTOM: files["bottom"],
            },
            args.gender,
        )
        rep.progress(f"job {job.id}: uploading")
        return _run_stored(args, rep, store, client, job, cancel)
    finally:
        client.close()
        store.close()


def _apply_fixes(
    reports: dict[str, ImageReport], files: dict[str, Path | None], rep: Reporter
) -> tuple[dict[str, ImageReport], dict[str, Path | None]]:
    """Replace fixable inputs with conforming copies; return the remaining problems."""
    slot_arg = {PERSON: "person", TOP: "top", COARSE: "coarse", BOTTOM: "bottom"}
    fixed_dir = app_paths().data / "fixed"
    fixed_dir.mkdir(parents=True, exist_ok=True)
    files = dict(files)
    for slot, r in reports.items():
        if r.ok or not r.fixable or slot == COARSE:
            continue
        try:
            files[slot_arg[slot]] = fix_image(r.path, fixed_dir, slot=slot)
            rep.progress(f"{slot}: fixed copy {files[slot_arg[slot]].name}")
        except ImageFixError as exc:
            rep.progress(f"{slot}: cannot fix: {exc}")
    # The coarse image must match the (possibly fixed) person photo's size exactly.
    coarse = reports.get(COARSE)
    if coarse is not None and not coarse.ok and coarse.fixable:
        with Image.open(files["person"]) as im:
            target = im.size
        try:
            files["coarse"] = fix_image(coarse.path, fixed_dir, slot=COARSE, target_size=target)
            rep.progress(f"{COARSE}: fixed copy {files['coarse'].name}")
        except ImageFixError as exc:
            rep.progress(f"{COARSE}: cannot fix: {exc}")
    again = check_inputs(files["person"], files["top"], files["coarse"], files["bottom"])
    return {slot: r for slot, r in again.items() if not r.ok}, files


def cmd_resume(args: argparse.Namespace, rep: Reporter, cancel: CancelToken) -> int:
    if args.all:
        if args.task_id or args.out is not None:
            raise UsageError(
                "resume --all takes no task id and no --out (each result goes "
                "to the output folder)."
            )
        return _resume_all(args, rep, cancel)
    if not args.task_id:
        raise UsageError("Give a TASK_ID to resume, or --all for every unfinished job.")
    _check_out(args)
    store = _open_store()
    try:
        job = store.find_by_task(args.task_id)
        if job is None:  # submitted elsewhere (or before the store existed): record it now
            job = store.create_resumed(args.task_id)
            rep.progress(f"job {job.id}: new record for task {args.task_id}")
        else:
            rep.progress(f"job {job.id}: {job.state.label.lower()}")
        args.job_id = job.id
        if (
            job.state is JobState.SUCCEEDED
            and job.result_path is not None
            and job.result_path.is_file()
        ):
            return _export(args, rep, job, None, {})  # already stored: no network needed
        if job.state is not JobState.SUBMITTED:
            return _report_settled(rep, job)
        client = make_client(args)
        try:
            return _run_stored(args, rep, store, client, job, cancel)
        finally:
            client.close()
    finally:
        store.close()


def _report_settled(rep: Reporter, job: Job) -> int:
    """A finished job that cannot be resumed: say what happened to it (exit 3 or 4)."""
    code = EXIT_UNAVAILABLE if job.state is JobState.OUTCOME_UNKNOWN else EXIT_REJECTED
    message = job.error_message or f"The job is {job.state.label.lower()}."
    rep.progress(f"error: job {job.id} is {job.state.label.lower()}: {message}")
    rep.result(
        _payload(
            _status_word(code),
            task_id=job.task_id,
            request_id=job.request_id,
            log_id=job.log_id,
            job_id=job.id,
            error={
                "http_status": (job.error or {}).get("http_status"),
                "code": (job.error or {}).get("code"),
                "message": message,
                "type": (job.error or {}).get("type"),
                "state": job.state.value,
            },
        ),
        f"failed: {message}",
    )
    return code


def _job_code(job: Job, err: RefinerError | None) -> int:
    """Exit code a recovered job contributes (resume --all exits with the highest)."""
    if job.state in (JobState.SUCCEEDED, JobState.CANCELLED):
        return EXIT_OK  # done, or nothing was ever sent
    if job.state is JobState.OUTCOME_UNKNOWN:
        return EXIT_UNAVAILABLE
    if job.state is JobState.SUBMITTED:  # still resumable: why it stopped
        return exit_code_for(err) if err is not None else EXIT_UNAVAILABLE
    return EXIT_REJECTED  # FAILED, EXPIRED


def _job_dict(job: Job) -> dict[str, Any]:
    return {
        "job_id": job.id,
        "state": job.state.value,
        "created": datetime.fromtimestamp(job.created_at).isoformat(timespec="seconds"),
        "gender": job.gender or None,
        "task_id": job.task_id,
        "verdict": job.verdict,
        "result_path": str(job.result_path) if job.result_path else None,
        "error": job.error_message or None,
        "request_id": job.request_id,
        "log_id": job.log_id,
    }


def _resume_all(args: argparse.Namespace, rep: Reporter, cancel: CancelToken) -> int:
    """``resume --all``: :func:`recover` every unfinished job, export what succeeded."""
    store = _open_store()
    items: list[dict[str, Any]] = []
    codes: list[int] = [EXIT_OK]

    def on_job(job: Job, err: RefinerError | None) -> None:
        item = _job_dict(job)
        if job.state is JobState.SUCCEEDED and job.result_path is not None:
            out = _default_out(job)
            try:
                export_image(job.result_path, out, overwrite=False)
                item["output"] = str(out)
            except (OSError, ValueError) as exc:
                rep.progress(
                    f"job {job.id}: could not write {out}: {exc}; the result is "
                    f"kept at {job.result_path}"
                )
                item["output"] = None
        codes.append(_job_code(job, err))
        items.append(item)
        detail = item.get("output") or item["error"] or ""
        rep.progress(
            f"job {job.id}: {job.state.label.lower()}"
            + (f"  task {job.task_id}" if job.task_id else "")
            + (f"  {detail}" if detail else "")
        )

    try:
        recover(store, lambda: make_client(args), cancel=cancel, on_job=on_job)
    finally:
        store.close()
    code = max(codes)
    lines = [
        f"{i['job_id']}\t{i['state']}\t{i['task_id'] or '-'}\t"
        f"{i.get('output') or i['result_path'] or i['error'] or ''}"
        for i in items
    ]
    rep.result(
        {"status": _status_word(code), "jobs": items},
        "\n".join(lines) if lines else "nothing to resume",
    )
    return code


def cmd_jobs(args: argparse.Namespace, rep: Reporter, cancel: CancelToken) -> int:
    if args.limit is not None and args.limit < 0:
        raise UsageError("--limit must be 0 or more.")
    store = _open_store()
    try:
        f = JobFilter(states=tuple(JobState(s) for s in args.state or ()))
        jobs = store.list_jobs(f, sort="created_at", descending=True, limit=args.limit)
        total = store.count(f)
    finally:
        store.close()
    items = [_job_dict(j) for j in jobs]
    header = "id\tstate\tcreated\tgender\ttask_id\tverdict\tresult\terror"
    lines = [header] + [
        "\t".join(
            str(v) if v is not None else "-"
            for v in (
                i["job_id"],
                i["state"],
                i["created"],
                i["gender"],
                i["task_id"],
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


def cmd_check(args: argparse.Namespace, rep: Reporter, cancel: CancelToken) -> int:
    reports = [check_image(p) for p in args.files]
    ok = all(r.ok for r in reports)
    items = [
        {
            "path": str(r.path),
            "ok": r.ok,
            "format": r.format,
            "width": r.width,
            "height": r.height,
            "file_size": r.file_size,
            "fixable": r.fixable,
            "problems": [
                {"code": p.code, "message": p.message, "fixable": p.fixable} for p in r.problems
            ],
        }
        for r in reports
    ]
    text = "\n".join(f"{r.path}: {r.summary()}" for r in reports)
    if rep.as_json:
        rep.result({"status": "ok" if ok else "problems", "files": items}, text)
    else:
        rep.result({}, text)
    return EXIT_OK if ok else EXIT_USAGE


def cmd_credits(args: argparse.Namespace, rep: Reporter, cancel: CancelToken) -> int:
    client = make_client(args)
    balances = client.credits(cancel=cancel)
    text = "\n".join(
        f"{b.name or b.unique_sign}: {b.balance:g}"
        + (f" of {b.total:g}" if b.total is not None else "")
        for b in balances
    )
    rep.result(
        {"status": "ok", "credits": [b.__dict__ for b in balances]}, text or "no credit entries"
    )
    return EXIT_OK


def cmd_sandbox(args: argparse.Namespace, rep: Reporter, cancel: CancelToken) -> int:
    from refiner_gui.sandbox import SandboxServer

    srv = SandboxServer(port=args.port, latency=args.latency)
    url = srv.start()
    rep.progress(
        f"sandbox listening on {url} (Ctrl+C to stop); use --base-url {url} with any API key"
    )
    rep.result({"status": "running", "base_url": url}, url)
    try:
        while not cancel.wait(0.5):
            pass
    finally:
        srv.stop()
    return EXIT_OK


COMMANDS = {
    "refine": cmd_refine,
    "resume": cmd_resume,
    "jobs": cmd_jobs,
    "check": cmd_check,
    "credits": cmd_credits,
    "sandbox": cmd_sandbox,
}


def run(
    argv: list[str] | None = None,
    *,
    cancel: CancelToken | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    retry: RetryPolicy | None = None,
) -> int:
    """Run the command line; return the exit code. Used by :func:`main` and by tests.

    ``cancel`` lets a test (or a signal handler) interrupt a running command; ``retry``
    replaces the backoff policy (tests make it fast).
    """
    parser = build_parser()
    _Parser.stream = stderr
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed the usage message
        return int(exc.code or 0) and EXIT_USAGE
    finally:
        _Parser.stream = None
    args.retry = retry
    args.job_id = None  # set by commands once a stored job is involved (error payloads)
    rep = Reporter(args.json, stdout, stderr)
    if args.verbose:
        logging.basicConfig(
            level=logging.INFO, stream=rep.err, format="%(levelname)s %(name)s: %(message)s"
        )
    cancel = cancel or CancelToken()
    try:
        return COMMANDS[args.command](args, rep, cancel)
    except (UsageError, StoreError) as exc:  # found before anything was sent
        code = "USAGE" if isinstance(exc, UsageError) else "STORE"
        rep.progress(f"error: {exc}")
        rep.result(
            _payload(
                "rejected_before_upload",
                error={"http_status": None, "code": code, "message": str(exc)},
            ),
            f"error: {exc}",
        )
        return EXIT_USAGE
    except RefinerError as err:
        return _report_error(rep, err, args.job_id)
    except KeyboardInterrupt:
        cancel.cancel()
        rep.progress("interrupted")
        rep.result(_payload("interrupted", job_id=args.job_id), "interrupted")
        return EXIT_INTERRUPTED


def main(argv: list[str] | None = None) -> None:
    # Ctrl+C in the main thread raises KeyboardInterrupt inside whatever blocks; the
    # handler in run() turns it into exit 130 and prints the task id when there is one.
    assert threading.current_thread() is threading.main_thread()
    sys.exit(run(argv))


if __name__ == "__main__":
    main()
