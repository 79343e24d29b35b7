"""The API key never leaves the request header, and the client never talks where it must not.

A distinctive key is used for whole jobs and for failures in which the service *echoes the
key back* in its error message (the worst case redaction must handle). It must appear in
none of: the CLI's stdout/stderr (text, --json, --verbose), the app's log file, the
window's texts and copied error details, the exports, the provenance sidecar and PNG
chunk, the errors' str/repr/support text, the settings file or any other file on disk
(the SQLite store and its WAL included).

Also: plain-http non-loopback base URLs are refused by the client, the CLI and the
settings dialog; result links other than http/https are refused; a download over the size
cap stops and leaves no file.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import secrets
from pathlib import Path

import pytest
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QWidget,
)

from refiner_gui import cli
from refiner_gui.api import (
    ConfigError,
    DownloadError,
    RefineInputs,
    RefinerClient,
    RefinerError,
    TaskState,
    TaskStatus,
)
from refiner_gui.api.errors import error_from_dict
from refiner_gui.jobs import JobState, JobStore, run_job
from refiner_gui.logs import setup_logging, stop_logging
from refiner_gui.provenance import build_record, read_png_record, save_with_provenance, sidecar_path
from refiner_gui.reports import export_contact_sheet, export_csv, export_html, export_json
from refiner_gui.sandbox import Fault
from refiner_gui.settings import Settings, load_settings, settings_path
from refiner_gui.slots import COARSE, PERSON, TOP
from refiner_gui.threads import wait_for_tasks
from refiner_gui.ui.main_window import MainWindow
from refiner_gui.ui.settings_dialog import SettingsDialog
from tests.helpers.broken_images import write_bomb_png
from tests.helpers.fast import fast_retry
from tests.helpers.fault_cases import part_files
from tests.helpers.http_stub import Reply, StubServer
from tests.helpers.jobs import refine, slot_files
from tests.helpers.qthreads import press_and_wait

KEY = f"sk-RELIABILITY-{secrets.token_hex(12)}"
KEY_BYTES = KEY.encode()

# Failures in which the service echoes the key back, and plain failures.
SCENARIOS: dict[str, list[Fault]] = {
    "success": [],
    "auth-echo": [
        Fault(
            "submit",
            "error",
            code="ERROR_USER_NOT_EXISTS",
            message=f"The API key {KEY} does not exist.",
        )
    ],
    "credits-echo-in-200": [
        Fault(
            "submit",
            "error_in_200",
            code="ERROR_NOT_ENOUGH_CREDITS",
            message=f"key={KEY}: balance 0",
        )
    ],
    "task-failed-echo": [
        Fault("submit", "task_failed", message=f"upstream ({KEY}) - 222202 - pic not has face")
    ],
    "poll-error-echo": [
        Fault("submit", "poll_http_error", message=f"ailabapi-api-key: {KEY} photo unusable")
    ],
    "gateway-poll": [Fault("poll", "gateway_html", times=100)],
    "outcome-unknown": [Fault("submit", "drop_connection")],
    "expired-url": [Fault("download", "expire_url")],
}


def no_key(text: str | bytes, where: str) -> None:
    if isinstance(text, bytes):
        assert KEY_BYTES not in text, f"the API key is in {where}"
    else:
        assert KEY not in text, f"the API key is in {where}: {text[:300]!r}"


def no_key_on_disk(*roots: Path) -> int:
    """Every file under ``roots`` (SQLite, WAL, logs, settings, exports...) is key-free."""
    count = 0
    for root in roots:
        for p in root.rglob("*"):
            if p.is_file():
                no_key(p.read_bytes(), str(p.relative_to(root)))
                count += 1
    return count


def inject(srv, name: str) -> None:
    for fault in SCENARIOS[name]:
        srv.inject(fault)


@contextlib.contextmanager
def real_verbose_logging():
    """Let ``--verbose`` install its stderr handler as it does outside pytest (pytest's own
    handlers on the root logger would make ``logging.basicConfig`` a no-op), then undo it."""
    root = logging.getLogger()
    saved, level = root.handlers[:], root.level
    root.handlers = []
    try:
        yield
    finally:
        for h in root.handlers:
            h.close()
        root.handlers = saved
        root.setLevel(level)


@pytest.fixture
def log_file(tmp_path):
    """The app's rotating log file at DEBUG in ``tmp_path/logs``; removed afterwards."""
    root = logging.getLogger()
    level, urllib3_level = root.level, logging.getLogger("urllib3").level
    path = setup_logging(logging.DEBUG, log_dir=tmp_path / "logs")
    logging.getLogger("urllib3").setLevel(logging.DEBUG)  # the chattiest library we use
    yield path
    stop_logging()
    root.setLevel(level)
    logging.getLogger("urllib3").setLevel(urllib3_level)


