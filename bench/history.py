"""History panel with 10,000 jobs: time to first paint and the longest stall while scrolling.

Both against a baseline in the same process and the same window size, because absolute
times drift on shared machines:

* first paint: constructing the window with a HistoryPanel over 10,000 jobs until the job
  table's viewport gets its first Paint event, against the same window holding an empty
  QTableView (median of ``--runs`` alternating runs);
* stall: a 5 ms heartbeat QTimer records the longest gap between its ticks while another
  QTimer scrolls the table's vertical scroll bar from top to bottom in ``--steps`` steps,
  against the same heartbeat for the same time with the window idle.

Goals: < 1 s to first paint, no stall > 50 ms.

    QT_QPA_PLATFORM=offscreen python bench/history.py [--jobs 10000] [--runs 5] [--steps 200]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import Image, ImageDraw  # noqa: E402
from PySide6.QtCore import (  # noqa: E402
    QElapsedTimer,
    QEvent,
    QEventLoop,
    QObject,
    Qt,
    QTimer,
    QtMsgType,
    qInstallMessageHandler,
)
from PySide6.QtWidgets import QApplication, QTableView, QVBoxLayout, QWidget  # noqa: E402

from refiner_gui.jobs.models import DEFECT_TAGS, JobState  # noqa: E402
from refiner_gui.jobs.store import JobStore  # noqa: E402
from refiner_gui.ui.history import HistoryPanel  # noqa: E402

WINDOW_SIZE = (1100, 600)
DISTINCT_PICTURES = 20  # jobs share these files, so thumbnails are decoded and evicted


def _picture(path: Path, colour: tuple[int, int, int]) -> Path:
    img = Image.new("RGB", (320, 480), colour)
    d = ImageDraw.Draw(img)
    d.ellipse((130, 25, 190, 95), fill=(230, 200, 180))
    d.rectangle((100, 95, 220, 290), fill=(40, 60, 160))
    d.rectangle((110, 290, 210, 460), fill=(30, 30, 30))
    img.save(path)
    return path


def build_store(folder: Path, n: int) -> JobStore:
    """A store with ``n`` jobs in mixed states, inserted in one transaction."""
    src = folder / "src"
    src.mkdir(parents=True)
    store = JobStore(folder / "data" / "jobs.sqlite3")
    templates = []
    for i in range(DISTINCT_PICTURES):
        c = (40 + i * 9, 120, 200 - i * 7)
        files = {
            "person_image": _picture(src / f"person-{i}.png", c),
            "top_garment": _picture(src / f"top-{i}.png", (c[2], c[0], c[1])),
            "coarse_image": _picture(src / f"coarse-{i}.png", (c[1], c[2], c[0])),
        }
        job = store.create_job(files, "woman")
        result = store.result_path_for(job.id)
        _picture(result, (c[1], c[0], c[2]))
        templates.append((job.id, store._rel(result)))  # noqa: SLF001 (bench set-up)
    states = [s.value for s in JobState]
    verdicts = [None, "pass", "fail"]
    tags = list(DEFECT_TAGS)
    now = time.time()
    rows = []
    for i in range(n - DISTINCT_PICTURES):
        state = states[i % len(states)] if i % 3 else JobState.SUCCEEDED.value
        done = state == JobState.SUCCEEDED.value
        rows.append(
            (
                state,
                "woman" if i % 2 else "man",
                now - i * 60,
                now - i * 60,
                f"bench-{i:06d}-{i * 7919 % 100000:05d}",
                templates[i % DISTINCT_PICTURES][1] if done else None,
                verdicts[i % 3] if done else None,
                f'["{tags[i % len(tags)]}"]' if done and i % 3 == 2 else "[]",
                f"note {i}" if i % 5 == 0 else "",
            )
        )
    with sqlite3.connect(store.path) as conn:
        first = conn.execute("SELECT MAX(id) FROM jobs").fetchone()[0] + 1
        conn.executemany(
            "INSERT INTO jobs (state, gender, created_at, updated_at, task_id, result_path, "
            "verdict, tags, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        for k, (template_id, _) in enumerate(templates):
            conn.execute(
                "INSERT INTO job_inputs (job_id, slot, path, sha256, name) "
                "SELECT j.id, i.slot, i.path, i.sha256, i.name FROM jobs j, job_inputs i "
                "WHERE i.job_id = ? AND j.id >= ? AND (j.id - ?) % ? = ?",
                (template_id, first, first, DISTINCT_PICTURES, k),
            )
    assert store.count() == n, store.count()
    return store


# Local QEventLoops, not app.exec()/app.quit(): in Qt 6 quitting the application closes
# every window, and a hidden table never paints (the scroll would measure nothing).


class FirstPaint(QObject):
    """Stops ``loop`` at the watched widget's first Paint event."""

    def __init__(self, loop: QEventLoop) -> None:
        super().__init__()
        self.loop = loop
        self.painted = False

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint and not self.painted:
            self.painted = True
            QTimer.singleShot(0, self.loop.quit)
        return False


