"""The main window's frame: start-up, the one deferred build, and shutdown.

What is inside the frame, and what it does, is :class:`~.window_content.WindowContent`:
inputs on the left, coarse vs refined and history on the right, jobs run by a
:class:`~refiner_gui.controllers.JobController`. The window never calls the API itself.

Start-up: with ``deferred=True`` (what ``refiner-gui`` does) the frame paints an outline
of the layout first (:class:`~.skeleton.Skeleton`) and imports and builds the content
right after that first paint, so the window appears as fast as a bare one. That import,
in :meth:`MainWindow._build`, is the app's one deferral point: this module imports only
what the outline needs.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, QTimer, Signal, Slot
from PySide6.QtGui import QCloseEvent, QPaintEvent, QShowEvent
from PySide6.QtWidgets import QMainWindow, QMenu, QMessageBox

from refiner_gui.ui.skeleton import Skeleton
from refiner_gui.ui.window_geometry import WindowGeometry, initial_size
from refiner_gui.ui.window_title import window_title

if TYPE_CHECKING:
    from refiner_gui.clients import ClientFactory
    from refiner_gui.jobs import JobStore
    from refiner_gui.settings import Settings
    from refiner_gui.ui.window_content import WindowContent
    from refiner_gui.workers import JobOutcome

log = logging.getLogger(__name__)

BUILD_FALLBACK_MS = 500
FINISH_FALLBACK_MS = 1000

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
        client_factory: builds a client for each job (called on the job's thread). None
            means "from the settings and the stored key".
        demo: demo mode: marked DEMO; without a ``client_factory`` it starts a local
            sandbox and loads the sample images, with a job store of its own.
        settings: injected settings (tests); default: loaded from disk.
        store: the job store; default: the user's store, opened (and closed) by the window.
        recover_on_start: resume the jobs a crash or quit left unfinished, once built.
        deferred: show an outline first and build the content right after the first
            paint. Until :attr:`ready` only the frame exists: use :meth:`when_ready`, or
            :meth:`ensure_built` to build at once. False builds in the constructor.
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
        self._recover_on_start = recover_on_start
        self._deferred = deferred
        self.content: WindowContent | None = None
        self.build_error: BaseException | None = None  # why the content could not be built
        self._store: JobStore | None = None
        self._started = False  # the start-up after the build (key lookup, ready) ran
        self._finish_on_paint = False
        self._when_ready: list[Callable[[], object]] = []
        self._shut_down = False  # shutdown() began: nothing new may start
        self._shutdown_complete = False

        self.setWindowTitle(window_title(demo=demo))
        self.setObjectName("mainWindow")
        # Inside the available screen, where it was last closed (see window_geometry).
        self.geometry_store = WindowGeometry(self)
        self.geometry_store.restore_window()
        # The menu titles exist from the first frame (the bar keeps its height); their
        # actions are added with the content.
        bar = self.menuBar()
        self._menus: dict[str, QMenu] = {key: bar.addMenu(title) for key, title in MENU_TITLES}
        # A child timer dies with the window, so it can never fire into a deleted one.
        self._build_timer = QTimer(self)
        self._build_timer.setSingleShot(True)
        self._build_timer.timeout.connect(self._build_deferred)
        if deferred:
            skeleton = Skeleton(demo)
            # A zero timer started here could run before the first paint; one started
            # from the paint runs after it.
            skeleton.painted.connect(self._on_outline_painted)
            self.setCentralWidget(skeleton)
        else:
            self.ensure_built()

    # -- start-up -------------------------------------------------------------------------

    def is_built(self) -> bool:
        """Whether the content (panels, menus, store) exists."""
        return self.content is not None

    def when_ready(self, fn: Callable[[], object]) -> None:
        """Call ``fn`` once the window is ready (:attr:`ready`): now if it is, else then,
        in order. A callback that raises is reported like any error in a slot and does
        not stop the others."""
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
        background start-up work (key lookup, recovery) follow the built window's first
        paint; on a hidden one they follow at once.

        Raises what building raised (a store written by a newer version, an unwritable
        folder…), after recording it in :attr:`build_error`; the window stays unbuilt, and
        :meth:`shutdown` releases what was made.
        """
        if self.content is not None or self._shut_down or self.build_error is not None:
            return
        self._build_timer.stop()
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
            self.build_error = exc
            self.setUpdatesEnabled(True)
            raise
        if visible:
            QTimer.singleShot(0, self, self._reveal)
        else:
            self._finish_start()

    def _build(self) -> None:
        # The app's one deferred import: the content and all it needs (see module doc).
        from refiner_gui.settings import load_settings
        from refiner_gui.ui.window_content import WindowContent, open_store

        settings = self._given_settings or load_settings()
        self._store = self._given_store or open_store(demo=self.demo)
        content = WindowContent(
            self,
            self._menus,
            demo=self.demo,
            settings=settings,
            store=self._store,
            injected_factory=self._client_factory,
        )
        self.setCentralWidget(content.parts.root)  # deletes the skeleton, if there was one
        self.statusBar().showMessage(
            "Demo mode: no key, no network, no credits." if self.demo else "Ready."
        )
        self.content = content
        # The parts tests, the self-test and the screenshot script reach as window.<name>.
        parts = content.parts
        self.inputs = parts.inputs
        self.refine_button = parts.refine_button
        self.stage_label = parts.stage_label
        self.error_panel = parts.error_panel
        self.review_bar = parts.review_bar
        self.compare_page = parts.compare_page
        self.history = parts.history
        self.tabs = parts.tabs
        self.viewer = content.viewer
        self.review = content.review
        self.store = self._store
        self.refine_action = content.menus.action("refine")
        self.save_action = content.menus.action("save")
        self.inputs_column = parts.inputs_column
        self.geometry_store.restore_panels(parts.root, parts.inputs_column)

    def _reveal(self) -> None:
        # The rest of the start-up follows the repaint this asks for (see paintEvent);
        # the fallback covers a window that is not painted (minimised meanwhile).
        self._finish_on_paint = True
        self.setUpdatesEnabled(True)
        QTimer.singleShot(FINISH_FALLBACK_MS, self, self._finish_start)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt API
        """Paint; the first paint of the built window finishes the start-up."""
        super().paintEvent(event)
        if self._finish_on_paint:
            self._finish_on_paint = False
            # Started from the paint, so it fires after this frame is on screen.
            QTimer.singleShot(0, self, self._finish_start)

    def _finish_start(self) -> None:
        content = self.content
        if self._shut_down or self._started or content is None:
            return
        self._started = True
        if content.needs_key():
            content.refresh_key_status()
        if content.demo_session is not None:
            content.load_samples()
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

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt API
        """Shown: a deferred window not painted soon (shown minimised) is built anyway."""
        super().showEvent(event)
        if self._deferred and self.content is None and not self._build_timer.isActive():
            self._build_timer.start(BUILD_FALLBACK_MS)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        """The size the window opens at with nothing saved: fits the available screen."""
        screen = self.screen()
        return initial_size(screen.availableGeometry()) if screen else super().sizeHint()

    # -- what the window does (see WindowContent) -----------------------------------------

    def _built(self) -> WindowContent | None:
        """The content, built now if need be; None once shut down or if it cannot be."""
        if not self._shut_down and self.content is None and self.build_error is None:
            self.ensure_built()
        return None if self._shut_down else self.content

    @property
    def shown(self) -> JobOutcome | None:
        """The finished job the viewer shows, if any."""
        return self.content.shown if self.content is not None else None

    @property
    def job_id(self) -> int | None:
        """The running (or last started) job of the window, once stored."""
        return self.content.job_id if self.content is not None else None

    @property
    def task_id(self) -> str | None:
        """The task id of the window's running or last job, once known."""
        return self.content.status.task_id if self.content is not None else None

    def job_running(self) -> bool:
        """Whether the window's job runs."""
        return self.content is not None and self.content.job_running()

    def _job_in_flight(self) -> bool:
        """Whether the window's job runs with no outcome yet (once it has one, only its
        thread winds down: quitting then loses nothing, so there is nothing to ask)."""
        content = self.content
        run = content.jobs.run(content.run_id) if content and content.run_id else None
        return run is not None and not run.settled

    def start_job(self, *, parent_id: int | None = None) -> bool:
        """Start a job from the current inputs; False if not startable (reason shown)."""
        content = self._built()
        return content is not None and content.start_job(parent_id=parent_id)

    def resume_job(self, job_id: int) -> bool:
        """Wait again for a submitted job (never re-submits it)."""
        content = self._built()
        return content is not None and content.resume_job(job_id)

    def rerun_job(self, job_id: int) -> None:
        """Load a past job's inputs and start it when they check out."""
        content = self._built()
        if content is not None:
            content.rerun_job(job_id)

    def cancel_job(self) -> None:
        """Stop waiting for the running job (a submitted one stays resumable)."""
        if self.content is not None:
            self.content.cancel_job()

    def recover_unfinished(self) -> None:
        """Resume, in the background, every job a crash or quit left unfinished."""
        if self.content is not None and not self._shut_down:
            self.content.recover_unfinished()

    def save_refined(self) -> Path | None:
        """Ask where, then save the shown refined image with provenance."""
        content = self._built()
        return content.results.save_refined() if content is not None else None

    def save_comparison(self) -> Path | None:
        """Ask where, then save the comparison image."""
        content = self._built()
        return content.results.save_comparison() if content is not None else None

    def export_review(self) -> None:
        """Export the jobs the history shows."""
        content = self._built()
        if content is not None:
            content.results.export_review()

    # -- shutdown -------------------------------------------------------------------------

    def shutdown(self) -> None:
        """Stop the job threads and background tasks (cancel, quit, wait; never terminate).

        Once called, no job starts any more. Repeatable: a call after a complete one does
        nothing, a call after one whose thread did not stop in time tries again. Also
        after a failed build (it releases what was made)."""
        if self._shutdown_complete:
            return
        self._shut_down = True
        self._build_timer.stop()
        stopped = self.content.shutdown() if self.content is not None else True
        if self._given_store is None and stopped and self._store is not None:
            self._store.close()
        self._shutdown_complete = stopped

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt API
        """Ask before closing on a running job (it stays resumable), then shut down."""
        if self._job_in_flight():
            assert self.content is not None
            task_id = self.content.running_task_id()
            task = f" (task {task_id})" if task_id else ""
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
            log.info("closing during task %s; it stays resumable by id", task_id)
        elif self.content is not None and not self.content.batches.may_quit():
            event.ignore()
            return
        content = self.content
        self.geometry_store.save(
            content.parts.root if content else None,
            content.parts.inputs_column if content else None,
        )
        self.shutdown()
        super().closeEvent(event)
