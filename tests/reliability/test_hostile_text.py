"""Hostile content the app must not trust: images of other formats, service text, bad keys.

Issue 14, items 5, 8, 10 and 14. Each test builds the hostile input itself (a tiny EPS file,
a service answer with markup and terminal escapes, a key with invisible characters) and
talks to a real loopback server where HTTP is involved.
"""

from __future__ import annotations

import io
import json

import pytest
from PIL import EpsImagePlugin, Image, UnidentifiedImageError

from refiner_gui import cli
from refiner_gui.api import DownloadError, RefinerClient
from refiner_gui.images import ImageFixError, check_image, fix_image
from refiner_gui.images.formats import open_untrusted, safe_formats
from refiner_gui.jobs.previews import write_preview
from refiner_gui.outputs import export_image
from refiner_gui.reports._thumbs import make_thumbnail
from tests.helpers.fast import fast_retry
from tests.helpers.http_stub import Reply, StubServer

# A complete, valid EPS file (200x200 points, one filled box): Pillow's EPS plugin would
# accept it and, on load, run Ghostscript.
EPS = (
    b"%!PS-Adobe-3.0 EPSF-3.0\n"
    b"%%BoundingBox: 0 0 200 200\n"
    b"%%EndComments\n"
    b"newpath 10 10 moveto 190 10 lineto 190 190 lineto 10 190 lineto closepath fill\n"
    b"showpage\n%%EOF\n"
)


@pytest.fixture
def no_eps(monkeypatch):
    """Fail the test if Pillow's EPS plugin is ever asked to read a file."""
    calls: list[str] = []

    def refuse(self, *a, **k):
        calls.append("open")
        raise AssertionError("the EPS plugin was run on untrusted data")

    monkeypatch.setattr(EpsImagePlugin.EpsImageFile, "_open", refuse)
    monkeypatch.setattr(EpsImagePlugin, "Ghostscript", refuse)
    return calls


@pytest.fixture
def eps_as_jpg(tmp_path):
    path = tmp_path / "photo.jpg"
    path.write_bytes(EPS)
    return path


# -- item 5: only the formats the app needs are ever decoded -------------------------------


def test_the_eps_sample_is_one_pillow_would_open_unrestricted(tmp_path):
    path = tmp_path / "sample.eps"
    path.write_bytes(EPS)
    with Image.open(path) as im:  # the unrestricted open: proves the sample is real EPS
        assert im.format == "EPS"
    assert "EPS" not in safe_formats()
    with pytest.raises(UnidentifiedImageError):
        open_untrusted(path)


def test_preflight_refuses_an_eps_renamed_jpg(eps_as_jpg, no_eps):
    report = check_image(eps_as_jpg, "person")
    assert not report.ok
    assert [p.code for p in report.problems] == ["not_an_image"]
    assert not no_eps


def test_fix_refuses_an_eps(eps_as_jpg, tmp_path, no_eps):
    with pytest.raises(ImageFixError):
        fix_image(eps_as_jpg, tmp_path / "fixed", slot="person")
    assert not no_eps


def test_previews_thumbnails_and_exports_refuse_an_eps(eps_as_jpg, tmp_path, no_eps):
    assert write_preview(eps_as_jpg) is None
    assert make_thumbnail(eps_as_jpg, 64).image is None
    with pytest.raises(UnidentifiedImageError):
        export_image(eps_as_jpg, tmp_path / "out.png")
    assert not no_eps


def test_an_eps_result_is_refused_at_download(tmp_path, no_eps):
    with StubServer() as stub:
        stub.reply = Reply(200, (("Content-Type", "image/jpeg"),), EPS)
        client = RefinerClient("hostile-text-key-1234", stub.base_url, retry=fast_retry())
        try:
            with pytest.raises(DownloadError):
                client.download(f"{stub.base_url}/result.jpg", tmp_path / "result.jpg")
        finally:
            client.close()
    assert not (tmp_path / "result.jpg").exists()
    assert not no_eps