def run_for(ms: int) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def new_panel(store: JobStore, page_size: int | None) -> HistoryPanel:
    panel = HistoryPanel(store)
    if page_size:
        panel.model.page_size = page_size
    return panel


def time_to_first_paint(
    app: QApplication, store: JobStore | None, page_size: int | None = None
) -> float:
    """Seconds from constructing the window (and the panel) to the table's first paint."""
    t = QElapsedTimer()
    t.start()
    window = QWidget()
    layout = QVBoxLayout(window)
    panel = None
    if store is not None:
        panel = new_panel(store, page_size)
        layout.addWidget(panel)
        viewport = panel.table.viewport()
    else:
        table = QTableView()
        layout.addWidget(table)
        viewport = table.viewport()
    loop = QEventLoop()
    watcher = FirstPaint(loop)
    viewport.installEventFilter(watcher)
    window.resize(*WINDOW_SIZE)
    window.show()
    loop.exec()
    assert watcher.painted
    took = t.nsecsElapsed() / 1e9
    viewport.removeEventFilter(watcher)
    if panel is not None:
        panel.shutdown()
    window.close()
    window.deleteLater()
    app.processEvents()
    return took


class Heartbeat(QObject):
    """A 5 ms timer that records the longest gap between its ticks."""

    def __init__(self) -> None:
        super().__init__()
        self.timer = QTimer(self)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(5)
        self.timer.timeout.connect(self._tick)
        self.clock = QElapsedTimer()
        self.gaps: list[float] = []
        self._last = 0

    def start(self) -> None:
        self.clock.start()
        self._last = 0
        self.gaps.clear()
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()

    def _tick(self) -> None:
        now = self.clock.nsecsElapsed()
        self.gaps.append((now - self._last) / 1e6)
        self._last = now

    def longest_ms(self) -> float:
        return max(self.gaps, default=0.0)

    def p99_ms(self) -> float:
        gaps = sorted(self.gaps)
        return gaps[int(len(gaps) * 0.99)] if gaps else 0.0


