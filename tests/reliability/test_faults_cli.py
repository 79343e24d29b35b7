"""Every sandbox fault through ``refiner-cli refine`` in-process (fast retries).

Per fault: the exit code family, the JSON ``error.code`` and ids, the ``task_id`` when a
task existed, the job as ``refiner-cli jobs --json`` lists it, no partial output file and
no traceback. Every vendor code on submit is already run by tests/test_error_table.py, so
the rows of that kind are left out here. When the CLI says "continue with: refiner-cli
resume <task>", that advice is followed and must finish the job without a second task.
"""

from __future__ import annotations

import io
import json

import pytest

from refiner_gui import cli
from refiner_gui.jobs import JobState
from tests.helpers.fast import fast_retry
from tests.helpers.fault_cases import (
    CASES,
    NO_TASK,
    RECORDED,
    RESUMABLE,
    FaultCase,
    check_task_bookkeeping,
    part_files,
)

KEY = "cli-reliability-key-4242"
CLI_CASES = [c for c in CASES if not c.submit_code]


def run(argv, **retry):
    out, err = io.StringIO(), io.StringIO()
    rc = cli.run(argv, stdout=out, stderr=err, retry=fast_retry(**retry))
    return rc, out.getvalue(), err.getvalue()


def common(srv) -> list[str]:
    return ["--base-url", srv.base_url, "--api-key", KEY, "--poll-interval", "0.02", "--json"]


def refine_argv(srv, imgs, out) -> list[str]:
    return [
        "refine",
        "--person",
        str(imgs["person"]),
        "--top",
        str(imgs["top"]),
        "--coarse",
        str(imgs["coarse"]),
        "--gender",
        "man",
        "--out",
        str(out),
        *common(srv),
    ]


def short_timeouts(monkeypatch, **kw) -> None:
    """The CLI has no flags for the read timeouts: tune the client class it builds."""
    if not kw:
        return
    base = cli.RefinerClient

    class Tuned(base):  # type: ignore[misc, valid-type]
        def __init__(self, *a, **k):
            super().__init__(*a, **{**k, **kw})

    monkeypatch.setattr(cli, "RefinerClient", Tuned)


def listed_jobs() -> list[dict]:
    rc, stdout, stderr = run(["jobs", "--json"])
    assert rc == 0, stderr
    return json.loads(stdout)["jobs"]


@pytest.mark.parametrize("case", [c.param() for c in CLI_CASES])
def test_fault_through_the_cli(
    sandbox, job_images, tmp_path, isolated_home, monkeypatch, case: FaultCase
):
    for fault in case.faults:
        sandbox.inject(fault)
    short_timeouts(monkeypatch, **case.client)
    out = tmp_path / "out" / "refined.png"
    out.parent.mkdir()
    rc, stdout, stderr = run(refine_argv(sandbox, job_images, out), **case.retry)

    assert "Traceback" not in stderr and KEY not in stdout + stderr
    payload = json.loads(stdout)  # exactly one JSON object on stdout
    [job] = listed_jobs()
    assert job["job_id"] == payload["job_id"]
    if case.error is None:
        assert rc == cli.EXIT_OK, stderr
        assert payload["status"] == "done" and payload["error"] is None
        assert out.is_file() and payload["output"] == str(out)
        assert job["state"] == JobState.SUCCEEDED.value
    else:
        assert rc == cli.exit_code_for(case.error()), stderr
        error = payload["error"]
        assert error["type"] == case.error.__name__ and error["code"] == case.code
        if case.http_status is not None:
            assert error["http_status"] == case.http_status
        if case.ids:
            assert payload["request_id"] and payload["log_id"]
            assert payload["request_id"] in stderr and payload["log_id"] in stderr
        if case.code:
            assert case.code in stderr
        assert job["state"] == case.state.value, job
        assert list(out.parent.iterdir()) == []  # no output file, whole or partial
    tasks = list(sandbox.tasks)
    if case.task == RECORDED:
        assert payload["task_id"] == job["task_id"] == tasks[0]
        assert tasks[0] in stderr  # printed as soon as it was known
    elif case.task == NO_TASK or case.error is not None:
        assert payload["task_id"] is None and job["task_id"] is None
    check_task_bookkeeping(case, sandbox, {job["task_id"]}, JobState(job["state"]))
    assert not part_files(isolated_home, tmp_path)


@pytest.mark.parametrize("case", [c.param() for c in RESUMABLE])
def test_resume_of_a_resumable_failure_finishes_the_task(
    sandbox, job_images, tmp_path, monkeypatch, case: FaultCase
):
    for fault in case.faults:
        sandbox.inject(fault)
    short_timeouts(monkeypatch, **case.client)
    rc, stdout, stderr = run(refine_argv(sandbox, job_images, tmp_path / "a.png"), **case.retry)
    assert rc == cli.exit_code_for(case.error()), stderr
    task_id = json.loads(stdout)["task_id"]
    assert task_id and task_id in stderr
    [job] = listed_jobs()
    assert job["state"] == JobState.SUBMITTED.value
    assert not sandbox.pending_faults  # the service has recovered

    out = tmp_path / "resumed.png"
    rc, stdout, stderr = run(["resume", task_id, "--out", str(out), *common(sandbox)])
    assert rc == cli.EXIT_OK, stderr
    assert out.is_file() and json.loads(stdout)["task_id"] == task_id
    assert sandbox.submissions == 1 and len(sandbox.tasks) == 1
    [job] = listed_jobs()
    assert job["state"] == JobState.SUCCEEDED.value and job["task_id"] == task_id


def _hint_params():
    # Every failure that leaves the job SUBMITTED (its task goes on at the service), among
    # them a refused key/account or result link while polling.
    for c in CLI_CASES:
        if c.error is not None and c.state is JobState.SUBMITTED:
            yield pytest.param(c, id=c.id)


@pytest.mark.parametrize("case", list(_hint_params()))
def test_a_resumable_failure_says_how_to_resume(
    sandbox, job_images, tmp_path, monkeypatch, case: FaultCase
):
    for fault in case.faults:
        sandbox.inject(fault)
    short_timeouts(monkeypatch, **case.client)
    rc, stdout, stderr = run(refine_argv(sandbox, job_images, tmp_path / "a.png"), **case.retry)
    task_id = json.loads(stdout)["task_id"]
    assert listed_jobs()[0]["state"] == JobState.SUBMITTED.value
    assert f"refiner-cli resume {task_id}" in stderr, stderr
    assert "Submit the job again" not in stderr  # that would bill a second time
