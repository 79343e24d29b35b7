"""Crash safety of two-stage jobs (coarse image, then refinement) with a real SIGKILL.

A child ``refiner-cli refine --generate-coarse`` is killed inside its first stage (while
the try-on task is polled; while its coarse image downloads), then a new ``refiner-cli
resume --all`` process finishes the job at the right stage: one upload per stage, counted
by the sandbox, never the try-on again.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from refiner_gui.jobs import JobState
from refiner_gui.sandbox import Fault, SandboxServer
from tests.test_crash_safety import (
    POLL_PATH,
    RESULTS_PREFIX,
    all_jobs,
    child,
    cli_argv,
    results_dir,
    seen,
    sigkill,
    start_again,
    wait_until,
)

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")


def generate_argv(srv: SandboxServer, images: dict[str, Path], model: str) -> list[str]:
    return cli_argv(
        srv,
        "refine",
        "--generate-coarse",
        "--model",
        model,
        "--person",
        str(images["person"]),
        "--top",
        str(images["top"]),
        "--gender",
        "woman",
    )


def settled_once_per_stage(srv: SandboxServer, model: str, first_task: str | None) -> None:
    [done] = all_jobs()
    assert done.state is JobState.SUCCEEDED, (done.state, done.error)
    assert done.tryon is not None and done.tryon.task_id == first_task
    assert done.task_id and done.result_path is not None and done.result_path.is_file()
    assert srv.submissions_by_kind == {model: 1, "refiner": 1}  # one upload per stage
    assert set(srv.tasks) == {first_task, done.task_id}  # every task is in the store
    assert list(results_dir().glob("*.part")) == []


@pytest.mark.parametrize("model", ["pro", "premium"])
def test_killed_while_the_try_on_is_polled_resumes_at_the_first_stage(job_images, tmp_path, model):
    with SandboxServer(latency=0.6) as srv:  # Pro 1.2 s, Premium 2.4 s
        with child(generate_argv(srv, job_images, model), tmp_path / "child.log") as proc:
            wait_until(lambda: seen(srv, "GET", POLL_PATH) >= 1, "the first poll", proc)
            [job] = all_jobs()
            # The try-on's task id was committed before its first poll.
            assert job.state is JobState.SUBMITTED and job.stage == "tryon"
            assert job.tryon.task_id in srv.tasks and job.task_id is None
            sigkill(proc)
        assert srv.submissions_by_kind == {model: 1}
        payload = start_again(srv, tmp_path)
        assert payload["jobs"][0]["state"] == "succeeded"
        settled_once_per_stage(srv, model, job.tryon.task_id)


def test_killed_while_the_coarse_image_downloads_resumes_without_paying_again(job_images, tmp_path):
    with SandboxServer() as srv:
        srv.inject(Fault("download", "slow", delay=30))  # the first download: the coarse
        with child(generate_argv(srv, job_images, "pro"), tmp_path / "child.log") as proc:
            wait_until(lambda: seen(srv, "GET", RESULTS_PREFIX) >= 1, "the download", proc)
            [job] = all_jobs()
            assert job.state is JobState.SUBMITTED and job.stage == "tryon"
            sigkill(proc)
        assert list(results_dir().glob("*.part"))  # the killed download's temp file
        start_again(srv, tmp_path)
        settled_once_per_stage(srv, "pro", job.tryon.task_id)


def test_killed_during_the_try_on_upload_is_never_sent_again(job_images, tmp_path):
    with SandboxServer() as srv:
        srv.inject(Fault("tryon", "hang"))
        with child(generate_argv(srv, job_images, "pro"), tmp_path / "child.log") as proc:
            wait_until(lambda: srv.submissions == 1, "the upload to arrive", proc)
            [job] = all_jobs()
            assert job.state is JobState.SUBMITTING and job.stage == "tryon"
            sigkill(proc)
        payload = start_again(srv, tmp_path)
        [job] = all_jobs()
        assert job.state is JobState.OUTCOME_UNKNOWN and "NOT sent again" in job.error_message
        assert job.error_message.startswith("Generating the coarse image failed: ")
        assert payload["jobs"][0]["state"] == "outcome_unknown"
        assert srv.submissions_by_kind == {"pro": 1}


def test_killed_once_the_coarse_image_is_stored_resumes_at_the_refinement(job_images, tmp_path):
    # Past the first stage: the coarse image is stored and the refinement is being polled.
    # The restart finishes the refinement; neither stage is paid twice.
    with SandboxServer(latency=0.6) as srv:
        with child(generate_argv(srv, job_images, "pro"), tmp_path / "child.log") as proc:
            wait_until(
                lambda: srv.submissions_by_kind.get("refiner", 0) == 1, "the refinement", proc
            )
            wait_until(lambda: all_jobs()[0].task_id is not None, "its task id stored", proc)
            [job] = all_jobs()
            assert job.stage == "refine" and job.tryon_done
            assert job.input_path("coarse_image") is not None  # the generated coarse, kept
            sigkill(proc)
        assert srv.submissions_by_kind == {"pro": 1, "refiner": 1}
        payload = start_again(srv, tmp_path)
        assert payload["jobs"][0]["state"] == "succeeded"
        settled_once_per_stage(srv, "pro", job.tryon.task_id)
