"""A corpus of broken images (made here) through every way in: ``refiner-cli check``,
``refiner-cli refine`` (with and without ``--fix``) and the window's InputsPanel.

Nothing broken is ever uploaded (the sandbox sees no request at all), every problem is
said in words with exit code 2 and never a traceback, fixable files succeed with ``--fix``,
and in the window the slot shows the problem while Refine stays disabled.
"""

from __future__ import annotations

import io
import json

import pytest

from refiner_gui import cli
from refiner_gui.jobs import JobStore
from refiner_gui.settings import Settings
from refiner_gui.slots import COARSE, PERSON, TOP
from refiner_gui.ui.main_window import MainWindow
from tests.helpers.bad_inputs import CORPUS, BadInput
from tests.helpers.fast import fast_retry

KEY = "bad-inputs-key-777"


def run(argv):
    out, err = io.StringIO(), io.StringIO()
    rc = cli.run(argv, stdout=out, stderr=err, retry=fast_retry())
    return rc, out.getvalue(), err.getvalue()


@pytest.fixture
def bad(tmp_path, request):
    item: BadInput = request.param
    folder = tmp_path / "corpus"
    folder.mkdir()
    return item, item.make(folder)


def corpus_params():
    return pytest.mark.parametrize("bad", CORPUS, ids=[c.id for c in CORPUS], indirect=True)


@corpus_params()
def test_check_json_says_what_is_wrong(bad):
    item, path = bad
    rc, stdout, stderr = run(["check", "--json", str(path)])
    assert "Traceback" not in stderr
    [report] = json.loads(stdout)["files"]
    if item.ok:
        assert rc == cli.EXIT_OK and report["ok"] and report["problems"] == []
        return
    assert rc == cli.EXIT_USAGE
    assert not report["ok"] and report["fixable"] == item.fixable
    first = report["problems"][0]
    assert first["code"] == item.code
    message = first["message"]
    assert message.endswith(".") and len(message) > 30  # a sentence, not a code
    assert "Error" not in message and "Traceback" not in message


@corpus_params()
@pytest.mark.parametrize("fix", [False, True], ids=["as-is", "fix"])
def test_refine_never_uploads_a_broken_file(bad, fix, sandbox, job_images, tmp_path):
    item, path = bad
    out = tmp_path / "out.png"
    argv = [
        "refine",
        "--person",
        str(job_images["person"]),
        "--top",
        str(path),
        "--coarse",
        str(job_images["coarse"]),
        "--gender",
        "woman",
        "--out",
        str(out),
        "--base-url",
        sandbox.base_url,
        "--api-key",
        KEY,
        "--poll-interval",
        "0.02",
        "--json",
    ] + (["--fix"] if fix else [])
    rc, stdout, stderr = run(argv)
    assert "Traceback" not in stderr
    payload = json.loads(stdout)
    if item.ok or (fix and item.fixable):
        assert rc == cli.EXIT_OK, stderr
        assert payload["status"] == "done" and out.is_file()
        assert sandbox.submissions == 1
        return
    assert rc == cli.EXIT_USAGE, stderr
    assert sandbox.requests == []  # nothing at all was sent
    assert payload["status"] == "rejected_before_upload"
    assert payload["error"]["code"] == "PREFLIGHT" and payload["error"]["slots"] == [TOP]
    assert ("--fix" in payload["error"]["message"]) == (item.fixable and not fix)
    assert f"{TOP}: {path.name}: " in stderr  # the slot, the file and the problem in words
    assert not out.exists()
    rc, stdout, _ = run(["jobs", "--json"])
    assert json.loads(stdout)["jobs"] == []  # no job was created for it


@pytest.fixture
def window(qtbot, tmp_path, job_images):
    store = JobStore(tmp_path / "data" / "jobs.sqlite3")

    def no_client():
        raise AssertionError("nothing may be sent in these tests")

    w = MainWindow(
        client_factory=no_client, settings=Settings(), store=store, recover_on_start=False
    )
    qtbot.addWidget(w)
    for slot, key in ((PERSON, "person"), (TOP, "top"), (COARSE, "coarse")):
        w.inputs.set_file(slot, job_images[key])
    w.inputs.set_gender("man")
    qtbot.waitUntil(w.refine_button.isEnabled, timeout=10_000)
    yield w
    w.shutdown()
    store.close()


# The thumbnail is decoded by Qt in parallel with pre-flight; Qt's own decoder says these
# about a cut JPEG and a bomb (it refuses the bomb: its 256 MB allocation limit). Noise, not
# failures: the slot's verdict is what must be right.
QT_DECODER_NOISE = ["Corrupt JPEG data", "Rejecting image as it exceeds the current allocation"]


@corpus_params()
@pytest.mark.qt_log_ignore(*QT_DECODER_NOISE)
def test_window_slot_shows_the_problem_and_refine_stays_disabled(qtbot, window, bad):
    item, path = bad
    with qtbot.captureExceptions() as exceptions:
        window.inputs.set_file(TOP, path)
        qtbot.waitUntil(lambda: window.inputs.report(TOP) is not None, timeout=10_000)
        report = window.inputs.report(TOP)
        view = window.inputs.slot_view(TOP)
        if item.ok:
            assert report.ok
            qtbot.waitUntil(window.refine_button.isEnabled, timeout=5_000)
        else:
            assert report.problems[0].code == item.code
            assert report.fixable == item.fixable
            assert view.verdict_text() in {p.message for p in report.problems}
            assert view.fix_visible() == item.fixable
            assert not window.refine_button.isEnabled()
            assert not window.refine_action.isEnabled()
            assert window.start_job() is False  # even when asked directly
            tip = window.refine_button.toolTip()
            assert ("Fix the" in tip) if item.fixable else ("Replace the" in tip), tip
        # The thumbnail decode (also in the background) must settle without an error too.
        window.inputs.shutdown()
    assert exceptions == []
    assert window.store.list_jobs() == []
