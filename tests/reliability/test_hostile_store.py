"""A hostile store and disk (issue 14, items 1, 2, 3, 11, 12): no double charge, no paid
result lost, no traceback.

- Ownership: a live process's job is never settled by another (``resume --all``, the
  window's start-up recovery: the same ``recover()``); a gone holder's job is taken over.
  Real child processes of ``refiner-cli`` against a sandbox with latency, as in
  tests/test_crash_safety.py.
- A store locked during submit: the task id goes to the journal and is picked up later.
- A result refused at download: the job stays resumable with its task id and link.
- Non-finite numbers of seconds are refused everywhere they enter.
- Unwritable folders, full disks (a tiny tmpfs where the test may mount one), rows
  edited outside the app: exit 2 with a plain message, and a billed job stays resumable.
"""

from __future__ import annotations

import io
import json
import math
import os
import socket
import subprocess
import threading
import time

import pytest

from refiner_gui import cli
from refiner_gui.api import ConfigError, RefinerClient
from refiner_gui.api.errors import DownloadError, RefinerError
from refiner_gui.jobs import (
    HeldElsewhere,
    JobHeld,
    JobState,
    JobStore,
    LocalWriteError,
    recover,
    run_job,
)
from refiner_gui.jobs import runner as runner_module
from refiner_gui.jobs.store import DB_NAME, SCHEMA_VERSION
from refiner_gui.sandbox import Fault, SandboxServer
from refiner_gui.settings import Settings, load_settings, save_settings
from tests.helpers.fast import fast_retry
from tests.helpers.hostile_disk import fill, tmpfs
from tests.helpers.jobs import raw, slot_files
from tests.test_crash_safety import (
    KEY,
    REPO,
    child,
    child_env,
    cli_argv,
    refine_argv,
    sigkill,
    wait_until,
)

# -- helpers ---------------------------------------------------------------------------


