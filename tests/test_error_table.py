"""Every row of the vendor's error table, over real HTTP: typed error, exit code, nothing lost.

Each code is injected into the sandbox's submit answer and, for content codes, into the
task's poll. The command line must exit with the family's code, name the vendor code and
ids in its JSON, leave no output file behind, and report the task id when there was one.
"""

from __future__ import annotations

import io
import json

import pytest

from refiner_gui import cli
from refiner_gui.api import (
    AuthError,
    BadRequest,
    CreditsError,
    InputRejected,
    RateLimited,
    ServiceUnavailable,
    TaskFailed,
    TaskNotFound,
    classify,
)
from refiner_gui.api.codes import error_table
from refiner_gui.sandbox import Fault
from tests.helpers.fast import fast_retry

ALL_CODES = sorted(error_table())

# The contract's family table, by code (section 4).
FAMILY = {
    "ERROR_PARAMETERS": BadRequest,
    "MISSING_PARAMETERS": BadRequest,
    "ERROR_INVALID_PARAMETER": BadRequest,
    "ERROR_USER_NOT_EXISTS": AuthError,
    "ERROR_APPLICATIONS_NOT_EXISTS": AuthError,
    "ERROR_USER_LOCKED": AuthError,
    "ERROR_RESOURCE_NOT_FOUND": TaskNotFound,
    "ERROR_TASK_REVOKED": TaskNotFound,
    "ERROR_RESOURCE_RECLAIMED": TaskNotFound,
    "FILE_SIZE_EXCEEDS_LIMIT": InputRejected,
    "FILE_RESOLUTION_EXCEEDS_LIMITS": InputRejected,
    "UNSUPPORTED_FILE_TYPES": InputRejected,
    "ERROR_NO_FACE_IN_FILE": InputRejected,
    "ERROR_POSE_NOT_ENOUGH_KEYPOINTS": InputRejected,
    "ERROR_FACE_COUNT_INVALID": InputRejected,
    "FILE_DECODING_FAILURE": InputRejected,
    "ERROR_CONTENT_NON_COMPLIANCE": InputRejected,
    "ERROR_NOT_ENOUGH_CREDITS": CreditsError,
    "EXCEEDING_LIMITS": RateLimited,
    "PROCESSING_FAILURE": ServiceUnavailable,
    "UNKNOWN_ERROR": ServiceUnavailable,
    "SERVICE_INTERNAL_ERROR": ServiceUnavailable,
    "AI_SERVICE_ERROR": ServiceUnavailable,
    "AI_SERVICE_FLOW_RESTRICTION": ServiceUnavailable,
    "ERROR_INSUFFICIENT_RESOURCES": ServiceUnavailable,
    "AI_SERVICE_TIMEOUT": ServiceUnavailable,
    "ERROR_TASK_STOPPED_PROCESSING": TaskFailed,
}


@pytest.mark.parametrize("code", sorted(FAMILY))
def test_contract_families(code):
    row = error_table()[code]
    for status in {row.http_status, row.previous_http_status or row.http_status}:
        err = classify(status, code, "msg", request_id="r", log_id="l")
        assert isinstance(err, FAMILY[code]), (code, status)
        assert err.request_id == "r" and err.log_id == "l" and err.code == code


@pytest.mark.parametrize("code", ALL_CODES)
def test_every_code_is_typed_whatever_its_status(code):
    row = error_table()[code]
    kinds = {
        type(classify(s, code, "m"))
        for s in {row.http_status, row.previous_http_status or row.http_status, 200}
    }
    # Decided by the code first: the status move of 2026-01-08 does not change the type.
    assert len(kinds) == 1, (code, kinds)


def expected_exit(code: str) -> int:
    err = classify(error_table()[code].http_status, code, "m")
    return cli.exit_code_for(err)


def run_cli(argv):
    out, err = io.StringIO(), io.StringIO()
    rc = cli.run(argv, stdout=out, stderr=err, retry=fast_retry())
    return rc, out.getvalue(), err.getvalue()


def refine_argv(sandbox, imgs, out):
    return [
        "refine",
        "--person",
        str(imgs["person"]),
        "--top",
        str(imgs["top"]),
        "--coarse",
        str(imgs["coarse"]),
        "--gender",
        "woman",
        "--out",
        str(out),
        "--base-url",
        sandbox.base_url,
        "--api-key",
        "k-123456",
        "--poll-interval",
        "0.05",
        "--json",
    ]


@pytest.mark.parametrize("code", ALL_CODES)
def test_every_code_on_submit_through_the_cli(sandbox, job_images, tmp_path, code):
    sandbox.inject(Fault("submit", "error", code=code, times=50))
    out = tmp_path / "out.png"
    rc, stdout, stderr = run_cli(refine_argv(sandbox, job_images, out))
    assert rc == expected_exit(code), stderr
    payload = json.loads(stdout)
    assert payload["error"]["code"] == code
    assert payload["request_id"] and payload["log_id"]
    assert not out.exists()
    assert sandbox.submissions == 0
    assert [p for p in tmp_path.iterdir()] == []  # no partial files either


CONTENT_CODES = [c for c in ALL_CODES if error_table()[c].http_status in (413, 415, 422)]


@pytest.mark.parametrize("code", CONTENT_CODES)
def test_content_codes_on_poll_keep_the_task_id(sandbox, job_images, tmp_path, code):
    sandbox.inject(Fault("submit", "poll_http_error", code=code))
    out = tmp_path / "out.png"
    rc, stdout, stderr = run_cli(refine_argv(sandbox, job_images, out))
    assert rc == cli.EXIT_REJECTED, stderr
    payload = json.loads(stdout)
    assert payload["error"]["code"] == code and payload["task_id"]
    assert payload["task_id"] in stderr
    assert not out.exists()
