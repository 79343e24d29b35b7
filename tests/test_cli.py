"""``refiner-cli`` end to end against the sandbox: results, exit codes, JSON, no lost ids."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import threading

import pytest
from PIL import Image

from refiner_gui import cli
from refiner_gui.api import CancelToken
from refiner_gui.jobs import JobState, JobStore
from refiner_gui.sandbox import Fault, SandboxServer
from refiner_gui.slots import BOTTOM, COARSE, PERSON, TOP
from tests.helpers.fast import fast_retry
from tests.helpers.images import make_image

KEY = "cli-SECRET-key-9876543210"


def run(argv, cancel=None):
    out, err = io.StringIO(), io.StringIO()
    rc = cli.run(argv, stdout=out, stderr=err, retry=fast_retry(), cancel=cancel)
    return rc, out.getvalue(), err.getvalue()


def refine_args(srv, imgs, *extra, out=None, bottom=False):
    argv = [
        "refine",
        "--person",
        str(imgs["person"]),
        "--top",
        str(imgs["top"]),
        "--coarse",
        str(imgs["coarse"]),
        "--gender",
        "man",
        "--base-url",
        srv.base_url,
        "--api-key",
        KEY,
        "--poll-interval",
        "0.05",
    ]
    if bottom:
        argv += ["--bottom", str(imgs["bottom"])]
    if out is not None:
        argv += ["--out", str(out)]
    return argv + list(extra)


def test_refine_json(sandbox, job_images, tmp_path):
    out = tmp_path / "result.jpg"
    rc, stdout, stderr = run(refine_args(sandbox, job_images, "--json", out=out, bottom=True))
    assert rc == 0, stderr
    payload = json.loads(stdout)
    assert payload["status"] == "done" and payload["output"] == str(out)
    assert payload["task_id"] and payload["request_id"] and payload["log_id"]
    assert payload["image_url"].startswith(sandbox.base_url)
    with Image.open(out) as im:
        assert im.format == "JPEG"  # converted to what --out asked for
    assert "uploading" in stderr and payload["task_id"] in stderr
    # The job, its input copies and its result are in the store the window uses.
    store = JobStore.open_default()
    try:
        job = store.get(payload["job_id"])
    finally:
        store.close()
    assert job.state is JobState.SUCCEEDED and job.task_id == payload["task_id"]
    assert job.result_path.is_file() and job.result_path.parent == cli.app_paths().data / "results"
    assert set(job.inputs) == {PERSON, TOP, COARSE, BOTTOM} and job.gender == "man"
    assert payload["submit_request_id"]


def test_refine_default_output_name(sandbox, job_images):
    rc, stdout, _ = run(refine_args(sandbox, job_images))
    assert rc == 0
    path = stdout.strip()
    assert os.path.isfile(path) and "refined_" in os.path.basename(path)


def test_existing_out_is_never_overwritten_and_nothing_is_sent(sandbox, job_images, tmp_path):
    out = make_image(tmp_path / "taken.png")
    before = out.read_bytes()
    rc, _, stderr = run(refine_args(sandbox, job_images, out=out))
    assert rc == cli.EXIT_USAGE and "already exists" in stderr
    assert out.read_bytes() == before and sandbox.requests == []


def test_preflight_rejects_before_upload(sandbox, job_images, tmp_path):
    tiny = make_image(tmp_path / "tiny.png", (100, 100))
    imgs = {**job_images, "top": tiny}
    rc, stdout, stderr = run(refine_args(sandbox, imgs, "--json"))
    assert rc == cli.EXIT_USAGE
    assert json.loads(stdout)["status"] == "rejected_before_upload"
    assert "top_garment" in stderr
    assert sandbox.requests == []


def test_fix_uploads_conforming_copies(sandbox, job_images, tmp_path):
    webp = make_image(tmp_path / "top.webp", (300, 300), fmt="WEBP")
    imgs = {**job_images, "top": webp}
    rc, _, stderr = run(refine_args(sandbox, imgs))
    assert rc == cli.EXIT_USAGE and "--fix" in stderr
    rc, stdout, stderr = run(refine_args(sandbox, imgs, "--fix", "--json"))
    assert rc == 0, stderr
    assert sandbox.submissions == 1
    assert webp.is_file()  # the original is untouched
    store = JobStore.open_default()
    try:
        top = store.get(json.loads(stdout)["job_id"]).inputs[TOP]
    finally:
        store.close()
    # The fixed copy was uploaded; the record names the file the user gave beside it.
    assert ".fixed." in top.name and top.original_name == "top.webp"


def test_missing_key_is_a_usage_error(sandbox, job_images):
    argv = [a for a in refine_args(sandbox, job_images) if a != KEY]
    argv.remove("--api-key")
    rc, _, stderr = run(argv)
    assert rc == cli.EXIT_USAGE and "No API key" in stderr


def test_key_from_environment(sandbox, job_images, monkeypatch):
    monkeypatch.setenv("AILABAPI_API_KEY", KEY)
    argv = refine_args(sandbox, job_images)
    i = argv.index("--api-key")
    del argv[i : i + 2]
    rc, _, _ = run(argv)
    assert rc == 0


def test_plain_http_remote_is_refused(job_images):
    argv = ["credits", "--base-url", "http://www.ailabapi.com", "--api-key", KEY]
    rc, _, stderr = run(argv)
    assert rc == cli.EXIT_USAGE and "https" in stderr


def test_timeout_prints_task_id_and_resume_finishes(job_images, tmp_path):
    # The timeout covers the upload too (one deadline per job): room for a loaded machine.
    with SandboxServer(latency=1.5) as srv:
        rc, stdout, stderr = run(refine_args(srv, job_images, "--timeout", "0.5", "--json"))
        assert rc == cli.EXIT_TIMEOUT
        task_id = json.loads(stdout)["task_id"]
        assert task_id and f"refiner-cli resume {task_id}" in stderr
        out = tmp_path / "resumed.png"
        rc, stdout, stderr = run(
            [
                "resume",
                task_id,
                "--base-url",
                srv.base_url,
                "--api-key",
                KEY,
                "--poll-interval",
                "0.05",
                "--out",
                str(out),
                "--json",
            ]
        )
        assert rc == 0, stderr
        assert out.is_file() and srv.submissions == 1


def test_service_down_exit_4_keeps_task_id(sandbox, job_images, tmp_path):
    sandbox.inject(Fault("poll", "gateway_html", times=100))
    rc, stdout, stderr = run(refine_args(sandbox, job_images, "--json"))
    assert rc == cli.EXIT_UNAVAILABLE
    payload = json.loads(stdout)
    assert payload["task_id"] and payload["task_id"] in stderr


def test_outcome_unknown_exit_4_and_single_submit(sandbox, job_images):
    sandbox.inject(Fault("submit", "drop_connection"))
    rc, stdout, stderr = run(refine_args(sandbox, job_images, "--json"))
    assert rc == cli.EXIT_UNAVAILABLE
    assert json.loads(stdout)["error"]["type"] == "SubmissionOutcomeUnknown"
    assert len([r for r in sandbox.requests if r[0] == "POST"]) == 1


def test_interrupt_while_waiting_exits_130_with_task_id(job_images):
    with SandboxServer(latency=30) as srv:
        token = CancelToken()
        result: dict = {}

        def work() -> None:
            result["r"] = run(refine_args(srv, job_images, "--json"), cancel=token)

        t = threading.Thread(target=work)
        t.start()
        # Cancel once the sandbox has seen the first poll (the task id is known by then).
        deadline = threading.Event()
        for _ in range(200):
            if any(p.startswith("/api/common/query-async") for _, p in srv.requests):
                break
            deadline.wait(0.02)
        token.cancel()
        t.join(10)
    rc, stdout, stderr = result["r"]
    assert rc == cli.EXIT_INTERRUPTED
    payload = json.loads(stdout)
    assert payload["task_id"] in stderr
    job = stored_job(payload["job_id"])  # still resumable, with why it stopped
    assert job.state is JobState.SUBMITTED and job.error["type"] == "Cancelled"


def test_check_command(job_images, tmp_path):
    bad = tmp_path / "notes.jpg"
    bad.write_text("not an image")
    rc, stdout, _ = run(["check", str(job_images["person"]), str(bad), "--json"])
    assert rc == cli.EXIT_USAGE
    files = json.loads(stdout)["files"]
    assert files[0]["ok"] and not files[1]["ok"] and files[1]["problems"]
    rc, _, _ = run(["check", str(job_images["person"])])
    assert rc == 0


def test_check_speaks_of_the_fix_option_not_the_button(tmp_path):
    webp = make_image(tmp_path / "top.webp", (300, 300), fmt="WEBP")
    tiny = make_image(tmp_path / "tiny.png", (100, 100))
    huge = make_image(tmp_path / "wide.png", (4200, 300))
    rc, stdout, _ = run(["check", str(webp), str(tiny), str(huge)])
    assert rc == cli.EXIT_USAGE
    lines = stdout.splitlines()
    assert "Run refine with --fix to convert it" in lines[0]
    assert "--fix does not enlarge" in lines[1]
    assert "--fix" in lines[2]
    assert not re.search(r"\bFix\b", stdout)
    rc, stdout, _ = run(["check", str(webp), str(tiny), "--json"])
    messages = [p["message"] for f in json.loads(stdout)["files"] for p in f["problems"]]
    assert messages and all(not re.search(r"\bFix\b", m) for m in messages)
    assert any("--fix" in m for m in messages)


def test_credits_command(sandbox):
    rc, stdout, _ = run(["credits", "--base-url", sandbox.base_url, "--api-key", KEY, "--json"])
    assert rc == 0 and json.loads(stdout)["credits"][0]["balance"] == sandbox.credits


def test_usage_error_exit_2():
    rc, _, _ = run(["refine", "--gender", "robot"])
    assert rc == cli.EXIT_USAGE


def test_key_never_printed_even_on_failures(sandbox, job_images):
    faults = [
        Fault("submit", "error", code="ERROR_USER_NOT_EXISTS"),
        Fault("submit", "error", code="ERROR_NOT_ENOUGH_CREDITS"),
        Fault("poll", "error", code="AI_SERVICE_ERROR", times=6),
    ]
    for f in faults:
        for extra in ((), ("--json",), ("--verbose",)):
            sandbox.inject(f)
            rc, stdout, stderr = run(refine_args(sandbox, job_images, *extra))
            assert rc != 0
            assert KEY not in stdout and KEY not in stderr


def test_console_script_runs_as_a_process(sandbox, job_images, tmp_path):
    """The real entry point, in a child process: exit code and JSON on stdout."""
    out = tmp_path / "p.png"
    env = {**os.environ, "AILABAPI_API_KEY": KEY}
    argv = refine_args(sandbox, job_images, "--json", out=out)
    i = argv.index("--api-key")
    del argv[i : i + 2]
    proc = subprocess.run(
        [sys.executable, "-m", "refiner_gui.cli", *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["output"] == str(out)
    assert KEY not in proc.stdout + proc.stderr


@pytest.mark.parametrize("argv", [["--version"], ["refine", "--help"]])
def test_help_and_version_exit_0(argv, capsys):
    assert cli.run(argv) == 0


# -- the job store: jobs, resume --all ----------------------------------------------------


def srv_args(srv):
    return ["--base-url", srv.base_url, "--api-key", KEY, "--poll-interval", "0.05"]


def stored_job(job_id):
    store = JobStore.open_default()
    try:
        return store.get(job_id)
    finally:
        store.close()


def test_jobs_lists_newest_first_with_filters(sandbox, job_images):
    rc, stdout, _ = run(["jobs"])
    assert rc == 0 and stdout.strip() == "no jobs"
    ok = json.loads(run(refine_args(sandbox, job_images, "--json"))[1])
    sandbox.inject(Fault("submit", "error", code="ERROR_NO_FACE_IN_FILE"))
    bad = json.loads(run(refine_args(sandbox, job_images, "--json"))[1])
    assert bad["status"] == "failed" and bad["job_id"] and bad["job_id"] != ok["job_id"]

    rc, stdout, _ = run(["jobs", "--json"])
    listed = json.loads(stdout)
    assert rc == 0 and listed["total"] == 2
    first, second = listed["jobs"]
    assert (first["job_id"], second["job_id"]) == (bad["job_id"], ok["job_id"])  # newest first
    assert first["state"] == "failed" and first["error"] and first["result_path"] is None
    assert second["state"] == "succeeded" and second["task_id"] == ok["task_id"]
    assert second["gender"] == "man" and second["verdict"] is None
    assert os.path.isfile(second["result_path"]) and second["created"]

    rc, stdout, _ = run(["jobs", "--json", "--state", "succeeded"])
    assert [j["job_id"] for j in json.loads(stdout)["jobs"]] == [ok["job_id"]]
    rc, stdout, _ = run(["jobs", "--json", "--limit", "1"])
    assert len(json.loads(stdout)["jobs"]) == 1 and json.loads(stdout)["total"] == 2
    rc, stdout, _ = run(["jobs"])  # text: a header and one tab-separated line per job
    lines = stdout.strip().splitlines()
    assert lines[0].startswith("id\tstate") and len(lines) == 3
    assert lines[2].split("\t")[:2] == [str(ok["job_id"]), "succeeded"]
    assert run(["jobs", "--state", "nonsense"])[0] == cli.EXIT_USAGE


def test_timeout_then_resume_all_finishes_without_resubmitting(job_images):
    with SandboxServer(latency=1.5) as srv:  # the timeout covers the upload too
        rc, stdout, _ = run(refine_args(srv, job_images, "--timeout", "0.5", "--json"))
        assert rc == cli.EXIT_TIMEOUT
        timed_out = json.loads(stdout)
        job = stored_job(timed_out["job_id"])
        assert job.state is JobState.SUBMITTED and job.task_id == timed_out["task_id"]
        assert job.error["type"] == "TimedOut"
        rc, stdout, stderr = run(["resume", "--all", "--json", *srv_args(srv)])
        assert rc == 0, stderr
        [item] = json.loads(stdout)["jobs"]
        assert item["job_id"] == job.id and item["state"] == "succeeded"
        assert os.path.isfile(item["output"]) and os.path.isfile(item["result_path"])
        assert f"job {job.id}: done" in stderr
        assert srv.submissions == 1
        # Nothing left: a second resume --all has nothing to do.
        rc, stdout, _ = run(["resume", "--all", *srv_args(srv)])
        assert rc == 0 and stdout.strip() == "nothing to resume"


def test_resume_all_settles_crashed_uploads_and_reports_each(sandbox, job_images):
    store = JobStore.open_default()
    try:
        files = {PERSON: job_images["person"], TOP: job_images["top"], COARSE: job_images["coarse"]}
        pending = store.create_job(files, "woman").id
        uploading = store.create_job(files, "man").id
        store.mark_submitting(uploading)
    finally:
        store.close()
    rc, stdout, stderr = run(["resume", "--all", "--json", *srv_args(sandbox)])
    assert rc == cli.EXIT_UNAVAILABLE  # an outcome unknown needs the user's attention
    states = {j["job_id"]: (j["state"], j["error"]) for j in json.loads(stdout)["jobs"]}
    assert states[pending][0] == "cancelled" and "nothing was sent" in states[pending][1]
    assert states[uploading][0] == "outcome_unknown" and "NOT sent again" in states[uploading][1]
    assert sandbox.requests == []  # settling needs no network, and nothing is re-sent


def test_resume_task_id_of_a_stored_job_and_of_an_unknown_task(sandbox, job_images, tmp_path):
    from refiner_gui.api import RefineInputs, RefinerClient

    rc, stdout, _ = run(refine_args(sandbox, job_images, "--json"))
    done = json.loads(stdout)
    requests_before = len(sandbox.requests)
    out = tmp_path / "again.png"
    rc, stdout, _ = run(
        ["resume", done["task_id"], "--out", str(out), "--json", *srv_args(sandbox)]
    )
    assert rc == 0 and json.loads(stdout)["job_id"] == done["job_id"] and out.is_file()
    assert len(sandbox.requests) == requests_before  # taken from the store, no network

    client = RefinerClient(KEY, sandbox.base_url)  # a task submitted outside the app
    sub = client.submit(
        RefineInputs(
            person=job_images["person"],
            top=job_images["top"],
            coarse=job_images["coarse"],
            gender="woman",
        )
    )
    client.close()
    rc, stdout, stderr = run(["resume", sub.task_id, "--json", *srv_args(sandbox)])
    assert rc == 0, stderr
    payload = json.loads(stdout)
    job = stored_job(payload["job_id"])
    assert job.task_id == sub.task_id and job.state is JobState.SUCCEEDED
    assert os.path.isfile(payload["output"]) and sandbox.submissions == 2


def test_resume_of_a_mistyped_task_id_leaves_no_job(sandbox, job_images, tmp_path):
    rc, stdout, _ = run(refine_args(sandbox, job_images, "--json"))
    real = json.loads(stdout)
    rc, stdout, stderr = run(["resume", "no-such-task-123", "--json", *srv_args(sandbox)])
    assert rc == cli.EXIT_REJECTED
    payload = json.loads(stdout)
    assert payload["error"]["type"] == "TaskNotFound" and payload["job_id"] is None
    assert "does not know task no-such-task-123" in stderr
    store = JobStore.open_default()
    try:
        jobs = store.list_jobs()
        assert [j.id for j in jobs] == [real["job_id"]]  # only the real one
        assert store.find_by_task("no-such-task-123") is None
    finally:
        store.close()
    # A task the service knows, whose job the history holds, is never dropped.
    again = ["resume", real["task_id"], "--out", str(tmp_path / "again.png")]
    rc, _, _ = run([*again, *srv_args(sandbox)])
    assert rc == 0 and stored_job(real["job_id"]).state is JobState.SUCCEEDED


def test_resume_of_a_settled_job_says_what_happened(sandbox, job_images):
    sandbox.inject(Fault("submit", "task_failed"))
    rc, stdout, _ = run(refine_args(sandbox, job_images, "--json"))
    failed = json.loads(stdout)
    assert rc == cli.EXIT_REJECTED and failed["task_id"]
    assert stored_job(failed["job_id"]).state is JobState.FAILED
    rc, stdout, stderr = run(["resume", failed["task_id"], "--json", *srv_args(sandbox)])
    payload = json.loads(stdout)
    assert rc == cli.EXIT_REJECTED and payload["error"]["state"] == "failed"
    assert payload["job_id"] == failed["job_id"] and sandbox.submissions == 1


@pytest.mark.parametrize(
    "argv", [["resume"], ["resume", "abc", "--all"], ["resume", "--all", "--out", "x.png"]]
)
def test_resume_argument_errors(argv):
    assert run(argv)[0] == cli.EXIT_USAGE


def test_outcome_unknown_is_recorded_with_its_job(sandbox, job_images):
    sandbox.inject(Fault("submit", "drop_connection"))
    rc, stdout, stderr = run(refine_args(sandbox, job_images, "--json"))
    payload = json.loads(stdout)
    assert rc == cli.EXIT_UNAVAILABLE and f"job: {payload['job_id']}" in stderr
    assert stored_job(payload["job_id"]).state is JobState.OUTCOME_UNKNOWN


def test_a_store_from_a_newer_app_is_refused_before_anything_is_sent(sandbox, job_images):
    import sqlite3

    data = cli.app_paths().data
    data.mkdir(parents=True)
    with sqlite3.connect(data / "jobs.sqlite3") as conn:
        conn.execute("PRAGMA user_version = 999")
    conn.close()
    rc, stdout, stderr = run(refine_args(sandbox, job_images, "--json"))
    assert rc == cli.EXIT_USAGE and "newer version" in stderr
    assert json.loads(stdout)["error"]["code"] == "STORE"
    assert sandbox.requests == []
    assert run(["jobs"])[0] == cli.EXIT_USAGE