def run(argv: list[str]) -> tuple[int, str, str]:
    """``refiner-cli`` in this process (fast retries): exit code, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    rc = cli.run(argv, stdout=out, stderr=err, retry=fast_retry())
    return rc, out.getvalue(), err.getvalue()


def common(srv: SandboxServer) -> list[str]:
    return ["--base-url", srv.base_url, "--api-key", KEY, "--poll-interval", "0.02", "--json"]


def refine_cli(srv: SandboxServer, images, *extra: str) -> list[str]:
    return [
        "refine",
        "--person",
        str(images["person"]),
        "--top",
        str(images["top"]),
        "--coarse",
        str(images["coarse"]),
        "--gender",
        "woman",
        *extra,
        *common(srv),
    ]


def client_for(srv: SandboxServer, **kw) -> RefinerClient:
    kw.setdefault("poll_interval", 0.02)
    kw.setdefault("retry", fast_retry())
    return RefinerClient(KEY, srv.base_url, **kw)


def resume_all_process(srv: SandboxServer, **env: str) -> tuple[int, dict, str]:
    """``refiner-cli resume --all`` as a separate process: exit code, JSON, stderr."""
    proc = subprocess.run(
        cli_argv(srv, "resume", "--all"),
        env={**child_env(), **env},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    assert KEY not in proc.stdout + proc.stderr
    return proc.returncode, json.loads(proc.stdout), proc.stderr


def only_job():
    store = JobStore.open_default()
    try:
        [job] = store.list_jobs()
        return job
    finally:
        store.close()


def owners() -> tuple[list, list]:
    """(jobs.owner of every job, every processes row), straight from the file."""
    store = JobStore.open_default()
    path = store.path
    store.close()
    with raw(path) as conn:
        jobs = [r[0] for r in conn.execute("SELECT owner FROM jobs")]
        procs = [tuple(r) for r in conn.execute("SELECT token, pid, host FROM processes")]
    return jobs, procs


@pytest.fixture
def store():
    s = JobStore.open_default()
    yield s
    s.close()


# -- 1. one process owns a job at a time --------------------------------------------------


def test_resume_all_leaves_a_live_process_upload_alone(job_images, tmp_path):
    """The refine of another live process is mid-submit (its answer pending): resume --all
    must not settle it as outcome unknown; the refine then succeeds, one submission."""
    with SandboxServer(latency=0.3) as srv:
        srv.inject(Fault("submit", "slow", delay=6.0))  # the task exists; the answer waits
        with child(refine_argv(srv, job_images), tmp_path / "refine.log") as proc:
            wait_until(lambda: srv.submissions == 1, "the upload to arrive", proc)
            assert only_job().state is JobState.SUBMITTING
            rc, payload, stderr = resume_all_process(srv)
            assert proc.poll() is None, "the refine ended before resume --all: no overlap"
            [item] = payload["jobs"]
            assert item["state"] == "submitting" and item["held_elsewhere"] is True
            assert "another process" in item["error"].lower()
            assert "re-run" not in (item["error"] + stderr).lower()
            assert rc == cli.EXIT_UNAVAILABLE
            assert proc.wait(30) == 0, (tmp_path / "refine.log").read_text()
        job = only_job()
        assert job.state is JobState.SUCCEEDED, job.error
        assert srv.submissions == 1 and list(srv.tasks) == [job.task_id]
    # Released when the job ended: no owner, no process row left behind.
    assert owners() == ([None], [])


def test_a_sigkilled_holder_is_taken_over_after_the_staleness_limit(job_images, tmp_path):
    """A killed holder on "another host" (no pid to check) holds its job until its
    heartbeat is older than the limit; then recovery settles it (nothing re-sent)."""
    with SandboxServer() as srv:
        srv.inject(Fault("submit", "hang"))
        with child(refine_argv(srv, job_images), tmp_path / "refine.log") as proc:
            wait_until(lambda: srv.submissions == 1, "the upload to arrive", proc)
            sigkill(proc)
        store = JobStore.open_default()
        path = store.path
        store.close()
        with raw(path) as conn:  # as if it ran elsewhere: only the heartbeat tells
            conn.execute("UPDATE processes SET host = 'another-host'")
        rc, payload, _ = resume_all_process(srv, REFINER_GUI_STALE_AFTER="3600")
        assert rc == cli.EXIT_UNAVAILABLE and payload["jobs"][0]["held_elsewhere"] is True
        assert only_job().state is JobState.SUBMITTING
        rc, payload, _ = resume_all_process(srv, REFINER_GUI_STALE_AFTER="0.001")
        [item] = payload["jobs"]
        assert item["state"] == "outcome_unknown" and "held_elsewhere" not in item
        assert seen_posts(srv) == 1
    assert owners() == ([None], [])


def seen_posts(srv: SandboxServer) -> int:
    return len([1 for m, _ in srv.requests if m == "POST"])


def test_a_sigkilled_holder_on_this_host_is_taken_over_at_once(job_images, tmp_path):
    with SandboxServer(latency=0.5) as srv:
        with child(refine_argv(srv, job_images), tmp_path / "refine.log") as proc:
            wait_until(lambda: only_job_state() is JobState.SUBMITTED, "the task id", proc)
            sigkill(proc)  # its pid is gone: no need to wait for the heartbeat to age
        rc, payload, _ = resume_all_process(srv, REFINER_GUI_STALE_AFTER="3600")
        assert rc == cli.EXIT_OK and payload["jobs"][0]["state"] == "succeeded"
        assert srv.submissions == 1


def only_job_state() -> JobState | None:
    store = JobStore.open_default()
    try:
        jobs = store.list_jobs()
        return jobs[0].state if jobs else None
    finally:
        store.close()


def test_recover_skips_a_job_another_store_holds_until_it_lets_go(sandbox, job_images):
    """Two stores on one file stand for two processes: the window's start-up recovery
    (the same recover()) leaves the held job alone, and takes it once released."""
    window = JobStore.open_default()
    other = JobStore(window.path)
    try:
        job = window.create_job(slot_files(job_images), "woman", hold=False)
        window.mark_submitting(job.id)  # the other process is uploading it...
        other.claim(job.id)  # ...and holds it
        seen = []
        settled = recover(window, lambda: client_for(sandbox), on_job=lambda j, e: seen.append(e))
        assert settled == [] and isinstance(seen[0], HeldElsewhere)
        assert window.get(job.id).state is JobState.SUBMITTING
        holder = window.holder_of(job.id)
        assert holder is not None and holder.pid == os.getpid()
        assert holder.host == socket.gethostname()
        other.release(job.id)
        [done] = recover(window, lambda: client_for(sandbox))
        assert done.state is JobState.OUTCOME_UNKNOWN
        assert sandbox.requests == []
    finally:
        other.close()
        window.close()


def test_run_job_refuses_a_held_job_and_releases_its_own(sandbox, job_images):
    store = JobStore.open_default()
    other = JobStore(store.path)
    try:
        job = store.create_job(slot_files(job_images), "woman", hold=False)
        other.claim(job.id)
        with pytest.raises(HeldElsewhere):
            run_job(store, client_for(sandbox), job)
        assert sandbox.requests == [] and store.get(job.id).state is JobState.PENDING
        other.release(job.id)
        done = run_job(store, client_for(sandbox), job)
        assert done.state is JobState.SUCCEEDED and store.holder_of(job.id) is None
        # Released on failure too.
        failing = store.create_job(slot_files(job_images), "woman")
        sandbox.inject(Fault("submit", "error", code="ERROR_NO_FACE_IN_FILE"))
        with pytest.raises(RefinerError):
            run_job(store, client_for(sandbox), failing)
        assert store.holder_of(failing.id) is None
    finally:
        other.close()
        store.close()
    assert owners() == ([None, None], [])


def test_a_new_job_is_held_from_creation_until_run_or_close(sandbox, job_images):
    """A PENDING job of a live process (created, not yet sent) is not cancelled as
    abandoned by another process's recovery; run_job on another thread takes it over."""
    creator = JobStore.open_default()
    other = JobStore(creator.path)
    try:
        job = creator.create_job(slot_files(job_images), "woman")
        seen = []
        assert recover(other, lambda: client_for(sandbox), on_job=lambda j, e: seen.append(e)) == []
        assert isinstance(seen[0], HeldElsewhere)
        assert creator.get(job.id).state is JobState.PENDING
        ran: list = []
        worker = threading.Thread(
            target=lambda: ran.append(run_job(creator, client_for(sandbox), job).state)
        )
        worker.start()
        worker.join(30)
        assert ran == [JobState.SUCCEEDED] and creator.holder_of(job.id) is None
        never_run = creator.create_job(slot_files(job_images), "woman")
        assert creator.holder_of(never_run.id) is not None
    finally:
        other.close()
        creator.close()
    assert owners() == ([None, None], [])  # close() freed the job that never ran


