"""Each job records the service it was submitted to and is polled there, and nowhere else.

Against real sandboxes on loopback and a real SQLite store: a recovered or resumed job goes
to its own sandbox (with the sandbox key, never the user's), a job whose sandbox is gone is
settled without sending anything, and a job of another service is left waiting, untouched.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing

import pytest

from refiner_gui.api import RefinerClient
from refiner_gui.jobs import JobState, JobStore, job_inputs, recover, run_job
from refiner_gui.jobs.routing import SANDBOX_KEY, SandboxGone, ServiceMismatch, same_service
from refiner_gui.sandbox import SandboxServer
from refiner_gui.slots import COARSE
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


def tryon_uploaded(store: JobStore, images, client: RefinerClient):
    """A two-stage job whose try-on was uploaded by ``client`` (the app stopped before its
    first poll: what recovery finds), through the runner's own first step."""
    from refiner_gui.api.models import ProgressEvent, Stage

    class Stopped(BaseException):
        """The process dies once the try-on's task id is committed."""

    files = {k: v for k, v in slot_files(images).items() if k != COARSE}
    job = store.create_job(files, "woman", kind="tryon_refine", tryon_model="pro")

    def die(event: ProgressEvent) -> None:
        if event.step == "tryon" and event.stage is Stage.QUEUED:
            raise Stopped

    with pytest.raises(Stopped):
        run_job(store, client, job, on_event=die)
    return store.get(job.id)


def test_a_try_on_upload_records_its_address_and_is_polled_only_there(store, job_images):
    with SandboxServer(latency=0.0, api_keys={SANDBOX_KEY}) as own, SandboxServer() as current:
        with closing(client_at(own.base_url, SANDBOX_KEY)) as first:
            job = tryon_uploaded(store, job_images, first)
        assert job.state is JobState.SUBMITTED and job.tryon.task_id
        assert job.base_url == own.base_url
        jobs = recover(store, lambda: client_at(current.base_url))
        assert [j.state for j in jobs] == [JobState.SUCCEEDED]
        # Both stages at the service that got the try-on; nothing at the configured one.
        assert own.submissions_by_kind == {"pro": 1, "refiner": 1}
        assert current.requests == []


def test_a_try_on_from_a_gone_sandbox_is_settled_without_sending_anything(store, job_images):
    with SandboxServer(latency=0.0) as own:
        with closing(client_at(own.base_url)) as first:
            job = tryon_uploaded(store, job_images, first)
        url = own.base_url
    with SandboxServer() as current:
        errors: list = []
        recover(store, lambda: client_at(current.base_url), on_job=lambda j, e: errors.append(e))
        assert current.requests == []
    got = store.get(job.id)
    assert got.state is JobState.EXPIRED and isinstance(errors[0], SandboxGone)
    assert url in got.error_message and "coarse image" in got.error_message


def test_a_try_on_at_another_service_is_left_waiting(store, job_images, sandbox):
    files = {k: v for k, v in slot_files(job_images).items() if k != COARSE}
    job = store.create_job(files, "woman", kind="tryon_refine", tryon_model="pro")
    store.mark_tryon_submitting(job.id, REAL)
    store.mark_tryon_submitted(job.id, "real-tryon-task")
    store.release(job.id)
    errors: list = []
    recover(store, lambda: client_at(sandbox.base_url), on_job=lambda j, e: errors.append(e))
    got = store.get(job.id)
    assert got.state is JobState.SUBMITTED and isinstance(errors[0], ServiceMismatch)
    assert REAL in got.error_message and sandbox.base_url in got.error_message
    assert sandbox.requests == []


def between_the_stages(store: JobStore, images, srv: SandboxServer):
    """A two-stage job stopped after its coarse image was stored, its refinement unsent."""
    from refiner_gui.api.models import ProgressEvent, Stage

    class Stopped(BaseException):
        """The process dies between the stages."""

    files = {k: v for k, v in slot_files(images).items() if k != COARSE}
    job = store.create_job(files, "woman", kind="tryon_refine", tryon_model="pro")

    def die(event: ProgressEvent) -> None:
        if event.step == "tryon" and event.stage is Stage.DONE:
            raise Stopped

    with closing(client_at(srv.base_url)) as client, pytest.raises(Stopped):
        run_job(store, client, job, on_event=die)
    got = store.get(job.id)
    assert got.state is JobState.PENDING and got.tryon_done
    return got


def test_a_demo_coarse_image_is_never_refined_by_the_real_service(store, job_images):
    with SandboxServer(latency=0.0) as demo:
        job = between_the_stages(store, job_images, demo)
        url = demo.base_url
    errors: list = []
    # The real service is never contacted: this offline test would fail with a network
    # error instead of SandboxGone.
    jobs = recover(store, lambda: client_at(REAL), on_job=lambda j, e: errors.append(e))
    got = store.get(job.id)
    assert [j.id for j in jobs] == [job.id] and isinstance(errors[0], SandboxGone)
    assert got.state is JobState.EXPIRED
    assert url in got.error_message and "refinement was not sent" in got.error_message
    assert got.input_path(COARSE) is not None  # the coarse image is kept


def test_a_refinement_is_not_sent_to_another_service_than_the_coarse_images(store, job_images):
    with SandboxServer(latency=0.0) as own, SandboxServer() as current:
        job = between_the_stages(store, job_images, own)
        # As if the coarse image had come from the real service (an earlier session).
        with closing(sqlite3.connect(store.path)) as db, db:
            db.execute("UPDATE jobs SET base_url = ? WHERE id = ?", (REAL, job.id))
        errors: list = []
        recover(store, lambda: client_at(current.base_url), on_job=lambda j, e: errors.append(e))
        assert current.requests == []
    got = store.get(job.id)
    assert got.state is JobState.PENDING and got.tryon_done  # refined once pointed back
    assert isinstance(errors[0], ServiceMismatch)
    assert REAL in got.error_message and "refinement was not sent" in got.error_message


def test_a_refinement_goes_to_the_sandbox_that_made_the_coarse_image(store, job_images):
    with SandboxServer(latency=0.0, api_keys={SANDBOX_KEY, USER_KEY}) as own:
        job = between_the_stages(store, job_images, own)
        with SandboxServer() as current:
            jobs = recover(store, lambda: client_at(current.base_url))
            assert current.requests == []
        assert [j.state for j in jobs] == [JobState.SUCCEEDED] and jobs[0].id == job.id
        assert own.submissions_by_kind == {"pro": 1, "refiner": 1}
