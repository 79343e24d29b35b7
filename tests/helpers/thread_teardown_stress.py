"""Run many short JobRunner threads back to back while other Python threads want the GIL.

``python -m tests.helpers.thread_teardown_stress N`` prints ``ok N`` and exits 0 when all
N runs ended cleanly. Run in a child process by tests/reliability/test_thread_teardown.py,
because the failure it looks for is a segmentation fault (or a deadlock) of the process.

Each run is the window's own machinery: a :class:`~refiner_gui.workers.RecoveryWorker`
(the lightest worker; nothing to recover) on a :class:`~refiner_gui.workers.JobRunner`,
started and awaited through the Qt event loop. Two busy Python threads stand for what an
app always has besides (the sandbox, pool tasks, the HTTP client): they make the GIL change
hands at the moment the runner drops its QThread.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def main(runs: int) -> int:
    from PySide6.QtCore import QCoreApplication, QEventLoop, QTimer

    from refiner_gui.jobs import JobStore
    from refiner_gui.workers import JobRunner, RecoveryWorker

    app = QCoreApplication.instance() or QCoreApplication(sys.argv[:1])
    # Hand the GIL over every millisecond (not every 5): more chances to hit the race, and
    # the spinning threads below do not slow each run to a crawl.
    sys.setswitchinterval(0.001)
    folder = tempfile.TemporaryDirectory()
    store = JobStore(Path(folder.name) / "jobs.sqlite3")
    stop = threading.Event()

    def busy() -> None:
        while not stop.is_set():
            pass

    others = [threading.Thread(target=busy, name=f"busy-{i}") for i in range(2)]
    for t in others:
        t.start()
    try:
        for _ in range(runs):
            runner = JobRunner(RecoveryWorker(lambda: None, store))
            loop = QEventLoop()
            runner.done.connect(loop.quit)
            QTimer.singleShot(0, runner.start)
            loop.exec()
            assert runner.thread is None
    finally:
        stop.set()
        for t in others:
            t.join()
        store.close()
        folder.cleanup()
    del app
    print("ok", runs, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 300))
