"""Run many short worker threads back to back while other Python threads want the GIL.

A child process of :mod:`tests.reliability.test_thread_teardown`: each run starts a
:class:`~refiner_gui.workers.RecoveryWorker` (the lightest real worker; nothing to recover)
with :func:`refiner_gui.threads.start_worker` and waits, in a nested event loop, until the
registry has let go of it. The old job runner crashed here within the first 20 runs when
the last reference to a thread was dropped while it was still ending.
Prints ``ok N`` on success.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def main(runs: int) -> int:
    """Run ``runs`` workers one after another; 0 when every thread ended cleanly."""
    from PySide6.QtCore import QCoreApplication, QEventLoop, QTimer

    from refiner_gui.jobs import JobStore
    from refiner_gui.threads import live_workers, start_worker
    from refiner_gui.workers import RecoveryWorker

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
            loop = QEventLoop()

            def start(loop: QEventLoop = loop) -> None:
                handle = start_worker(RecoveryWorker(lambda: None, store), "refiner-job")
                handle.when_ended(loop.quit)

            QTimer.singleShot(0, start)
            loop.exec()
            assert not live_workers()
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
