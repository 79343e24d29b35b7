"""``refiner-gui``: start the window (``--demo`` for the in-process sandbox).

Order matters: logging first (so start-up problems are recorded), then the
QApplication, then the exception hook (it needs a GUI to show its dialog).
"""

from __future__ import annotations

import argparse
import logging
import sys

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from refiner_gui.allocator import map_big_blocks
from refiner_gui.logs import buffer_startup_logs, setup_logging, stop_logging
from refiner_gui.processes import BATCH_PROCESS_FLAG
from refiner_gui.resource_files import resource_dir
from refiner_gui.ui import crash_hook
from refiner_gui.ui.main_window import MainWindow
from refiner_gui.ui.theme import follow_dark_palette
from refiner_gui.ui.window_title import APP_NAME

log = logging.getLogger(__name__)


class _VersionAction(argparse.Action):
    """``--version``, reading the version only when asked (importlib.metadata is slow)."""

    def __init__(
        self,
        option_strings: list[str],
        dest: str = argparse.SUPPRESS,
        default: str = argparse.SUPPRESS,
        help: str | None = None,
    ) -> None:
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        from refiner_gui import __version__

        print(f"{parser.prog} {__version__}")  # stdout, as argparse's own action
        parser.exit()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line of ``refiner-gui`` (``--help`` and ``--version`` exit here)."""
    p = argparse.ArgumentParser(
        prog="refiner-gui", description="Refine virtual try-on images with AILabTools."
    )
    p.add_argument(
        "--demo",
        action="store_true",
        help="use a local sandbox and sample images: no key, no network",
    )
    p.add_argument(
        "--self-test",
        action="store_true",
        help="offscreen: run one demo job end to end, report, exit 0 if whole",
    )
    p.add_argument(
        "--version", action=_VersionAction, help="show the program's version number and exit"
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the window (or the self-test) until it closes; the exit code (1 when the
    window could not be built)."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == [BATCH_PROCESS_FLAG]:
        # A frozen app started again as a batch's own process (refiner_gui.batch.child).
        from refiner_gui.batch.child import main as run_batch_process

        return run_batch_process()
    args = parse_args(argv)
    if args.self_test:
        # Another program (offscreen, a temporary home): loaded only when asked for.
        from refiner_gui.self_test import run_self_test

        return run_self_test()

    # Records are held in memory until the log file is opened, right after the first
    # paint (see refiner_gui.logs); the finally below opens it on any other way out.
    _log_file.clear()
    map_big_blocks()  # before any image: see refiner_gui.allocator
    buffer_startup_logs()
    log.info("refiner-gui starting (demo=%s)", args.demo)
    try:
        return _run(args)
    finally:
        _open_log_file()  # what was buffered, if the window never got that far
        stop_logging()


_log_file: list[str] = []  # the log file's name, once open


def _open_log_file() -> None:
    """Open the rotating log file (once); it receives the records buffered so far. A
    folder that cannot be written is reported on stderr, not raised: the app still runs."""
    if _log_file:
        return
    from refiner_gui import __version__  # read here: importlib.metadata is slow

    try:
        _log_file.append(setup_logging().name)
        # Read here, while the window is being built anyway: importlib.metadata takes
        # ~20 ms, which after the window is ready would stall the user's first drop.
        log.info("refiner-gui %s, log file %s", __version__, _log_file[0])
    except OSError as exc:
        _log_file.append(f"none ({exc})")
        print(f"refiner-gui: cannot write the log file: {exc}", file=sys.stderr)


def _run(args: argparse.Namespace) -> int:
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
    # Qt adds the display name to window titles; the main window's title ends with it,
    # so it is shown once (see refiner_gui.ui.window_title).
    app.setApplicationName(APP_NAME)
    app.setApplicationDisplayName(APP_NAME)
    app.setOrganizationName("refiner-gui")
    icon = resource_dir("icons") / "refiner-gui.png"
    if icon.is_file():
        app.setWindowIcon(QIcon(str(icon)))
    follow_dark_palette(app)  # a dark system palette gets a dark window
    # The window paints an outline first and builds its content right after (in demo
    # mode with a local sandbox, its own job store and the sample images).
    window = MainWindow(demo=args.demo, deferred=True)
    # The log file opens as the build starts (after the first paint), so anything that
    # goes wrong while building is in it.
    window.building.connect(_open_log_file)
    window.when_ready(_on_window_ready)
    crash_hook.install_exception_hook(lambda: window)
    window.show()
    try:
        code = int(app.exec())
        return 1 if window.build_error is not None else code
    finally:
        window.shutdown()


def _on_window_ready() -> None:
    log.info("window ready; log file %s", _log_file[0] if _log_file else "not open")


if __name__ == "__main__":
    sys.exit(main())