def test_a_stale_heartbeat_is_taken_over_a_fresh_one_is_not(job_images):
    store = JobStore.open_default()
    other = JobStore(store.path, stale_after=30.0)
    try:
        job = store.create_job(slot_files(job_images), "woman")
        store.claim(job.id)
        with raw(store.path) as conn:
            conn.execute("UPDATE processes SET host = 'elsewhere', heartbeat = ?", (time.time(),))
        with pytest.raises(JobHeld):
            other.claim(job.id)
        with raw(store.path) as conn:
            conn.execute("UPDATE processes SET heartbeat = ?", (time.time() - 31,))
        other.claim(job.id)
        assert other.holder_of(job.id).token == other.owner.token
        other.release(job.id)
    finally:
        other.close()
        store.close()


def test_an_old_store_upgrades_with_the_owner_columns(tmp_path, job_images):
    path = tmp_path / DB_NAME
    with raw(path) as conn:  # a schema-1 file, as the previous release wrote it
        from refiner_gui.jobs.schema import MIGRATIONS

        for statement in MIGRATIONS[0].split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute("PRAGMA user_version = 1")
        conn.execute(
            "INSERT INTO jobs (state, gender, created_at, updated_at, task_id) "
            "VALUES ('submitted', 'woman', ?, ?, 'old-task')",
            (time.time(), time.time()),
        )
    store = JobStore(path)
    try:
        assert store.schema_version() == SCHEMA_VERSION >= 2
        [job] = store.list_jobs()
        assert job.task_id == "old-task" and job.result_url is None
        assert store.holder_of(job.id) is None
    finally:
        store.close()


# -- 2. the store locked during submit: the journal keeps the task id ---------------------


