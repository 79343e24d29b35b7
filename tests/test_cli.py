"""``refiner-cli`` end to end against the sandbox: results, exit codes, JSON, no lost ids."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading

import pytest
from PIL import Image

from refiner_gui import cli
from refiner_gui.api import CancelToken
from refiner_gui.sandbox import Fault, SandboxServer
from tests.helpers.fast import fast_retry
from tests.helpers.images import make_image

KEY = "cli-SECRET-key-9876543210"


def run(argv, cancel=None):
    out, err = io.StringIO(), io.StringIO()
    rc = cli.run(argv, stdout=out, stderr=err, retry=fast_retry(), cancel=cancel)
    return rc, out.getvalue(), err.getvalue()


def refine_args(srv, imgs, *extra, out=None, bottom=False):
    argv = ["refine", "--person", str(imgs["person"]), "--top", str(imgs["top"]),
            "--coarse", str(imgs["coarse"]), "--gender", "man",
            "--base-url", srv.base_url, "--api-key", KEY, "--poll-interval", "0.05"]
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
    # The result was also stored in the app's data folder, named by task id.
    stored = list((cli.app_paths().data / "results").glob(payload["task_id"] + ".*"))
    assert len(stored) == 1


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
    rc, stdout, stderr = run(refine_args(sandbox, imgs, "--fix"))
    assert rc == 0, stderr
    assert sandbox.submissions == 1
    assert webp.is_file()  # the original is untouched


def test_missing_key_is_a_usage_error(sandbox, job_images):
    argv = [a for a in refine_args(sandbox, job_images) if a != KEY]
    argv.remove("--api-key")
    rc, _, stderr = run(argv)
    assert rc == cli.EXIT_USAGE and "No API key" in stderr


def test_key_from_environment(sandbox, job_images, monkeypatch):
    monkeypatch.setenv("AILABAPI_API_KEY", KEY)
    argv = refine_args(sandbox, job_images)
    i = argv.index("--api-key")
    del argv[i:i + 2]
    rc, _, _ = run(argv)
    assert rc == 0


def test_plain_http_remote_is_refused(job_images):
    argv = ["credits", "--base-url", "http://www.ailabapi.com", "--api-key", KEY]
    rc, _, stderr = run(argv)
    assert rc == cli.EXIT_USAGE and "https" in stderr


def test_timeout_prints_task_id_and_resume_finishes(job_images, tmp_path):
    with SandboxServer(latency=1.0) as srv:
        rc, stdout, stderr = run(refine_args(srv, job_images, "--timeout", "0.2", "--json"))
        assert rc == cli.EXIT_TIMEOUT
        task_id = json.loads(stdout)["task_id"]
        assert task_id and f"refiner-cli resume {task_id}" in stderr
        out = tmp_path / "resumed.png"
        rc, stdout, stderr = run(["resume", task_id, "--base-url", srv.base_url, "--api-key",
                                  KEY, "--poll-interval", "0.05", "--out", str(out), "--json"])
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
    assert json.loads(stdout)["task_id"] in stderr


def test_check_command(job_images, tmp_path):
    bad = tmp_path / "notes.jpg"
    bad.write_text("not an image")
    rc, stdout, _ = run(["check", str(job_images["person"]), str(bad), "--json"])
    assert rc == cli.EXIT_USAGE
    files = json.loads(stdout)["files"]
    assert files[0]["ok"] and not files[1]["ok"] and files[1]["problems"]
    rc, _, _ = run(["check", str(job_images["person"])])
    assert rc == 0


def test_credits_command(sandbox):
    rc, stdout, _ = run(["credits", "--base-url", sandbox.base_url, "--api-key", KEY, "--json"])
    assert rc == 0 and json.loads(stdout)["credits"][0]["balance"] == sandbox.credits


def test_usage_error_exit_2():
    rc, _, _ = run(["refine", "--gender", "robot"])
    assert rc == cli.EXIT_USAGE


def test_key_never_printed_even_on_failures(sandbox, job_images):
    faults = [Fault("submit", "error", code="ERROR_USER_NOT_EXISTS"),
              Fault("submit", "error", code="ERROR_NOT_ENOUGH_CREDITS"),
              Fault("poll", "error", code="AI_SERVICE_ERROR", times=6)]
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
    del argv[i:i + 2]
    proc = subprocess.run([sys.executable, "-m", "refiner_gui.cli", *argv], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["output"] == str(out)
    assert KEY not in proc.stdout + proc.stderr


@pytest.mark.parametrize("argv", [["--version"], ["refine", "--help"]])
def test_help_and_version_exit_0(argv, capsys):
    assert cli.run(argv) == 0
