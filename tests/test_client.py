"""The API client against the real sandbox on loopback: every shape, fault and rule."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from refiner_gui.api import (
    AuthError,
    Cancelled,
    CancelToken,
    ConfigError,
    CreditsError,
    DownloadError,
    InputRejected,
    NetworkError,
    RefineInputs,
    RefinerClient,
    ResultUnavailable,
    ServiceUnavailable,
    Stage,
    SubmissionOutcomeUnknown,
    TaskFailed,
    TaskNotFound,
    TimedOut,
)
from refiner_gui.jobs import JobState, JobStore
from refiner_gui.sandbox import Fault, SandboxServer
from refiner_gui.slots import COARSE, PERSON
from tests.helpers.fast import fast_retry
from tests.helpers.jobs import refine

KEY = "sk-test-SECRET-0123456789abcdef"


def client_for(srv: SandboxServer, **kw) -> RefinerClient:
    kw.setdefault("poll_interval", 0.05)
    kw.setdefault("retry", fast_retry())
    return RefinerClient(kw.pop("key", KEY), srv.base_url, **kw)


def inputs(imgs, bottom: bool = False) -> RefineInputs:
    return RefineInputs(
        person=imgs["person"],
        top=imgs["top"],
        coarse=imgs["coarse"],
        gender="woman",
        bottom=imgs["bottom"] if bottom else None,
    )


def no_partials(folder: Path) -> None:
    leftovers = [p.name for p in folder.iterdir() if p.name.endswith(".part")]
    assert not leftovers, leftovers


@pytest.fixture
def store(tmp_path):
    """Whole jobs run as the app runs them: through a job store in a temp folder."""
    s = JobStore(tmp_path / "data" / "jobs.sqlite3")
    yield s
    s.close()


# -- the happy path -----------------------------------------------------------------------


def test_refine_end_to_end_stores_a_decodable_marked_image(sandbox, job_images, store):
    events, submitted = [], []
    c = client_for(sandbox)
    done = refine(
        c,
        store,
        inputs(job_images, bottom=True),
        on_event=events.append,
        on_submitted=lambda s: submitted.append((s, len(sandbox.requests))),
    )
    out = done.result_path
    assert done.state is JobState.SUCCEEDED and out is not None and out.is_file()
    with Image.open(out) as im, Image.open(job_images["coarse"]) as coarse:
        assert im.size == coarse.size
        assert im.convert("RGB").tobytes() != coarse.convert("RGB").tobytes()
    sub, requests_then = submitted[0]
    assert done.task_id and done.request_id and done.log_id and sub.request_id
    stages = [e.stage for e in events]
    assert stages[0] is Stage.UPLOADING and stages[-1] is Stage.DONE
    assert Stage.QUEUED in stages and Stage.DOWNLOADING in stages
    # The task id was handed over before any poll was sent.
    assert sub.task_id == done.task_id
    assert requests_then == 1
    assert sandbox.submissions == 1
    no_partials(store.results_dir)


def test_status_walks_queued_processing_succeeded(job_images, tmp_path):
    with SandboxServer(latency=0.6) as srv:
        seen = []
        c = client_for(srv)
        sub = c.submit(inputs(job_images))
        final = c.wait(sub.task_id, on_status=lambda s: seen.append(int(s.state)))
    assert final.image_url
    assert seen[0] == 0 and 1 in seen and seen[-1] == 2
    assert seen == sorted(seen)


@pytest.mark.parametrize("shape", ["old", "data_image_url", "data_image"])
def test_every_result_shape_is_read(shape, job_images, store):
    with SandboxServer(shape=shape) as srv:
        done = refine(client_for(srv), store, inputs(job_images))
    assert done.result_path is not None and done.result_path.is_file()


def test_credits(sandbox):
    balances = client_for(sandbox).credits()
    assert balances[0].unique_sign == "common" and balances[0].balance == sandbox.credits


def test_upload_progress_reaches_the_total(sandbox, job_images):
    seen: list[tuple[int, int]] = []
    client_for(sandbox).submit(inputs(job_images), on_upload=lambda d, t: seen.append((d, t)))
    assert seen and seen[-1][0] == seen[-1][1] > 0


# -- submit: billing-safe retries ----------------------------------------------------------


def test_rate_limit_on_submit_is_retried_honouring_retry_after(sandbox, job_images, store):
    sandbox.inject(Fault("submit", "rate_limit", retry_after=7))
    retry = fast_retry()
    done = refine(client_for(sandbox, retry=retry), store, inputs(job_images))
    assert done.result_path is not None and done.result_path.is_file()
    assert sandbox.submissions == 1
    assert retry.calls and retry.calls[0][1] == 7 and retry.calls[0][2] >= 7


def test_503_on_submit_is_retried(sandbox, job_images):
    sandbox.inject(Fault("submit", "error", code="ERROR_INSUFFICIENT_RESOURCES"))
    sub = client_for(sandbox).submit(inputs(job_images))
    assert sub.task_id and sandbox.submissions == 1


def test_500_on_submit_is_not_resent(sandbox, job_images):
    sandbox.inject(Fault("submit", "error", code="PROCESSING_FAILURE"))
    with pytest.raises(ServiceUnavailable) as ei:
        client_for(sandbox).submit(inputs(job_images))
    posts = [r for r in sandbox.requests if r[0] == "POST"]
    assert len(posts) == 1
    assert ei.value.code == "PROCESSING_FAILURE" and ei.value.request_id


def test_gateway_page_after_upload_is_outcome_unknown_and_not_resent(sandbox, job_images):
    sandbox.inject(Fault("submit", "gateway_html", http_status=502))
    with pytest.raises(SubmissionOutcomeUnknown) as ei:
        client_for(sandbox).submit(inputs(job_images))
    assert len([r for r in sandbox.requests if r[0] == "POST"]) == 1
    assert "NOT sent again" in ei.value.user_message


def test_submit_that_never_answers_is_outcome_unknown_and_sent_once(sandbox, job_images):
    sandbox.inject(Fault("submit", "hang"))
    c = client_for(sandbox, upload_read_timeout=0.5)
    with pytest.raises(SubmissionOutcomeUnknown):
        c.submit(inputs(job_images))
    assert len([r for r in sandbox.requests if r[0] == "POST"]) == 1


def test_a_cancel_once_the_images_are_sent_waits_for_the_answer_that_names_the_task(
    sandbox, job_images
):
    """A quit or Cancel just after the upload: the answer, a moment later, gives the task
    id (the job resumes), instead of the outcome being unknown."""
    sandbox.inject(Fault("submit", "slow", delay=0.2))  # the task exists; the answer lags
    cancel = CancelToken()

    def on_upload(done: int, total: int) -> None:
        if done == total:
            cancel.cancel()

    sub = client_for(sandbox).submit(inputs(job_images), cancel=cancel, on_upload=on_upload)
    assert cancel.cancelled and sub.task_id
    assert sandbox.submissions == 1


def test_a_cancel_after_the_upload_still_ends_when_no_answer_comes(sandbox, job_images):
    sandbox.inject(Fault("submit", "hang"))
    cancel = CancelToken()
    c = client_for(sandbox, upload_read_timeout=60)
    with pytest.raises(SubmissionOutcomeUnknown) as ei:
        c.submit(
            inputs(job_images), cancel=cancel, on_upload=lambda d, t: d == t and cancel.cancel()
        )
    assert ei.value.info.vendor_message == "Cancelled"  # the cancel ended it, not a timeout
    assert len([r for r in sandbox.requests if r[0] == "POST"]) == 1


def test_dropped_submit_connection_after_upload_is_outcome_unknown(sandbox, job_images):
    sandbox.inject(Fault("submit", "drop_connection"))
    with pytest.raises(SubmissionOutcomeUnknown):
        client_for(sandbox).submit(inputs(job_images))
    assert len([r for r in sandbox.requests if r[0] == "POST"]) == 1


def test_refused_connection_is_retried_then_reported(job_images):
    srv = SandboxServer()
    url = srv.start()
    srv.stop()  # the port is now closed: every connection is refused before sending
    retry = fast_retry()
    c = RefinerClient(KEY, url, poll_interval=0.05, retry=retry)
    with pytest.raises(NetworkError) as ei:
        c.submit(inputs(job_images))
    assert len(retry.calls) == retry.submit_attempts - 1  # retried: nothing was sent
    assert KEY not in str(ei.value)


def test_error_inside_http_200_is_a_failure(sandbox, job_images):
    sandbox.inject(Fault("submit", "error_in_200", code="ERROR_NO_FACE_IN_FILE"))
    with pytest.raises(InputRejected) as ei:
        client_for(sandbox).submit(inputs(job_images))
    assert ei.value.code == "ERROR_NO_FACE_IN_FILE" and ei.value.slot == PERSON


def test_size_mismatch_points_at_the_coarse_slot(sandbox, job_images, tmp_path):
    from tests.helpers.images import make_image

    bad = make_image(tmp_path / "coarse_small.png", (300, 300))
    inp = RefineInputs(person=job_images["person"], top=job_images["top"], coarse=bad, gender="man")
    with pytest.raises(InputRejected) as ei:
        client_for(sandbox).submit(inp)
    assert ei.value.slot == COARSE
    assert sandbox.submissions == 0


# -- account -------------------------------------------------------------------------------


def test_unknown_key_is_an_auth_error(job_images):
    with SandboxServer(api_keys={"the-right-key"}) as srv, pytest.raises(AuthError) as ei:
        client_for(srv, key="the-wrong-key").submit(inputs(job_images))
    assert "the-wrong-key" not in ei.value.support_text()


def test_no_credits_is_a_credits_error(job_images):
    with SandboxServer(credits=0) as srv, pytest.raises(CreditsError):
        client_for(srv).submit(inputs(job_images))


def test_empty_key_never_reaches_the_wire(sandbox, job_images):
    with pytest.raises(AuthError):
        client_for(sandbox, key="").submit(inputs(job_images))
    assert sandbox.requests == []


# -- polling -------------------------------------------------------------------------------


def test_task_failed_status_3_carries_code_and_ids(sandbox, job_images):
    sandbox.inject(Fault("submit", "task_failed", code="PROCESSING_FAILURE"))
    c = client_for(sandbox)
    sub = c.submit(inputs(job_images))
    with pytest.raises(TaskFailed) as ei:
        c.wait(sub.task_id)
    e = ei.value
    assert e.task_id == sub.task_id and e.request_id and e.log_id
    assert e.code == "PROCESSING_FAILURE"


@pytest.mark.parametrize(
    "code,slot",
    [
        ("ERROR_NO_FACE_IN_FILE", PERSON),
        ("ERROR_POSE_NOT_ENOUGH_KEYPOINTS", PERSON),
        ("FILE_SIZE_EXCEEDS_LIMIT", None),
    ],
)
def test_http_error_on_poll_is_terminal(sandbox, job_images, code, slot):
    sandbox.inject(Fault("submit", "poll_http_error", code=code))
    retry = fast_retry()
    c = client_for(sandbox, retry=retry)
    sub = c.submit(inputs(job_images))
    with pytest.raises(InputRejected) as ei:
        c.wait(sub.task_id)
    assert ei.value.code == code and ei.value.task_id == sub.task_id
    assert ei.value.slot == slot
    assert retry.calls == []  # terminal: not retried


def test_gateway_page_on_poll_is_transient(sandbox, job_images, store):
    sandbox.inject(Fault("poll", "gateway_html", times=2))
    done = refine(client_for(sandbox), store, inputs(job_images))
    assert done.result_path is not None and done.result_path.is_file()


def test_poll_gives_up_after_retries_with_the_task_id(sandbox, job_images):
    sandbox.inject(Fault("poll", "error", code="AI_SERVICE_TIMEOUT", times=100))
    c = client_for(sandbox)
    sub = c.submit(inputs(job_images))
    with pytest.raises(ServiceUnavailable) as ei:
        c.wait(sub.task_id)
    assert ei.value.task_id == sub.task_id


def test_unknown_and_expired_tasks(sandbox, job_images):
    c = client_for(sandbox)
    with pytest.raises(TaskNotFound) as unknown:
        c.wait("no-such-task")
    assert unknown.value.http_status == 404
    sub = c.submit(inputs(job_images))
    sandbox.expire_task(sub.task_id)
    with pytest.raises(TaskNotFound) as expired:
        c.wait(sub.task_id)
    assert expired.value.http_status == 410


def test_timeout_reports_the_task_id(job_images):
    with SandboxServer(latency=30) as srv:
        c = client_for(srv, timeout=0.3)
        sub = c.submit(inputs(job_images))
        with pytest.raises(TimedOut) as ei:
            c.wait(sub.task_id)
    assert ei.value.task_id == sub.task_id and sub.task_id in ei.value.user_message


def test_cancel_stops_the_wait_promptly(job_images):
    with SandboxServer(latency=30) as srv:
        c = client_for(srv, poll_interval=5.0)
        token = CancelToken()
        sub = c.submit(inputs(job_images))
        first_status = threading.Event()
        caught: list[BaseException] = []

        def work() -> None:
            try:
                c.wait(sub.task_id, cancel=token, on_status=lambda s: first_status.set())
            except BaseException as exc:  # noqa: BLE001 - handed to the test thread
                caught.append(exc)

        t = threading.Thread(target=work)
        t.start()
        assert first_status.wait(5)
        t0 = time.monotonic()
        token.cancel()
        t.join(5)
        took = time.monotonic() - t0
    assert isinstance(caught[0], Cancelled) and caught[0].task_id == sub.task_id
    assert took < 1.0  # the poll interval is 5 s: the wait did not run it out


# -- download ------------------------------------------------------------------------------


def test_dropped_download_is_retried(sandbox, job_images, store):
    sandbox.inject(Fault("download", "drop_connection"))
    done = refine(client_for(sandbox), store, inputs(job_images))
    with Image.open(done.result_path) as im:
        im.load()
    no_partials(store.results_dir)


def no_result(store: JobStore) -> bool:
    """Nothing (not even a partial file) was stored for any job."""
    return not list(store.results_dir.iterdir())


def test_download_that_keeps_dropping_leaves_no_file(sandbox, job_images, store):
    sandbox.inject(Fault("download", "drop_connection", times=100))
    with pytest.raises(NetworkError) as ei:
        refine(client_for(sandbox), store, inputs(job_images))
    assert ei.value.task_id
    assert no_result(store)
    no_partials(store.results_dir)


def test_expired_result_url(sandbox, job_images, store):
    sandbox.inject(Fault("download", "expire_url"))
    with pytest.raises(ResultUnavailable) as ei:
        refine(client_for(sandbox), store, inputs(job_images))
    assert ei.value.task_id and no_result(store)


def test_download_size_cap(sandbox, job_images, store):
    with pytest.raises(DownloadError):
        refine(client_for(sandbox, max_download_bytes=1000), store, inputs(job_images))
    assert no_result(store)
    no_partials(store.results_dir)


@pytest.mark.parametrize(
    "url", ["file:///etc/hosts", "ftp://example.invalid/x.png", "javascript:alert(1)"]
)
def test_only_http_result_urls(sandbox, tmp_path, url):
    with pytest.raises(DownloadError):
        client_for(sandbox).download(url, tmp_path / "x.png")
    assert sandbox.requests == []


# -- configuration -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["http://www.ailabapi.com", "http://10.0.0.5:8080", "ftp://x", "not a url"]
)
def test_insecure_or_bad_base_urls_are_refused(url):
    with pytest.raises(ConfigError):
        RefinerClient(KEY, url)


def test_fast_polling_only_on_loopback():
    with pytest.raises(ConfigError):
        RefinerClient(KEY, "https://www.ailabapi.com", poll_interval=0.5)
    RefinerClient(KEY, "https://www.ailabapi.com", poll_interval=1.0)
    RefinerClient(KEY, "http://127.0.0.1:9", poll_interval=0.05)
    RefinerClient(KEY, "http://localhost:9", poll_interval=0.05)


# -- the key stays secret ------------------------------------------------------------------


def test_key_never_in_logs_errors_or_repr(job_images, store, caplog):
    caplog.set_level(logging.DEBUG)
    faults = [
        Fault("submit", "error", code="ERROR_USER_NOT_EXISTS"),
        Fault("submit", "gateway_html", http_status=502),
        Fault("submit", "task_failed"),
        Fault("poll", "rate_limit", retry_after=0),
    ]
    texts: list[str] = []
    with SandboxServer() as srv:
        c = client_for(srv)
        texts.append(repr(c))
        for f in faults:
            srv.inject(f)
            try:
                refine(c, store, inputs(job_images))
            except Exception as exc:  # noqa: BLE001 - every failure's text is inspected
                texts += [str(exc), repr(exc), getattr(exc, "support_text", str)()]
                texts.append(str(getattr(exc, "to_dict", dict)()))
    texts.append(caplog.text)
    assert len(texts) > 4
    for t in texts:
        assert KEY not in t