def test_qt_load_image_refuses_other_formats(eps_as_jpg, tmp_path, qapp):
    from refiner_gui.workers import load_image

    assert load_image(eps_as_jpg).isNull()
    # Qt reads XPM (a C source text) and PPM itself: refused too, whatever the name.
    xpm = tmp_path / "icon.png"
    xpm.write_bytes(b'/* XPM */\nstatic char *x[] = {\n"2 2 1 1",\n"a c #ff0000",\n"aa",\n"aa"};\n')
    assert load_image(xpm).isNull()
    good = tmp_path / "good.jpg"
    Image.new("RGB", (20, 10), (200, 10, 10)).save(good, "JPEG")
    assert load_image(good).size().width() == 20


# -- item 10: keys with characters a header cannot carry -----------------------------------

GOOD_KEY = "hostile-key-0123456789"


def run_cli(argv):
    out, err = io.StringIO(), io.StringIO()
    rc = cli.run(argv, stdout=out, stderr=err, retry=fast_retry())
    return rc, out.getvalue(), err.getvalue()


def refine_argv(base_url, imgs, out, key=None):
    argv = ["refine", "--gender", "man", "--out", str(out), "--base-url", base_url]
    argv += ["--poll-interval", "0.02", "--json"]
    for slot in ("person", "top", "coarse"):
        argv += [f"--{slot}", str(imgs[slot])]
    return argv + (["--api-key", key] if key is not None else [])


@pytest.fixture
def imgs(tmp_path):
    from tests.helpers.images import make_image

    return {
        slot: make_image(tmp_path / f"{slot}.png", (300, 400))
        for slot in ("person", "top", "coarse")
    }


def listed_jobs():
    rc, stdout, stderr = run_cli(["jobs", "--json"])
    assert rc == 0, stderr
    return json.loads(stdout)["jobs"]


@pytest.mark.parametrize("key", ["abc€def-0123456789", "abc def-0123456789", "key\x1b[2J-01234567"])
def test_cli_refuses_a_key_a_header_cannot_carry_before_anything(imgs, tmp_path, key):
    with StubServer() as stub:
        rc, stdout, stderr = run_cli(refine_argv(stub.base_url, imgs, tmp_path / "o.png", key))
        assert stub.requests == []
    assert rc == 2
    assert "Traceback" not in stderr
    assert "API key" in stderr and "position 4" in stderr
    assert json.loads(stdout)["status"] == "rejected_before_upload"
    assert listed_jobs() == []


def test_cli_refuses_a_bad_key_from_the_environment(imgs, tmp_path, monkeypatch):
    monkeypatch.setenv("AILABAPI_API_KEY", "€" + GOOD_KEY)
    with StubServer() as stub:
        rc, _stdout, stderr = run_cli(refine_argv(stub.base_url, imgs, tmp_path / "o.png"))
        assert stub.requests == []
    assert rc == 2
    assert "AILABAPI_API_KEY" in stderr and "U+20AC" in stderr
    assert "Traceback" not in stderr
    assert listed_jobs() == []


def test_invisible_characters_are_removed_from_every_source(monkeypatch):
    import keyring

    from refiner_gui.keystore import SERVICE, USERNAME, get_api_key, set_api_key

    pasted = f"\ufeff {GOOD_KEY[:6]}\u200b{GOOD_KEY[6:]}\u00a0\n"
    monkeypatch.setenv("AILABAPI_API_KEY", pasted)
    assert get_api_key().key == GOOD_KEY
    monkeypatch.delenv("AILABAPI_API_KEY")
    keyring.set_password(SERVICE, USERNAME, pasted)
    assert get_api_key().key == GOOD_KEY
    assert set_api_key(pasted) == "keyring"
    assert keyring.get_password(SERVICE, USERNAME) == GOOD_KEY


