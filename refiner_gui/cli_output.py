"""``refiner-cli``'s output: exit codes, progress on stderr, the result on stdout.

Progress on a terminal is one status line rewritten in place (stage, elapsed seconds, bytes
sent or received), cleared before any other line and at the end; when stderr is a file or
a pipe it is one line per change of stage, never one per poll or per chunk
(:class:`ProgressLines`).

Stable for scripts: the exit codes and the JSON payload's keys. Nothing here ever prints
the API key: every line passes through :func:`~refiner_gui.api.errors.redact`. Nothing
here lets the service (or a file name) drive the terminal: every line passes through
:func:`~refiner_gui.safe_text.terminal_text` (no escape sequences or control characters;
a progress line stays one line), and JSON is strict (:func:`~refiner_gui.safe_text.strict_json`:
``null`` for a number that is not finite).
"""

from __future__ import annotations

import shutil
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
from refiner_gui.sizes import format_bytes

EXIT_OK = 0
EXIT_INTERNAL = 1
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
        EXIT_INTERNAL: "internal_error",
        EXIT_USAGE: "rejected_before_upload",
        EXIT_REJECTED: "failed",
        EXIT_UNAVAILABLE: "unavailable",
        EXIT_TIMEOUT: "timed_out",
        EXIT_INTERRUPTED: "interrupted",
    }[code]


def is_terminal(stream: TextIO) -> bool:
    """Whether ``stream`` is an interactive terminal (False for files, pipes, closed
    streams and objects without ``isatty``)."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


class Reporter:
    """Progress on stderr, result on stdout (text or one JSON object).

    ``live`` (default: whether stderr is a terminal) enables :meth:`status`, the one
    progress line rewritten in place. Main thread only.
    """

    def __init__(
        self,
        as_json: bool,
        stdout: TextIO | None = None,
        stderr: TextIO | None = None,
        *,
        live: bool | None = None,
    ) -> None:
        self.as_json = as_json
        self.out = stdout or sys.stdout
        self.err = stderr or sys.stderr
        self.live = is_terminal(self.err) if live is None else live
        self._status_width = 0  # characters of the status line on screen (0: none)

    def progress(self, text: str) -> None:
        """One progress line on stderr (redacted, made terminal-safe, one line)."""
        self.clear_status()
        print(terminal_text(redact(text), newlines=False), file=self.err, flush=True)

    def status(self, text: str) -> None:
        """On a terminal, show ``text`` as the status line, replacing the previous one
        (cut to the terminal's width, so it never wraps). Does nothing elsewhere."""
        if not self.live:
            return
        line = terminal_text(redact(text), newlines=False)
        line = line[: max(20, shutil.get_terminal_size((80, 24)).columns - 1)]
        # Spaces, not an escape sequence, rub out a longer previous line: any console.
        pad = " " * max(0, self._status_width - len(line))
        self.err.write(f"\r{line}{pad}")
        self.err.flush()
        self._status_width = len(line)

    def clear_status(self) -> None:
        """Rub out the status line, if one is shown (before any other output, and at
        the end of a command)."""
        if self._status_width:
            self.err.write("\r" + " " * self._status_width + "\r")
            self.err.flush()
            self._status_width = 0

    def result(self, payload: dict[str, Any], text: str) -> None:
        """The result on stdout: ``payload`` as JSON with ``--json``, else ``text``."""
        self.clear_status()
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


_STAGE_WORDS = {
    Stage.CHECKING: "checking",
    Stage.WAITING_SLOT: "waiting for a free slot (5 tasks run at the service)",
    Stage.UPLOADING: "uploading",
    Stage.QUEUED: "queued",
    Stage.PROCESSING: "processing",
    Stage.DOWNLOADING: "downloading result",
    Stage.DONE: "done",
}

REDRAW_S = 0.1
"""At most this often (in the job's elapsed seconds) the status line is redrawn for byte
counts; a change of stage is drawn at once."""


def status_line(ev: ProgressEvent) -> str:
    """The terminal's status line for ``ev``: stage, elapsed seconds, bytes, time left.

    ``"uploading  4 s  1.2 MB of 3.4 MB (35%)"``, ``"processing  12 s  usually done in
    ~20 s"``, ``"downloading result  14 s  800 KB"``.
    """
    parts = [_STEP_PREFIX.get(ev.step or "", "") + _STAGE_WORDS[ev.stage], f"{ev.elapsed:.0f} s"]
    if ev.bytes_done is not None and ev.stage in (Stage.UPLOADING, Stage.DOWNLOADING):
        done = format_bytes(ev.bytes_done)
        if ev.bytes_total:
            pct = min(100, ev.bytes_done * 100 // ev.bytes_total)
            parts.append(f"{done} of {format_bytes(ev.bytes_total)} ({pct}%)")
        else:
            parts.append(done)
    left = expected_left_text(ev.expected_left)
    if left and ev.stage in (Stage.QUEUED, Stage.PROCESSING):
        parts.append(left)
    return "  ".join(parts)


def change_line(ev: ProgressEvent) -> str:
    """The log line for a change of stage: ``"[  3.1s] status: queued (…)"``."""
    word = _STAGE_WORDS[ev.stage]
    if ev.stage in (Stage.QUEUED, Stage.PROCESSING):
        left = expected_left_text(ev.expected_left)
        word = f"status: {word}" + (f" ({left})" if left else "")
    return f"[{ev.elapsed:6.1f}s] {_STEP_PREFIX.get(ev.step or '', '')}{word}"


class ProgressLines:
    """Turns a job's progress events into stderr output (``on_event`` of ``run_job``).

    On a terminal (``rep.live``): one status line (:func:`status_line`) redrawn on each
    change of stage and at most every :data:`REDRAW_S` for byte counts, and rubbed out
    when the job is done. Elsewhere: one line (:func:`change_line`) per change of stage,
    not per poll or per chunk; the DONE stage is left to the result. Main thread.
    """

    def __init__(self, rep: Reporter) -> None:
        self.rep = rep
        self._stage: Stage | None = None
        self._step: str | None = None
        self._drawn_at = float("-inf")

    def __call__(self, ev: ProgressEvent) -> None:
        # A two-stage job's next stage (ev.step) starts its own lines.
        changed = ev.stage is not self._stage or ev.step != self._step
        self._stage, self._step = ev.stage, ev.step
        if ev.stage is Stage.DONE:
            self.rep.clear_status()
        elif self.rep.live:
            whole = ev.bytes_total is not None and ev.bytes_done == ev.bytes_total
            if changed or whole or ev.elapsed - self._drawn_at >= REDRAW_S:
                self._drawn_at = ev.elapsed
                self.rep.status(status_line(ev))
        elif changed:
            self.rep.progress(change_line(ev))


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