def refine_argv(srv, imgs, *extra) -> list[str]:
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


def run_cli(argv, *, verbose=False):
    out, err = io.StringIO(), io.StringIO()
    with real_verbose_logging() if verbose else contextlib.nullcontext():
        rc = cli.run(argv, stdout=out, stderr=err, retry=fast_retry())
    return rc, out.getvalue(), err.getvalue()


# -- the command line -----------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["text", "json", "verbose"])
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_cli_never_prints_the_key(sandbox, job_images, tmp_path, isolated_home, scenario, mode):
    inject(sandbox, scenario)
    extra = {"text": [], "json": ["--json"], "verbose": ["--verbose", "--json"]}[mode]
    out = tmp_path / "out.png"
    rc, stdout, stderr = run_cli(
        refine_argv(sandbox, job_images, "--out", str(out), *extra), verbose=mode == "verbose"
    )
    assert (rc == 0) == (scenario == "success"), stderr
    no_key(stdout, "stdout")
    no_key(stderr, "stderr")
    if mode == "verbose" and scenario == "success":
        assert "INFO" in stderr  # the log lines really went to stderr
    if "echo" in scenario:
        assert "***" in stderr  # the echoed key was there, and was redacted
    rc, listing, _ = run_cli(["jobs", "--json"])
    no_key(listing, "jobs --json")
    no_key_on_disk(isolated_home, tmp_path)


def test_log_file_never_holds_the_key(sandbox, job_images, tmp_path, isolated_home, log_file):
    for scenario in SCENARIOS:
        inject(sandbox, scenario)
        run_cli(refine_argv(sandbox, job_images, "--json"))
    log = logging.getLogger("refiner_gui.reliability")
    log.info("a careless line with the key %s", KEY)
    try:
        raise RuntimeError(f"boom with {KEY} inside")
    except RuntimeError:
        log.exception("a traceback that carries the key")
    text = log_file.read_text("utf-8")
    assert "job 1" in text or "task" in text  # the file really holds the jobs' lines
    assert "boom with *** inside" in text
    no_key(text, "the log file")
    no_key_on_disk(log_file.parent)


# -- the window -----------------------------------------------------------------------------


def window_texts(w: MainWindow) -> list[str]:
    """Every text a user can see or copy in the window: labels, line edits, buttons,
    tooltips, the status bar, and every cell of every item view (the history)."""
    texts = [w.windowTitle(), w.statusBar().currentMessage()]
    for widget in w.findChildren(QWidget):
        texts += [widget.toolTip(), widget.accessibleName(), widget.accessibleDescription()]
        if isinstance(widget, (QLabel, QLineEdit, QAbstractButton)):
            texts.append(widget.text())
        if isinstance(widget, QAbstractItemView) and widget.model() is not None:
            model = widget.model()
            for r in range(model.rowCount()):
                for c in range(model.columnCount()):
                    for role in (0, 3):  # DisplayRole, ToolTipRole
                        value = model.data(model.index(r, c), role)
                        if isinstance(value, str):
                            texts.append(value)
    return texts


