"""``refiner-cli``'s output: exit codes, progress lines on stderr, the result on stdout.

Stable for scripts: the exit codes and the JSON payload's keys. Nothing here ever prints
the API key: every line passes through :func:`~refiner_gui.api.errors.redact`. Nothing
here lets the service (or a file name) drive the terminal: every line passes through
:func:`~refiner_gui.safe_text.terminal_text` (no escape sequences or control characters;
a progress line stays one line), and JSON is strict (:func:`~refiner_gui.safe_text.strict_json`:
``null`` for a number that is not finite).
"""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Any, TextIO

from refiner_gui.api import (
    Cancelled,
    DownloadError,
    NetworkError,
    ProgressEvent,
    RateLimited,
    RefinerError,
    ServiceUnavailable,
    SubmissionOutcomeUnknown,
    TimedOut,
)
from refiner_gui.api.errors import redact
from refiner_gui.api.models import Stage
from refiner_gui.api.progress import expected_left_text
from refiner_gui.jobs import Job, JobState
from refiner_gui.safe_text import strict_json, terminal_text

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_REJECTED = 3
EXIT_UNAVAILABLE = 4
EXIT_TIMEOUT = 5
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """Bad arguments or inputs found before anything was sent (exit 2)."""


def exit_code_for(err: RefinerError) -> int:
    """The exit code a failure ends the command with (see the module of ``cli``)."""
    if isinstance(err, Cancelled):
        return EXIT_INTERRUPTED
    if isinstance(err, TimedOut):
        return EXIT_TIMEOUT
    if isinstance(err, (ServiceUnavailable, NetworkError, RateLimited, SubmissionOutcomeUnknown)):
        return EXIT_UNAVAILABLE
    if isinstance(err, DownloadError) and err.retryable:
        return EXIT_UNAVAILABLE
    return EXIT_REJECTED


def status_word(code: int) -> str:
    """The ``status`` word of the JSON payload for an exit code."""
    return {
        EXIT_OK: "done",
        EXIT_USAGE: "rejected_before_upload",
        EXIT_REJECTED: "failed",
        EXIT_UNAVAILABLE: "unavailable",
        EXIT_TIMEOUT: "timed_out",
        EXIT_INTERRUPTED: "interrupted",
    }[code]


class Reporter:
    """Progress on stderr, result on stdout (text or one JSON object)."""

    def __init__(
        self, as_json: bool, stdout: TextIO | None = None, stderr: TextIO | None = None
    ) -> None:
        self.as_json = as_json
        self.out = stdout or sys.stdout
        self.err = stderr or sys.stderr

    def progress(self, text: str) -> None:
        """One progress line on stderr (redacted, made terminal-safe, one line)."""
        print(terminal_text(redact(text), newlines=False), file=self.err, flush=True)

    def event(self, ev: ProgressEvent) -> None:
        """A progress event as one stderr line."""
        parts = [f"[{ev.elapsed:6.1f}s] {ev.stage.value}"]
        if ev.bytes_done is not None and ev.bytes_total:
            parts.append(f"{ev.bytes_done * 100 // max(ev.bytes_total, 1)}%")
        if ev.task_id:
            parts.append(f"task {ev.task_id}")
        self.progress("  ".join(parts))

    def result(self, payload: dict[str, Any], text: str) -> None:
        """The result on stdout: ``payload`` as JSON with ``--json``, else ``text``."""
        if self.as_json:
            # json escapes every control character (and, ensure_ascii, all non-ASCII).
            print(redact(strict_json(payload, sort_keys=True)), file=self.out, flush=True)
        else:
            print(terminal_text(redact(text)), file=self.out, flush=True)


def table_cell(value: object) -> str:
    """One cell of a tab-separated text table: "-" for None, never a tab or a newline."""
    return "-" if value is None else terminal_text(str(value), newlines=False)


def payload(status: str, **kw: Any) -> dict[str, Any]:
    """The JSON result object with every stable key present (None when unknown)."""
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


def error_payload(code: int, err: RefinerError, job_id: int | None = None) -> dict[str, Any]:
    """The JSON result object of a failure, with the error's fields."""
    return payload(
        status_word(code),
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


class ProgressLines:
    """Turns a job's progress events into a few stderr lines (not one per chunk)."""

    def __init__(self, rep: Reporter) -> None:
        self.rep = rep
        self._quarter = -1
        self._downloading = False
        self._step: str | None = None

    def __call__(self, ev: ProgressEvent) -> None:
        if ev.step != self._step:  # a two-stage job's next stage: its own lines
            self._step, self._quarter, self._downloading = ev.step, -1, False
        self._line(ev)

    def _say(self, text: str) -> None:
        self.rep.progress(_STEP_PREFIX.get(self._step or "", "") + text)

    def _line(self, ev: ProgressEvent) -> None:
        if ev.stage is Stage.UPLOADING:
            if ev.bytes_total:
                quarter = (ev.bytes_done or 0) * 4 // max(ev.bytes_total, 1)
                if quarter != self._quarter:
                    self._quarter = quarter
                    self._say(f"uploading {(ev.bytes_done or 0) * 100 // ev.bytes_total}%")
        elif ev.stage in (Stage.QUEUED, Stage.PROCESSING):
            left = expected_left_text(ev.expected_left)
            self._say(f"status: {ev.stage.value}" + (f" ({left})" if left else ""))
        elif ev.stage is Stage.DOWNLOADING and not self._downloading:
            self._downloading = True
            self._say("downloading result")


_STEP_PREFIX = {"tryon": "coarse image: ", "refine": "refinement: "}


def report_settled(rep: Reporter, job: Job) -> int:
    """A finished job that cannot be resumed: say what happened to it (exit 3 or 4)."""
    code = EXIT_UNAVAILABLE if job.state is JobState.OUTCOME_UNKNOWN else EXIT_REJECTED
    message = job.error_message or f"The job is {job.state.label.lower()}."
    rep.progress(f"error: job {job.id} is {job.state.label.lower()}: {message}")
    rep.result(
        payload(
            status_word(code),
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


def job_code(job: Job, err: RefinerError | None) -> int:
    """Exit code a recovered job contributes (resume --all exits with the highest)."""
    if job.state in (JobState.SUCCEEDED, JobState.CANCELLED):
        return EXIT_OK  # done, or nothing was ever sent
    if job.state is JobState.OUTCOME_UNKNOWN:
        return EXIT_UNAVAILABLE
    if job.state is JobState.SUBMITTED:  # still resumable: why it stopped
        return exit_code_for(err) if err is not None else EXIT_UNAVAILABLE
    return EXIT_REJECTED  # FAILED, EXPIRED


def job_dict(job: Job) -> dict[str, Any]:
    """A stored job as JSON-ready data for ``jobs`` and ``resume --all``."""
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
        "kind": job.kind,
        "stage": job.stage,
        "tryon_model": job.tryon.model if job.tryon else None,
        "tryon_task_id": job.tryon.task_id if job.tryon else None,
    }
