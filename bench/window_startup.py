"""Start-up: process start to the main window's first paint, ``refiner-gui`` against a bare
PySide6 QMainWindow.

Each run is a new Python process; the parent times from spawning it to the lines the child
prints. The app child runs the real entry point (``refiner_gui.app.main``: logging, the
QApplication set-up, the exception hook, the window); the bare child shows a 1400x860
QMainWindow. Both install the same event filter on their window (the app's through a
wrapper around ``MainWindow.__init__``) and print "painted" at its first Paint event.
The app child also prints "ready" at the first paint after its content is built (the
window shows an outline first, see ``MainWindow(deferred=True)``), so the time until the
whole UI is usable is reported too.

Runs alternate, so both see the same machine noise. Bytecode is cached (in a temporary
``PYTHONPYCACHEPREFIX``, warmed by two runs of each) as it is for an installed app: pip
and PyInstaller both ship compiled modules, and compiling ours on every start would
measure the environment (``PYTHONDONTWRITEBYTECODE``), not the app.

    QT_QPA_PLATFORM=offscreen python bench/window_startup.py [--runs 10]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import sys
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QMainWindow

class Watch(QObject):
    def __init__(self, want_ready):
        super().__init__()
        self.painted = False
        self.want_ready = want_ready
        self.built = False

    def eventFilter(self, obj, ev):
        if ev.type() == QEvent.Type.Paint:
            if not self.painted:
                self.painted = True
                print("painted", flush=True)
            elif self.built:
                print("ready", flush=True)
                self.want_ready = False
            if not self.want_ready:
                obj.removeEventFilter(self)
                QTimer.singleShot(0, QApplication.instance().quit)
        return False

app = QApplication(sys.argv[:1])
if sys.argv[1] == "app":
    watch = Watch(want_ready=True)
    from refiner_gui.ui.main_window import MainWindow
    init, build = MainWindow.__init__, MainWindow.ensure_built

    def __init__(self, **kw):  # the same filter as the bare window's, on the window
        init(self, **kw)
        self.installEventFilter(watch)

    def ensure_built(self):
        build(self)
        watch.built = True

    MainWindow.__init__ = __init__
    MainWindow.ensure_built = ensure_built
    from refiner_gui.app import main
    sys.exit(main([]))
else:
    watch = Watch(want_ready=False)
    w = QMainWindow()
    w.resize(1400, 860)
    w.installEventFilter(watch)
    w.show()
    app.exec()
"""


def one(mode: str, env: dict[str, str]) -> tuple[float, float | None]:
    """Seconds from spawn to "painted" (and to "ready" for the app)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(
        [sys.executable, "-c", CHILD, mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert p.stdout is not None
    line = p.stdout.readline()
    painted = time.perf_counter() - t0
    ready = None
    if mode == "app":
        if p.stdout.readline().strip() != "ready":
            raise RuntimeError("app child did not report ready")
        ready = time.perf_counter() - t0
    p.wait(30)
    if line.strip() != "painted":
        raise RuntimeError(f"{mode} child did not paint")
    return painted, ready


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as home, tempfile.TemporaryDirectory() as pyc:
        # A fresh HOME rather than REFINER_GUI_HOME, so the app finds its folders the way
        # it does for a user (platformdirs), in an empty profile.
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("XDG_") and k not in ("REFINER_GUI_HOME", "PYTHONDONTWRITEBYTECODE")
        }
        env.update(
            HOME=home,
            PYTHONPYCACHEPREFIX=pyc,
            QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"),
        )
        for _ in range(2):  # compile and cache bytecode, warm the file cache
            one("app", env)
            one("bare", env)
        app_t, ready_t, bare_t = [], [], []
        for _ in range(args.runs):
            painted, ready = one("app", env)
            app_t.append(painted)
            ready_t.append(ready or 0.0)
            bare_t.append(one("bare", env)[0])
    a, r, b = (statistics.median(x) for x in (app_t, ready_t, bare_t))
    print(f"bare QMainWindow: median {b * 1000:.0f} ms to first paint ({args.runs} runs)")
    print(
        f"refiner-gui: median {a * 1000:.0f} ms to first paint (the outline), "
        f"{r * 1000:.0f} ms to the built window's first paint"
    )
    print(f"ratio first paint app/bare: {a / b:.2f} (goal <= 1.3)")
    print(f"ratio built window/bare: {r / b:.2f}")


if __name__ == "__main__":
    main()