def test_the_client_refuses_a_bad_key_at_construction():
    from refiner_gui.api import ConfigError
    from refiner_gui.keystore import set_api_key

    with pytest.raises(ConfigError, match="U\\+20AC"):
        RefinerClient("abc€def", "http://127.0.0.1:9")
    with pytest.raises(ConfigError):
        set_api_key("abc€def")


def test_gui_job_with_a_bad_key_creates_no_job(qtbot, imgs):
    from refiner_gui.clients import ConnectionSettings, KeyedClientFactory
    from refiner_gui.jobs import JobStore
    from refiner_gui.keystore import KeyLookup
    from refiner_gui.settings import load_settings
    from refiner_gui.workers import JobRequest, JobWorker

    store = JobStore.open_default()
    try:
        factory = KeyedClientFactory(
            ConnectionSettings.of(load_settings()), lookup_key=lambda: KeyLookup("abc€d", "env")
        )
        worker = JobWorker(factory, store, JobRequest(dict(imgs), "man"))
        failures = []
        worker.failed.connect(failures.append)
        worker.work()
        assert failures and "U+20AC" in failures[0].user_message
        assert "Unexpected" not in failures[0].user_message
        assert store.list_jobs() == []
    finally:
        store.close()


def test_settings_dialog_refuses_a_bad_key_and_cleans_a_pasted_one(qtbot):
    import keyring
    from PySide6.QtWidgets import QDialogButtonBox

    from refiner_gui.keystore import SERVICE, USERNAME
    from refiner_gui.settings import load_settings
    from refiner_gui.ui.settings_dialog import SettingsDialog

    dlg = SettingsDialog(load_settings())
    qtbot.addWidget(dlg)
    ok = dlg._buttons.button(QDialogButtonBox.StandardButton.Ok)
    dlg.key_edit.setText("abc€def")
    dlg.key_edit.textEdited.emit(dlg.key_edit.text())
    assert not ok.isEnabled()
    assert "U+20AC" in dlg.key_note.text()
    dlg.key_edit.setText(f"\u200b{GOOD_KEY}\ufeff ")
    dlg.key_edit.textEdited.emit(dlg.key_edit.text())
    assert ok.isEnabled()
    assert dlg.api_key_text() == GOOD_KEY
    dlg.accept()
    assert keyring.get_password(SERVICE, USERNAME) == GOOD_KEY


# -- item 8: service text is shown as text, never as markup or terminal commands -----------

HOSTILE = (
    "<img src=/etc/hosts><h1 style='color:red'>ACCOUNT LOCKED: call +1 555</h1>"
    "\x1b]0;pwned title\x07\x1b[2J\x1b[31mred\x1b[0m\rfake\x08\x08"
    "\nsaved: /tmp/fake.png\u202eevil"
)


def hostile_error_body(status: int = 400) -> bytes:
    return json.dumps(
        {
            "error_code": status,
            "error_msg": HOSTILE,
            "error_detail": {
                "status_code": status,
                "code": "ERROR_PARAMETERS\x1b[2J",
                "code_message": HOSTILE,
                "message": HOSTILE,
            },
            "request_id": "req-\x1b]0;x\x07-1",
            "log_id": "log-1",
        }
    ).encode()


def assert_terminal_safe(text: str) -> None:
    for bad in ("\x1b", "\x07", "\r", "\x08", "\x9b", "\u202e"):
        assert bad not in text, (bad, text)
    assert not any(line.startswith("saved:") for line in text.splitlines()), text


@pytest.mark.parametrize("as_json", [False, True])
def test_cli_prints_service_text_without_escapes(imgs, tmp_path, as_json):
    with StubServer() as stub:
        stub.reply = Reply(400, (("Content-Type", "application/json"),), hostile_error_body())
        argv = refine_argv(stub.base_url, imgs, tmp_path / "o.png", GOOD_KEY)
        if not as_json:
            argv.remove("--json")
        rc, stdout, stderr = run_cli(argv)
    assert rc == 3
    assert_terminal_safe(stdout)
    assert_terminal_safe(stderr)
    if as_json:
        assert json.loads(stdout)["status"] == "failed"
    # And the stored job, listed as a table, keeps to one line per job and 8 columns.
    rc, stdout, _ = run_cli(["jobs"])
    assert_terminal_safe(stdout)
    lines = stdout.strip().splitlines()
    assert len(lines) == 2 and all(line.count("\t") == 7 for line in lines)