def test_window_after_failures_shows_no_key(
    qtbot, sandbox, job_images, tmp_path, isolated_home, log_file
):
    def factory() -> RefinerClient:
        return RefinerClient(
            KEY, sandbox.base_url, poll_interval=0.02, retry=fast_retry(), timeout=30
        )

    w = MainWindow(client_factory=factory, settings=Settings(), recover_on_start=False)
    qtbot.addWidget(w)
    try:
        for slot, name in ((PERSON, "person"), (TOP, "top"), (COARSE, "coarse")):
            w.inputs.set_file(slot, job_images[name])
        w.inputs.set_gender("woman")
        qtbot.waitUntil(w.refine_button.isEnabled, timeout=10_000)
        copied: list[str] = []
        for scenario in SCENARIOS:
            inject(sandbox, scenario)
            qtbot.waitUntil(w.refine_button.isEnabled, timeout=10_000)
            press_and_wait(qtbot, w, w.refine_button)
            if scenario == "success":
                assert not w.error_panel.isVisibleTo(w)
            else:
                assert w.error_panel.isVisibleTo(w), scenario
                w.error_panel.copy_button.click()
                copied.append(QGuiApplication.clipboard().text())
                assert copied[-1].strip()
                err = w.error_panel.error()
                for text in (str(err), repr(err), err.support_text(), json.dumps(err.to_dict())):
                    no_key(text, f"the {scenario} error")
            for text in window_texts(w):
                no_key(text, f"the window after {scenario}")
        assert any("***" in c for c in copied)  # echoed keys were shown redacted
        for text in copied:
            no_key(text, "the copied error details")

        # Exports and provenance of every job the window ran.
        jobs = w.store.list_jobs()
        assert len(jobs) == len(SCENARIOS)
        exports = tmp_path / "exports"
        exports.mkdir()
        for export, name in (
            (export_csv, "r.csv"),
            (export_json, "r.json"),
            (export_html, "r.html"),
            (export_contact_sheet, "r.png"),
        ):
            no_key(export(jobs, exports / name).read_bytes(), name)
        [done] = [j for j in jobs if j.state is JobState.SUCCEEDED]
        dest, side = save_with_provenance(
            done.result_path, tmp_path / "saved.png", build_record(done)
        )
        assert side == sidecar_path(dest)
        record = read_png_record(dest)
        assert record and record["task_id"] == done.task_id
        no_key(json.dumps(record), "the PNG text chunk")
        no_key(side.read_bytes(), "the sidecar")
        no_key(dest.read_bytes(), "the saved PNG")
    finally:
        w.shutdown()
    no_key(log_file.read_text("utf-8"), "the log file")
    assert no_key_on_disk(isolated_home, tmp_path) > 10  # store, WAL, results, exports...


def test_settings_file_and_store_never_hold_the_key(qtbot, sandbox, isolated_home):
    dlg = SettingsDialog(load_settings())
    qtbot.addWidget(dlg)
    dlg.key_edit.setText(KEY)
    dlg.base_url_edit.setText(sandbox.base_url)
    dlg.accept()
    wait_for_tasks()
    assert settings_path().is_file() and load_settings().base_url == sandbox.base_url
    no_key(settings_path().read_bytes(), "settings.json")
    # The key went to the (in-memory, test) keyring, which is where it belongs.
    import keyring

    assert keyring.get_password("refiner-gui", "ailabapi-api-key") == KEY
    no_key_on_disk(isolated_home)


def test_errors_never_hold_the_key(sandbox, job_images, tmp_path):
    client = RefinerClient(KEY, sandbox.base_url, poll_interval=0.02, retry=fast_retry())
    store = JobStore(tmp_path / "data" / "jobs.sqlite3")
    errors: list[RefinerError] = []
    inputs = RefineInputs(
        person=job_images["person"],
        top=job_images["top"],
        coarse=job_images["coarse"],
        gender="man",
    )
    try:
        no_key(repr(client), "repr(client)")
        for scenario in SCENARIOS:
            inject(sandbox, scenario)
            try:
                refine(client, store, inputs)
            except RefinerError as err:
                errors.append(err)
    finally:
        client.close()
        store.close()
    assert len(errors) == len(SCENARIOS) - 1
    assert any("***" in (e.vendor_message or "") for e in errors)
    for err in errors:
        rebuilt = error_from_dict(err.to_dict())
        for text in (
            str(err),
            repr(err),
            err.user_message,
            err.vendor_message or "",
            err.support_text(),
            json.dumps(err.to_dict()),
            str(err.args),
            rebuilt.support_text(),
            repr(rebuilt),
        ):
            no_key(text, type(err).__name__)


