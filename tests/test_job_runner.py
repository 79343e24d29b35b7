"""run_job and recover against the sandbox: every outcome lands in the right state, the
task id is committed before the first poll, and nothing is ever submitted twice."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from refiner_gui.api import (
    AuthError,
    Cancelled,
    CancelToken,
    InputRejected,
    NetworkError,
    RefinerClient,
    ResultUnavailable,
    ServiceUnavailable,
    SubmissionOutcomeUnknown,
    TaskFailed,
    TaskNotFound,
    TimedOut,
)
from refiner_gui.api.models import ProgressEvent, Stage
from refiner_gui.jobs import RESULT_TTL, JobState, JobStateError, JobStore, recover, run_job
from refiner_gui.sandbox import Fault, SandboxServer
from refiner_gui.slots import COARSE, PERSON, TOP
from tests.helpers.fast import fast_retry
from tests.helpers.images import make_image
from tests.helpers.jobs import raw, slot_files

KEY = "runner-key-0123456789"
POLL = "/api/common/query-async-task-result"


def client_for(srv: SandboxServer, **kw) -> RefinerClient:
    kw.setdefault("poll_interval", 0.02)
    kw.setdefault("retry", fast_retry())
    return RefinerClient(KEY, srv.base_url, **kw)


@pytest.fixture
def store():
    s = JobStore.open_default()
    yield s
    s.close()


@pytest.fixture
def new_job(store, job_images):
    return lambda **kw: store.create_job(slot_files(job_images, **kw), "woman")


def posts(srv: SandboxServer) -> int:
    return len([r for r in srv.requests if r[0] == "POST"])


def polls(srv: SandboxServer) -> int:
    return len([r for r in srv.requests if r[1] == POLL])


# -- the happy path ---------------------------------------------------------------------


def test_happy_path_commits_the_task_id_before_the_first_poll(store, new_job, job_images):
    job = new_job(bottom=True)
    seen_at_wait: list = []
    events: list[ProgressEvent] = []

    class Spy(RefinerClient):
        def wait(self, task_id, **kw):
            seen_at_wait.append(store.get(job.id))  # what a crash right now would leave
            return super().wait(task_id, **kw)

    with SandboxServer(latency=0.1) as srv:
        client = Spy(KEY, srv.base_url, poll_interval=0.02, retry=fast_retry())
        try:
            done = run_job(store, client, job, on_event=events.append)
        finally:
            client.close()
        assert srv.submissions == 1 and posts(srv) == 1
    [at_wait] = seen_at_wait
    assert at_wait.state is JobState.SUBMITTED and at_wait.task_id == done.task_id
    assert done.state is JobState.SUCCEEDED and done.error is None
    assert done.result_path.is_file() and done.result_path.parent == store.results_dir
    assert done.request_id and done.log_id and done.finished_at
    assert store.get(job.id) == done
    stages = [e.stage for e in events]
    assert stages[0] is Stage.UPLOADING and stages[-1] is Stage.DONE
    assert Stage.QUEUED in stages and Stage.DOWNLOADING in stages
    first_queued = next(e for e in events if e.stage is Stage.QUEUED)
    assert first_queued.task_id == done.task_id
    assert not list(store.results_dir.glob("*.part"))


def test_on_submitted_sees_the_stored_task_id(store, new_job, sandbox):
    job = new_job()
    states: list = []
    client = client_for(sandbox)
    try:
        run_job(
            store,
            client,
            job,
            on_submitted=lambda sub: states.append((sub.task_id, store.get(job.id))),
        )
    finally:
        client.close()
    [(task_id, at)] = states
    assert at.state is JobState.SUBMITTED and at.task_id == task_id


# -- failures of the submit ----------------------------------------------------------------


@pytest.mark.parametrize(
    "fault, error",
    [
        (Fault("submit", "error", code="ERROR_NO_FACE_IN_FILE"), InputRejected),
        (Fault("submit", "task_failed"), TaskFailed),
        (Fault("submit", "poll_http_error"), InputRejected),
    ],
)
def test_rejections_and_failed_tasks_end_failed(store, new_job, sandbox, fault, error):
    sandbox.inject(fault)
    job = new_job()
    client = client_for(sandbox)
    with pytest.raises(error):
        run_job(store, client, job)
    client.close()
    got = store.get(job.id)
    assert got.state is JobState.FAILED and got.error["type"] == error.__name__
    assert got.error_message and got.finished_at
    assert posts(sandbox) == 1


@pytest.mark.parametrize("how", ["drop_connection", "hang"])
def test_no_answer_to_an_upload_is_outcome_unknown_and_never_resent(store, new_job, how):
    with SandboxServer() as srv:
        srv.inject(Fault("submit", how))
        job = new_job()
        client = client_for(srv, upload_read_timeout=0.3)
        with pytest.raises(SubmissionOutcomeUnknown):
            run_job(store, client, job)
        client.close()
        got = store.get(job.id)
        assert got.state is JobState.OUTCOME_UNKNOWN
        assert got.error["type"] == "SubmissionOutcomeUnknown" and got.error_message
        assert posts(srv) == 1 and srv.submissions == 1  # the service did take it, once
        with pytest.raises(ValueError):  # and it cannot be run (re-sent) again
            run_job(store, client_for(srv), got)
        assert posts(srv) == 1


def noisy_inputs(folder: Path) -> dict[str, Path]:
    """Inputs whose upload takes many chunks (noise does not compress): about 2 MB."""

    def noise(name: str, size: tuple[int, int]) -> Path:
        path = folder / name
        Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3)).save(path)
        return path

    folder.mkdir(parents=True, exist_ok=True)
    return {
        PERSON: noise("p.png", (600, 900)),
        TOP: noise("t.png", (300, 300)),
        COARSE: noise("c.png", (600, 900)),
    }


def test_cancel_before_the_upload_finishes_is_cancelled(store, sandbox, tmp_path):
    token = CancelToken()
    job = store.create_job(noisy_inputs(tmp_path / "noisy"), "man")

    def on_event(ev: ProgressEvent) -> None:
        # Mid-body: part of the upload has left, the rest will not.
        if ev.stage is Stage.UPLOADING and ev.bytes_done and ev.bytes_done < (ev.bytes_total or 0):
            token.cancel()

    client = client_for(sandbox)
    with pytest.raises(Cancelled):
        run_job(store, client, job, cancel=token, on_event=on_event)
    client.close()
    got = store.get(job.id)
    assert got.state is JobState.CANCELLED and got.task_id is None
    assert sandbox.submissions == 0


def test_missing_stored_inputs_fail_before_anything_is_sent(store, new_job, sandbox):
    job = new_job()
    job.inputs[PERSON].path.unlink()
    with pytest.raises(InputRejected, match="missing"):
        run_job(store, client_for(sandbox), job)
    assert store.get(job.id).state is JobState.FAILED
    assert sandbox.requests == []


def test_two_runs_of_one_pending_job_submit_once(store, new_job):
    job = new_job()
    with SandboxServer(latency=0.2) as srv:
        barrier = threading.Barrier(2)
        outcomes: list[object] = []

        def go() -> None:
            client = client_for(srv)
            barrier.wait()
            try:
                outcomes.append(run_job(store, client, job).state)
            except JobStateError as exc:
                outcomes.append(exc)
            finally:
                client.close()

        threads = [threading.Thread(target=go) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
        assert srv.submissions == 1 and posts(srv) == 1
    assert JobState.SUCCEEDED in outcomes
    assert any(isinstance(o, JobStateError) for o in outcomes)


# -- failures while waiting: resumable -------------------------------------------------


def resume_without_resubmit(store: JobStore, srv: SandboxServer, job_id: int) -> None:
    before = posts(srv)
    client = client_for(srv)
    try:
        done = run_job(store, client, store.get(job_id))
    finally:
        client.close()
    assert done.state is JobState.SUCCEEDED and done.result_path.is_file()
    assert done.error is None
    assert posts(srv) == before == 1 and srv.submissions == 1


def assert_resumable(store: JobStore, job_id: int, error_type: type) -> None:
    got = store.get(job_id)
    assert got.state is JobState.SUBMITTED and got.task_id
    assert got.error["type"] == error_type.__name__ and got.error["task_id"] == got.task_id
    assert got.finished_at is None


def test_timeout_stays_submitted_and_resumes(store, new_job):
    with SandboxServer(latency=1.5) as srv:  # the timeout covers the upload too
        job = new_job()
        with pytest.raises(TimedOut) as info:
            run_job(store, client_for(srv, timeout=0.5), job)
        assert info.value.task_id == store.get(job.id).task_id
        assert_resumable(store, job.id, TimedOut)
        resume_without_resubmit(store, srv, job.id)


@pytest.mark.parametrize(
    "fault, error",
    [
        (Fault("poll", "gateway_html", times=6), ServiceUnavailable),
        (Fault("poll", "drop_connection", times=6), NetworkError),
    ],
)
def test_network_trouble_while_polling_stays_submitted(store, new_job, fault, error):
    with SandboxServer(latency=0.05) as srv:
        srv.inject(fault)  # as many as the retry policy's attempts: the wait gives up
        job = new_job()
        with pytest.raises(error):
            run_job(store, client_for(srv, poll_read_timeout=2), job)
        assert_resumable(store, job.id, error)
        resume_without_resubmit(store, srv, job.id)


def test_cancel_while_waiting_stays_submitted_and_resumes(store, new_job):
    with SandboxServer(latency=0.4) as srv:
        job = new_job()
        token = CancelToken()

        def on_event(ev: ProgressEvent) -> None:
            if ev.stage is Stage.QUEUED and polls(srv):
                token.cancel()

        with pytest.raises(Cancelled):
            run_job(store, client_for(srv), job, cancel=token, on_event=on_event)
        assert_resumable(store, job.id, Cancelled)
        resume_without_resubmit(store, srv, job.id)


def test_cancel_during_download_stays_submitted(store, new_job):
    with SandboxServer() as srv:
        srv.inject(Fault("download", "slow", delay=0.3))
        job = new_job()
        token = CancelToken()
        timer = threading.Timer(0.1, token.cancel)

        def on_event(ev: ProgressEvent) -> None:
            if ev.stage is Stage.DOWNLOADING and not timer.is_alive() and not token.cancelled:
                timer.start()

        try:
            with pytest.raises(Cancelled):
                run_job(store, client_for(srv), job, cancel=token, on_event=on_event)
        finally:
            timer.cancel()
            timer.join()
        assert_resumable(store, job.id, Cancelled)
        assert not list(store.results_dir.iterdir())  # no partial file left behind
        resume_without_resubmit(store, srv, job.id)


# -- expired ----------------------------------------------------------------------------


def test_task_not_found_is_expired(store, new_job, sandbox):
    job = new_job()
    with pytest.raises(TaskNotFound):
        run_job(
            store,
            client_for(sandbox),
            job,
            on_submitted=lambda sub: sandbox.expire_task(sub.task_id),
        )
    got = store.get(job.id)
    assert got.state is JobState.EXPIRED and got.task_id and got.error["type"] == "TaskNotFound"


def test_a_refused_result_link_leaves_a_young_job_resumable(store, new_job, sandbox):
    """Within 24 h a refused link says nothing about the task: a new poll gives a new link."""
    sandbox.inject(Fault("download", "expire_url"))
    job = new_job()
    with pytest.raises(ResultUnavailable):
        run_job(store, client_for(sandbox), job)
    got = store.get(job.id)
    assert got.state is JobState.SUBMITTED and got.error["type"] == "ResultUnavailable"
    done = run_job(store, client_for(sandbox), got)
    assert done.state is JobState.SUCCEEDED and done.result_path.is_file()
    assert sandbox.submissions == 1


def test_a_refused_result_link_of_an_old_job_is_expired(store, new_job, sandbox, monkeypatch):
    import refiner_gui.jobs.runner as runner_module

    sandbox.inject(Fault("download", "expire_url"))
    job = new_job()
    monkeypatch.setattr(runner_module, "RESULT_TTL", -1.0)  # every job counts as old
    with pytest.raises(ResultUnavailable):
        run_job(store, client_for(sandbox), job)
    got = store.get(job.id)
    assert got.state is JobState.EXPIRED and got.error["type"] == "ResultUnavailable"
    assert sandbox.submissions == 1


def test_an_auth_error_while_polling_keeps_the_job_resumable(store, new_job, sandbox):
    sandbox.inject(Fault("poll", "error", code="ERROR_USER_NOT_EXISTS"))
    job = new_job()
    with pytest.raises(AuthError):
        run_job(store, client_for(sandbox), job)
    got = store.get(job.id)
    assert got.state is JobState.SUBMITTED and got.task_id
    assert run_job(store, client_for(sandbox), got).state is JobState.SUCCEEDED
    assert sandbox.submissions == 1


def test_a_live_job_cannot_be_deleted(store, new_job):
    from refiner_gui.jobs import JobStateError

    job = new_job()
    store.mark_submitting(job.id)
    with pytest.raises(JobStateError):
        store.delete(job.id)
    store.mark_submitted(job.id, "task-live")
    with pytest.raises(JobStateError):
        store.delete(job.id)
    assert store.get(job.id).task_id == "task-live"


def test_recovery_does_not_overwrite_a_job_that_moved_on(store, new_job):
    from refiner_gui.jobs import expire_or_abandon

    job = new_job()
    stale = store.mark_submitting(job.id)  # what a recovery snapshot saw
    store.mark_submitted(job.id, "task-moved-on")  # another process got its answer
    expire_or_abandon(store, stale)
    got = store.get(job.id)
    assert got.state is JobState.SUBMITTED and got.task_id == "task-moved-on"


def test_a_stored_result_is_taken_without_asking_the_service(store, new_job, sandbox):
    """Killed between storing the file and committing SUCCEEDED: the file is whole."""
    job = new_job()
    store.mark_submitting(job.id)
    store.mark_submitted(job.id, "gone-task")
    make_image(store.result_path_for(job.id))
    done = run_job(store, client_for(sandbox), store.get(job.id))
    assert done.state is JobState.SUCCEEDED and done.result_path.is_file()
    assert sandbox.requests == []


def test_a_finished_job_cannot_run(store, new_job, sandbox):
    job = new_job()
    store.mark_submitting(job.id)
    store.mark_finished(job.id, JobState.OUTCOME_UNKNOWN, {"message": "?"})
    with pytest.raises(ValueError, match="outcome_unknown"):
        run_job(store, client_for(sandbox), store.get(job.id))
    assert sandbox.requests == []


# -- recover ----------------------------------------------------------------------------


def submitted_job(store: JobStore, srv: SandboxServer, files) -> int:
    """A job as a crash after the task id was committed leaves it."""
    job = store.create_job(files, "woman")
    store.mark_submitting(job.id)
    client = client_for(srv)
    try:
        from refiner_gui.jobs import job_inputs

        sub = client.submit(job_inputs(job))
    finally:
        client.close()
    store.mark_submitted(job.id, sub.task_id, sub.request_id, sub.log_id)
    return job.id


def test_recover_settles_everything_and_never_submits(store, job_images):
    files = slot_files(job_images)
    with SandboxServer(latency=0.1) as srv:
        waiting = submitted_job(store, srv, files)
        uploading = store.create_job(files, "man").id
        store.mark_submitting(uploading)
        pending = store.create_job(files, "woman").id
        done_already = submitted_job(store, srv, files)
        store.mark_succeeded(done_already, make_image(store.result_path_for(done_already)))
        # A download killed half-way left its temp file beside the final name.
        leftover = store.results_dir / f".job-{waiting}.png.abc123.part"
        leftover.write_bytes(b"half an image")
        submitted_before = srv.submissions
        reported: list = []
        factory_calls: list[int] = []

        def factory() -> RefinerClient:
            factory_calls.append(1)
            return client_for(srv)

        jobs = recover(store, factory, on_job=lambda j, e: reported.append((j.id, j.state, e)))
        assert srv.submissions == submitted_before == 2 and posts(srv) == 2
    by_id = {j.id: j for j in jobs}
    assert set(by_id) == {waiting, uploading, pending}
    assert by_id[waiting].state is JobState.SUCCEEDED and by_id[waiting].result_path.is_file()
    assert by_id[uploading].state is JobState.OUTCOME_UNKNOWN
    assert "NOT sent again" in by_id[uploading].error_message
    assert by_id[pending].state is JobState.CANCELLED
    assert "nothing was sent" in by_id[pending].error_message
    assert [(i, s) for i, s, _ in reported] == [(j.id, j.state) for j in jobs]
    assert all(e is None for _, _, e in reported)
    assert factory_calls == [1]  # one client for all the resumes
    assert not leftover.exists()
    assert store.unfinished() == []
    assert store.get(done_already).state is JobState.SUCCEEDED


def test_recover_expires_anything_older_than_a_day(store, job_images):
    files = slot_files(job_images)
    with SandboxServer() as srv:
        waiting = submitted_job(store, srv, files)
        uploading = store.create_job(files, "man").id
        store.mark_submitting(uploading)
        pending = store.create_job(files, "woman").id
        later = time.time() + RESULT_TTL + 60
        jobs = recover(store, lambda: client_for(srv), now=later)
        assert polls(srv) == 0 and srv.submissions == 1  # nothing asked, nothing re-sent
    assert {j.id: j.state for j in jobs} == {
        waiting: JobState.EXPIRED,
        uploading: JobState.EXPIRED,
        pending: JobState.EXPIRED,
    }
    assert all("24 hours" in j.error_message for j in jobs)
    assert store.get(waiting).error["task_id"] == store.get(waiting).task_id


def test_recover_judges_age_by_submission_time(store, job_images):
    files = slot_files(job_images)
    with SandboxServer() as srv:
        young = submitted_job(store, srv, files)
        old = submitted_job(store, srv, files)
        with raw(store.path) as conn:  # submitted 25 hours ago
            conn.execute(
                "UPDATE jobs SET submitted_at = ?, created_at = ? WHERE id = ?",
                (time.time() - 25 * 3600, time.time() - 25 * 3600, old),
            )
        jobs = {j.id: j.state for j in recover(store, lambda: client_for(srv))}
        assert srv.submissions == 2
    assert jobs == {young: JobState.SUCCEEDED, old: JobState.EXPIRED}


def test_recover_reports_failures_and_goes_on(store, job_images):
    files = slot_files(job_images)
    with SandboxServer(latency=0.05) as srv:
        unknown = store.create_resumed("no-such-task", "woman").id
        good = submitted_job(store, srv, files)
        errors: dict[int, object] = {}
        jobs = recover(
            store, lambda: client_for(srv), on_job=lambda j, e: errors.__setitem__(j.id, e)
        )
    states = {j.id: j.state for j in jobs}
    assert states == {unknown: JobState.EXPIRED, good: JobState.SUCCEEDED}
    assert isinstance(errors[unknown], TaskNotFound) and errors[good] is None


def test_recover_leaves_resumable_jobs_resumable(store, job_images):
    files = slot_files(job_images)
    with SandboxServer(latency=0.05) as srv:
        job_id = submitted_job(store, srv, files)
        srv.inject(Fault("poll", "gateway_html", times=6))
        [job] = recover(store, lambda: client_for(srv))
        assert job.state is JobState.SUBMITTED and job.error["type"] == "ServiceUnavailable"
        [job] = recover(store, lambda: client_for(srv))  # the next start finishes it
        assert job.state is JobState.SUCCEEDED and srv.submissions == 1
    assert job.id == job_id


def test_recover_with_nothing_to_do_makes_no_client(store):
    def factory() -> RefinerClient:
        raise AssertionError("no client needed")

    assert recover(store, factory) == []


def test_a_stored_result_gets_a_small_preview_that_reports_use(store, new_job, sandbox):
    from PIL import Image

    from refiner_gui.jobs.previews import PREVIEW_PX, preview_for, preview_path

    done = run_job(store, client_for(sandbox), new_job())
    preview = preview_path(done.result_path)
    with Image.open(preview) as im:
        assert im.format == "JPEG" and max(im.size) <= PREVIEW_PX
    assert preview_for(done.result_path, 240) == preview
    assert preview_for(done.result_path, 2000) == done.result_path  # too small for that
    assert store.existing_result(done.id) == done.result_path
    store.delete(done.id)
    assert not preview.exists() and not done.result_path.exists()


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_a_preview_is_upright_small_and_on_white(tmp_path, fmt):
    """Shrunk before it is turned upright (one less full-size copy): still upright."""
    from PIL import Image

    from refiner_gui.jobs.previews import PREVIEW_PX, write_preview

    mode = "RGB" if fmt == "JPEG" else "RGBA"
    img = Image.new(mode, (1600, 800), (200, 30, 30) + (() if mode == "RGB" else (255,)))
    img.paste((20, 20, 200) + (() if mode == "RGB" else (255,)), (0, 0, 800, 800))  # left half
    if mode == "RGBA":
        img.paste((0, 0, 0, 0), (1500, 700, 1600, 800))  # a transparent corner
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: shown turned 90° clockwise
    src = tmp_path / f"result.{fmt.lower()}"
    img.save(src, fmt, exif=exif.tobytes())

    out = write_preview(src)
    assert out is not None
    with Image.open(out) as im:
        assert im.size == (PREVIEW_PX // 2, PREVIEW_PX)  # portrait once upright
        rgb = im.convert("RGB")
        top, bottom = rgb.getpixel((160, 40)), rgb.getpixel((160, 600))
    assert top[2] > 150 and bottom[0] > 150  # the blue half went to the top
    if fmt == "PNG":
        assert min(rgb.getpixel((5, 635))) > 230  # transparency became white
