"""Save screenshots of the window's main states to docs/screenshots/ (offscreen, demo data).

    QT_QPA_PLATFORM=offscreen python docs/make_screenshots.py [--out docs/screenshots]

States: empty, filled, running, the result in each viewer mode, and an error. The test
suite runs :func:`capture` into a temporary folder, so this script cannot rot.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def capture(out: Path, scale: float = 1.0, latency: float = 1.5) -> list[Path]:
    """Drive a demo window through its states and grab each. Returns the files written."""
    from PySide6.QtCore import QCoreApplication, QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from refiner_gui.demo import DemoSession, sample_paths
    from refiner_gui.sandbox import Fault
    from refiner_gui.settings import Settings
    from refiner_gui.slots import BOTTOM, COARSE, PERSON, TOP
    from refiner_gui.ui.main_window import MainWindow
    from refiner_gui.ui.viewer import ViewMode

    app = QApplication.instance() or QApplication([])
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def pump_until(cond, timeout_s: float = 20.0) -> None:
        loop_timer = QTimer()
        deadline = timeout_s * 1000
        waited = 0
        while not cond():
            loop = QEventLoop()
            loop_timer.singleShot(20, loop.quit)
            loop.exec()
            waited += 20
            if waited > deadline:
                raise TimeoutError("window did not reach the expected state")

    def shot(w, name: str) -> None:
        QCoreApplication.processEvents()
        path = out / f"{name}.png"
        w.grab().save(str(path))
        written.append(path)

    demo = DemoSession.start(latency=latency, poll_interval=0.1)
    w = MainWindow(
        client_factory=demo.client,
        demo=True,
        settings=Settings(),
        recover_on_start=False,
        deferred=True,
    )
    ready: list[bool] = []
    w.ready.connect(lambda: ready.append(True))
    try:
        w.resize(int(1400 * scale), int(860 * scale))
        w.show()
        shot(w, "window_starting")  # the outline painted before the content is built
        pump_until(lambda: bool(ready))
        shot(w, "window_empty")
        samples = sample_paths()
        for slot in (PERSON, TOP, COARSE, BOTTOM):
            w.inputs.set_file(slot, samples[slot])
        w.inputs.set_gender("woman")
        pump_until(lambda: w.inputs.readiness().ready)
        pump_until(
            lambda: all(w.inputs.report(s) is not None for s in (PERSON, TOP, COARSE, BOTTOM))
        )
        shot(w, "window_filled")
        w.start_job()
        pump_until(lambda: w.task_id is not None and "Refining" in w.stage_label.text())
        shot(w, "window_running")
        pump_until(lambda: not w.job_running())
        w.viewer.set_mode(ViewMode.SIDE_BY_SIDE)
        look = w.content.look_inputs
        pump_until(lambda: all(look.has_thumbnail(s) for s in (PERSON, TOP, COARSE, BOTTOM)))
        shot(w, "window_result")
        # The review: the look's own inputs beside the viewer, the auto-advance rule under
        # it, a verdict with tags and a note as a reviewer leaves them.
        w.review_bar.set_review("fail", ("pattern_logo", "hands"), "Logo on the chest is blurred")
        shot(w, "review")
        job = w.store.get(w.review.job_id)  # back to what is stored (it was only shown)
        w.review_bar.set_review(job.verdict, job.tags, job.note)
        for mode, name in (
            (ViewMode.SWIPE, "window_swipe"),
            (ViewMode.FLICKER, "window_flicker"),
            (ViewMode.DIFFERENCE, "window_difference"),
        ):
            w.viewer.set_mode(mode)
            pump_until(lambda: True)
            QTimer.singleShot(0, lambda: None)
            for _ in range(10):
                QCoreApplication.processEvents()
            if mode is ViewMode.DIFFERENCE:
                from refiner_gui.threads import wait_for_tasks

                wait_for_tasks()
                for _ in range(20):
                    QCoreApplication.processEvents()
            shot(w, name)
        w.viewer.set_mode(ViewMode.SIDE_BY_SIDE)
        w.tabs.setCurrentWidget(w.history)
        pump_until(lambda: True)
        for _ in range(10):
            QCoreApplication.processEvents()
        from refiner_gui.threads import wait_for_tasks as _wait

        _wait()
        for _ in range(10):
            QCoreApplication.processEvents()
        shot(w, "window_history")
        w.tabs.setCurrentWidget(w.compare_page)
        demo.server.inject(Fault("submit", "poll_http_error", code="ERROR_NO_FACE_IN_FILE"))
        w.start_job()
        pump_until(lambda: not w.job_running())
        shot(w, "window_error")
        from refiner_gui.ui.shortcuts_dialog import ShortcutsDialog

        keys = ShortcutsDialog(w)
        keys.resize(int(560 * scale), int(640 * scale))
        keys.show()
        shot(keys, "shortcuts")
        keys.close()
    finally:
        w.shutdown()
        w.close()
        demo.stop()
    del app
    return written


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "screenshots")
    args = ap.parse_args()
    # Screenshots never touch the user's real settings or keyring.
    os.environ.setdefault("REFINER_GUI_HOME", tempfile.mkdtemp(prefix="refiner-shots-"))
    for p in capture(args.out):
        print(p)


if __name__ == "__main__":
    main()