def scroll_stalls(
    app: QApplication, store: JobStore, steps: int, page_size: int | None = None
) -> dict[str, float]:
    """Idle for as long as the scroll takes, then scroll end to end in ``steps`` timer
    steps. Longest gaps of the heartbeat in each phase."""
    window = QWidget()
    layout = QVBoxLayout(window)
    panel = new_panel(store, page_size)
    layout.addWidget(panel)
    window.resize(*WINDOW_SIZE)
    window.show()
    for _ in range(5):
        app.processEvents()
    bar = panel.table.verticalScrollBar()
    beat = Heartbeat()

    # Idle first: the same window, the same heartbeat, nothing scrolling.
    beat.start()
    run_for(max(1000, steps * 10))
    beat.stop()
    idle_max, idle_p99 = beat.longest_ms(), beat.p99_ms()

    step = {"i": 0}
    stepper = QTimer()
    stepper.setInterval(10)
    loop = QEventLoop()

    def advance() -> None:
        step["i"] += 1
        bar.setValue(round(bar.maximum() * step["i"] / steps))
        if step["i"] >= steps:
            stepper.stop()
            QTimer.singleShot(100, loop.quit)  # let the last rows and thumbnails paint

    stepper.timeout.connect(advance)
    clock = QElapsedTimer()
    clock.start()
    beat.start()
    stepper.start()
    loop.exec()
    beat.stop()
    scroll_s = clock.nsecsElapsed() / 1e9
    at_end = bar.value() == bar.maximum() and window.isVisible()
    painted_rows = panel.table.rowAt(0)  # the row at the top when the scroll ended
    decodes = panel._thumbs.decodes_started  # noqa: SLF001 (bench report)
    panel.shutdown()
    window.close()
    window.deleteLater()
    app.processEvents()
    return {
        "scroll_max": beat.longest_ms(),
        "scroll_p99": beat.p99_ms(),
        "idle_max": idle_max,
        "idle_p99": idle_p99,
        "scroll_s": scroll_s,
        "at_end": float(at_end),
        "decodes": float(decodes),
        "top_row": float(painted_rows),
    }


def _quiet_offscreen_notice(mode: QtMsgType, context: object, message: str) -> None:
    # The offscreen plugin says this for every shown window: noise in the report.
    if "propagateSizeHints" not in message:
        print(message, file=sys.stderr)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--scrolls", type=int, default=3, help="scroll runs (worst one reported)")
    ap.add_argument(
        "--page-size", type=int, default=None, help="jobs fetched per page (default: the model's)"
    )
    args = ap.parse_args()
    qInstallMessageHandler(_quiet_offscreen_notice)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        store = build_store(Path(tmp), args.jobs)
        print(f"store: {store.count():,} jobs built in {time.perf_counter() - t0:.1f} s")
        time_to_first_paint(app, None)  # warm-up: fonts, styles, the SQLite page cache
        time_to_first_paint(app, store, args.page_size)
        panel_t, bare_t = [], []
        for _ in range(args.runs):
            panel_t.append(time_to_first_paint(app, store, args.page_size))
            bare_t.append(time_to_first_paint(app, None))
        p, b = statistics.median(panel_t), statistics.median(bare_t)
        print(f"first paint, empty QTableView window: median {b * 1000:.0f} ms ({args.runs} runs)")
        print(
            f"first paint, HistoryPanel ({args.jobs:,} jobs): median {p * 1000:.0f} ms, "
            f"max {max(panel_t) * 1000:.0f} ms (goal < 1000 ms)"
        )
        print(f"ratio panel/baseline: {p / b:.2f}")
        runs = [scroll_stalls(app, store, args.steps, args.page_size) for _ in range(args.scrolls)]
        for i, s in enumerate(runs, 1):
            print(
                f"scroll run {i}: idle longest gap {s['idle_max']:.1f} ms (p99 "
                f"{s['idle_p99']:.1f}); scrolling {s['scroll_s']:.1f} s, longest gap "
                f"{s['scroll_max']:.1f} ms (p99 {s['scroll_p99']:.1f}), reached end: "
                f"{bool(s['at_end'])} (top row {int(s['top_row'])}), "
                f"{int(s['decodes'])} thumbnail decodes"
            )
        idle = max(s["idle_max"] for s in runs)
        worst = max(s["scroll_max"] for s in runs)
        median_worst = statistics.median(s["scroll_max"] for s in runs)
        print(f"idle window, 5 ms heartbeat: longest gap {idle:.1f} ms")
        print(
            f"scrolling end to end ({args.steps} steps): longest gap {worst:.1f} ms "
            f"(median over runs {median_worst:.1f} ms; goal < 50 ms)"
        )
        print(f"ratio longest gap scrolling/idle: {worst / idle:.2f}")
        store.close()


if __name__ == "__main__":
    main()
