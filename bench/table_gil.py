"""The batch queue's table beside busy worker threads: Qt items against a Python model.

While a batch runs, the app's worker threads take the GIL in turns (HTTP loops, PNG chunk
parsing, SQLite calls). A table whose model is Python code is asked for every cell and
role at every repaint, and each of those calls takes the GIL again, so a repaint waits
for it many times over. The queue view's model (``refiner_gui.ui.batch_model``) holds
plain Qt items instead, so a repaint stays in C++.

Both tables: 100 looks, one row updated every 50 ms (as the queue reports stages), in a
1000x700 view, beside five threads that each run Python for ~1.5 ms and then wait 4 ms
(GIL-holding bursts like the batch's). Measured: the longest gap and the gaps over 40 ms
of a 5 ms heartbeat QTimer, alternating the two models for ``--rounds`` rounds of
``--seconds`` each in one process (the machine's noise hits both alike). Ratio =
items / Python model (lower is better).

Reproduce from the repository root: ``QT_QPA_PLATFORM=offscreen python bench/table_gil.py``
(options: ``--rounds 3 --seconds 8 --work 30000``)
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import (  # noqa: E402
    QAbstractTableModel,
    QElapsedTimer,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    QTimer,
)
from PySide6.QtWidgets import QApplication, QTableView  # noqa: E402

from refiner_gui.batch import LookStatus, LookView  # noqa: E402
from refiner_gui.ui.batch_model import COLUMNS, BatchModel  # noqa: E402

ROWS = 100


class PythonModel(QAbstractTableModel):
    """The baseline: the queue view's model before 2026-12-04, answering every cell."""

    def __init__(self) -> None:
        super().__init__()
        self.views: list[LookView] = []

    def set_views(self, views: list[LookView]) -> None:
        self.beginResetModel()
        self.views = list(views)
        self.endResetModel()

    def update(self, view: LookView) -> None:
        self.views[view.position] = view
        self.dataChanged.emit(self.index(view.position, 0), self.index(view.position, 2))

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.views)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(COLUMNS)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0) -> object:
        v = self.views[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return (v.name, v.status.value, v.stage)[index.column()]
        if role == Qt.ItemDataRole.ToolTipRole:
            return v.error or None
        return None


def burn(stop: threading.Event, work: int) -> None:
    """Hold the GIL in Python for a burst, wait a moment (releasing it), again."""
    x = 0
    while not stop.is_set():
        for i in range(work):
            x += i * i
        time.sleep(0.004)


def one_round(
    app: QApplication, model: BatchModel | PythonModel, seconds: float, work: int
) -> tuple[int, int]:
    """Longest heartbeat gap (ms) and gaps over 40 ms while ``model``'s table runs."""
    views = [LookView(i, f"look-{i:03d}", LookStatus.WAITING) for i in range(ROWS)]
    model.set_views(views)
    table = QTableView()
    table.setModel(model)
    table.resize(1000, 700)
    table.show()
    gaps: list[int] = []
    clock = QElapsedTimer()
    clock.start()
    last = [clock.elapsed()]

    def beat() -> None:
        now = clock.elapsed()
        gaps.append(now - last[0])
        last[0] = now

    n = [0]

    def step() -> None:
        n[0] += 1
        row = n[0] % 20  # the rows on screen
        model.update(replace(views[row], status=LookStatus.RUNNING, stage=f"polling {n[0]}"))

    heart, ticker = QTimer(), QTimer()
    heart.setInterval(5)
    heart.timeout.connect(beat)
    ticker.setInterval(50)
    ticker.timeout.connect(step)
    stop = threading.Event()
    threads = [threading.Thread(target=burn, args=(stop, work)) for _ in range(5)]
    for t in threads:
        t.start()
    heart.start()
    ticker.start()
    QTimer.singleShot(int(seconds * 1000), app.quit)
    app.exec()
    heart.stop()
    ticker.stop()
    stop.set()
    for t in threads:
        t.join()
    table.close()
    return max(gaps), sum(g > 40 for g in gaps)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=float, default=8.0)
    p.add_argument("--work", type=int, default=30000, help="loop steps per GIL burst")
    a = p.parse_args()
    app = QApplication([])
    worst = {"python": [], "items": []}
    over = {"python": [], "items": []}
    for _ in range(a.rounds):
        for name, model in (("python", PythonModel()), ("items", BatchModel())):
            w, o = one_round(app, model, a.seconds, a.work)
            worst[name].append(w)
            over[name].append(o)
            print(f"{name:7s} longest gap {w:4d} ms, gaps over 40 ms {o}", flush=True)
    wp, wi = max(worst["python"]), max(worst["items"])
    print(
        f"longest gap: Python model {wp} ms, items {wi} ms, ratio {wi / wp:.2f}; gaps over"
        f" 40 ms: {sum(over['python'])} vs {sum(over['items'])}"
    )


if __name__ == "__main__":
    main()
