"""Save screenshots of the window's main states to docs/screenshots/ (offscreen, demo data).

    QT_QPA_PLATFORM=offscreen python docs/make_screenshots.py [--out docs/screenshots]

States: empty, filled, running, the result in each viewer mode, and an error; then a
result on a laptop (1280x720), on half a 1920 screen (960x1040) and on a 2x screen (a
second process with ``QT_SCALE_FACTOR=2``, the viewer at 100 %: one image pixel per
device pixel). The test suite runs :func:`capture` into a temporary folder, so this
script cannot rot.
"""

from __future__ import annotations

import argparse
import os
import subprocess
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
        # The offscreen screen is 800 px wide, so the window opens with the inputs as a
        # strip; these pictures show them in full, at the window's size.
        w.inputs_column.set_compact(False)
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
    written += capture_layouts(out, latency=min(latency, 0.3))
    written += capture_batch(out, latency=max(latency, 1.5))
    del app
    return written


LAYOUTS = (
    ("laptop-1280x720", 1280, 720, False),
    ("half-screen-960x1040", 960, 1040, False),
    ("half-screen-960x1040-strip", 960, 1040, True),  # the inputs collapsed to a strip
)
HIDPI = ("hidpi-2x", 1100, 700)


def capture_layouts(out: Path, latency: float = 0.3) -> list[Path]:
    """A result at each of :data:`LAYOUTS`, then :data:`HIDPI` in a 2x process."""
    written = [
        capture_result_at(out, name, width, height, latency, strip=strip)
        for name, width, height, strip in LAYOUTS
    ]
    env = {**os.environ, "QT_SCALE_FACTOR": "2", "QT_QPA_PLATFORM": "offscreen"}
    subprocess.run(
        [sys.executable, __file__, "--out", str(out), "--hidpi"], env=env, check=True, timeout=180
    )
    written.append(out / f"{HIDPI[0]}.png")
    return written


def capture_result_at(
    out: Path,
    name: str,
    width: int,
    height: int,
    latency: float = 0.3,
    *,
    actual: bool = False,
    strip: bool = False,
) -> Path:
    """A demo window of ``width`` x ``height`` with a finished job (the viewer at 100 %
    when ``actual``, the inputs as a strip when ``strip``), saved as ``name``.png at the
    screen's pixel ratio."""
    from PySide6.QtCore import QCoreApplication, QEventLoop, QSize, QTimer
    from PySide6.QtWidgets import QApplication

    from refiner_gui.demo import DemoSession, sample_paths
    from refiner_gui.settings import Settings
    from refiner_gui.slots import BOTTOM, COARSE, PERSON, TOP
    from refiner_gui.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])

    def pump_until(cond, timeout_s: float = 20.0) -> None:
        waited = 0
        while not cond():
            loop = QEventLoop()
            QTimer.singleShot(20, loop.quit)
            loop.exec()
            waited += 20
            if waited > timeout_s * 1000:
                raise TimeoutError("window did not reach the expected state")

    demo = DemoSession.start(latency=latency, poll_interval=0.05)
    w = MainWindow(
        client_factory=demo.client, demo=True, settings=Settings(), recover_on_start=False
    )
    try:
        w.inputs_column.set_compact(strip)
        w.resize(QSize(width, height))
        w.show()
        samples = sample_paths()
        for slot in (PERSON, TOP, COARSE, BOTTOM):
            w.inputs.set_file(slot, samples[slot])
        w.inputs.set_gender("woman")
        pump_until(lambda: w.inputs.readiness().ready)
        w.start_job()
        pump_until(lambda: not w.job_running())
        if actual:
            w.viewer.actual_size()
        for _ in range(10):
            QCoreApplication.processEvents()
        path = out / f"{name}.png"
        w.grab().save(str(path))
    finally:
        w.shutdown()
        w.close()
        demo.stop()
    del app
    return path


def batch_folder(root: Path) -> Path:
    """Eight looks made from the demo samples (some mirrored, one without its coarse
    image: the batch makes it with Try on Clothes Pro first), one folder each."""
    import shutil

    from PIL import Image, ImageOps

    from refiner_gui.demo import sample_paths

    samples = sample_paths()
    names = ["denim-day", "linen-shirt", "office-blue", "weekend", "studio-a", "studio-b"]
    names += ["street", "make-coarse"]
    for i, name in enumerate(names):
        d = root / f"{i + 1:02d}-{name}"
        d.mkdir(parents=True, exist_ok=True)
        for slot, src in samples.items():
            if slot.startswith("bottom") or (name == "make-coarse" and slot.startswith("coarse")):
                continue
            dest = d / src.name
            if i % 2 and slot.startswith(("person", "coarse")):
                with Image.open(src) as im:
                    ImageOps.mirror(im).save(dest, quality=92)
            else:
                shutil.copyfile(src, dest)
        (d / "gender.txt").write_text("woman\n")
    return root


def capture_batch(out: Path, latency: float = 1.5) -> list[Path]:
    """The Batch tab at 1280x720 mid-run (``batch-queue``): a demo window with a folder
    of eight looks, one failing at the service and one making its coarse image first."""
    from PySide6.QtCore import QCoreApplication, QEventLoop, QSize, QTimer
    from PySide6.QtWidgets import QApplication

    from refiner_gui.demo import DemoSession
    from refiner_gui.sandbox import Fault
    from refiner_gui.settings import Settings
    from refiner_gui.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])

    def pump_until(cond, timeout_s: float = 30.0) -> None:
        waited = 0
        while not cond():
            loop = QEventLoop()
            QTimer.singleShot(20, loop.quit)
            loop.exec()
            waited += 20
            if waited > timeout_s * 1000:
                raise TimeoutError("window did not reach the expected state")

    written: list[Path] = []
    demo = DemoSession.start(latency=latency, poll_interval=0.1)
    demo.server.inject(Fault("submit", "task_failed", times=1))
    # demo.factory, as the demo app uses it: the batch runs in its own process.
    w = MainWindow(
        client_factory=demo.factory, demo=True, settings=Settings(), recover_on_start=False
    )
    try:
        w.resize(QSize(1280, 720))
        w.show()
        with tempfile.TemporaryDirectory(prefix="refiner-batch-") as tmp:
            assert w.content is not None
            flow = w.content.batches
            flow.prepare(batch_folder(Path(tmp) / "spring-shoot"))
            pump_until(lambda: flow.dialog is not None)
            dialog = flow.dialog
            assert dialog is not None
            dialog.start_button.click()
            controller = flow.controller
            pump_until(
                lambda: (
                    controller.counts().done >= 3
                    and controller.counts().failed >= 1
                    and controller.counts().running >= 1
                )
            )
            for _ in range(10):
                QCoreApplication.processEvents()
            written.append(out / "batch-queue.png")
            w.grab().save(str(written[-1]))
            controller.cancel_all()
            pump_until(lambda: not controller.is_running())
    finally:
        w.shutdown()
        w.close()
        demo.stop()
    del app
    return written


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "screenshots")
    ap.add_argument("--hidpi", action="store_true", help="only the 2x picture (QT_SCALE_FACTOR=2)")
    args = ap.parse_args()
    # Screenshots never touch the user's real settings or keyring.
    os.environ.setdefault("REFINER_GUI_HOME", tempfile.mkdtemp(prefix="refiner-shots-"))
    if args.hidpi:
        name, width, height = HIDPI
        print(capture_result_at(args.out, name, width, height, actual=True))
        return
    for p in capture(args.out):
        print(p)


if __name__ == "__main__":
    main()
