"""Crash safety with real processes and a real SIGKILL.

A child ``python -m refiner_gui.cli refine`` runs against a sandbox in this (the test)
process, sharing ``REFINER_GUI_HOME`` with it; the test kills the child with SIGKILL at a
chosen moment (during the upload, the polling, the download; or at staggered moments
across several concurrent children), then "starts again" with a new
``refiner-cli resume --all`` process. Afterwards every job must be settled and explained,
no task the service created may be missing from the store, nothing may be submitted
twice, and no partial file may remain.

Moments are detected from ``srv.requests`` / ``srv.submissions`` (what the sandbox has
seen), with bounded polling loops; children are always killed and reaped in ``finally``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from refiner_gui.jobs import JobState, JobStore
from refiner_gui.sandbox import Fault, SandboxServer

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")

KEY = "crash-test-key-0123456789"
POLL_PATH = "/api/common/query-async-task-result"
RESULTS_PREFIX = "/sandbox/results/"
REPO = Path(__file__).resolve().parents[1]


def child_env() -> dict[str, str]:
    """This process's environment (with the test's REFINER_GUI_HOME) plus the key."""
    env = {**os.environ, "AILABAPI_API_KEY": KEY, "PYTHONUNBUFFERED": "1"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def cli_argv(srv: SandboxServer, *args: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "refiner_gui.cli",
        *args,
        "--base-url",
        srv.base_url,
        "--poll-interval",
        "0.05",
        "--json",
    ]


def refine_argv(srv: SandboxServer, images: dict[str, Path]) -> list[str]:
    return cli_argv(
        srv,
        "refine",
        "--person",
        str(images["person"]),
        "--top",
        str(images["top"]),
        "--coarse",
        str(images["coarse"]),
        "--gender",
        "woman",
    )


@contextmanager
def child(argv: list[str], log: Path) -> Iterator[subprocess.Popen]:
    """Start ``argv``; on the way out kill it (if still running) and reap it, always."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            argv,
            env=child_env(),
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(10)


