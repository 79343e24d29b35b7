"""Issue 14, the network half: hostile servers on loopback against the client and the job.

Each test reproduces one way a hostile (or broken) service or result host used to make the
client lose a result, hang, or read without end:

* 4: a PNG result served with ``Content-Encoding: gzip`` could never be stored;
* 6: poll and submit answers were read whole before the 4 MB cut;
* 7: result links to internal addresses were fetched, redirect loops ran ~30 hops;
* 9: ``--timeout`` did not bound a run and Cancel waited for a read timeout;
* 13: the input hash recorded for a job could name other bytes than the ones uploaded.

The elapsed-time bounds asserted here ARE the behaviour under test (a run ends by its
deadline, a cancel lands within ~0.2 s); they are measured around real servers that hang or
trickle on a loopback socket, and are generous for a loaded machine.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import sys
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from refiner_gui import cli
from refiner_gui.api import (
    Cancelled,
    CancelToken,
    DownloadError,
    InputRejected,
    NetworkError,
    RefineInputs,
    RefinerClient,
    RetryPolicy,
    ServiceUnavailable,
    SubmissionOutcomeUnknown,
    TimedOut,
)
from refiner_gui.api.addresses import MAX_REDIRECTS, UnsafeAddress, check_public_url
from refiner_gui.api.client import MAX_ANSWER_BYTES, QUERY_PATH
from refiner_gui.api.transport import ANSWER_GRACE
from refiner_gui.jobs import JobState, JobStore, run_job
from refiner_gui.url_fetch import UrlFetchError, fetch_url
from tests.helpers.fast import fast_retry
from tests.helpers.hostile_server import Conn, FullBacklog, HostileServer, wait_for_syn_sent
from tests.helpers.http_stub import Reply, StubServer
from tests.helpers.jobs import slot_files

KEY = "hostile-key-0123456789"
REMOTE = "https://api.refiner.example"  # never contacted: these tests only download


def _png(size=(64, 48)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (30, 160, 90)).save(buf, "PNG")
    return buf.getvalue()


PNG = _png()


def client_for(base_url: str, **kw) -> RefinerClient:
    options = {
        "poll_interval": 0.05,
        "timeout": 30,
        "retry": fast_retry(attempts=2, submit_attempts=1),
        "connect_timeout": 2,
        "poll_read_timeout": 10,
        "upload_read_timeout": 10,
        "download_read_timeout": 10,
    }
    options.update(kw)
    return RefinerClient(KEY, base_url, **options)


def api_json(**fields) -> bytes:
    return json.dumps(
        {"error_code": 0, "request_id": "req-1", "log_id": "log-1", **fields}
    ).encode()


class Timer:
    """``with Timer() as t: ...; t.elapsed``."""

    def __enter__(self) -> Timer:
        self.start = time.monotonic()
        self.elapsed = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.elapsed = time.monotonic() - self.start


def run_in_thread(fn):
    """Run ``fn`` on a thread; return (thread, outcome dict with 'result' or 'error')."""
    outcome: dict = {}

    def target() -> None:
        try:
            outcome["result"] = fn()
        except BaseException as exc:  # handed to the test, which asserts on it
            outcome["error"] = exc
        finally:
            outcome["ended"] = time.monotonic()

    t = threading.Thread(target=target, name="hostile-client")
    t.start()
    return t, outcome


def cancel_and_time(token: CancelToken, thread: threading.Thread, outcome: dict) -> float:
    """Cancel, wait for the thread to end, return the seconds from cancel to its end."""
    asked = time.monotonic()
    token.cancel()
    thread.join(10)
    assert not thread.is_alive(), "the client did not stop after cancel"
    return outcome["ended"] - asked


@pytest.fixture
def inputs(tmp_path, job_images) -> RefineInputs:
    return RefineInputs(
        person=job_images["person"],
        top=job_images["top"],
        coarse=job_images["coarse"],
        gender="woman",
    )


@pytest.fixture
def store(tmp_path) -> JobStore:
    s = JobStore(tmp_path / "data" / "jobs.sqlite3")
    yield s
    s.close()


# -- 4: compressed results ------------------------------------------------------------------


def test_gzip_encoded_png_result_downloads(tmp_path):
    packed = gzip.compress(PNG)
    with StubServer() as stub:
        stub.reply = Reply(
            200, (("Content-Type", "image/png"), ("Content-Encoding", "gzip")), packed
        )
        client = client_for(stub.base_url)
        try:
            dest = client.download(stub.base_url + "/r.png", tmp_path / "r.png")
        finally:
            client.close()
    assert dest.read_bytes() == PNG


def test_gzip_bomb_result_stops_at_the_size_cap(tmp_path):
    bomb = gzip.compress(b"\0" * (40 * 1024 * 1024), compresslevel=9)  # ~40 KB on the wire
    with StubServer() as stub:
        stub.reply = Reply(200, (("Content-Encoding", "gzip"),), bomb)
        client = client_for(stub.base_url, max_download_bytes=1024 * 1024)
        try:
            with pytest.raises(DownloadError, match="larger than 1 MB"):
                client.download(stub.base_url + "/r.png", tmp_path / "r.png")
        finally:
            client.close()
    assert not (tmp_path / "r.png").exists()
    assert not list(tmp_path.glob("*.part"))


# -- 6: answers streamed with a cap ---------------------------------------------------------


def endless(conn: Conn) -> None:
    conn.read_body()
    if conn.head(200, (("Content-Type", "application/json"),)):
        conn.send(b'{"error_code": 0, "task_status": 1, "junk": "')
        piece = b"a" * 65536
        while conn.send(piece):
            pass


def test_endless_poll_answer_is_cut_at_the_cap_with_a_clear_error():
    with HostileServer(endless) as srv:
        client = client_for(srv.base_url, retry=fast_retry(attempts=1))
        try:
            with pytest.raises(ServiceUnavailable, match="larger than 4 MB"):
                client.query("task-1")
        finally:
            client.close()
        # Reading stopped at the cap: what went out is the cap plus the socket buffers.
        assert srv.bytes_sent < MAX_ANSWER_BYTES + 16 * 1024 * 1024


def test_endless_submit_answer_is_cut_and_never_resent(inputs):
    with HostileServer(endless) as srv:
        client = client_for(srv.base_url, retry=fast_retry(attempts=1, submit_attempts=3))
        try:
            with pytest.raises(SubmissionOutcomeUnknown):
                client.submit(inputs)
        finally:
            client.close()
        assert srv.bytes_sent < MAX_ANSWER_BYTES + 16 * 1024 * 1024
        assert [m for m, _ in srv.requests] == ["POST"]


# -- 7: result links to internal addresses, redirects ---------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.1.2.3/r.png",
        "http://192.168.0.1/r.png",
        "http://[::1]:9/r.png",
        "http://0.0.0.0:9/r.png",
        "http://224.0.0.1/r.png",
        "http://localhost:9/r.png",
        "file:///etc/passwd",
        "ftp://files.example/r.png",
    ],
)
def test_remote_service_result_links_to_internal_addresses_are_refused(tmp_path, url):
    client = client_for(REMOTE, poll_interval=5)
    try:
        with Timer() as t, pytest.raises(DownloadError) as caught:
            client.download(url, tmp_path / "r.png", task_id="task-7")
    finally:
        client.close()
    assert t.elapsed < 2  # refused before any connection attempt
    assert caught.value.task_id == "task-7"
    assert not (tmp_path / "r.png").exists()


def test_remote_service_link_to_a_loopback_server_sends_nothing(tmp_path):
    with StubServer() as stub:
        stub.reply = Reply(200, (), PNG)
        client = client_for(REMOTE, poll_interval=5)
        try:
            with pytest.raises(DownloadError, match="loopback"):
                client.download(stub.base_url + "/r.png", tmp_path / "r.png")
        finally:
            client.close()
        assert stub.requests == []


def test_every_resolved_address_is_checked():
    def resolver(host, port, *args):
        return [(2, 1, 6, "", ("93.184.215.14", port)), (2, 1, 6, "", ("10.0.0.7", port))]

    with pytest.raises(UnsafeAddress, match="private"):
        check_public_url("https://results.example/r.png", resolve=resolver)
    check_public_url(
        "https://results.example/r.png",
        resolve=lambda host, port, *a: [(2, 1, 6, "", ("93.184.215.14", port))],
    )


def test_the_connect_itself_refuses_an_address_the_guard_refuses():
    # Checked again at connect time, after the connect's own name lookup: a host name that
    # resolves to a public address when checked and to an internal one later (DNS
    # rebinding) is still refused.
    import requests

    from refiner_gui.api.transport import AddressRefused, Guard, GuardedAdapter, guarded

    refused: list[str] = []

    def refuse(address: str) -> str | None:
        refused.append(address)
        return "internal"

    with StubServer() as stub, requests.Session() as session:
        session.mount("http://", GuardedAdapter())
        with guarded(Guard(refuse_address=refuse)), pytest.raises(AddressRefused):
            session.get(stub.base_url.replace("127.0.0.1", "localhost") + "/r.png", timeout=5)
        assert stub.requests == []
    assert refused and refused[0] in ("127.0.0.1", "::1")


def test_redirect_loops_stop_after_the_cap(tmp_path):
    with StubServer() as stub:
        stub.reply = Reply(302, (("Location", "/again"),), b"")
        client = client_for(stub.base_url, retry=fast_retry(attempts=6))
        try:
            with pytest.raises(DownloadError, match="redirected more than"):
                client.download(stub.base_url + "/r.png", tmp_path / "r.png")
        finally:
            client.close()
        assert len(stub.requests) == MAX_REDIRECTS + 1  # not retried: the loop is no glitch


def test_redirect_into_the_internal_network_is_refused(tmp_path):
    with StubServer() as stub:
        stub.reply = Reply(302, (("Location", "http://169.254.169.254/latest/meta-data/"),))
        client = client_for(stub.base_url)
        try:
            with Timer() as t, pytest.raises(DownloadError, match="link-local"):
                client.download(stub.base_url + "/r.png", tmp_path / "r.png")
        finally:
            client.close()
        assert len(stub.requests) == 1 and t.elapsed < 2


def test_pasted_image_address_redirecting_to_metadata_is_refused(tmp_path):
    with StubServer() as stub:
        stub.reply = Reply(302, (("Location", "http://169.254.169.254/latest/meta-data/"),))
        with pytest.raises(UrlFetchError, match="link-local"):
            fetch_url(stub.base_url + "/photo.jpg", tmp_path)
        assert len(stub.requests) == 1


def test_pasted_link_local_address_is_refused(tmp_path):
    with pytest.raises(UrlFetchError, match="link-local"):
        fetch_url("http://169.254.169.254/photo.jpg", tmp_path)


def test_pasted_address_redirect_loop_stops_after_the_cap(tmp_path):
    with StubServer() as stub:
        stub.reply = Reply(302, (("Location", "/again"),), b"")
        with pytest.raises(UrlFetchError, match="redirected"):
            fetch_url(stub.base_url + "/photo.jpg", tmp_path)
        assert len(stub.requests) == MAX_REDIRECTS + 1


# -- 9: one deadline per job, stalls, cancel everywhere -------------------------------------


def api_script(poll, download=None):
    """A service whose submit works and whose polls (and result host) follow ``poll``."""

    def script(conn: Conn) -> None:
        if conn.method == "POST":
            conn.read_body()
            conn.answer(200, api_json(task_id="task-9", task_type="async"))
        elif conn.path.startswith(QUERY_PATH):
            poll(conn)
        elif download is not None:
            download(conn)

    return script


def succeed_with_link(conn: Conn) -> None:
    url = conn.server.base_url + "/result.png"
    conn.answer(200, api_json(task_status=2, output={"image_url": url}))


def hang(conn: Conn) -> None:
    conn.hang()


def trickle_json(conn: Conn) -> None:
    if conn.head(200, (("Content-Type", "application/json"), ("Content-Length", "200"))):
        conn.trickle(b" " * 200, every=0.5)


def trickle_png(conn: Conn) -> None:
    if conn.head(200, (("Content-Type", "image/png"), ("Content-Length", str(len(PNG))))):
        conn.trickle(PNG, every=0.5)


@pytest.mark.parametrize("poll", [hang, trickle_json], ids=["hanging", "trickling"])
def test_timeout_bounds_a_run_whose_polls_hang_or_trickle(store, job_images, poll):
    with HostileServer(api_script(poll)) as srv:
        client = client_for(srv.base_url, timeout=3, poll_read_timeout=60)
        job = store.create_job(slot_files(job_images), "woman")
        try:
            with Timer() as t, pytest.raises(TimedOut):
                run_job(store, client, job)
        finally:
            client.close()
    assert t.elapsed < 3 + 2
    after = store.get(job.id)
    assert after.state is JobState.SUBMITTED and after.task_id == "task-9"  # resumable


@pytest.mark.parametrize("poll", [hang, trickle_json], ids=["hanging", "trickling"])
def test_cli_timeout_bounds_a_refine_whose_polls_hang_or_trickle(job_images, poll):
    argv = ["refine", "--person", str(job_images["person"]), "--top", str(job_images["top"])]
    argv += ["--coarse", str(job_images["coarse"]), "--gender", "man", "--api-key", KEY]
    argv += ["--poll-interval", "0.05", "--timeout", "3", "--json"]
    out, err = io.StringIO(), io.StringIO()
    with HostileServer(api_script(poll)) as srv, Timer() as t:
        rc = cli.run([*argv, "--base-url", srv.base_url], stdout=out, stderr=err)
    assert rc == cli.EXIT_TIMEOUT, err.getvalue()
    assert t.elapsed < 3 + 2
    assert json.loads(out.getvalue())["task_id"] == "task-9"


def test_timeout_bounds_a_trickling_download(store, job_images):
    with HostileServer(api_script(succeed_with_link, trickle_png)) as srv:
        client = client_for(srv.base_url, timeout=3, download_read_timeout=60)
        job = store.create_job(slot_files(job_images), "woman")
        try:
            with Timer() as t, pytest.raises(TimedOut):
                run_job(store, client, job)
        finally:
            client.close()
    assert t.elapsed < 3 + 2
    assert store.get(job.id).state is JobState.SUBMITTED
    assert not list(store.results_dir.glob("*.part"))


def test_a_long_retry_after_ends_at_the_deadline(store, job_images):
    def busy(conn: Conn) -> None:
        conn.answer(503, b"<html>busy</html>", (("Retry-After", "20"),))

    with HostileServer(api_script(busy)) as srv:
        # The real policy: its delays (Retry-After: 20) are the point here.
        client = client_for(srv.base_url, timeout=3, retry=RetryPolicy(attempts=6))
        job = store.create_job(slot_files(job_images), "woman")
        try:
            with Timer() as t, pytest.raises(TimedOut):
                run_job(store, client, job)
        finally:
            client.close()
    assert 2.5 < t.elapsed < 3 + 2


@pytest.mark.parametrize("what", ["poll", "download"])
def test_a_trickling_body_fails_as_stalled(tmp_path, what):
    with HostileServer(api_script(trickle_json, trickle_png)) as srv:
        client = client_for(
            srv.base_url,
            retry=fast_retry(attempts=1),
            poll_read_timeout=1.5,
            download_read_timeout=1.5,
        )
        try:
            with Timer() as t, pytest.raises(NetworkError, match="stalled"):
                if what == "poll":
                    client.query("task-9")
                else:
                    client.download(srv.base_url + "/result.png", tmp_path / "r.png")
        finally:
            client.close()
    assert 1.0 < t.elapsed < 1.5 + 2


def test_cancel_while_sleeping_between_polls():
    def queued(conn: Conn) -> None:
        conn.answer(200, api_json(task_status=0))

    with HostileServer(api_script(queued)) as srv:
        client = client_for(srv.base_url, poll_interval=30)
        token = CancelToken()
        try:
            thread, outcome = run_in_thread(lambda: client.wait("task-9", cancel=token))
            assert srv.seen.wait(10)
            took = cancel_and_time(token, thread, outcome)
        finally:
            client.close()
    assert isinstance(outcome["error"], Cancelled) and took < 0.5


def test_cancel_during_a_hanging_poll():
    with HostileServer(api_script(hang)) as srv:
        client = client_for(srv.base_url, poll_read_timeout=60)
        token = CancelToken()
        try:
            thread, outcome = run_in_thread(lambda: client.wait("task-9", cancel=token))
            assert srv.seen.wait(10)
            took = cancel_and_time(token, thread, outcome)
        finally:
            client.close()
    assert isinstance(outcome["error"], Cancelled) and took < 0.5
    assert outcome["error"].task_id == "task-9"


def test_cancel_during_a_trickling_download(tmp_path):
    with HostileServer(api_script(hang, trickle_png)) as srv:
        client = client_for(srv.base_url, download_read_timeout=60)
        token = CancelToken()
        try:
            thread, outcome = run_in_thread(
                lambda: client.download(
                    srv.base_url + "/result.png", tmp_path / "r.png", cancel=token
                )
            )
            assert srv.seen.wait(10)
            took = cancel_and_time(token, thread, outcome)
        finally:
            client.close()
    assert isinstance(outcome["error"], Cancelled) and took < 0.5
    assert not list(tmp_path.iterdir())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a full backlog hangs on Linux")
def test_cancel_during_a_connect_that_hangs():
    with FullBacklog() as port:
        client = client_for(f"http://127.0.0.1:{port}", connect_timeout=60)
        token = CancelToken()
        try:
            thread, outcome = run_in_thread(lambda: client.wait("task-9", cancel=token))
            assert wait_for_syn_sent(port)  # the client is inside its connect
            took = cancel_and_time(token, thread, outcome)
        finally:
            client.close()
    assert isinstance(outcome["error"], Cancelled) and took < 0.5


def test_cancel_a_pasted_address_download_while_the_server_hangs(tmp_path):
    cancel = threading.Event()
    with HostileServer(hang) as srv:
        thread, outcome = run_in_thread(
            lambda: fetch_url(srv.base_url + "/photo.jpg", tmp_path, cancel=cancel)
        )
        assert srv.seen.wait(10)
        asked = time.monotonic()
        cancel.set()
        thread.join(10)
    assert not thread.is_alive() and outcome["ended"] - asked < 0.5
    assert isinstance(outcome["error"], UrlFetchError)
    assert "cancelled" in outcome["error"].message
    assert not list(tmp_path.iterdir())


def test_a_pasted_address_that_trickles_fails_as_too_slow(tmp_path):
    with (
        HostileServer(trickle_png) as srv,
        Timer() as t,
        pytest.raises(UrlFetchError, match="too slowly"),
    ):
        fetch_url(srv.base_url + "/photo.png", tmp_path, read_timeout=1.5)
    assert t.elapsed < 1.5 + 2


@pytest.fixture
def big_inputs(tmp_path) -> RefineInputs:
    """Inputs too big for the socket buffers: an unread upload blocks the sender."""
    paths = []
    for name in ("p.png", "t.png", "c.png"):
        path = tmp_path / name
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(6 * 1024 * 1024))
        paths.append(path)
    return RefineInputs(person=paths[0], top=paths[1], coarse=paths[2], gender="man")


def test_cancel_during_the_upload_sends_nothing_for_processing(big_inputs):
    with HostileServer(hang, rcvbuf=64 * 1024) as srv:  # reads the headers, never the body
        client = client_for(srv.base_url, upload_read_timeout=60)
        token = CancelToken()
        try:
            thread, outcome = run_in_thread(lambda: client.submit(big_inputs, cancel=token))
            assert srv.seen.wait(10)
            took = cancel_and_time(token, thread, outcome)
        finally:
            client.close()
    assert type(outcome["error"]) is Cancelled and took < 0.5
    assert "nothing was sent" in outcome["error"].user_message


def test_cancel_while_waiting_for_the_submit_answer_is_outcome_unknown(store, job_images):
    def take_and_hang(conn: Conn) -> None:
        conn.read_body()
        conn.server.body_read.set()
        conn.hang()

    with HostileServer(take_and_hang) as srv:
        srv.body_read = threading.Event()
        client = client_for(srv.base_url, upload_read_timeout=60)
        job = store.create_job(slot_files(job_images), "woman")
        token = CancelToken()
        try:
            thread, outcome = run_in_thread(lambda: run_job(store, client, job, cancel=token))
            assert srv.body_read.wait(10)
            took = cancel_and_time(token, thread, outcome)
        finally:
            client.close()
        assert [m for m, _ in srv.requests] == ["POST"]  # never re-sent
    # The answer was waited for ANSWER_GRACE (it might have named the task), no longer.
    assert isinstance(outcome["error"], SubmissionOutcomeUnknown) and ANSWER_GRACE <= took < 0.5
    assert store.get(job.id).state is JobState.OUTCOME_UNKNOWN


def test_deadline_while_waiting_for_the_submit_answer_is_outcome_unknown(store, job_images):
    def take_and_hang(conn: Conn) -> None:
        conn.read_body()
        conn.hang()

    with HostileServer(take_and_hang) as srv:
        client = client_for(srv.base_url, timeout=2, upload_read_timeout=60)
        job = store.create_job(slot_files(job_images), "woman")
        try:
            with Timer() as t, pytest.raises(SubmissionOutcomeUnknown):
                run_job(store, client, job)
        finally:
            client.close()
        assert [m for m, _ in srv.requests] == ["POST"]
    assert t.elapsed < 2 + 2
    assert store.get(job.id).state is JobState.OUTCOME_UNKNOWN


# -- 13: the recorded hash names the uploaded bytes ----------------------------------------


def test_a_stored_input_changed_before_the_upload_is_refused_unsent(store, job_images):
    job = store.create_job(slot_files(job_images), "woman")
    copy = job.inputs["top_garment"].path
    copy.write_bytes(copy.read_bytes() + b"changed")
    with StubServer() as stub:
        stub.reply = Reply(200, (), api_json(task_id="never"))
        client = client_for(stub.base_url)
        try:
            with pytest.raises(InputRejected, match="changed"):
                run_job(store, client, job)
        finally:
            client.close()
        assert stub.requests == []
    assert store.get(job.id).state is JobState.FAILED


def test_uploaded_bytes_match_the_recorded_hashes(store, job_images):
    received: dict[str, bytes] = {}

    def capture(conn: Conn) -> None:
        want = int(conn.headers["content-length"])
        data = conn.leftover
        while len(data) < want and not conn.stopping.is_set():
            try:
                chunk = conn.sock.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                return
            data += chunk
        received["body"] = data
        conn.answer(200, api_json(task_id="task-13"))

    job = store.create_job(slot_files(job_images), "woman")
    with HostileServer(capture) as srv:
        client = client_for(srv.base_url)
        try:
            sub = client.submit(
                RefineInputs(
                    person=job.inputs["person_image"].path,
                    top=job.inputs["top_garment"].path,
                    coarse=job.inputs["coarse_image"].path,
                    gender="woman",
                    sha256={slot: item.sha256 for slot, item in job.inputs.items()},
                )
            )
        finally:
            client.close()
    assert sub.task_id == "task-13"
    for item in job.inputs.values():
        assert hashlib.sha256(item.path.read_bytes()).hexdigest() == item.sha256
        assert item.path.read_bytes() in received["body"]


CHANGING = Path("/proc/self/io")  # its counters include the bytes read so far: no two
# readings are alike. The old code hashed one reading and copied another, so the stored
# copy did not have the hash it is named by and recorded under.


@pytest.mark.skipif(not os.access(CHANGING, os.R_OK), reason="needs Linux /proc/self/io")
def test_a_source_that_changes_while_stored_is_hashed_from_the_copied_bytes(store):
    for _ in range(3):
        stored = store.store_input(CHANGING)
        assert hashlib.sha256(stored.path.read_bytes()).hexdigest() == stored.sha256
        assert stored.path.name.startswith(stored.sha256)


def test_cancel_in_the_window_lands_during_a_hanging_poll(qtbot, store, job_images):
    from refiner_gui.controllers import JobController
    from refiner_gui.threads import live_workers
    from refiner_gui.workers import JobRequest
    from tests.helpers.qthreads import wait_ended

    with HostileServer(api_script(hang)) as srv:
        controller = JobController(store, lambda: client_for(srv.base_url, poll_read_timeout=60))
        controller.start(JobRequest(slot_files(job_images), "woman"))
        (run,) = controller.runs()
        thread = run.handle.thread
        qtbot.waitUntil(lambda: "GET" in [m for m, _ in srv.requests], timeout=10_000)
        with qtbot.waitSignal(controller.runEnded, timeout=5_000), Timer() as t:
            controller.cancel()
        wait_ended(qtbot, thread)
    assert t.elapsed < 0.5
    assert not controller.is_busy() and not live_workers()
    [job] = store.unfinished()
    assert job.state is JobState.SUBMITTED and job.task_id == "task-9"  # resumable
