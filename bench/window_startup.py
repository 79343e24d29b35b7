"""Start-up: process start to the main window's first paint, app against a bare window.

Each run is a new Python process; the parent times from spawning it to the line the child
prints from its first paint event. App and bare QMainWindow runs alternate, so both see the
same machine noise. Prints the medians and the ratio (goal: <= 1.3).

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

class FirstPaint(QObject):
    def eventFilter(self, obj, ev):
        if ev.type() == QEvent.Type.Paint:
            print("painted", flush=True)
            QTimer.singleShot(0, QApplication.instance().quit)
            obj.removeEventFilter(self)
        return False

app = QApplication(sys.argv[:1])
if sys.argv[1] == "app":
    from refiner_gui.ui.main_window import MainWindow
    w = MainWindow()
else:
    w = QMainWindow()
    w.resize(1400, 860)
f = FirstPaint()
w.installEventFilter(f)
w.show()
app.exec()
if sys.argv[1] == "app":
    w.shutdown()
"""


def one(mode: str, env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    p = subprocess.Popen([sys.executable, "-c", CHILD, mode], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True, env=env, cwd=ROOT)
    assert p.stdout is not None
    line = p.stdout.readline()
    took = time.perf_counter() - t0
    p.wait(30)
    if line.strip() != "painted":
        raise RuntimeError(f"{mode} child did not paint")
    return took


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "REFINER_GUI_HOME": home,
               "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")}
        one("app", env)  # warm the file cache for both
        one("bare", env)
        app_t, bare_t = [], []
        for _ in range(args.runs):
            app_t.append(one("app", env))
            bare_t.append(one("bare", env))
    a, b = statistics.median(app_t), statistics.median(bare_t)
    print(f"bare QMainWindow: median {b * 1000:.0f} ms to first paint ({args.runs} runs)")
    print(f"refiner-gui MainWindow: median {a * 1000:.0f} ms to first paint ({args.runs} runs)")
    print(f"ratio app/bare: {a / b:.2f} (goal <= 1.3)")


if __name__ == "__main__":
    main()
