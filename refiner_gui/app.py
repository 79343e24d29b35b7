"""``refiner-gui``: start the window (``--demo`` for the in-process sandbox).

Order matters: logging first (so start-up problems are recorded), then the
QApplication, then the exception hook (it needs a GUI to show its dialog).
"""

from __future__ import annotations

import argparse
import logging
import sys

from refiner_gui import __version__

log = logging.getLogger(__name__)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="refiner-gui",
                                description="Refine virtual try-on images with AILabTools.")
    p.add_argument("--demo", action="store_true",
                   help="use a local sandbox and sample images: no key, no network")
    p.add_argument("--self-test", action="store_true",
                   help="offscreen: run one demo job end to end, report, exit 0 if whole")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.self_test:
        from refiner_gui.self_test import run_self_test

        return run_self_test()

    from refiner_gui.logs import setup_logging

    log_file = setup_logging()
    log.info("refiner-gui %s starting (demo=%s)", __version__, args.demo)

    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Refiner")
    app.setApplicationDisplayName("Refiner")
    app.setApplicationVersion(__version__)
    app.setOrganizationName("refiner-gui")
    from PySide6.QtGui import QIcon

    from refiner_gui.resource_files import resource_dir

    icon = resource_dir("icons") / "refiner-gui.png"
    if icon.is_file():
        app.setWindowIcon(QIcon(str(icon)))

    from refiner_gui.ui.crash_dialog import install_exception_hook
    from refiner_gui.ui.main_window import MainWindow

    demo = None
    if args.demo:
        from refiner_gui.config import app_paths
        from refiner_gui.demo import DemoSession, sample_paths
        from refiner_gui.jobs import JobStore
        from refiner_gui.jobs.store import DB_NAME

        demo = DemoSession.start()
        # Demo jobs live in their own store: the sandbox must never "recover" (and so
        # expire) a real task, and its task ids do not belong in the real history.
        demo_store = JobStore(app_paths().data / "demo" / DB_NAME)
        window = MainWindow(client_factory=demo.client, demo=True, store=demo_store)
        for slot, path in sample_paths().items():
            window.inputs.set_file(slot, path)
    else:
        window = MainWindow()
    install_exception_hook(lambda: window)
    window.show()
    log.info("window shown; log file %s", log_file.name)
    try:
        return int(app.exec())
    finally:
        window.shutdown()
        if demo is not None:
            demo.stop()
            demo_store.close()


if __name__ == "__main__":
    sys.exit(main())