def test_error_panel_and_status_show_service_text_as_plain_text(qtbot):
    from PySide6.QtCore import Qt

    from refiner_gui.api.errors import ErrorInfo, RefinerError
    from refiner_gui.ui.error_panel import ErrorPanel

    panel = ErrorPanel()
    qtbot.addWidget(panel)
    err = RefinerError(HOSTILE, ErrorInfo(vendor_message=HOSTILE, code="<b>X</b>"), title=HOSTILE)
    panel.show_error(err)
    for label in (panel.title, panel.message, panel.details):
        assert label.textFormat() == Qt.TextFormat.PlainText
    assert "<img src=/etc/hosts>" in panel.message.text()


def test_status_label_and_tooltips_are_plain(qtbot, tmp_path):
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QTextDocumentFragment

    from refiner_gui.jobs import JobStore
    from refiner_gui.safe_text import plain_tooltip
    from refiner_gui.ui.window_layout import build_parts

    store = JobStore(tmp_path / "jobs.sqlite3")
    try:
        parts = build_parts(demo=False, inputs_dir=tmp_path / "in", store=store)
        qtbot.addWidget(parts.root)
        assert parts.stage_label.textFormat() == Qt.TextFormat.PlainText
        parts.history.shutdown()
        parts.inputs.shutdown()
    finally:
        store.close()

    tip = plain_tooltip(HOSTILE)
    assert "<img" not in tip and "<h1" not in tip
    # What Qt shows for the tooltip is the original text, not a picture or a heading.
    shown = QTextDocumentFragment.fromHtml(tip).toPlainText()
    assert "<img src=/etc/hosts>" in shown and "ACCOUNT LOCKED" in shown
    assert plain_tooltip("no markup\nhere") == "no markup\nhere"


# -- item 14 (a): strict JSON ----------------------------------------------------------------


def test_credits_json_is_strict_even_when_the_service_sends_nan():
    body = (
        b'{"error_code": 0, "data": [{"unique_sign": "common", "name": "Universal", '
        b'"balance": NaN, "total": Infinity}]}'
    )
    with StubServer() as stub:
        stub.reply = Reply(200, (("Content-Type", "application/json"),), body)
        rc, stdout, stderr = run_cli(
            ["credits", "--json", "--base-url", stub.base_url, "--api-key", GOOD_KEY]
        )
    assert rc == 0, stderr

    def refuse(name):
        raise ValueError(f"not JSON: {name}")

    doc = json.loads(stdout, parse_constant=refuse)
    assert "NaN" not in stdout and "Infinity" not in stdout
    assert doc["status"] == "ok"


# -- item 14 (b): redaction of echoed keys in any case, in part, URL-encoded ----------------

ECHO_KEY = "Hk+9/zZ=AbCdEfGh12345678"


def test_redaction_catches_lower_case_partial_and_url_encoded_echoes(imgs, tmp_path):
    from urllib.parse import quote

    echoes = [ECHO_KEY.lower(), ECHO_KEY[4:16], quote(ECHO_KEY, safe=""), ECHO_KEY.upper()[6:]]
    body = json.loads(hostile_error_body())
    body["error_msg"] = body["error_detail"]["message"] = "key was " + " / ".join(echoes)
    with StubServer() as stub:
        stub.reply = Reply(401, (("Content-Type", "application/json"),), json.dumps(body).encode())
        outputs = []
        for extra in ([], ["--json"]):
            argv = [a for a in refine_argv(stub.base_url, imgs, tmp_path / "o.png", ECHO_KEY)]
            argv = [a for a in argv if a != "--json"] + extra
            outputs += run_cli(argv)[1:]
    outputs += run_cli(["jobs", "--json"])[1:]

    from refiner_gui.jobs import JobStore
    from refiner_gui.reports.tabular import export_csv, export_json

    store = JobStore.open_default()
    try:
        jobs = store.list_jobs()
    finally:
        store.close()
    outputs.append(export_csv(jobs, tmp_path / "jobs.csv").read_text("utf-8"))
    outputs.append(export_json(jobs, tmp_path / "jobs.json").read_text("utf-8"))
    from refiner_gui.config import app_paths

    for log in app_paths().logs.glob("*.log*"):
        outputs.append(log.read_text("utf-8", "replace"))
    text = "\n".join(outputs)
    assert "***" in text
    for echo in echoes:
        assert echo.lower() not in text.lower(), echo


