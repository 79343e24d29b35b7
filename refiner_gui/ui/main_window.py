"""The main window: inputs on the left, coarse vs refined on the right, one job at a time.

The window is the controller between views (InputsPanel, CompareViewer, ErrorPanel) and
the job worker. It never calls the API itself: a :class:`~refiner_gui.workers.JobWorker`
on a QThread does, through a client built by the injected ``client_factory``.
"""

from __future__ import annotations

import importlib
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

# Only what the first frame needs is imported here: the panels, the core and most Qt
# classes are imported where they are used, after the first paint (see ``deferred``).
# Each Qt class costs its enums' creation on first touch, and ``Qt`` itself ~15 ms.
from PySide6.QtCore import QSize, QTimer, Signal, Slot
from PySide6.QtGui import QCloseEvent, QPaintEvent, QShowEvent
from PySide6.QtWidgets import QMainWindow, QMenu

from refiner_gui.slots import COARSE, IMAGE_RULES, PERSON, POSE_RULES, SLOTS, TOP
from refiner_gui.ui.skeleton import DEMO_BANNER_COLOUR, Skeleton

if TYPE_CHECKING:
    from PySide6.QtGui import QAction, QImage, QKeySequence
    from PySide6.QtWidgets import QLabel, QWidget

    from refiner_gui.api import ProgressEvent, RefinerClient, RefinerError, Submission
    from refiner_gui.jobs import JobStore
    from refiner_gui.settings import Settings
    from refiner_gui.ui.viewer.compare_view import CompareViewer
    from refiner_gui.workers import JobOutcome, JobRunner, JobWorker

log = logging.getLogger(__name__)

ClientFactory = Callable[[], "RefinerClient"]

# Keyed by ``Stage`` values (a str enum), so this module need not import the core.
STAGE_TEXT = {
    "checking": "Checking images",
    "uploading": "Uploading",
    "queued": "Queued at the service",
    "processing": "Refining",
    "downloading": "Downloading the result",
    "done": "Done",
}

# The compare viewer's modules, in import order (each imports only earlier ones).
VIEWER_MODULES = tuple(
    f"refiner_gui.ui.viewer.{name}"
    for name in (
        "levels",
        "image_canvas",
        "swipe",
        "flicker",
        "difference",
        "heatmap",
        "difference_worker",
        "composite",
        "compare_view",
    )
)

BUILD_FALLBACK_MS = 500

MENU_TITLES = (
    ("file", "&File"),
    ("edit", "&Edit"),
    ("job", "&Job"),
    ("view", "&View"),
    ("help", "&Help"),
)


