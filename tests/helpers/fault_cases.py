"""Every fault kind of the sandbox as one table, shared by the window-worker and CLI suites.

A :class:`FaultCase` says what to inject, how the client is tuned (short timeouts for the
hang and slow cases), and what must come out: success, or the error type, the job's final
state in the store, whether the service's code and ids reach the error, whether the
sandbox created a task, and how many POSTs the job may make. The faults of :data:`CASES`
are the sandbox's named faults (:mod:`refiner_gui.sandbox.named_faults`), so
``refiner-cli sandbox --fault <case id>`` shows the same misbehaviour by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from refiner_gui.api import (
    AuthError,
    BadRequest,
    CreditsError,
    InputRejected,
    NetworkError,
    RateLimited,
    RefinerError,
    ResultUnavailable,
    ServiceUnavailable,
    SubmissionOutcomeUnknown,
    TaskFailed,
    TaskNotFound,
)
from refiner_gui.jobs import JobState
from refiner_gui.sandbox import Fault, SandboxServer, named_faults
from refiner_gui.slots import PERSON

POLL_PATH = "/api/common/query-async-task-result"

# What the sandbox did with the task, from the store's point of view.
NO_TASK = "none"  # no task was created (the answer replaced processing)
RECORDED = "recorded"  # a task exists and its id must be in the store
UNKNOWN = "unknown"  # a task may exist but its id never reached us: OUTCOME_UNKNOWN


@dataclass(frozen=True)
class FaultCase:
    id: str
    faults: tuple[Fault, ...]
    error: type[RefinerError] | None = None  # None: the job succeeds
    state: JobState = JobState.SUCCEEDED
    code: str | None = None  # the vendor code the error must carry
    ids: bool = False  # the service sent request_id/log_id with the failure
    task: str = RECORDED
    posts: int = 1  # POSTs the job makes (re-sent only when the service surely took nothing)
    client: dict = field(default_factory=dict)  # RefinerClient keyword overrides
    retry: dict = field(default_factory=dict)  # fast_retry() overrides
    http_status: int | None = None
    slot: str | None = None  # the input slot an InputRejected must name
    submit_code: bool = False  # an "error on submit" row: test_error_table covers it in CLI
    marks: tuple = ()

    def param(self):
        return pytest.param(self, id=self.id, marks=self.marks)


def _submit_error(code: str, error: type[RefinerError], **kw) -> FaultCase:
    return FaultCase(
        f"error-submit-{code}",
        named_faults(f"error-submit-{code}"),
        error,
        JobState.FAILED,
        code,
        True,
        NO_TASK,
        submit_code=True,
        **kw,
    )


CASES: list[FaultCase] = [
    # -- error: a few codes per family, on submit (nothing created, nothing re-sent) --------
    _submit_error("ERROR_PARAMETERS", BadRequest),
    _submit_error("ERROR_USER_NOT_EXISTS", AuthError),
    _submit_error("ERROR_USER_LOCKED", AuthError),
    _submit_error("ERROR_AI_NOT_EXISTS", ServiceUnavailable),
    _submit_error("FILE_SIZE_EXCEEDS_LIMIT", InputRejected),
    _submit_error("ERROR_NO_FACE_IN_FILE", InputRejected, slot=PERSON),
    _submit_error("ERROR_NOT_ENOUGH_CREDITS", CreditsError),
    _submit_error("SERVICE_INTERNAL_ERROR", ServiceUnavailable),
    _submit_error("AI_SERVICE_ERROR", ServiceUnavailable),
    # 503 says the service took nothing: re-sent, and the second try succeeds.
    FaultCase(
        "error-submit-503-once",
        named_faults("error-submit-503-once"),
        posts=2,
    ),
    FaultCase(
        "error-submit-503-always",
        named_faults("error-submit-503-always"),
        ServiceUnavailable,
        JobState.FAILED,
        "ERROR_INSUFFICIENT_RESOURCES",
        True,
        NO_TASK,
        posts=4,
    ),
    # -- error on poll and download (the task exists) ---------------------------------------
    FaultCase("error-poll-502-transient", named_faults("error-poll-502-transient")),
    FaultCase(
        "error-poll-500-always",
        named_faults("error-poll-500-always"),
        ServiceUnavailable,
        JobState.SUBMITTED,
        "SERVICE_INTERNAL_ERROR",
        True,
    ),
    FaultCase(
        "error-poll-404-not-found",
        named_faults("error-poll-404-not-found"),
        TaskNotFound,
        JobState.EXPIRED,
        "ERROR_RESOURCE_NOT_FOUND",
        True,
    ),
    FaultCase(
        "error-poll-410-revoked",
        named_faults("error-poll-410-revoked"),
        TaskNotFound,
        JobState.EXPIRED,
        "ERROR_TASK_REVOKED",
        True,
    ),
    # A poll refused for our key or account says nothing about the task: resumable.
    FaultCase(
        "error-poll-401-key",
        named_faults("error-poll-401-key"),
        AuthError,
        JobState.SUBMITTED,
        "ERROR_USER_NOT_EXISTS",
        True,
    ),
    FaultCase("error-download-500-transient", named_faults("error-download-500-transient")),
    # -- error_in_200 ------------------------------------------------------------------------
    FaultCase(
        "error_in_200-submit",
        named_faults("error_in_200-submit"),
        ServiceUnavailable,
        JobState.FAILED,
        "PROCESSING_FAILURE",
        True,
        NO_TASK,
    ),
    FaultCase(
        "error_in_200-submit-credits",
        named_faults("error_in_200-submit-credits"),
        CreditsError,
        JobState.FAILED,
        "ERROR_NOT_ENOUGH_CREDITS",
        True,
        NO_TASK,
    ),
    FaultCase("error_in_200-poll-transient", named_faults("error_in_200-poll-transient")),
    # -- task_failed / poll_http_error: the task ends badly, its id is kept ------------------
    FaultCase(
        "task_failed",
        named_faults("task_failed"),
        TaskFailed,
        JobState.FAILED,
        "PROCESSING_FAILURE",
        True,
    ),
    FaultCase(
        "task_failed-stopped",
        named_faults("task_failed-stopped"),
        TaskFailed,
        JobState.FAILED,
        "ERROR_TASK_STOPPED_PROCESSING",
        True,
    ),
    FaultCase(
        "poll_http_error",
        named_faults("poll_http_error"),
        InputRejected,
        JobState.FAILED,
        "ERROR_NO_FACE_IN_FILE",
        True,
        slot=PERSON,
    ),
    FaultCase(
        "poll_http_error-size",
        named_faults("poll_http_error-size"),
        InputRejected,
        JobState.FAILED,
        "FILE_SIZE_EXCEEDS_LIMIT",
        True,
    ),
    # -- rate_limit: backed off and retried (a 429 EXCEEDING_LIMITS submit took nothing) -----
    FaultCase("rate_limit-submit", named_faults("rate_limit-submit"), posts=2),
    FaultCase(
        "rate_limit-submit-always",
        named_faults("rate_limit-submit-always"),
        RateLimited,
        JobState.FAILED,
        "EXCEEDING_LIMITS",
        True,
        NO_TASK,
        posts=4,
    ),
    FaultCase("rate_limit-poll", named_faults("rate_limit-poll")),
    FaultCase(
        "rate_limit-poll-always",
        named_faults("rate_limit-poll-always"),
        RateLimited,
        JobState.SUBMITTED,
        "EXCEEDING_LIMITS",
        True,
    ),  # the task goes on: resumable
    # -- gateway_html: a proxy page, no vendor body ------------------------------------------
    FaultCase(
        "gateway_html-submit-502",
        named_faults("gateway_html-submit-502"),
        SubmissionOutcomeUnknown,
        JobState.OUTCOME_UNKNOWN,
        None,
        False,
        NO_TASK,
        http_status=502,
    ),
    FaultCase("gateway_html-submit-503", named_faults("gateway_html-submit-503"), posts=2),
    FaultCase("gateway_html-poll-transient", named_faults("gateway_html-poll-transient")),
    FaultCase(
        "gateway_html-poll-always",
        named_faults("gateway_html-poll-always"),
        ServiceUnavailable,
        JobState.SUBMITTED,
        None,
        False,
        http_status=502,
    ),
    FaultCase(
        "gateway_html-download-transient",
        named_faults("gateway_html-download-transient"),
    ),
    # -- drop_connection: the request was processed, the answer is withheld or cut ---------
    FaultCase(
        "drop_connection-submit",
        named_faults("drop_connection-submit"),
        SubmissionOutcomeUnknown,
        JobState.OUTCOME_UNKNOWN,
        task=UNKNOWN,
    ),
    FaultCase("drop_connection-poll", named_faults("drop_connection-poll")),
    FaultCase("drop_connection-download", named_faults("drop_connection-download")),
    FaultCase(
        "drop_connection-download-always",
        named_faults("drop_connection-download-always"),
        NetworkError,
        JobState.SUBMITTED,
        retry={"attempts": 3},
    ),
    # -- hang: no answer at all; the read timeout ends it -----------------------------------
    FaultCase(
        "hang-submit",
        named_faults("hang-submit"),
        SubmissionOutcomeUnknown,
        JobState.OUTCOME_UNKNOWN,
        task=UNKNOWN,
        client={"upload_read_timeout": 0.5},
    ),
    FaultCase("hang-poll", named_faults("hang-poll"), client={"poll_read_timeout": 0.5}),
    # -- expire_url: the storage host refuses the result link --------------------------------
    # A refused link of a young task says nothing about the task: a later poll gives a
    # fresh link, so the job stays resumable.
    FaultCase(
        "expire_url-403",
        named_faults("expire_url-403"),
        ResultUnavailable,
        JobState.SUBMITTED,
        http_status=403,
    ),
    FaultCase(
        "expire_url-404",
        named_faults("expire_url-404"),
        ResultUnavailable,
        JobState.SUBMITTED,
        http_status=404,
    ),
    # -- slow: within the read timeout it is just slow; beyond it, a resumable failure ------
    FaultCase("slow-download", named_faults("slow-download")),
    FaultCase(
        "slow-download-beyond-timeout",
        named_faults("slow-download-beyond-timeout"),
        NetworkError,
        JobState.SUBMITTED,
        client={"download_read_timeout": 0.3},
        retry={"attempts": 2},
    ),
    FaultCase("slow-submit", named_faults("slow-submit")),
]


# Faults that outlast exactly the first run's retries (then the service has recovered).
RESUMABLE = [
    FaultCase(
        "gateway_html-poll",
        (Fault("poll", "gateway_html", times=3),),
        ServiceUnavailable,
        JobState.SUBMITTED,
        retry={"attempts": 3},
    ),
    FaultCase(
        "error-poll-500",
        (Fault("poll", "error", code="SERVICE_INTERNAL_ERROR", times=3),),
        ServiceUnavailable,
        JobState.SUBMITTED,
        retry={"attempts": 3},
    ),
    FaultCase(
        "drop_connection-download",
        (Fault("download", "drop_connection", times=2),),
        NetworkError,
        JobState.SUBMITTED,
        retry={"attempts": 2},
    ),
    FaultCase(
        "slow-download",
        (Fault("download", "slow", delay=30, times=2),),
        NetworkError,
        JobState.SUBMITTED,
        retry={"attempts": 2},
        client={"download_read_timeout": 0.3},
    ),
    FaultCase(
        "rate_limit-poll",
        (Fault("poll", "rate_limit", retry_after=0.01, times=3),),
        RateLimited,
        JobState.SUBMITTED,
        retry={"attempts": 3},
    ),
    FaultCase(
        "error-poll-401-key",
        (Fault("poll", "error", code="ERROR_USER_NOT_EXISTS"),),
        AuthError,
        JobState.SUBMITTED,
    ),
    FaultCase(
        "expire_url", (Fault("download", "expire_url"),), ResultUnavailable, JobState.SUBMITTED
    ),
]


def posts(srv: SandboxServer) -> int:
    return len([r for r in srv.requests if r[0] == "POST"])


def part_files(*roots: Path) -> list[Path]:
    """Every partial file (``*.part``) under ``roots``."""
    found: list[Path] = []
    for root in roots:
        if root.exists():
            found += [p for p in root.rglob("*") if p.name.endswith(".part")]
    return found


def check_task_bookkeeping(
    case: FaultCase, srv: SandboxServer, task_ids: set[str | None], final_state: JobState
) -> None:
    """The sandbox's tasks versus the ids the store holds, per ``case.task``."""
    created = set(srv.tasks)
    assert srv.submissions <= 1 and len(created) <= 1, "more than one task for one job"
    assert posts(srv) == case.posts, srv.requests
    if case.error is None or case.task == RECORDED:
        assert len(created) == 1
        assert created <= task_ids, (created, task_ids)  # every created task is recorded
    elif case.task == NO_TASK:
        assert not created and task_ids == {None}
    else:  # UNKNOWN: the upload may have created a task whose id never came back
        assert final_state is JobState.OUTCOME_UNKNOWN and task_ids == {None}
