"""Shared test set-up: offscreen Qt, isolated app folders, a fake keyring, no dangling threads.

``QT_QPA_PLATFORM`` is set here, at import, before pytest-qt creates the QApplication.
"""

from __future__ import annotations

import os
import threading

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.pop("AILABAPI_API_KEY", None)
os.environ.pop("AILAB_API_BASE_URL", None)

import keyring  # noqa: E402
import keyring.backend  # noqa: E402
import pytest  # noqa: E402

from tests.helpers.images import make_image  # noqa: E402,F401  (re-exported for tests)


class MemoryKeyring(keyring.backend.KeyringBackend):
    """A keyring that lives in memory, so tests never touch the machine's real one."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.store.pop((service, username), None)


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory, monkeypatch):
    """Every test gets its own app folder and an empty in-memory keyring."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("REFINER_GUI_HOME", str(home))
    kr = MemoryKeyring()
    previous = keyring.get_keyring()
    keyring.set_keyring(kr)
    yield home
    keyring.set_keyring(previous)
    # The app-wide rate limits are per service and data folder: forget this test's.
    from refiner_gui.api.limits import reset_limits

    reset_limits()


@pytest.fixture(autouse=True)
def no_dangling_threads():
    """Fail a test that leaves a Python thread running (QThreads are checked in the UI tests)."""
    before = set(threading.enumerate())
    yield
    leftover = [
        t for t in threading.enumerate() if t not in before and t.is_alive() and not t.daemon
    ]
    for t in leftover:
        t.join(timeout=2.0)
    leftover = [t for t in leftover if t.is_alive()]
    assert not leftover, f"test left threads running: {[t.name for t in leftover]}"


@pytest.fixture
def sandbox():
    """A running sandbox of the API on loopback, zero latency; stopped after the test."""
    from refiner_gui.sandbox import SandboxServer

    srv = SandboxServer(latency=0.0)
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def job_images(tmp_path_factory):
    """Valid inputs for one job: person, top, coarse (same size as person), bottom."""
    d = tmp_path_factory.mktemp("inputs")
    return {
        "person": make_image(d / "person.jpg", (320, 480)),
        "top": make_image(d / "top.png", (300, 300), color=(20, 90, 200)),
        "coarse": make_image(d / "coarse.png", (320, 480), color=(200, 100, 90)),
        "bottom": make_image(d / "bottom.jpg", (300, 300), color=(10, 10, 10)),
    }


@pytest.fixture(autouse=True)
def no_dangling_qthreads(request):
    """Fail a Qt test that leaves a QThread or a batch's own process running (napari's
    ``_dangling_qthreads``)."""
    yield
    if "qtbot" not in request.fixturenames:
        return
    import gc

    from PySide6.QtCore import QThread, QThreadPool

    assert QThreadPool.globalInstance().waitForDone(10_000), "background tasks still running"
    running = [t for t in gc.get_objects() if isinstance(t, QThread) and _is_running(t)]
    assert not running, f"test left QThreads running: {running}"
    from refiner_gui.controllers.batch_process import live_batch_processes

    left = live_batch_processes()
    for child in left:  # stopped, so that one leak does not fail every later test
        child.stop(10_000)
    assert not left, f"test left {len(left)} batch process(es) running"
    # Windows are held in reference cycles (slots bound to their parts): collect them here,
    # on the GUI thread. Left to a later collection, a worker thread of the next test may
    # run it and destroy a top-level widget off the GUI thread (a segfault).
    gc.collect()


@pytest.fixture(autouse=True)
def no_unexpected_dialogs(request, monkeypatch):
    """Fail a Qt test in which the app opens a message box the test did not answer.

    A real one is modal: it would block until pytest-timeout (and when pytest-qt closes a
    window at teardown, e.g. "A batch is running", it hides the test's own outcome). Here
    it is recorded and answered No / Ok, the choice that sends and spends nothing. A test
    that expects a message box patches the same methods itself, which replaces this.
    """
    if "qtbot" not in request.fixturenames:
        yield
        return
    from PySide6.QtWidgets import QMessageBox

    seen: list[str] = []

    def recorder(answer):
        def shown(_parent, title, text="", *a, **k):
            seen.append(f"{title}: {text}")
            return answer

        return shown

    no, ok = QMessageBox.StandardButton.No, QMessageBox.StandardButton.Ok
    monkeypatch.setattr(QMessageBox, "question", recorder(no))
    for name in ("information", "warning", "critical"):
        monkeypatch.setattr(QMessageBox, name, recorder(ok))
    yield
    assert not seen, f"message boxes opened that the test did not answer: {seen}"


def _is_running(thread) -> bool:
    try:
        return thread.isRunning()
    except RuntimeError:  # the C++ object is already deleted: not running
        return False