@pytest.fixture
def stub():
    with StubServer() as server:
        yield server


ECHOES = [
    Reply(
        502,
        (("Content-Type", "text/html"),),
        f"<html><pre>GET /api/common/query-credits\r\nailabapi-api-key: {KEY}\r\n"
        "</pre>Bad Gateway</html>".encode(),
    ),
    Reply(
        401,
        (("Content-Type", "application/json"),),
        json.dumps(
            {
                "error_code": 401,
                "error_msg": f"key {KEY} unknown",
                "error_detail": {
                    "status_code": 401,
                    "code": "ERROR_USER_NOT_EXISTS",
                    "message": f"The key '{KEY}' does not exist",
                },
            }
        ).encode(),
    ),
    Reply(
        200,
        (("Content-Type", "application/json"),),
        json.dumps({"error_code": 500, "error_msg": f"PROCESSING_FAILURE for {KEY}"}).encode(),
    ),
]


@pytest.mark.parametrize("reply", ECHOES, ids=["proxy-page", "json-401", "json-in-200"])
def test_a_key_echoed_by_a_proxy_or_the_service_is_redacted(stub, tmp_path, reply):
    stub.reply = reply
    client = RefinerClient(KEY, stub.base_url, retry=fast_retry(attempts=2))
    try:
        with pytest.raises(RefinerError) as info:
            client.credits()
    finally:
        client.close()
    err = info.value
    for text in (str(err), repr(err), err.support_text(), json.dumps(err.to_dict())):
        no_key(text, type(err).__name__)
    assert "***" in err.support_text()


def test_a_mistyped_key_flag_does_not_echo_the_key(capsys):
    """argparse would echo the key after a mistyped flag ("unrecognized arguments")."""
    out, err = io.StringIO(), io.StringIO()
    rc = cli.run(["credits", "--apikey", KEY], stdout=out, stderr=err)
    captured = capsys.readouterr()
    assert rc == cli.EXIT_USAGE
    no_key(out.getvalue() + err.getvalue() + captured.out + captured.err, "the usage error")


# -- where the client refuses to go ---------------------------------------------------------

REMOTE_HTTP = [
    "http://www.ailabapi.com",
    "http://10.0.0.5:8080",
    "http://192.168.1.2/api",
    "http://localhost.example.com",
    "http://127.0.0.1.nip.io",
    "http://0.0.0.0:80",
    "http://[2001:db8::1]/",
    "HTTP://WWW.AILABAPI.COM",
]
LOOPBACK_HTTP = ["http://127.0.0.1:9", "http://localhost:9", "http://[::1]:9", "http://127.5.5.5:9"]


@pytest.mark.parametrize("url", REMOTE_HTTP)
def test_plain_http_to_a_remote_host_is_refused_everywhere(qtbot, job_images, url):
    with pytest.raises(ConfigError) as info:
        RefinerClient(KEY, url)
    assert "https" in str(info.value)
    no_key(str(info.value), "the ConfigError")

    rc, stdout, stderr = run_cli(
        [
            "refine",
            "--person",
            str(job_images["person"]),
            "--top",
            str(job_images["top"]),
            "--coarse",
            str(job_images["coarse"]),
            "--gender",
            "man",
            "--base-url",
            url,
            "--api-key",
            KEY,
            "--json",
        ]
    )
    assert rc == cli.EXIT_USAGE and "https" in stderr
    assert json.loads(stdout)["error"]["code"] == "USAGE"
    no_key(stdout + stderr, "the CLI's refusal")
    assert JobStore.open_default().list_jobs() == []  # refused before any job existed

    dlg = SettingsDialog(Settings())
    qtbot.addWidget(dlg)
    dlg.base_url_edit.setText(url)
    ok = dlg._buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert not ok.isEnabled() and "https" in dlg.url_note.text()
    dlg.accept()
    assert not settings_path().exists()  # nothing saved
    dlg.reject()


@pytest.mark.parametrize("url", LOOPBACK_HTTP)
def test_plain_http_on_loopback_is_allowed(url):
    RefinerClient(KEY, url).close()


