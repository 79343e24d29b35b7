"""Each job records the service it was submitted to and is polled there, and nowhere else.

Against real sandboxes on loopback and a real SQLite store: a recovered or resumed job goes
to its own sandbox (with the sandbox key, never the user's), a job whose sandbox is gone is
settled without sending anything, and a job of another service is left waiting, untouched.
"""

from __future__ import annotations

from contextlib import closing

import pytest

from refiner_gui.api import RefinerClient
from refiner_gui.jobs import JobState, JobStore, job_inputs, recover, run_job
from refiner_gui.jobs.routing import SANDBOX_KEY, SandboxGone, ServiceMismatch, same_service
from refiner_gui.sandbox import SandboxServer
from tests.helpers.fast import fast_retry
from tests.helpers.jobs import slot_files

USER_KEY = "user-key-0123456789abcdef"
REAL = "https://www.ailabapi.com"


def client_at(url: str, key: str = USER_KEY) -> RefinerClient:
    interval = 5.0 if url == REAL else 0.02
    return RefinerClient(key, url, poll_interval=interval, retry=fast_retry())


@pytest.fixture
def store():
    s = JobStore.open_default()
    yield s
    s.close()


def submitted_job(store: JobStore, images, srv_url: str, key: str = SANDBOX_KEY):
    """A SUBMITTED job whose task really exists at ``srv_url`` (the app stopped after the
    upload: what recovery finds)."""
    files = slot_files(images)
    job = store.create_job(files, "woman")
    with closing(client_at(srv_url, key)) as client:
        store.mark_submitting(job.id, srv_url)
        sub = client.submit(job_inputs(job))
    return store.mark_submitted(job.id, sub.task_id)


def test_a_new_job_records_the_address_it_was_uploaded_to(store, job_images, sandbox):
    job = store.create_job(slot_files(job_images), "woman")
    assert job.base_url is None
    with closing(client_at(sandbox.base_url)) as client:
        done = run_job(store, client, job)
    assert done.state is JobState.SUCCEEDED
    assert store.get(job.id).base_url == sandbox.base_url


def test_recovery_polls_a_sandbox_job_at_its_sandbox_with_the_sandbox_key(store, job_images):
    # The job's sandbox accepts only the sandbox key: the user's key would be refused.
    with SandboxServer(latency=0.0, api_keys={SANDBOX_KEY}) as own, SandboxServer() as current:
        job = submitted_job(store, job_images, own.base_url)
        before = len(own.requests)
        jobs = recover(store, lambda: client_at(current.base_url))
        assert [j.state for j in jobs] == [JobState.SUCCEEDED]
        assert store.get(job.id).result_path.is_file()
        assert len(own.requests) > before  # polled and downloaded there
        assert current.requests == []  # its task id never went to the configured service


def test_a_sandbox_job_is_never_sent_to_the_real_service(store, job_images):
    with SandboxServer(latency=0.0) as own:
        job = submitted_job(store, job_images, own.base_url)
        url = own.base_url
    # Its sandbox is gone; the app now points at the real service (never contacted: a
    # request to it would fail in this offline test with a network error instead).
    errors: list = []
    jobs = recover(store, lambda: client_at(REAL), on_job=lambda j, e: errors.append(e))
    got = store.get(job.id)
    assert got.state is JobState.EXPIRED and [j.id for j in jobs] == [job.id]
    assert isinstance(errors[0], SandboxGone)
    assert url in got.error_message and "no longer running" in got.error_message


def test_a_real_service_job_is_left_waiting_when_the_app_points_at_a_sandbox(
    store, job_images, sandbox
):
    job = store.create_job(slot_files(job_images), "woman")
    store.mark_submitting(job.id, REAL)
    store.mark_submitted(job.id, "real-task-1")
    errors: list = []
    recover(store, lambda: client_at(sandbox.base_url), on_job=lambda j, e: errors.append(e))
    got = store.get(job.id)
    assert got.state is JobState.SUBMITTED  # still resumable at its own service
    assert isinstance(errors[0], ServiceMismatch)
    assert REAL in got.error_message and sandbox.base_url in got.error_message
    assert sandbox.requests == []  # the real task id never went to the sandbox


def test_a_resume_of_a_job_from_another_service_sends_nothing(store, job_images, sandbox):
    job = store.create_job(slot_files(job_images), "woman")
    store.mark_submitting(job.id, "https://other.example.com")
    job = store.mark_submitted(job.id, "other-task")
    with closing(client_at(sandbox.base_url)) as client, pytest.raises(ServiceMismatch):
        run_job(store, client, job)
    assert sandbox.requests == []
    assert USER_KEY not in store.get(job.id).error_message


def test_an_old_job_without_an_address_keeps_using_the_settings(store, job_images, sandbox):
    files = slot_files(job_images)
    job = store.create_job(files, "woman")
    with closing(client_at(sandbox.base_url)) as client:
        store.mark_submitting(job.id)  # as before schema 4: no address recorded
        sub = client.submit(job_inputs(job))
        store.mark_submitted(job.id, sub.task_id)
    assert store.get(job.id).base_url is None
    jobs = recover(store, lambda: client_at(sandbox.base_url))
    assert [j.state for j in jobs] == [JobState.SUCCEEDED]


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("https://www.ailabapi.com", "https://WWW.ailabapi.com/", True),
        ("https://www.ailabapi.com", "https://www.ailabapi.com:443", True),
        ("http://127.0.0.1:8765", "http://127.0.0.1:8766", False),
        ("http://127.0.0.1:8765", "https://127.0.0.1:8765", False),
    ],
)
def test_same_service(a, b, same):
    assert same_service(a, b) is same