def test_a_locked_store_at_submit_keeps_the_task_id_in_the_journal(
    sandbox, job_images, monkeypatch
):
    monkeypatch.setattr(runner_module, "RECORD_PAUSES", (0.01,))
    store = JobStore.open_default()
    fast = JobStore(store.path, busy_timeout=0.2)
    store.close()
    job = fast.create_job(slot_files(job_images), "woman")
    with raw(fast.path) as other:
        other.execute("PRAGMA busy_timeout = 0")

        def lock_once(event) -> None:  # after SUBMITTING is committed, before the answer
            if not other.in_transaction:
                other.execute("BEGIN EXCLUSIVE")

        try:
            with pytest.raises(LocalWriteError) as caught:
                run_job(fast, client_for(sandbox), job, on_event=lock_once)
        finally:
            other.execute("ROLLBACK")
    [task_id] = list(sandbox.tasks)
    message = caught.value.user_message
    assert task_id in message and "resume" in message and "journal" in message
    assert fast.get(job.id).state is JobState.SUBMITTING  # the store could not be written
    lines = fast.journal_path.read_text().splitlines()
    [entry] = [json.loads(line) for line in lines]
    assert entry["job_id"] == job.id and entry["task_id"] == task_id and entry["time"] > 0
    assert KEY not in fast.journal_path.read_text()
    # `resume TASK_ID` adopts the journalled id for its job (no new record).
    fast.close()
    rc, stdout, stderr = run(["resume", task_id, *common(sandbox)])
    assert rc == cli.EXIT_OK, stderr
    assert json.loads(stdout)["job_id"] == job.id
    done = only_job()
    assert done.state is JobState.SUCCEEDED and done.task_id == task_id
    assert sandbox.submissions == 1


def test_recovery_applies_the_journal_first(sandbox, job_images, store):
    """A job recovery had settled as outcome unknown comes back once the journal names
    its task: resume --all finishes it, nothing re-sent."""
    # Created by an earlier process (not held by this one).
    job = store.create_job(slot_files(job_images), "woman", hold=False)
    store.mark_submitting(job.id)
    client = client_for(sandbox)
    try:
        task_id = client.submit(runner_module.job_inputs(job)).task_id
    finally:
        client.close()
    store.mark_finished(job.id, JobState.OUTCOME_UNKNOWN, {"message": "unknown"})
    store.journal_task(job.id, task_id, "req", "log")
    rc, stdout, stderr = run(["resume", "--all", *common(sandbox)])
    assert rc == cli.EXIT_OK, stderr
    [item] = json.loads(stdout)["jobs"]
    assert item["state"] == "succeeded" and item["task_id"] == task_id
    assert sandbox.submissions == 1
    # Applying it again changes nothing.
    assert store.apply_journal() == []


# -- 3. a result refused at download stays resumable ---------------------------------------


def test_an_oversized_result_keeps_the_task_and_link_and_resumes(sandbox, job_images, store):
    job = store.create_job(slot_files(job_images), "woman")
    with pytest.raises(DownloadError, match="larger than"):
        run_job(store, client_for(sandbox, max_download_bytes=100), job)
    held = store.get(job.id)
    assert held.state is JobState.SUBMITTED and held.task_id in sandbox.tasks
    assert held.result_url and held.result_url.startswith(sandbox.base_url)
    assert "larger than" in held.error_message
    # resume --all does not skip it: with a sane cap it finishes, nothing re-sent.
    rc, stdout, stderr = run(["resume", "--all", *common(sandbox)])
    assert rc == cli.EXIT_OK, stderr
    assert json.loads(stdout)["jobs"][0]["state"] == "succeeded"
    assert sandbox.submissions == 1


def test_a_file_link_is_refused_plainly_and_resume_is_allowed(
    sandbox, job_images, tmp_path, monkeypatch
):
    app = sandbox._app
    real = app._result_url
    monkeypatch.setattr(app, "_result_url", lambda task: "file:///etc/passwd")
    rc, stdout, stderr = run(refine_cli(sandbox, job_images, "--out", str(tmp_path / "r.png")))
    payload = json.loads(stdout)
    assert rc == cli.EXIT_REJECTED and "Traceback" not in stderr
    assert "file link" in payload["error"]["message"]
    task_id = payload["task_id"]
    assert task_id and f"refiner-cli resume {task_id}" in stderr
    job = only_job()
    assert job.state is JobState.SUBMITTED and job.result_url == "file:///etc/passwd"
    monkeypatch.setattr(app, "_result_url", real)  # the service gives a good link again
    rc, stdout, stderr = run(
        ["resume", task_id, "--out", str(tmp_path / "r.png"), *common(sandbox)]
    )
    assert rc == cli.EXIT_OK, stderr
    assert (tmp_path / "r.png").is_file() and sandbox.submissions == 1