def wait_until(
    cond: Callable[[], bool], what: str, proc: subprocess.Popen | None = None, timeout: float = 10.0
) -> None:
    """Poll ``cond`` every 20 ms; fail after ``timeout`` s or if ``proc`` ended first."""
    tick = threading.Event()  # never set: wait() is an interruptible 20 ms sleep
    deadline = time.monotonic() + timeout
    while not cond():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the child exited ({proc.returncode}) before {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        tick.wait(0.02)


def sigkill(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(10) == -signal.SIGKILL


def sigkill_if_running(proc: subprocess.Popen) -> None:
    """SIGKILL unless the child ends first: between poll() and kill() a child may finish
    on its own (it is then a zombie, and the kill does nothing)."""
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    code = proc.wait(10)
    assert code == -signal.SIGKILL or code >= 0, code


def seen(srv: SandboxServer, method: str, prefix: str) -> int:
    return len([1 for m, p in srv.requests if m == method and p.startswith(prefix)])


def start_again(srv: SandboxServer, tmp_path: Path) -> dict:
    """Run ``refiner-cli resume --all`` as a new process; return its JSON."""
    proc = subprocess.run(
        cli_argv(srv, "resume", "--all"),
        env=child_env(),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    (tmp_path / "resume.log").write_text(proc.stderr)
    assert proc.returncode in (0, 3, 4), proc.stderr
    payload = json.loads(proc.stdout)
    assert KEY not in proc.stdout + proc.stderr
    return payload


def all_jobs() -> list:
    store = JobStore.open_default()
    try:
        return store.list_jobs(descending=False)
    finally:
        store.close()


def check_settled(srv: SandboxServer, refine_runs: int) -> list:
    """The invariants after a crash and a restart; returns the jobs."""
    jobs = all_jobs()
    assert srv.submissions <= refine_runs, "a job was submitted twice"
    for job in jobs:
        assert job.state in (
            JobState.SUCCEEDED,
            JobState.OUTCOME_UNKNOWN,
            JobState.FAILED,
            JobState.CANCELLED,
        ), (job.id, job.state, job.error)
        if job.state is JobState.SUCCEEDED:
            assert job.result_path is not None and job.result_path.is_file()
        else:
            assert job.error_message, (job.id, job.state)
    # Never lost: every task the service created is in the store under its id, or a job
    # says plainly that an upload's outcome is unknown.
    tracked = {j.task_id for j in jobs if j.task_id}
    untracked = [t for t in srv.tasks if t not in tracked]
    unknown = [j for j in jobs if j.state is JobState.OUTCOME_UNKNOWN]
    assert len(untracked) <= len(unknown), (untracked, [j.id for j in unknown])
    assert list(results_dir().glob("*.part")) == []
    return jobs


def results_dir() -> Path:
    store = JobStore.open_default()
    store.close()
    return store.results_dir


def test_killed_during_upload_becomes_outcome_unknown(job_images, tmp_path):
    with SandboxServer() as srv:
        # The service takes the upload (creates the task) and never answers.
        srv.inject(Fault("submit", "hang"))
        with child(refine_argv(srv, job_images), tmp_path / "child.log") as proc:
            wait_until(lambda: srv.submissions == 1, "the upload to arrive", proc)
            [job] = all_jobs()
            assert job.state is JobState.SUBMITTING  # committed before the first byte
            sigkill(proc)
        payload = start_again(srv, tmp_path)
        [job] = check_settled(srv, refine_runs=1)
        assert job.state is JobState.OUTCOME_UNKNOWN and "NOT sent again" in job.error_message
        assert payload["jobs"][0]["state"] == "outcome_unknown"
        assert seen(srv, "POST", "/") == 1  # the restart uploaded nothing


def test_killed_while_polling_resumes_to_success(job_images, tmp_path):
    with SandboxServer(latency=1.5) as srv:
        with child(refine_argv(srv, job_images), tmp_path / "child.log") as proc:
            wait_until(lambda: seen(srv, "GET", POLL_PATH) >= 1, "the first poll", proc)
            [job] = all_jobs()
            # The task id was committed before the first poll.
            assert job.state is JobState.SUBMITTED and job.task_id in srv.tasks
            sigkill(proc)
        payload = start_again(srv, tmp_path)
        [done] = check_settled(srv, refine_runs=1)
        assert done.state is JobState.SUCCEEDED and done.task_id == job.task_id
        assert payload["jobs"][0]["state"] == "succeeded"
        assert os.path.isfile(payload["jobs"][0]["output"])
        assert srv.submissions == 1


def test_killed_during_download_resumes_and_leaves_no_partial_file(job_images, tmp_path):
    with SandboxServer() as srv:
        srv.inject(Fault("download", "slow", delay=30))  # stop() cuts it short
        with child(refine_argv(srv, job_images), tmp_path / "child.log") as proc:
            wait_until(lambda: seen(srv, "GET", RESULTS_PREFIX) >= 1, "the download", proc)
            [job] = all_jobs()
            assert job.state is JobState.SUBMITTED
            sigkill(proc)
        # The killed download left its temp file beside the final name.
        assert list(results_dir().glob("*.part"))
        start_again(srv, tmp_path)
        [done] = check_settled(srv, refine_runs=1)
        assert done.state is JobState.SUCCEEDED and srv.submissions == 1
        assert seen(srv, "GET", RESULTS_PREFIX) == 2


def test_several_children_killed_at_staggered_moments(job_images, tmp_path):
    """Four concurrent children share one store; each dies at a different moment."""
    runs = 4
    with SandboxServer(latency=0.8) as srv:
        srv.inject(Fault("submit", "slow", delay=0.6, times=2))
        procs: list[subprocess.Popen] = []
        try:
            with (
                child(refine_argv(srv, job_images), tmp_path / "c0.log") as p0,
                child(refine_argv(srv, job_images), tmp_path / "c1.log") as p1,
                child(refine_argv(srv, job_images), tmp_path / "c2.log") as p2,
                child(refine_argv(srv, job_images), tmp_path / "c3.log") as p3,
            ):
                procs = [p0, p1, p2, p3]
                tick = threading.Event()
                start = time.monotonic()
                # Staggered: early (maybe before the job exists), mid-upload, waiting...
                for proc, at in zip(procs, (0.25, 0.9, 1.3, 1.8), strict=True):
                    tick.wait(max(0.0, start + at - time.monotonic()))
                    sigkill_if_running(proc)
        finally:
            for proc in procs:
                assert proc.poll() is not None  # reaped by child()
        start_again(srv, tmp_path)
        jobs = check_settled(srv, refine_runs=runs)
        assert len(jobs) <= runs
        # A second start finds nothing left to do and sends nothing.
        before = len(srv.requests)
        again = start_again(srv, tmp_path)
        assert again["jobs"] == [] and len(srv.requests) == before