# -- item 14 (c, d): CSV exports stay inert and readable -------------------------------------


def test_csv_guard_and_huge_notes(tmp_path):
    import csv

    from refiner_gui.jobs import JobStore
    from refiner_gui.reports.tabular import CSV_CELL_MAX, export_csv, guard_cell
    from tests.helpers.images import make_image

    for value in (" =cmd|' /C calc'!A0", "\n=1+1", "\t+SUM(A1)", "  @x", "\r\n-2+3"):
        assert guard_cell(value).startswith("'"), value
    assert guard_cell("-3") == "-3" and guard_cell("a = b") == "a = b"

    store = JobStore(tmp_path / "store" / "jobs.sqlite3")
    try:
        person = make_image(tmp_path / "p.png")
        job = store.create_job({"person": person, "top": person, "coarse": person}, "man")
        job = store.set_review(job.id, None, (), "x" * 2_000_000)
        dest = export_csv([job], tmp_path / "jobs.csv")
    finally:
        store.close()
    with dest.open(encoding="utf-8", newline="") as fh:  # the default field size limit
        rows = list(csv.DictReader(fh))
    assert len(rows[0]["note"]) == CSV_CELL_MAX and rows[0]["note"].endswith("text]")


# -- item 14 (e): "check the internet connection" only for network failures ----------------


def test_internet_advice_only_for_network_failures(tmp_path):
    import socket

    from refiner_gui.api import NetworkError

    with StubServer() as stub:  # a body that says gzip and is not: the network is fine
        stub.reply = Reply(
            200, (("Content-Type", "application/json"), ("Content-Encoding", "gzip")), b"nope"
        )
        client = RefinerClient(GOOD_KEY, stub.base_url, retry=fast_retry(attempts=1))
        try:
            with pytest.raises(NetworkError) as bad_body:
                client.credits()
        finally:
            client.close()
    assert "internet" not in bad_body.value.user_message.lower()

    with socket.socket() as s:  # a port nobody listens on: connection refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = RefinerClient(GOOD_KEY, f"http://127.0.0.1:{port}", retry=fast_retry(attempts=1))
    try:
        with pytest.raises(NetworkError) as refused:
            client.credits()
    finally:
        client.close()
    assert "internet connection" in refused.value.user_message


# -- item 14 (f): a damaged store says which file and what to do ------------------------------


@pytest.mark.parametrize("keep", [0.5, 50 / 32768])
def test_a_truncated_store_says_what_to_do(tmp_path, keep):
    from refiner_gui.config import app_paths
    from refiner_gui.jobs import JobStore

    store = JobStore.open_default()
    path = store.path
    store.close()
    data = path.read_bytes()
    path.write_bytes(data[: max(1, int(len(data) * keep))])
    cut = path.read_bytes()

    rc, stdout, stderr = run_cli(["jobs", "--json"])
    assert rc == 2
    assert "Traceback" not in stderr
    message = json.loads(stdout)["error"]["message"] if stdout.strip() else stderr
    for words in (str(path), "damaged", "backup", "move it aside"):
        assert words in message or words in stderr, words
    assert path.read_bytes() == cut  # left alone, not deleted or replaced
    assert app_paths().data.exists()
