"""Start-up: the window paints an outline first, then builds its content; ``refiner-gui``
(the real entry point) goes through that path, demo preload included."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QSplitter, QStatusBar

from refiner_gui import app as app_module
from refiner_gui.settings import Settings
from refiner_gui.slots import SLOTS
from refiner_gui.ui import crash_hook
from refiner_gui.ui.main_window import MainWindow
from refiner_gui.ui.skeleton import Skeleton


def deferred_window(qtbot, **kw) -> MainWindow:
    w = MainWindow(
        settings=Settings(),
        recover_on_start=False,
        deferred=True,
        client_factory=lambda: None,
        **kw,
    )  # type: ignore[arg-type,return-value]
    qtbot.addWidget(w)
    return w


def test_deferred_window_paints_an_outline_then_builds(qtbot, tmp_path):
    w = deferred_window(qtbot)
    assert not w.is_built()
    assert isinstance(w.centralWidget(), Skeleton)
    assert w.findChild(QStatusBar) is None  # created with the content
    # The menu bar has its titles from the first frame (no jump when actions arrive).
    titles = [a.text() for a in w.menuBar().actions()]
    assert titles == ["&File", "&Edit", "&Job", "&View", "&Help"]
    seen: list[object] = []
    w.when_ready(lambda: seen.append(w.inputs))
    assert seen == []  # queued, not run: there are no inputs yet

    with qtbot.waitSignal(w.ready, timeout=10_000):
        w.show()
    assert w.is_built()
    assert seen == [w.inputs]
    assert isinstance(w.centralWidget(), QSplitter)
    assert w.statusBar().currentMessage() == "Ready."
    assert w.refine_action.shortcut().toString() == "Ctrl+Return"
    assert w.menuBar().actions()[0].menu().actions()  # File has its actions now
    # Afterwards, when_ready runs at once.
    w.when_ready(lambda: seen.append("now"))
    assert seen[-1] == "now"
    w.shutdown()


def test_outline_looks_like_the_window(qtbot, tmp_path):
    """A screenshot of the first frame: four slot outlines and the compare pane."""
    w = deferred_window(qtbot, demo=True)
    skeleton = w.centralWidget()
    w.resize(1400, 860)
    shot = tmp_path / "skeleton.png"
    assert skeleton.grab().save(str(shot))
    image = skeleton.grab().toImage()
    # The compare pane is filled with the Base colour, the left column is not.
    base = skeleton.palette().color(skeleton.palette().ColorRole.Base)
    window_bg = skeleton.palette().color(skeleton.palette().ColorRole.Window)
    assert image.pixelColor(image.width() - 100, image.height() // 3) == base
    assert image.pixelColor(240, image.height() - 20) == window_bg
    with qtbot.waitSignal(w.ready, timeout=10_000):
        w.show()
    w.shutdown()


def test_ensure_built_builds_at_once(qtbot):
    w = deferred_window(qtbot)
    w.ensure_built()
    assert w.is_built() and w.inputs is not None
    w.ensure_built()  # idempotent
    w.shutdown()


def test_close_before_the_content_exists(qtbot):
    w = deferred_window(qtbot)
    ready: list[bool] = []
    w.ready.connect(lambda: ready.append(True))
    w.show()
    w.centralWidget().repaint()  # the first paint: it schedules the build
    w.close()  # before the event loop ran: only the frame exists
    QApplication.processEvents()
    QApplication.processEvents()
    assert ready == [] and not w.is_built()
    w.ensure_built()  # a closed (shut down) window is never built
    assert not w.is_built()


def test_refiner_gui_demo_starts_deferred_and_preloads_samples(qtbot, monkeypatch):
    """The real entry point: ``refiner-gui --demo`` shows the window, builds it, loads the
    four sample images, and exits 0 when the window is closed."""
    captured: dict[str, MainWindow] = {}
    failures: list[str] = []

    def capture_hook(getter) -> None:
        window = getter()
        captured["window"] = window
        assert not window.is_built(), "the window must be shown before it is built"

        def on_ready() -> None:
            def check() -> None:
                if all(window.inputs.report(s) is not None for s in SLOTS):
                    window.inputs.changed.disconnect(check)
                    window.close()

            window.inputs.changed.connect(check)
            check()

        window.ready.connect(on_ready)

    def give_up() -> None:  # a guard, not a wait: fails the test instead of hanging
        if "window" in captured and captured["window"].isVisible():
            failures.append("the demo samples did not load within 30 s")
            captured["window"].close()

    monkeypatch.setattr(crash_hook, "install_exception_hook", capture_hook)
    guard = QTimer()
    guard.setSingleShot(True)
    guard.timeout.connect(give_up)
    guard.start(30_000)
    try:
        assert app_module.main(["--demo"]) == 0
    finally:
        guard.stop()
    assert failures == []
    window = captured["window"]
    assert window.is_built()
    # The name once: Qt appends the display name unless the title already ends with it.
    title = window.windowTitle()
    assert "DEMO (local sandbox)" in title and title.count("Refiner") == 1
    assert title.endswith(QApplication.applicationDisplayName())
    for slot in SLOTS:
        path = window.inputs.original_path(slot)
        assert path is not None and Path(path).is_file()
    # The records logged before the first paint were kept and written to the file.
    from refiner_gui.config import app_paths

    text = (app_paths().logs / "refiner-gui.log").read_text(encoding="utf-8")
    assert text.index("refiner-gui starting (demo=True)") < text.index(" ready; log file ")


OUTLINE_PROBE = r"""
import json, sys
from PySide6.QtWidgets import QApplication
app = QApplication([])
from refiner_gui.settings import Settings
from refiner_gui.ui import main_window

