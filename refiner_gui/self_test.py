"""``refiner-gui --self-test``: prove that an installed or frozen app is whole.

Offscreen, in a temporary app folder: the window starts, one demo job runs against the
in-process sandbox on loopback, its result is saved with provenance and read back; a
one-look demo batch runs in a process of its own (a frozen app starts itself again for
it). Also checked: the keyring backends load, the CA bundle for HTTPS exists, the bundled resources
and the vendor error table are there. Prints one line per check; exit 0 only if all pass.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import certifi
import keyring
from PySide6.QtCore import QCoreApplication, QEventLoop, QTimer
from PySide6.QtWidgets import QApplication

from refiner_gui import __version__
from refiner_gui.api.codes import error_table
from refiner_gui.demo import DemoSession, sample_paths
from refiner_gui.provenance import build_record, read_png_record, save_with_provenance
from refiner_gui.settings import Settings
from refiner_gui.ui.main_window import MainWindow

TIMEOUT_S = 90.0


def _check(name: str, fn: Callable[[], str], results: list[tuple[str, bool, str]]) -> None:
    try:
        detail = fn()
        results.append((name, True, detail))
    except Exception as exc:  # every failure is reported, none stops the other checks
        results.append((name, False, f"{type(exc).__name__}: {exc}"))
        traceback.print_exc(file=sys.stderr)


def _resources() -> str:

    paths = sample_paths()
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"sample images missing: {missing}")
    return f"{len(paths)} sample images, {len(error_table())} vendor error codes"


def _keyring() -> str:

    backend = keyring.get_keyring()
    return f"backend {type(backend).__module__}.{type(backend).__name__}"


def _certificates() -> str:

    where = Path(certifi.where())
    if not where.is_file() or where.stat().st_size < 1000:
        raise FileNotFoundError("CA bundle missing")
    return f"CA bundle {where.stat().st_size // 1024} KB"


def _window_job(out_dir: Path) -> str:

    app = QApplication.instance() or QApplication(sys.argv[:1])
    demo = DemoSession.start(latency=0.3, poll_interval=0.1)
    # Deferred, as refiner-gui starts it: the outline first, then the content (which
    # imports most of the app lazily: a bundle missing a module fails here).
    window = MainWindow(
        client_factory=demo.client,
        demo=True,
        settings=Settings(),
        recover_on_start=False,
        deferred=True,
    )
    ready: list[bool] = []
    window.ready.connect(lambda: ready.append(True))
    try:
        window.show()
        deadline = time.monotonic() + TIMEOUT_S

        def pump(cond: Callable[[], bool], what: str) -> None:
            while not cond():
                if time.monotonic() > deadline:
                    raise TimeoutError(f"timed out waiting for {what}")
                loop = QEventLoop()
                QTimer.singleShot(20, loop.quit)
                loop.exec()

        pump(lambda: bool(ready), "the window to be built")
        for slot, path in sample_paths().items():
            window.inputs.set_file(slot, path)
        window.inputs.set_gender("woman")
        pump(lambda: window.inputs.readiness().ready, "the inputs to pass pre-flight")
        if not window.start_job():
            raise RuntimeError("the job did not start")
        pump(lambda: not window.job_running(), "the demo job")
        if window.shown is None:
            raise RuntimeError(f"the job failed: {window.error_panel.message.text()}")
        job = window.shown.job
        assert job.result_path is not None
        dest = out_dir / "self-test.png"
        save_with_provenance(job.result_path, dest, build_record(job))
        record = read_png_record(dest)
        if not record or record.get("task_id") != job.task_id:
            raise RuntimeError("the saved result has no provenance")
        QCoreApplication.processEvents()
        return f"job {job.id} task {job.task_id} saved ({dest.stat().st_size // 1024} KB)"
    finally:
        window.shutdown()
        window.close()
        demo.stop()
        del app


def _batch_process(home: Path) -> str:
    """A one-look demo batch run as the window runs batches: in a process of its own,
    which a frozen app starts as itself (refiner_gui.batch.child)."""
    from refiner_gui.controllers.batch_controller import BatchController
    from refiner_gui.jobs import JobStore
    from refiner_gui.jobs.store_batches import NewLook
    from refiner_gui.slots import BOTTOM

    app = QApplication.instance() or QApplication(sys.argv[:1])
    demo = DemoSession.start(latency=0.3, poll_interval=0.1)
    store = JobStore(home / "batch-self-test.sqlite")
    files = {k: v for k, v in sample_paths().items() if k != BOTTOM}
    controller = BatchController(store, demo.factory, own_process=True)
    try:
        batch = store.create_batch(
            "self-test", "self-test", home / "batch-out", 1, [NewLook("look-1", "woman", files)]
        )
        if controller.start(batch.id) is None or controller.process is None:
            raise RuntimeError("the batch did not start in a process of its own")
        pid = controller.process.pid
        deadline = time.monotonic() + TIMEOUT_S
        while controller.is_running():
            if time.monotonic() > deadline:
                raise TimeoutError("timed out waiting for the batch")
            loop = QEventLoop()
            QTimer.singleShot(20, loop.quit)
            loop.exec()
        counts = controller.counts()
        if counts.done != 1:
            raise RuntimeError(f"the batch ended with {counts.line()}")
        return f"1 look done in process {pid}"
    finally:
        controller.shutdown(30_000)
        store.close()
        demo.stop()
        del app


def run_self_test() -> int:
    """Run every check; print a report; return the exit code."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    with tempfile.TemporaryDirectory(prefix="refiner-self-test-") as home:
        # Never touch the user's real data, settings or keyring entries.
        os.environ["REFINER_GUI_HOME"] = home
        results: list[tuple[str, bool, str]] = []
        _check("resources", _resources, results)
        _check("keyring", _keyring, results)
        _check("certificates", _certificates, results)
        _check("window + demo job", lambda: _window_job(Path(home)), results)
        _check("batch in its own process", lambda: _batch_process(Path(home)), results)

    print(f"refiner-gui {__version__} self-test")
    for name, ok, detail in results:
        print(f"  {'ok  ' if ok else 'FAIL'} {name}: {detail}")
    passed = all(ok for _, ok, _ in results)
    print("self-test passed" if passed else "self-test FAILED")
    return 0 if passed else 1
