"""``refiner-cli``'s streams: progress on stderr (one updating line on a terminal, a line
per change of stage elsewhere) and only the result on stdout, on every exit."""

from __future__ import annotations

import io
import json
import re

import pytest

from refiner_gui import cli
from refiner_gui.api.models import ProgressEvent, Stage
from refiner_gui.cli_output import ProgressLines, Reporter
from refiner_gui.jobs import JobState, JobStore
from refiner_gui.sandbox import Fault, SandboxServer
from tests.helpers.fast import fast_retry
from tests.helpers.images import make_image

KEY = "cli-progress-key-31337"


class TtyIO(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def screen(text: str) -> list[str]:
    """What a terminal shows after ``text``: carriage returns move back, newlines down."""
    lines, col = [""], 0
    for ch in text:
        if ch == "\r":
            col = 0
        elif ch == "\n":
            lines.append("")
            col = 0
        else:
            line = lines[-1].ljust(col)
            lines[-1] = line[:col] + ch + line[col + 1 :]
            col += 1
    return [line.rstrip() for line in lines]


def job_events() -> list[ProgressEvent]:
    """A job as run_job reports it: many upload chunks, many polls, download chunks."""
    total = 3 * 1024 * 1024
    events = [ProgressEvent(Stage.UPLOADING, 0.0, bytes_done=0)]
    events += [
        ProgressEvent(Stage.UPLOADING, 0.01 * k, bytes_done=k * 65536, bytes_total=total)
        for k in range(1, 49)
    ]
    events += [ProgressEvent(Stage.QUEUED, 1.0 + k, task_id="t1") for k in range(5)]
    events += [
        ProgressEvent(Stage.PROCESSING, 6.0 + k, task_id="t1", expected_left=20.0 - k)
        for k in range(5)
    ]
    events += [ProgressEvent(Stage.DOWNLOADING, 11.0, task_id="t1")]
    events += [
        ProgressEvent(Stage.DOWNLOADING, 11.0 + 0.05 * k, bytes_done=k * 100_000)
        for k in range(1, 9)
    ]
    return [*events, ProgressEvent(Stage.DONE, 12.0, task_id="t1")]


def test_terminal_progress_is_one_updating_line_cleared_at_the_end():
    err = TtyIO()
    rep = Reporter(False, io.StringIO(), err)
    assert rep.live
    lines = ProgressLines(rep)
    seen: list[str] = []
    for ev in job_events()[:-1]:
        lines(ev)
        shown = screen(err.getvalue())
        assert len(shown) == 1  # never a new line: the same line, rewritten
        seen.append(shown[0])
    assert "uploading  0 s  3 MB of 3 MB (100%)" in seen  # bytes, elapsed, stage
    assert any(s.startswith("queued  3 s") for s in seen)
    assert any(s.startswith("processing  9 s  usually done in ~15 s") for s in seen)
    assert any(re.fullmatch(r"downloading result  11 s  \d+ KB", s) for s in seen)
    # Redrawn on changes, not on every chunk: fewer writes than events.
    assert err.getvalue().count("\r") < len(job_events()) - 10
    lines(job_events()[-1])
    assert screen(err.getvalue()) == [""]  # rubbed out at the end

    # Another line during the status line: printed whole, the status line gone first.
    err2 = TtyIO()
    rep2 = Reporter(False, io.StringIO(), err2)
    ProgressLines(rep2)(ProgressEvent(Stage.QUEUED, 2.0, task_id="t"))
    rep2.progress("submitted: task id t")
    assert screen(err2.getvalue()) == ["submitted: task id t", ""]


def test_log_progress_is_a_line_per_change_of_stage():
    err = io.StringIO()  # a file or a pipe
    rep = Reporter(False, io.StringIO(), err)
    assert not rep.live
    lines = ProgressLines(rep)
    for ev in job_events():
        lines(ev)
    text = err.getvalue()
    assert "\r" not in text
    assert text.splitlines() == [
        "[   0.0s] uploading",
        "[   1.0s] status: queued",
        "[   6.0s] status: processing (usually done in ~20 s)",
        "[  11.0s] downloading result",
    ]


def run(argv, *, tty: bool = False, **kw):
    out, err = io.StringIO(), TtyIO() if tty else io.StringIO()
    rc = cli.run(argv, stdout=out, stderr=err, retry=fast_retry(), **kw)
    return rc, out.getvalue(), err.getvalue()


def refine(srv, imgs, *extra):
    return [
        "refine",
        "--person",
        str(imgs["person"]),
        "--top",
        str(imgs["top"]),
        "--coarse",
        str(imgs["coarse"]),
        "--gender",
        "woman",
        "--base-url",
        srv.base_url,
        "--api-key",
        KEY,
        "--poll-interval",
        "0.02",
        *extra,
    ]


def test_refine_on_a_terminal_and_in_a_log(job_images, tmp_path):
    with SandboxServer(latency=0.3) as srv:  # several polls while the task runs
        rc, stdout, stderr = run(
            refine(srv, job_images, "--out", str(tmp_path / "a.png")), tty=True
        )
        assert rc == 0, stderr
        assert stdout == f"{tmp_path / 'a.png'}\n"
        assert "\r" in stderr and screen(stderr)[-1] == ""  # the status line is gone
        polls = len([r for r in srv.requests if r[0] == "GET" and "query" in r[1]])
        assert polls >= 3

        rc, stdout, stderr = run(refine(srv, job_images, "--out", str(tmp_path / "b.png")))
        assert rc == 0 and stdout == f"{tmp_path / 'b.png'}\n"
        assert "\r" not in stderr
        assert len([ln for ln in stderr.splitlines() if "status: queued" in ln]) == 1
        assert len([ln for ln in stderr.splitlines() if "uploading" in ln]) == 1


# -- stdout holds only the result, on every exit ---------------------------------------------


def _one_json(stdout: str) -> dict:
    assert stdout.endswith("\n") and stdout.count("\n") == 1, stdout
    return json.loads(stdout)


@pytest.fixture
def srv():
    with SandboxServer(latency=0.0) as server:
        yield server


def _paths(job_images, tmp_path, srv):
    broken = tmp_path / "broken.jpg"
    broken.write_text("not a picture")
    existing = make_image(tmp_path / "exists.png", (50, 50))
    return {
        "done": refine(srv, job_images, "--out", str(tmp_path / "ok.png")),
        "argparse": ["refine", "--gender", "robot"],
        "usage": refine(srv, job_images, "--out", str(existing)),
        "preflight": [*refine(srv, {**job_images, "top": broken})],
        "rejected": refine(srv, job_images, "--out", str(tmp_path / "r.png")),
        "unavailable": refine(srv, job_images, "--out", str(tmp_path / "u.png")),
        "unknown-task": ["resume", "nope", "--base-url", srv.base_url, "--api-key", KEY],
        "check": ["check", str(job_images["person"]), str(broken)],
        "jobs": ["jobs"],
        "resume-all": ["resume", "--all", "--base-url", srv.base_url, "--api-key", KEY],
    }


EXITS = {
    "done": cli.EXIT_OK,
    "argparse": cli.EXIT_USAGE,
    "usage": cli.EXIT_USAGE,
    "preflight": cli.EXIT_USAGE,
    "rejected": cli.EXIT_REJECTED,
    "unavailable": cli.EXIT_UNAVAILABLE,
    "unknown-task": cli.EXIT_REJECTED,
    "check": cli.EXIT_USAGE,
    "jobs": cli.EXIT_OK,
    "resume-all": cli.EXIT_OK,
}


def _faults_for(srv, name):
    if name == "rejected":
        srv.inject(Fault("submit", "task_failed"))
    if name == "unavailable":
        srv.inject(Fault("submit", "drop_connection"))


@pytest.mark.parametrize("name", list(EXITS))
@pytest.mark.parametrize("tty", [False, True], ids=["pipe", "terminal"])
def test_stdout_holds_only_the_result_as_json(name, tty, srv, job_images, tmp_path):
    _faults_for(srv, name)
    argv = [*_paths(job_images, tmp_path, srv)[name], "--json"]
    rc, stdout, stderr = run(argv, tty=tty)
    assert rc == EXITS[name], stderr
    result = _one_json(stdout)  # one object, nothing else: no progress, no usage text
    assert result["status"] == cli.status_word(rc) or name in ("check", "jobs")
    assert "\r" not in stdout and KEY not in stdout and KEY not in stderr
    if rc != cli.EXIT_OK and name != "check":
        assert result["error"]["message"]
        assert stderr.strip()  # the why is on stderr


@pytest.mark.parametrize("name", list(EXITS))
def test_stdout_holds_only_the_result_as_text(name, srv, job_images, tmp_path):
    _faults_for(srv, name)
    rc, stdout, stderr = run(_paths(job_images, tmp_path, srv)[name], tty=True)
    assert rc == EXITS[name], stderr
    for progress_word in ("uploading", "status:", "submitted:", "usage:", "\r"):
        assert progress_word not in stdout, (progress_word, stdout)
    assert not re.search(r"(?m)^job \d+:", stdout)  # "job 7: …" lines are progress
    expected_lines = {"check": 2, "jobs": None, "resume-all": None, "argparse": 0}
    want = expected_lines.get(name, 1)
    if want is not None:
        assert len(stdout.splitlines()) == want, stdout


def test_an_internal_error_still_ends_with_one_result(srv, job_images, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(cli, "check_inputs", broken)
    rc, stdout, stderr = run([*refine(srv, job_images), "--json"])
    assert rc == cli.EXIT_INTERNAL == 1
    result = _one_json(stdout)
    assert result["status"] == "internal_error" and "RuntimeError" in result["error"]["message"]
    assert "a bug" in stderr and "Traceback" in stderr
    store = JobStore.open_default()
    try:
        assert not [j for j in store.list_jobs() if j.state is not JobState.SUCCEEDED]
    finally:
        store.close()


def test_verbose_logs_turn_the_status_line_into_lines(srv, job_images, tmp_path):
    # Log records arrive at any moment: a line rewritten in place would be torn by them.
    rc, stdout, stderr = run(
        refine(srv, job_images, "--out", str(tmp_path / "v.png"), "-v"), tty=True
    )
    assert rc == 0 and stdout == f"{tmp_path / 'v.png'}\n"
    assert "\r" not in stderr and "status: " in stderr