HEAVY = ("refiner_gui.ui.window_content", "refiner_gui.ui.viewer.compare_view",
         "refiner_gui.ui.inputs_panel", "refiner_gui.controllers", "refiner_gui.api",
         "refiner_gui.jobs")
at_import = [m for m in HEAVY if m in sys.modules]
w = main_window.MainWindow(settings=Settings(), recover_on_start=False, deferred=True,
                           client_factory=lambda: None)
w.show()
at_outline = [m for m in HEAVY if m in sys.modules]
built = []
w.building.connect(lambda: built.append([m for m in HEAVY if m in sys.modules]))
while not w.is_built():  # the subprocess's timeout bounds this
    app.processEvents()
print(json.dumps({"at_import": at_import, "at_outline": at_outline, "building": built,
                  "after": [m for m in HEAVY if m in sys.modules],
                  "viewer_hidden": w.viewer.isHidden()}))
w.shutdown()
"""


def test_the_content_is_imported_at_one_point_after_the_outline(tmp_path):
    """In a fresh process: the outline needs none of the content's modules (the viewer,
    the panels, the controllers, the core); they are all imported at the build, the one
    deferral point, and the viewer exists (hidden) once the window is built."""
    import json
    import os
    import subprocess
    import sys

    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "REFINER_GUI_HOME": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", OUTLINE_PROBE],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.splitlines()[-1])
    assert result["at_import"] == [] and result["at_outline"] == []
    assert result["building"] == [[]]  # nothing loaded before the build began
    assert len(result["after"]) == 6
    assert result["viewer_hidden"]


def test_a_build_that_fails_is_reported_and_closes_the_window(qtbot, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from refiner_gui.jobs import JobStore
    from refiner_gui.jobs.store import StoreError

    def newer(*_a, **_k):
        raise StoreError("The job history was written by a newer version of the app.")

    shown: list[str] = []
    monkeypatch.setattr(JobStore, "open_default", classmethod(newer))
    monkeypatch.setattr(
        QMessageBox, "critical", staticmethod(lambda _parent, _title, text: shown.append(text))
    )
    w = MainWindow(settings=Settings(), recover_on_start=False, deferred=True)
    qtbot.addWidget(w)
    ready: list[bool] = []
    w.ready.connect(lambda: ready.append(True))
    w.show()
    qtbot.waitUntil(lambda: not w.isVisible(), timeout=10_000)
    assert isinstance(w.build_error, StoreError) and not w.is_built()
    assert shown and "newer version" in shown[0] and "Nothing was sent" in shown[0]
    assert ready == []
    assert w.updatesEnabled()  # never left frozen
    w.shutdown()  # idempotent after the close did it
    w.ensure_built()  # a failed window is not built again
    assert not w.is_built()


def test_refiner_gui_exits_1_when_the_window_cannot_be_built(qtbot, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from refiner_gui.config import app_paths
    from refiner_gui.jobs import JobStore
    from refiner_gui.jobs.store import StoreError

    def newer(*_a, **_k):
        raise StoreError("The job history was written by a newer version of the app.")

    monkeypatch.setattr(JobStore, "open_default", classmethod(newer))
    monkeypatch.setattr(QMessageBox, "critical", staticmethod(lambda *_a: None))
    monkeypatch.setattr(crash_hook, "install_exception_hook", lambda _getter: None)
    assert app_module.main([]) == 1
    text = (app_paths().logs / "refiner-gui.log").read_text(encoding="utf-8")
    assert "the window could not be built" in text and "newer version" in text


def test_a_failing_ready_callback_does_not_stop_the_others(qtbot):
    w = deferred_window(qtbot)
    calls: list[str] = []

    def broken() -> None:
        calls.append("broken")
        raise RuntimeError("a callback bug")

    w.when_ready(broken)
    w.when_ready(lambda: calls.append("after"))
    ready: list[bool] = []
    w.ready.connect(lambda: ready.append(True))
    with qtbot.captureExceptions() as errors, qtbot.waitSignal(w.ready, timeout=10_000):
        w.show()
    assert calls == ["broken", "after"] and ready == [True]
    assert [str(e[1]) for e in errors] == ["a callback bug"]  # reported, not swallowed
    w.shutdown()


def test_a_window_whose_outline_is_never_painted_is_still_built(qtbot):
    w = deferred_window(qtbot)
    w.centralWidget().painted.disconnect()  # as if shown minimised: no first paint
    with qtbot.waitSignal(w.ready, timeout=10_000):
        w.show()
    assert w.is_built()
    w.shutdown()


def test_version_goes_to_stdout(capsys):
    import pytest

    with pytest.raises(SystemExit) as exit_info:
        app_module.parse_args(["--version"])
    assert exit_info.value.code == 0
    out = capsys.readouterr()
    assert out.out.startswith("refiner-gui ") and out.err == ""