BAD_RESULT_URLS = [
    "file:///etc/passwd",
    "ftp://example.com/r.png",
    "gopher://h/r.png",
    "data:image/png;base64,iVBORw0KGgo=",
    "javascript:alert(1)",
    "r.png",
    "//cdn.example.com/r.png",
    "smb://host/share/r.png",
]


@pytest.mark.parametrize("url", BAD_RESULT_URLS)
def test_result_links_other_than_http_are_refused(tmp_path, url):
    client = RefinerClient(KEY, "http://127.0.0.1:9", retry=fast_retry())
    dest = tmp_path / "results" / "r.png"
    with pytest.raises(DownloadError) as info:
        client.download(url, dest, task_id="t-1")
    client.close()
    assert info.value.task_id == "t-1" and "http" in info.value.user_message
    assert not dest.exists() and not part_files(tmp_path)


def test_a_job_whose_result_link_is_a_file_url_stays_resumable_with_its_task_id(
    sandbox, job_images, tmp_path
):
    class FileLink(RefinerClient):  # the service answers "done" with a file:// link
        def wait(self, task_id, **kw):
            super().wait(task_id, **kw)
            return TaskStatus(task_id, TaskState.SUCCEEDED, image_url="file:///etc/passwd")

    store = JobStore(tmp_path / "data" / "jobs.sqlite3")
    client = FileLink(KEY, sandbox.base_url, poll_interval=0.02, retry=fast_retry())
    try:
        job = store.create_job(slot_files(job_images), "woman")
        with pytest.raises(DownloadError):
            run_job(store, client, job)
        got = store.get(job.id)
    finally:
        client.close()
        store.close()
    # Refused, never fetched; the paid task stays resumable (issue 14, item 3).
    assert got.state is JobState.SUBMITTED and got.task_id == list(sandbox.tasks)[0]
    assert got.error["type"] == "DownloadError" and got.result_url == "file:///etc/passwd"
    assert list(store.results_dir.iterdir()) == []


# -- the download size cap ------------------------------------------------------------------


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "close-delimited"])
def test_download_over_the_size_cap_stops_and_leaves_nothing(stub, tmp_path, declared):
    stub.reply = Reply(
        200,
        (("Content-Type", "image/png"),),
        b"\x89PNG\r\n\x1a\n" + bytes(300_000),
        content_length=declared,
    )
    client = RefinerClient(KEY, stub.base_url, retry=fast_retry(), max_download_bytes=100_000)
    dest = tmp_path / "results" / "r.png"
    with pytest.raises(DownloadError) as info:
        client.download(f"{stub.base_url}/r.png", dest, task_id="t-9")
    client.close()
    assert "larger than" in info.value.user_message and info.value.task_id == "t-9"
    assert not info.value.retryable  # retrying cannot make it smaller
    assert len(stub.requests) == 1
    assert not dest.exists() and list(dest.parent.iterdir()) == []


def test_download_of_a_pixel_bomb_stops_and_leaves_nothing(stub, tmp_path):
    stub.reply = Reply(
        200, (("Content-Type", "image/png"),), write_bomb_png(tmp_path / "bomb.png").read_bytes()
    )
    client = RefinerClient(KEY, stub.base_url, retry=fast_retry(attempts=2))
    dest = tmp_path / "results" / "r.png"
    with pytest.raises(DownloadError):
        client.download(f"{stub.base_url}/r.png", dest)
    client.close()
    assert not dest.exists() and list(dest.parent.iterdir()) == []


def test_a_job_over_the_size_cap_keeps_its_task_id_and_no_file(sandbox, job_images, tmp_path):
    store = JobStore(tmp_path / "data" / "jobs.sqlite3")
    client = RefinerClient(
        KEY, sandbox.base_url, poll_interval=0.02, retry=fast_retry(), max_download_bytes=1_000
    )
    try:
        job = store.create_job(slot_files(job_images), "woman")
        with pytest.raises(DownloadError):
            run_job(store, client, job)
        got = store.get(job.id)
    finally:
        client.close()
        store.close()
    # Stopped at the cap; the paid task stays resumable (issue 14, item 3).
    assert got.task_id == list(sandbox.tasks)[0] and got.state is JobState.SUBMITTED
    assert list(store.results_dir.iterdir()) == [] and not part_files(tmp_path)
