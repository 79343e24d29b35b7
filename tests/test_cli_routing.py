"""``refiner-cli resume`` and ``resume --all`` poll each job at the service it was sent to:
a job of another sandbox is fetched from that sandbox (never with the user's key), one of
a stopped sandbox is settled, one of the real service is never sent to a sandbox."""

from __future__ import annotations

import io
import json

from refiner_gui import cli
from refiner_gui.api import RefinerClient
from refiner_gui.jobs import JobState, JobStore, job_inputs
from refiner_gui.jobs.routing import SANDBOX_KEY
from refiner_gui.sandbox import SandboxServer
from tests.helpers.fast import fast_retry
from tests.helpers.jobs import slot_files

KEY = "cli-routing-key-0123456789"
REAL = "https://www.ailabapi.com"


def run(argv):
    out, err = io.StringIO(), io.StringIO()
    rc = cli.run(argv, stdout=out, stderr=err, retry=fast_retry())
    return rc, out.getvalue(), err.getvalue()


def args_for(srv: SandboxServer) -> list[str]:
    return ["--base-url", srv.base_url, "--api-key", KEY, "--poll-interval", "0.05"]


def stored_submitted(images, url: str, task_id: str | None = None) -> int:
    """A SUBMITTED job sent to ``url`` (really submitted there unless ``task_id``)."""
    store = JobStore.open_default()
    try:
        job = store.create_job(slot_files(images), "woman", hold=False)
        store.mark_submitting(job.id, url)
        if task_id is None:
            client = RefinerClient(SANDBOX_KEY, url, retry=fast_retry())
            try:
                task_id = client.submit(job_inputs(job)).task_id
            finally:
                client.close()
        store.mark_submitted(job.id, task_id)
        return job.id
    finally:
        store.close()


def state_of(job_id: int) -> JobState:
    store = JobStore.open_default()
    try:
        return store.get(job_id).state
    finally:
        store.close()


def test_resume_all_fetches_each_job_from_its_own_sandbox(job_images):
    with (
        SandboxServer(latency=0.0, api_keys={SANDBOX_KEY}) as own,
        SandboxServer(latency=0.0) as current,
    ):
        job_id = stored_submitted(job_images, own.base_url)
        rc, stdout, stderr = run(["resume", "--all", "--json", *args_for(current)])
        assert rc == 0, stderr
        [item] = json.loads(stdout)["jobs"]
        assert item["job_id"] == job_id and item["state"] == "succeeded"
        assert current.requests == []  # neither the task id nor the key went there


def test_resume_all_settles_a_job_of_a_stopped_sandbox_and_leaves_a_real_one(sandbox, job_images):
    with SandboxServer(latency=0.0) as gone:
        sandbox_job = stored_submitted(job_images, gone.base_url)
    real_job = stored_submitted(job_images, REAL, task_id="real-task-7")
    rc, stdout, stderr = run(["resume", "--all", "--json", *args_for(sandbox)])
    items = {i["job_id"]: i for i in json.loads(stdout)["jobs"]}
    assert items[sandbox_job]["state"] == "expired"
    assert "no longer running" in items[sandbox_job]["error"]
    assert items[real_job]["state"] == "submitted" and REAL in items[real_job]["error"]
    assert state_of(real_job) is JobState.SUBMITTED  # still fetchable from its service
    assert sandbox.requests == []  # the real task id never went to the sandbox
    assert rc != 0 and KEY not in stdout + stderr


def test_resume_task_id_of_another_service_sends_nothing(sandbox, job_images):
    real_job = stored_submitted(job_images, REAL, task_id="real-task-8")
    rc, stdout, stderr = run(["resume", "real-task-8", "--json", *args_for(sandbox)])
    assert rc != 0 and REAL in stderr
    assert json.loads(stdout)["job_id"] == real_job
    assert sandbox.requests == [] and state_of(real_job) is JobState.SUBMITTED