class MainWindow(QMainWindow):
    """The app's window. GUI thread only.

    Args:
        client_factory: builds a client for a job (called on the worker thread). None means
            "from the settings and the stored key".
        demo: True marks the window as DEMO (the factory then points at the sandbox).
        settings: injected settings (tests); default: loaded from disk.
        store: the job store; default: the user's store, opened (and closed) by the window.
        recover_on_start: resume the jobs a crash or quit left unfinished, once built.
        deferred: show an outline of the layout first and build the content right after
            the window's first paint (what ``refiner-gui`` does, so the window appears as
            fast as a bare one). Until :attr:`ready` is emitted only the frame exists:
            use :meth:`when_ready`, or :meth:`ensure_built` to build at once. False (the
            default) builds everything in the constructor.
    """

    building = Signal()  # the content is about to be built (deferred: after the outline)
    ready = Signal()  # the content is built and painted (emitted once)

    def __init__(
        self,
        *,
        client_factory: ClientFactory | None = None,
        demo: bool = False,
        settings: Settings | None = None,
        store: JobStore | None = None,
        recover_on_start: bool = True,
        deferred: bool = False,
    ) -> None:
        super().__init__()
        self.demo = demo
        self._client_factory = client_factory
        self._given_settings = settings
        self._given_store = store
        self._owns_store = store is None
        self._recover_on_start = recover_on_start
        self._built = False
        self.build_error: BaseException | None = None  # why the content could not be built
        self._started = False  # the start-up after the build (key lookup, ready) ran
        self._finish_on_paint = False
        self._when_ready: list[Callable[[], object]] = []
        self._runner: JobRunner | None = None
        self._recovery: JobRunner | None = None
        self._job_id: int | None = None  # the running (or last started) job
        self._task_id: str | None = None
        self._last: JobOutcome | None = None  # the finished job shown in the viewer
        self._pending_rerun: int | None = None
        self._shut_down = False  # shutdown() began: nothing new may start
        self._shutdown_complete = False
        self._job_start = 0.0
        self._stage_text = ""
        # Whether a key is stored is learnt off the GUI thread: probing the keyring's
        # backends takes longer than the whole first paint.
        self._has_key: bool | None = None
        self._viewer: CompareViewer | None = None  # built a moment after the first paint

        self.setWindowTitle("Refiner — DEMO (local sandbox)" if demo else "Refiner")
        self.setObjectName("mainWindow")
        self.resize(1400, 860)
        # The menu titles exist from the first frame (the bar keeps its height); their
        # actions are added with the content.
        bar = self.menuBar()
        self._menus: dict[str, QMenu] = {key: bar.addMenu(title) for key, title in MENU_TITLES}
        # Child timers die with the window, so they can never fire into a deleted one.
        self._build_timer = QTimer(self)
        self._build_timer.setSingleShot(True)
        self._build_timer.timeout.connect(self._build_deferred)
        self._viewer_timer = QTimer(self)
        self._viewer_timer.setSingleShot(True)
        self._viewer_timer.timeout.connect(self._ensure_viewer)
        self._deferred = deferred
        if deferred:
            skeleton = Skeleton(demo)
            # A zero timer started here could run before the first paint; one started
            # from the paint runs after it.
            skeleton.painted.connect(self._on_outline_painted)
            # No status bar yet (creating one costs ~4 ms): the outline says "Starting…".
            self.setCentralWidget(skeleton)
        else:
            self.ensure_built()

    # -- construction ---------------------------------------------------------------------

    def is_built(self) -> bool:
        """Whether the content (panels, menus, store) exists."""
        return self._built

    def when_ready(self, fn: Callable[[], object]) -> None:
        """Call ``fn`` once the window is ready (:attr:`ready`): now if it is, else then,
        in the order given. A callback that raises is reported like any error in a slot
        and does not stop the others."""
        if self._started:
            fn()
        else:
            self._when_ready.append(fn)

    @Slot()
    def _on_outline_painted(self) -> None:
        self._build_timer.start(0)

    @Slot()
    def _build_deferred(self) -> None:
        """The build timer: build, and if that fails say so and close (nothing ran yet)."""
        try:
            self.ensure_built()
        except Exception as exc:  # the window cannot work; the app must not hang on it
            log.exception("the window could not be built")
            from PySide6.QtWidgets import QMessageBox

            QMessageBox.critical(
                self,
                "Refiner could not start",
                f"Refiner could not start: {exc}\n\nThe details are in the log file. "
                "Nothing was sent and no job was changed.",
            )
            self.close()

    @Slot()
    def ensure_built(self) -> None:
        """Build the content now if it is not built yet (idempotent). GUI thread.

        On a visible window, the :meth:`when_ready` callbacks, :attr:`ready` and the
        background start-up work (the key lookup, recovery) follow the built window's
        first paint, so none of them delays it; on a hidden one they follow at once.

        Raises what building raised (a store written by a newer version, an unwritable
        folder…), after recording it in :attr:`build_error`; the window then stays
        unbuilt, and :meth:`shutdown` releases what was made.
        """
        if self._built or self._shut_down or self.build_error is not None:
            return
        self._build_timer.stop()
        self._built = True
        self.building.emit()
        visible = self.isVisible()
        if visible:
            # The new widgets get their final geometry from events posted while they are
            # built; painting before those are delivered would flash a half-laid-out
            # frame. The outline stays on screen until the next turn of the event loop.
            self.setUpdatesEnabled(False)
        try:
            self._build()
        except BaseException as exc:
            self._built = False
            self.build_error = exc
            self.setUpdatesEnabled(True)
            raise
        if visible:
            QTimer.singleShot(0, self, self._reveal)
        else:
            self._finish_start()

    def _reveal(self) -> None:
        # The rest of the start-up follows the repaint this asks for (see paintEvent);
        # the fallback covers a window that is not painted (minimised meanwhile).
        self._finish_on_paint = True
        self.setUpdatesEnabled(True)
        QTimer.singleShot(1000, self, self._finish_start)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt API
        super().paintEvent(event)
        if self._finish_on_paint:
            self._finish_on_paint = False
            # Started from the paint, so it fires after this frame is on screen.
            QTimer.singleShot(0, self, self._finish_start)

    def _finish_start(self) -> None:
        if self._shut_down or self._started:
            return
        self._started = True
        if self.isVisible() and self._viewer is None:
            self._viewer_timer.start(250)
        if not self.demo and self._client_factory is None:
            self.refresh_key_status()
        if self._recover_on_start:
            # After this turn of the event loop: resume what a crash or quit left unfinished.
            QTimer.singleShot(0, self, self.recover_unfinished)
        pending, self._when_ready = self._when_ready, []
        for fn in pending:
            try:
                fn()
            except Exception:  # reported like an error in a slot; the rest still run
                sys.excepthook(*sys.exc_info())
        self.ready.emit()

    def _build(self) -> None:
        from PySide6.QtCore import Qt
        from PySide6.QtWidgets import (
            QLabel,
            QProgressBar,
            QPushButton,
            QScrollArea,
            QSplitter,
            QTabWidget,
            QVBoxLayout,
            QWidget,
        )

        from refiner_gui.config import app_paths
        from refiner_gui.jobs import JobStore
        from refiner_gui.settings import load_settings
        from refiner_gui.ui.error_panel import ErrorPanel
        from refiner_gui.ui.history import HistoryPanel
        from refiner_gui.ui.inputs_panel import InputsPanel
        from refiner_gui.ui.review import ReviewBar
        from refiner_gui.ui.review_controller import ReviewController

        demo = self.demo
        self.settings = self._given_settings or load_settings()
        self.store = self._given_store or JobStore.open_default()
        paths = app_paths().ensure()

        self.inputs = InputsPanel(paths.data / "inputs")
        if self.settings.gender:
            self.inputs.set_gender(self.settings.gender)

        self.refine_button = QPushButton("Refine")
        self.refine_button.setObjectName("refineButton")
        self.refine_button.setMinimumHeight(44)
        self.refine_button.setAccessibleName("Refine")
        self.refine_button.setStyleSheet("font-size: 13pt; font-weight: bold;")
        self.refine_button.clicked.connect(self._refine_or_cancel)
        self.progress = QProgressBar()
        self.progress.setAccessibleName("Job progress")
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(8)
        self.progress.hide()
        self.stage_label = QLabel("")
        self.stage_label.setAccessibleName("Job status")
        self.stage_label.setWordWrap(True)
        self.stage_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(8, 8, 8, 8)
        if demo:
            lv.addWidget(self._demo_banner())
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(self.inputs)
        lv.addWidget(scroll, 1)
        lv.addWidget(self.refine_button)
        lv.addWidget(self.progress)
        lv.addWidget(self.stage_label)

        self.error_panel = ErrorPanel()
        self.error_panel.resumeRequested.connect(self.resume_task)
        self.placeholder = QLabel(
            "<h2>Coarse vs refined</h2>"
            "<p>Drop the person photo, the top garment and the coarse try-on result on the "
            "left, choose Woman or Man, then press <b>Refine</b> (Ctrl+Enter).</p>"
            "<p>The refined image appears here beside the coarse one: zoom with the wheel, "
            "drag to pan, and switch to Swipe, Flicker or Difference to judge it.</p>"
        )
        self.placeholder.setWordWrap(True)
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setMargin(40)

        self.result_bar = self._build_result_bar()
        self.review_bar = ReviewBar()
        self.review_bar.hide()
        compare = QWidget()
        cv = QVBoxLayout(compare)
        cv.setContentsMargins(0, 0, 0, 0)
        cv.addWidget(self.placeholder, 1)
        cv.addWidget(self.review_bar)
        cv.addWidget(self.result_bar)
        self._right_layout = cv
        self.result_bar.hide()
        self.compare_page = compare

        self.history = HistoryPanel(self.store)
        self.history.rerunRequested.connect(self.rerun_job)
        self.tabs = QTabWidget()
        self.tabs.setAccessibleName("Result and history")
        self.tabs.addTab(compare, "Compare")
        self.tabs.addTab(self.history, "History")
        self.tabs.setTabToolTip(0, "Coarse vs refined, with the QA review of the shown look")
        self.tabs.setTabToolTip(1, "Every job: open, review, re-run, delete, export")
        self.review = ReviewController(
            self.store, self.history, self.review_bar, self._display, self
        )
        self.review.openFailed.connect(self._on_open_failed)

        right = QWidget()
        rv = QVBoxLayout(right)
        rv.setContentsMargins(0, 8, 8, 8)
        rv.addWidget(self.error_panel)
        rv.addWidget(self.tabs, 1)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([470, 930])
        splitter.setChildrenCollapsible(False)
        self.setCentralWidget(splitter)  # deletes the skeleton, if there was one

        self._build_menus()
        self.statusBar().showMessage(
            "Demo mode: no key, no network, no credits." if demo else "Ready."
        )
        self._tick = QTimer(self)
        self._tick.setInterval(200)
        self._tick.timeout.connect(self._show_elapsed)
        # Connected last: the panel may emit while the window is still being built.
        self.inputs.changed.connect(self._update_actions)
        self.inputs.changed.connect(self._maybe_start_rerun)
        self._update_actions()

    def refresh_key_status(self) -> None:
        """Look up (in the background) whether an API key is available, then update."""
        from refiner_gui.keystore import get_api_key
        from refiner_gui.workers import BackgroundTask, submit_task

        task = BackgroundTask("key", lambda: bool(get_api_key().key))
        task.signals.done.connect(self._on_key_status)
        task.signals.error.connect(self._on_key_status_error)
        submit_task(task)

    @Slot(object, object)
    def _on_key_status(self, _tag: object, has_key: object) -> None:
        self._has_key = bool(has_key)
        self._update_actions()

    @Slot(object, object)
    def _on_key_status_error(self, _tag: object, exc: object) -> None:
        log.warning("key lookup failed: %s", type(exc).__name__)
        self._has_key = False
        self._update_actions()

    def _demo_banner(self) -> QLabel:
        from PySide6.QtWidgets import QLabel

        banner = QLabel(
            "DEMO — results come from a local sandbox: the coarse image stamped "
            "SANDBOX. It is not the refiner model. No key, no network, no credits."
        )
        banner.setObjectName("demoBanner")
        banner.setWordWrap(True)
        banner.setAccessibleName("Demo mode notice")
        banner.setStyleSheet(
            f"#demoBanner {{ background: {DEMO_BANNER_COLOUR}; color: #222;"
            " padding: 6px;"
            " border-radius: 4px; font-weight: bold; }"
        )
        return banner

    def _build_result_bar(self) -> QWidget:
        from PySide6.QtCore import Qt
        from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

        bar = QWidget()
        h = QHBoxLayout(bar)
        h.setContentsMargins(0, 0, 0, 0)
        self.save_button = QPushButton("Save refined…")
        self.save_button.setToolTip("Save the refined image with its provenance (Ctrl+S)")
        self.save_button.clicked.connect(self.save_refined)
        self.save_cmp_button = QPushButton("Save comparison…")
        self.save_cmp_button.setToolTip("Save coarse and refined side by side as one image")
        self.save_cmp_button.clicked.connect(self.save_comparison)
        self.copy_button = QPushButton("Copy")
        self.copy_button.setToolTip("Copy the refined image to the clipboard")
        self.copy_button.clicked.connect(self.copy_refined)
        self.folder_button = QPushButton("Open output folder")
        self.folder_button.clicked.connect(self.open_output_folder)
        self.result_label = QLabel("")
        self.result_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        for b in (self.save_button, self.save_cmp_button, self.copy_button, self.folder_button):
            b.setAccessibleName(b.text().rstrip("…"))
            h.addWidget(b)
        h.addStretch(1)
        h.addWidget(self.result_label)
        return bar

    def _action(
        self,
        text: str,
        slot: Callable[[], object],
        shortcut: QKeySequence | str | None = None,
        tip: str | None = None,
    ) -> QAction:
        from PySide6.QtGui import QAction, QKeySequence

        act = QAction(text, self)
        if shortcut is not None:
            act.setShortcut(QKeySequence(shortcut))
        if tip:
            act.setStatusTip(tip)
            act.setToolTip(tip)
        act.triggered.connect(slot)
        return act

    def _build_menus(self) -> None:
        from PySide6.QtGui import QAction, QKeySequence

        from refiner_gui.ui.viewer import ViewMode

        file_menu = self._menus["file"]
        self.open_action = self._action(
            "&Open images…",
            self.open_images,
            QKeySequence.StandardKey.Open,
            "Choose images for the empty slots, in order",
        )
        self.save_action = self._action(
            "&Save refined…", self.save_refined, QKeySequence.StandardKey.Save
        )
        self.save_cmp_action = self._action(
            "Save &comparison…", self.save_comparison, "Ctrl+Shift+S"
        )
        self.copy_action = self._action("&Copy refined image", self.copy_refined, "Ctrl+Shift+C")
        self.folder_action = self._action("Open output &folder", self.open_output_folder)
        self.export_action = self._action(
            "&Export review…",
            self.export_review,
            "Ctrl+E",
            "Export the jobs shown in History (with their filter) as HTML, CSV, JSON or a "
            "contact sheet",
        )
        quit_action = self._action("&Quit", self.close, QKeySequence.StandardKey.Quit)
        for a in (
            self.open_action,
            None,
            self.save_action,
            self.save_cmp_action,
            self.copy_action,
            self.folder_action,
            None,
            self.export_action,
            None,
            quit_action,
        ):
            if a is None:
                file_menu.addSeparator()
            else:
                file_menu.addAction(a)

        edit_menu = self._menus["edit"]
        self.settings_action = self._action(
            "&Settings…", self.open_settings, QKeySequence.StandardKey.Preferences
        )
        if self.settings_action.shortcut().isEmpty():
            self.settings_action.setShortcut(QKeySequence("Ctrl+,"))
        edit_menu.addAction(self.settings_action)

        job_menu = self._menus["job"]
        self.refine_action = self._action(
            "&Refine", self._refine_or_cancel, "Ctrl+Return", "Submit the images to the refiner"
        )
        self.refine_action.setShortcuts([QKeySequence("Ctrl+Return"), QKeySequence("Ctrl+Enter")])
        self.cancel_action = self._action("&Cancel", self.cancel_job, "Esc")
        job_menu.addAction(self.refine_action)
        job_menu.addAction(self.cancel_action)

        view_menu = self._menus["view"]
        for i, (mode, label) in enumerate(
            (
                (ViewMode.SIDE_BY_SIDE, "Side by side"),
                (ViewMode.SWIPE, "Swipe"),
                (ViewMode.FLICKER, "Flicker (A/B)"),
                (ViewMode.DIFFERENCE, "Difference"),
            ),
            start=1,
        ):
            act = QAction(label, self)
            act.setShortcut(QKeySequence(f"Ctrl+{i}"))
            act.triggered.connect(lambda _=False, m=mode: self.viewer.set_mode(m))
            view_menu.addAction(act)
        view_menu.addSeparator()
        view_menu.addAction(self._action("&Fit", lambda: self.viewer.fit(), "0"))
        view_menu.addAction(self._action("&Actual size", lambda: self.viewer.actual_size(), "1"))

        help_menu = self._menus["help"]
        help_menu.addAction(self._action("&Photo rules", self.show_rules, "F1"))
        help_menu.addAction(self._action("&About Refiner", self.show_about))

    @Slot()
    def _ensure_viewer(self) -> None:
        """Timer, a moment after the first paint: get the viewer ready before the first
        result. Its modules are imported one per turn of the event loop (a few ms each;
        ~30 ms in one piece would stall whatever the user is doing, e.g. a drop), then the
        widget is built. On the GUI thread, not a pool thread: PySide6 can crash when two
        threads touch Qt classes for the first time at once."""
        if not self._built or self._shut_down or self._viewer is not None:
            return
        pending = [name for name in VIEWER_MODULES if name not in sys.modules]
        if pending:
            importlib.import_module(pending[0])
            self._viewer_timer.start(0)  # the next module, after pending events
            return
        _ = self.viewer

    @property
    def viewer(self) -> CompareViewer:
        """The compare viewer, built on first use (it is the heaviest widget to import)."""
        if self._viewer is None:
            from refiner_gui.ui.viewer import CompareViewer

            self.ensure_built()

            self._viewer = CompareViewer()
            self._viewer.setAccessibleName("Coarse and refined comparison")
            index = self._right_layout.indexOf(self.placeholder)
            self._right_layout.insertWidget(index + 1, self._viewer, 1)
            self._viewer.hide()
        return self._viewer

    # -- state ----------------------------------------------------------------------------

    def job_running(self) -> bool:
        return self._runner is not None

    @Slot()
    def _update_actions(self) -> None:
        running = self.job_running()
        ready, reason = self.inputs.ready()
        key_ok = self.demo or self._client_factory is not None or bool(self._has_key)
        if running:
            self.refine_button.setText("Cancel")
            self.refine_button.setEnabled(True)
            self.refine_button.setToolTip("Stop waiting for this job (Esc)")
        else:
            self.refine_button.setText("Refine")
            enabled = ready and key_ok
            self.refine_button.setEnabled(enabled)
            if not ready:
                tip = reason
            elif self._has_key is None and not key_ok:
                tip = "Looking for your API key…"
            elif not key_ok:
                tip = "Add your AILabTools API key in Settings (Ctrl+,), or start with --demo"
            else:
                tip = "Submit to the refiner (Ctrl+Enter). Costs 25 credits when it succeeds."
            self.refine_button.setToolTip(tip)
            if not running and self.error_panel.isHidden() and self._last is None:
                self.stage_label.setText(tip if not enabled else "Ready to refine.")
        self.refine_action.setEnabled(not running and ready and key_ok)
        self.cancel_action.setEnabled(running)
        has_result = self._last is not None
        for a in (self.save_action, self.save_cmp_action, self.copy_action):
            a.setEnabled(has_result)
        self.inputs.set_enabled_inputs(not running)
        if self.inputs.gender() and self.inputs.gender() != self.settings.gender:
            from refiner_gui.settings import save_settings

            self.settings.gender = self.inputs.gender() or ""
            save_settings(self.settings)

    # -- running a job --------------------------------------------------------------------

    def _make_client(self) -> RefinerClient:
        """Build the job's client (worker thread)."""
        from refiner_gui.api import AuthError, ConfigError, RefinerClient, RefinerError
        from refiner_gui.keystore import get_api_key

        if self._client_factory is not None:
            return self._client_factory()
        key = get_api_key().key
        if not key:
            raise AuthError("No API key is set. Add your AILabTools key in Settings.")
        try:
            return RefinerClient(
                key,
                self.settings.base_url,
                poll_interval=self.settings.poll_interval,
                timeout=self.settings.timeout,
            )
        except ConfigError as exc:
            raise RefinerError(f"{exc} Fix it in Settings.") from None

    @Slot()
    def _refine_or_cancel(self) -> None:
        if self.job_running():
            self.cancel_job()
        else:
            self.start_job()

    def start_job(self, *, parent_id: int | None = None) -> bool:
        """Start a job from the current inputs. False if not startable (reason shown), or
        once the window is shutting down (nothing may start after that)."""
        if self.job_running() or self._shut_down:
            return False
        ready, reason = self.inputs.ready()
        if not ready:
            self.statusBar().showMessage(reason, 5000)
            return False
        gender = self.inputs.gender()
        files = {s: self.inputs.path(s) for s in SLOTS}
        if gender is None or any(files[s] is None for s in (PERSON, TOP, COARSE)):
            return False
        from refiner_gui.workers import JobRequest, JobWorker

        request = JobRequest(
            {s: p for s, p in files.items() if p is not None}, gender, parent_id=parent_id
        )
        self._launch(JobWorker(self._make_client, self.store, request), "Uploading")
        return True

    def resume_job(self, job_id: int) -> bool:
        """Wait again for a submitted job (never re-submits it)."""
        if self.job_running() or self._shut_down:
            return False
        from refiner_gui.workers import JobWorker

        self._launch(JobWorker(self._make_client, self.store, resume_job_id=job_id), "Resuming")
        return True

    def _launch(self, worker: JobWorker, stage_text: str) -> None:
        from refiner_gui.workers import JobRunner

        worker.created.connect(self._on_created)
        worker.progress.connect(self._on_progress)
        worker.submitted.connect(self._on_submitted)
        worker.succeeded.connect(self._on_succeeded)
        worker.failed.connect(self._on_failed)
        self._runner = JobRunner(worker, self)
        self._runner.done.connect(self._on_runner_done)
        self._job_id = None
        self._task_id = None
        self._job_start = time.monotonic()
        self._stage_text = stage_text
        self.error_panel.hide()
        self.inputs.highlight(None, None)
        self.progress.setRange(0, 0)
        self.progress.show()
        self._tick.start()
        self._runner.start()
        self._update_actions()
        self._show_elapsed()

    @Slot(str)
    def resume_task(self, task_id: str) -> None:
        """The error panel's "Resume task": the job with that task id."""
        job = self.store.find_by_task(task_id)
        if job is not None:
            self.resume_job(job.id)

    @Slot(int)
    def _on_created(self, job_id: int) -> None:
        self._job_id = job_id
        self.job_stored(job_id)

    @Slot(int)
    def job_stored(self, job_id: int) -> None:
        """A job row changed in the store: the history shows it."""
        self.history.job_changed(job_id)

    def recover_unfinished(self) -> None:
        """Resume, in the background, every job a crash or quit left unfinished."""
        if self._shut_down or self._recovery is not None or not self.store.unfinished():
            return
        from refiner_gui.workers import JobRunner, RecoveryWorker

        worker = RecoveryWorker(self._make_client, self.store)
        worker.settled.connect(self.job_stored)
        worker.summary.connect(self._on_recovered)
        self._recovery = JobRunner(worker, self)
        self._recovery.done.connect(self._on_recovery_done)
        self._recovery.start()
        self.statusBar().showMessage("Resuming unfinished jobs from the last session…")

    @Slot(object)
    def _on_recovered(self, jobs: list) -> None:
        if not jobs:
            return
        counts: dict[str, int] = {}
        for job in jobs:
            counts[job.state.label] = counts.get(job.state.label, 0) + 1
        parts = ", ".join(f"{n} {label.lower()}" for label, n in counts.items())
        self.statusBar().showMessage(f"Unfinished jobs from the last session: {parts}.", 15_000)

    @Slot()
    def _on_recovery_done(self) -> None:
        if self._recovery is not None:
            self._recovery.deleteLater()
        self._recovery = None

    @Slot()
    def cancel_job(self) -> None:
        if self._runner is not None:
            self._runner.cancel()
            self._stage_text = "Cancelling"
            self._show_elapsed()

    @Slot(object)
    def _on_progress(self, ev: ProgressEvent) -> None:
        if ev.task_id:
            self._task_id = ev.task_id
        text = STAGE_TEXT.get(ev.stage, ev.stage.value)
        if ev.bytes_total and ev.bytes_done is not None:
            pct = ev.bytes_done * 100 // max(ev.bytes_total, 1)
            text += f" {pct}%"
            self.progress.setRange(0, 100)
            self.progress.setValue(pct)
        else:
            self.progress.setRange(0, 0)
        self._stage_text = text
        self._show_elapsed()

    @Slot(object)
    def _on_submitted(self, sub: Submission) -> None:
        self._task_id = sub.task_id
        log.info("task %s submitted", sub.task_id)
        self.statusBar().showMessage(f"Submitted: task {sub.task_id}", 5000)

    @Slot()
    def _show_elapsed(self) -> None:
        if not self.job_running():
            return
        elapsed = time.monotonic() - self._job_start
        task = f" · task {self._task_id}" if self._task_id else ""
        self.stage_label.setText(f"{self._stage_text} · {elapsed:.0f} s{task}")

    @Slot(object)
    def _on_succeeded(self, outcome: JobOutcome) -> None:
        self._tick.stop()  # the final text below must not be overwritten by the ticker
        elapsed = time.monotonic() - self._job_start
        self.show_outcome(outcome)
        self.stage_label.setText(f"Done in {elapsed:.0f} s · task {outcome.job.task_id}")
        self.statusBar().showMessage("Refined image ready. Save it with Ctrl+S.", 8000)
        self.job_stored(outcome.job.id)

    def show_outcome(self, outcome: JobOutcome) -> None:
        """Show a finished job in the viewer, with its review. GUI thread."""
        self.review.present(outcome)

    def _display(
        self, outcome: JobOutcome, left: QImage, right: QImage, left_label: str, right_label: str
    ) -> None:
        """Put two images in the viewer (the review controller decides which and how)."""
        self._last = outcome
        self.viewer.set_images(left, right)
        self.viewer.set_labels(left_label, right_label)
        self.placeholder.hide()
        self.viewer.show()
        self.review_bar.show()
        self.result_bar.show()
        self.tabs.setCurrentWidget(self.compare_page)
        job = outcome.job
        from datetime import datetime

        when = datetime.fromtimestamp(job.finished_at or job.created_at)
        self.result_label.setText(f"Job {job.id} · task {job.task_id} · {when:%d %b %H:%M}")
        self._update_actions()

    def _job_resumable(self, job_id: int | None) -> bool | None:
        """Whether waiting again for the job makes sense (it is still SUBMITTED)."""
        from refiner_gui.jobs import JobState

        if job_id is None:
            return None
        try:
            return self.store.get(job_id).state is JobState.SUBMITTED
        except KeyError:
            return None

    @Slot(int, str)
    def _on_open_failed(self, job_id: int, message: str) -> None:
        from refiner_gui.api.errors import ErrorInfo, TimedOut, error_from_dict
        from refiner_gui.jobs import JobState

        try:
            job = self.store.get(job_id)
        except KeyError:
            return
        if job.error:
            self.error_panel.show_error(
                error_from_dict({**job.error, "task_id": job.task_id}),
                resumable=job.state is JobState.SUBMITTED,
            )
        elif job.state is JobState.SUBMITTED and job.task_id:
            self.error_panel.show_error(
                TimedOut(
                    f"Job {job.id} is still waiting for task {job.task_id}. Resume it to wait "
                    "for the result (nothing is submitted again).",
                    ErrorInfo(task_id=job.task_id),
                ),
                resumable=True,
            )
        self.statusBar().showMessage(message, 8000)

    @Slot(int)
    def rerun_job(self, job_id: int) -> None:
        """Load a past job's stored inputs and gender; start it when they check out."""
        try:
            job = self.store.get(job_id)
        except KeyError:
            return
        if self.job_running():
            self.statusBar().showMessage("Wait for the running job to finish first.", 5000)
            return
        for slot in SLOTS:
            path = job.input_path(slot)
            if path is not None:
                self.inputs.set_file(slot, path)
            else:
                self.inputs.clear_slot(slot)
        self.inputs.set_gender(job.gender or None)
        self._pending_rerun = job_id
        self.statusBar().showMessage(f"Re-running job {job_id} with the same inputs…", 5000)
        self._maybe_start_rerun()

    def _maybe_start_rerun(self) -> None:
        if self._pending_rerun is None or self.job_running() or self._shut_down:
            return
        ready, reason = self.inputs.ready()
        if ready:
            parent, self._pending_rerun = self._pending_rerun, None
            self.start_job(parent_id=parent)
        elif not any(word in reason for word in ("Checking", "Wait")):
            # The inputs need the user (a problem to fix): stop waiting to auto-start.
            self._pending_rerun = None
            self.statusBar().showMessage(f"Re-run needs you: {reason}", 8000)

    @Slot(object)
    def _on_failed(self, err: RefinerError) -> None:
        self._tick.stop()
        if self._job_id is not None:
            self.job_stored(self._job_id)
        log.info("job failed: %s %s", type(err).__name__, err.code or "")
        self.error_panel.show_error(err, resumable=self._job_resumable(self._job_id))
        if err.slot:
            self.inputs.highlight(err.slot, err.user_message)
        self.stage_label.setText(err.title + (f" · task {err.task_id}" if err.task_id else ""))

    @Slot()
    def _on_runner_done(self) -> None:
        if self._runner is not None:
            self._runner.deleteLater()
        self._runner = None
        self._tick.stop()
        self.progress.hide()
        self._update_actions()

    # -- results --------------------------------------------------------------------------

    def _default_name(self, suffix: str) -> Path:
        from datetime import datetime

        from refiner_gui.outputs import render_name

        assert self._last is not None
        job = self._last.job
        stem = render_name(
            self.settings.filename_pattern,
            task_id=job.task_id or str(job.id),
            when=datetime.fromtimestamp(job.finished_at or job.created_at),
            gender=job.gender,
        )
        return self.settings.output_path() / f"{stem}{suffix}"

    @Slot()
    def save_refined(self) -> Path | None:
        """Ask where, then save the refined image with provenance. Never overwrites silently
        (the file dialog confirms replacing)."""
        if self._last is None:
            return None
        suffix = ".jpg" if self.settings.save_format == "jpg" else ".png"
        default = self._default_name(suffix)
        default.parent.mkdir(parents=True, exist_ok=True)
        from PySide6.QtWidgets import QFileDialog, QMessageBox

        name, _ = QFileDialog.getSaveFileName(
            self, "Save refined image", str(default), "PNG image (*.png);;JPEG image (*.jpg *.jpeg)"
        )
        if not name:
            return None
        dest = Path(name)
        if dest.suffix.lower() not in (".png", ".jpg", ".jpeg"):
            dest = dest.with_suffix(suffix)
        from refiner_gui.provenance import build_record, save_with_provenance

        job = self._last.job
        assert job.result_path is not None
        record = build_record(job)
        try:
            # The dialog already asked before replacing an existing file.
            save_with_provenance(job.result_path, dest, record, overwrite=True)
        except (OSError, ValueError) as exc:
            QMessageBox.warning(self, "Could not save", f"Could not save {dest.name}: {exc}")
            return None
        self.statusBar().showMessage(f"Saved {dest}", 8000)
        return dest

    @Slot()
    def save_comparison(self) -> Path | None:
        if self._last is None:
            return None
        default = self._default_name("_comparison.png")
        default.parent.mkdir(parents=True, exist_ok=True)
        from PySide6.QtWidgets import QFileDialog, QMessageBox

        name, _ = QFileDialog.getSaveFileName(
            self, "Save comparison", str(default), "PNG image (*.png);;JPEG image (*.jpg)"
        )
        if not name:
            return None
        image: QImage = self.viewer.comparison_image()
        if not image.save(name):
            QMessageBox.warning(self, "Could not save", f"Could not save {Path(name).name}.")
            return None
        self.statusBar().showMessage(f"Saved {name}", 8000)
        return Path(name)

    @Slot()
    def export_review(self) -> None:
        """Export the history's current (filtered) jobs; the file is written in the
        background and announced in the status bar."""
        ids = self.history.visible_job_ids()
        if not ids:
            self.statusBar().showMessage("No jobs to export: the history list is empty.", 6000)
            return
        folder = self.settings.output_path()
        folder.mkdir(parents=True, exist_ok=True)
        from datetime import datetime

        default = folder / f"review_{datetime.now():%Y-%m-%d_%H%M}.html"
        from PySide6.QtWidgets import QFileDialog, QMessageBox

        name, _ = QFileDialog.getSaveFileName(
            self,
            f"Export the review of {len(ids)} jobs",
            str(default),
            "HTML report (*.html);;CSV table (*.csv);;JSON (*.json);;"
            "Contact sheet PDF (*.pdf);;Contact sheet PNG (*.png)",
        )
        if not name:
            return
        dest = Path(name)
        from refiner_gui import reports
        from refiner_gui.workers import BackgroundTask, submit_task

        exporters = {
            ".html": reports.export_html,
            ".csv": reports.export_csv,
            ".json": reports.export_json,
            ".pdf": reports.export_contact_sheet,
            ".png": reports.export_contact_sheet,
        }
        export = exporters.get(dest.suffix.lower())
        if export is None:
            QMessageBox.warning(
                self, "Export", "Choose a .html, .csv, .json, .pdf or .png file name."
            )
            return
        store = self.store

        def work() -> Path:
            return export(store.get_many(ids), dest)

        task = BackgroundTask(len(ids), work)
        task.signals.done.connect(self._on_exported)
        task.signals.error.connect(self._on_export_failed)
        self.statusBar().showMessage(f"Exporting {len(ids)} jobs…")
        submit_task(task)

    @Slot(object, object)
    def _on_exported(self, count: object, path: object) -> None:
        self.statusBar().showMessage(f"Exported {count} jobs to {path}", 10_000)

    @Slot(object, object)
    def _on_export_failed(self, _count: object, exc: object) -> None:
        from PySide6.QtWidgets import QMessageBox

        QMessageBox.warning(self, "Export failed", f"The export could not be written: {exc}")

    @Slot()
    def copy_refined(self) -> None:
        if self._last is not None:
            from PySide6.QtGui import QGuiApplication

            QGuiApplication.clipboard().setImage(self._last.refined)
            self.statusBar().showMessage("Refined image copied.", 4000)

    @Slot()
    def open_output_folder(self) -> None:
        folder = self.settings.output_path()
        folder.mkdir(parents=True, exist_ok=True)
        from PySide6.QtCore import QUrl
        from PySide6.QtGui import QDesktopServices

        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    # -- dialogs and files ----------------------------------------------------------------

    @Slot()
    def open_images(self) -> None:
        from PySide6.QtWidgets import QFileDialog

        names, _ = QFileDialog.getOpenFileNames(
            self,
            "Open images (person, top, coarse, bottom)",
            "",
            "Images (*.jpg *.jpeg *.png *.bmp *.webp *.tif *.tiff *.gif *.heic);;All files (*)",
        )
        empty = [s for s in SLOTS if self.inputs.original_path(s) is None]
        for slot, name in zip(empty, names, strict=False):  # extra files are ignored
            self.inputs.set_file(slot, Path(name))

    @Slot()
    def open_settings(self) -> None:
        from refiner_gui.ui.settings_dialog import SettingsDialog

        dlg = SettingsDialog(self.settings, self)
        dlg.saved.connect(self._on_settings_saved)
        dlg.key_stored.connect(self._on_key_stored)
        dlg.exec()

    @Slot(object)
    def _on_settings_saved(self, settings: Settings) -> None:
        self.settings = settings
        self._update_actions()
        if not self.demo and self._client_factory is None:
            self.refresh_key_status()

    @Slot(str)
    def _on_key_stored(self, where: str) -> None:
        text = {
            "keyring": "API key saved in the system keyring.",
            "session": "No system keyring: the API key is kept for this session only "
            "and never written to disk.",
            "cleared": "API key removed.",
        }.get(where, "")
        if text:
            self.statusBar().showMessage(text, 10_000)

    @Slot()
    def show_rules(self) -> None:
        from PySide6.QtWidgets import QMessageBox

        QMessageBox.information(
            self,
            "Photo rules",
            f"<p><b>Person photo.</b> {POSE_RULES}</p><p><b>Every image.</b> {IMAGE_RULES}</p>"
            "<p>The coarse result is the image the try-on service produced from this person "
            "photo and garments; send the same files you sent to the try-on call.</p>",
        )

    @Slot()
    def show_about(self) -> None:
        from PySide6.QtWidgets import QMessageBox

        from refiner_gui import __version__

        QMessageBox.about(
            self,
            "About Refiner",
            f"<p><b>Refiner</b> {__version__}</p><p>A desktop client for the AILabTools Try on "
            "Clothes Refiner API. Images are sent only to the service; results are kept there "
            "for 24 hours. A refinement costs 25 credits.</p>",
        )

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)
        if self._deferred and not self._built and not self._build_timer.isActive():
            # Normally the outline's first paint starts the build at once; a window that
            # is not painted (shown minimised) is built after this fallback.
            self._build_timer.start(BUILD_FALLBACK_MS)
        if self._built and self._viewer is None:
            # Built a moment after the first paint (a zero timer would run before the
            # paint), so neither start-up nor the first result pays for it. A child timer
            # dies with the window, so it can never fire into a deleted one.
            self._viewer_timer.start(250)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        return QSize(1400, 860)

    # -- shutdown -------------------------------------------------------------------------

    def shutdown(self) -> None:
        """Stop the job thread and background tasks (cancel, quit, wait; never terminate).

        Once called, no job starts any more. Repeatable: a call after a complete one does
        nothing, a call after one whose thread did not stop in time tries again. Also
        after a failed build (it releases what was made)."""
        if self._shutdown_complete:
            return
        self._shut_down = True
        self._pending_rerun = None
        self._build_timer.stop()
        self._viewer_timer.stop()
        if not self._built and self.build_error is None:
            self._shutdown_complete = True
            return  # only the frame exists: nothing runs, nothing was opened
        from PySide6.QtGui import QGuiApplication

        from refiner_gui.workers import wait_for_background_tasks

        stopped = True
        for runner in (self._runner, self._recovery):
            if runner is not None:
                # Cancel is seen within 0.2 s except inside one blocked HTTP read, which
                # ends at its timeout (the submit's answer: up to 2 minutes). Wait for it:
                # a QThread destroyed while running aborts the process.
                stopped = runner.stop(timeout_ms=180_000) and stopped
        QGuiApplication.processEvents()  # deliver the queued finished signals
        # getattr: after a failed build only some of the parts exist.
        for part in (getattr(self, "inputs", None), getattr(self, "history", None), self._viewer):
            if part is not None:
                part.shutdown()
        wait_for_background_tasks()
        store = getattr(self, "store", None)
        if self._owns_store and stopped and store is not None:
            store.close()
        self._shutdown_complete = stopped

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt API
        if self._runner is not None:
            from PySide6.QtWidgets import QMessageBox

            task = f" (task {self._task_id})" if self._task_id else ""
            answer = QMessageBox.question(
                self,
                "A job is running",
                f"A refinement is still running{task}. Quit anyway?\n\nA submitted task "
                "is kept in the job history and resumed the next time the app starts "
                "(results are kept for 24 hours).",
            )
            if answer != QMessageBox.StandardButton.Yes:
                event.ignore()
                return
            log.info("closing during task %s; it stays resumable by id", self._task_id)
        self.shutdown()
        super().closeEvent(event)