# -- 11. non-finite numbers ------------------------------------------------------------------


@pytest.mark.parametrize("flag", ["--poll-interval", "--timeout"])
@pytest.mark.parametrize("value", ["nan", "inf", "Infinity", "0", "-1"])
def test_non_finite_seconds_are_refused_on_the_command_line(sandbox, job_images, flag, value):
    rc, stdout, stderr = run(refine_cli(sandbox, job_images, flag, value))
    assert rc == cli.EXIT_USAGE and sandbox.requests == []
    assert flag in stderr and "Traceback" not in stderr
    assert "seconds" in stderr


def test_non_finite_seconds_in_settings_and_client(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text('{"poll_interval": NaN, "timeout": Infinity}')
    s = load_settings(path)
    assert s.poll_interval == Settings().poll_interval and s.timeout == Settings().timeout
    with pytest.raises(ValueError, match="finite"):
        save_settings(Settings(poll_interval=math.nan), path)
    with pytest.raises(ValueError, match="finite"):
        save_settings(Settings(timeout=math.inf), path)
    for kw in ({"poll_interval": math.nan}, {"timeout": math.nan}, {"timeout": math.inf}):
        with pytest.raises(ConfigError, match="finite"):
            RefinerClient(KEY, "http://127.0.0.1:9", **kw)


# -- 12. hostile folders, full disks, edited rows ----------------------------------------------


def test_an_unusable_home_exits_2_before_sending(sandbox, job_images, tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the app's folder should be")
    monkeypatch.setenv("REFINER_GUI_HOME", str(blocker / "home"))
    rc, stdout, stderr = run(refine_cli(sandbox, job_images))
    assert rc == cli.EXIT_USAGE and "Traceback" not in stderr
    message = json.loads(stdout)["error"]["message"]
    assert "data folder" in message and "Nothing was sent" in message
    assert sandbox.requests == []


def test_a_read_only_inputs_folder_exits_2_before_sending(sandbox, job_images, isolated_home):
    store = JobStore.open_default()
    inputs = store.inputs_dir
    store.close()
    with tmpfs(inputs, read_only=True):
        rc, stdout, stderr = run(refine_cli(sandbox, job_images))
    assert rc == cli.EXIT_USAGE and "Traceback" not in stderr
    message = json.loads(stdout)["error"]["message"]
    assert "Nothing was sent" in message and "writable" in message
    assert sandbox.requests == []


def test_a_full_disk_before_billing_exits_2_before_sending(sandbox, job_images, isolated_home):
    data = isolated_home / "data"
    with tmpfs(data, size="512k"):
        JobStore.open_default().close()  # the history exists; then the disk fills up
        filler = fill(data)
        rc, stdout, stderr = run(refine_cli(sandbox, job_images))
        filler.unlink()
    assert rc == cli.EXIT_USAGE and "Traceback" not in stderr, stderr
    assert "Nothing was sent" in json.loads(stdout)["error"]["message"]
    assert sandbox.requests == []


@pytest.mark.parametrize("how", ["full", "read_only"])
def test_a_result_that_cannot_be_written_after_billing_stays_resumable(
    sandbox, job_images, tmp_path, how
):
    store = JobStore.open_default()
    results = store.results_dir
    store.close()
    with tmpfs(results, size="64k", read_only=how == "read_only"):
        filler = fill(results) if how == "full" else None
        rc, stdout, stderr = run(refine_cli(sandbox, job_images, "--out", str(tmp_path / "r.png")))
        if filler is not None:
            filler.unlink()
    assert rc == cli.EXIT_USAGE and "Traceback" not in stderr, stderr
    payload = json.loads(stdout)
    task_id = payload["task_id"]
    assert task_id and "billed" in payload["error"]["message"]
    assert f"refiner-cli resume {task_id}" in stderr
    job = only_job()
    assert job.state is JobState.SUBMITTED and job.task_id == task_id
    # Room again (the mount is gone): the same task is fetched, nothing re-sent.
    rc, stdout, stderr = run(
        ["resume", task_id, "--out", str(tmp_path / "r.png"), *common(sandbox)]
    )
    assert rc == cli.EXIT_OK, stderr
    assert only_job().state is JobState.SUCCEEDED and sandbox.submissions == 1


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("created_at", "yesterday"),
        ("submitted_at", "soon"),
        ("updated_at", b"\0"),
        ("task_id", b"x"),
    ],
)
def test_a_row_edited_outside_the_app_exits_2_with_what_to_do(
    sandbox, job_images, store, column, value
):
    job = store.create_job(slot_files(job_images), "woman")
    store.mark_submitting(job.id)
    store.mark_submitted(job.id, "task-edited")
    with raw(store.path) as conn:
        conn.execute(f"UPDATE jobs SET {column} = ? WHERE id = ?", (value, job.id))
    for argv in (["jobs", "--json"], ["resume", "--all", *common(sandbox)]):
        rc, stdout, stderr = run(argv)
        assert rc == cli.EXIT_USAGE and "Traceback" not in stderr, stderr
        message = json.loads(stdout)["error"]["message"]
        assert "edited outside the app" in message
    assert sandbox.requests == []


def test_resume_adopts_a_task_id_the_user_gives_for_an_unknown_outcome(sandbox, job_images, store):
    # Created by an earlier process (not held by this one).
    job = store.create_job(slot_files(job_images), "woman", hold=False)
    store.mark_submitting(job.id)
    client = client_for(sandbox)
    try:
        task_id = client.submit(runner_module.job_inputs(job)).task_id
    finally:
        client.close()
    store.mark_finished(job.id, JobState.OUTCOME_UNKNOWN, {"message": "unknown"})
    rc, stdout, stderr = run(["resume", task_id, "--job", str(job.id), *common(sandbox)])
    assert rc == cli.EXIT_OK, stderr
    assert json.loads(stdout)["job_id"] == job.id
    assert store.get(job.id).state is JobState.SUCCEEDED and store.count() == 1
    assert sandbox.submissions == 1
    # A job that already has its own task does not take another.
    rc, _, stderr = run(["resume", "other-task", "--job", str(job.id), *common(sandbox)])
    assert rc == cli.EXIT_USAGE and "already has task" in stderr


def test_an_unusable_results_folder_after_billing_without_mounting(sandbox, job_images, store):
    """Where no file system can be mounted: the results folder turns into a file while
    the task runs (any OSError on the way to the result takes the same path)."""
    job = store.create_job(slot_files(job_images), "woman")
    results = store.results_dir
    moved = results.with_name("results.moved")

    def break_results(event) -> None:
        if event.stage.name == "DOWNLOADING" and not moved.exists():
            results.rename(moved)
            results.write_text("not a folder")

    with pytest.raises(LocalWriteError, match="billed") as caught:
        run_job(store, client_for(sandbox), job, on_event=break_results)
    assert caught.value.task_id == store.get(job.id).task_id
    assert store.get(job.id).state is JobState.SUBMITTED
    results.unlink()
    moved.rename(results)
    rc, stdout, stderr = run(["resume", "--all", *common(sandbox)])
    assert rc == cli.EXIT_OK, stderr
    assert store.get(job.id).state is JobState.SUCCEEDED and sandbox.submissions == 1


def test_a_release_that_met_a_locked_store_is_retried_by_the_heartbeat(job_images):
    """The window stays open after a locked store: its job must not stay marked as held
    (else `refiner-cli resume` would leave it alone until the window quits)."""
    default = JobStore.open_default()
    default.close()
    store = JobStore(default.path, busy_timeout=0.1, heartbeat_interval=0.05)
    try:
        job = store.create_job(slot_files(job_images), "woman", hold=False)
        store.claim(job.id)
        with raw(store.path) as other:
            other.execute("BEGIN EXCLUSIVE")
            try:
                store.release(job.id)  # fails: the store is locked
            finally:
                other.execute("ROLLBACK")
        wait_until(lambda: store.holder_of(job.id) is None, "the heartbeat to release it")
        wait_until(lambda: owners() == ([None], []), "the process row to go")
    finally:
        store.close()
