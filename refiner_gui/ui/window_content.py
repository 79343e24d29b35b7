"""The window's content and its logic: the parts from :mod:`.window_layout`, wired to the
job controller, the review controller and the result commands.

One job at a time in the window (the controller could run more): Refine starts one from
the inputs, the error panel resumes one, history re-runs one. Built by
:class:`~refiner_gui.ui.main_window.MainWindow` right after its first paint (the one
deferred import of the app). GUI thread only.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QObject, Slot
from PySide6.QtWidgets import QHBoxLayout, QMainWindow, QMenu

from refiner_gui.api import Cancelled, ProgressEvent, RefinerError, Submission, TimedOut
from refiner_gui.api.errors import ErrorInfo, error_from_dict
from refiner_gui.clients import ClientFactory, client_factory
from refiner_gui.config import app_paths
from refiner_gui.controllers import JobController
from refiner_gui.controllers.job_controller import SHUTDOWN_WAIT_MS
from refiner_gui.demo import DemoSession, sample_paths
from refiner_gui.images.formats import safe_formats
from refiner_gui.jobs import Job, JobState, JobStore
from refiner_gui.jobs.store import DB_NAME
from refiner_gui.keystore import get_api_key
from refiner_gui.settings import Settings, save_settings
from refiner_gui.slots import COARSE, PERSON, SLOTS, TOP
from refiner_gui.threads import run_task, stop_workers, wait_for_tasks
from refiner_gui.ui.background_jobs import BackgroundJobs
from refiner_gui.ui.batch_flow import BatchFlow
from refiner_gui.ui.blind import HIDDEN_LABELS
from refiner_gui.ui.file_loader import FileLoader, WindowDropTarget
from refiner_gui.ui.info_dialogs import show_about, show_rules
from refiner_gui.ui.job_status import JobStatus
from refiner_gui.ui.look_inputs import LookInputs
from refiner_gui.ui.rerun_flow import RerunFlow
from refiner_gui.ui.result_actions import ResultActions
from refiner_gui.ui.review_controller import Picture, ReviewController
from refiner_gui.ui.running_preview import RunningPreview
from refiner_gui.ui.settings_dialog import SettingsDialog
from refiner_gui.ui.tryon_flow import TryOnFlow
from refiner_gui.ui.viewer import CompareViewer
from refiner_gui.ui.window_layout import build_parts
from refiner_gui.ui.window_menus import WindowMenus
from refiner_gui.ui.window_title import window_title
from refiner_gui.workers import JobOutcome, JobRequest

log = logging.getLogger(__name__)

KEY_MESSAGES = {
    "keyring": "API key saved in the system keyring.",
    "session": "No system keyring: the API key is kept for this session only and never "
    "written to disk.",
    "cleared": "API key removed.",
}


class WindowContent(QObject):
    """Everything inside the window's frame, and what it does. GUI thread only.

    Args:
        window: the frame (menus, status bar, dialogs' parent).
        menus: the frame's menus by key ("file", "edit", "job", "view", "help").
        demo: demo mode (the injected factory points at the sandbox).
        settings: the settings to start from.
        store: the job store.
        injected_factory: a client factory to use instead of the settings and stored key
            (tests, the self-test); None means "from the settings and the stored key", or
            in demo mode a local sandbox this content starts, stops and loads samples of.
    """

    def __init__(
        self,
        window: QMainWindow,
        menus: dict[str, QMenu],
        *,
        demo: bool,
        settings: Settings,
        store: JobStore,
        injected_factory: ClientFactory | None,
    ) -> None:
        super().__init__(window)
        self.window = window
        self.demo = demo
        self.settings = settings
        self.store = store
        self.demo_session: DemoSession | None = None
        self._injected = injected_factory
        self.run_id: int | None = None  # the window's running job, while it runs
        self.job_id: int | None = None  # the running (or last started) job
        self.shown: JobOutcome | None = None  # the finished job in the viewer
        self._resumed = False  # the window's run waits again for a stored job
        # Learnt off the GUI thread: probing the keyring's backends is slow.
        self._has_key: bool | None = None

        # Pillow registers its plugins on the first untrusted open (~30 ms holding the GIL);
        # done here, inside the build, it never lands on a pool thread's first input check
        # while the user waits (that stalled the event loop 45-75 ms).
        safe_formats()
        self.parts = p = build_parts(
            demo=demo, inputs_dir=app_paths().ensure().data / "inputs", store=store
        )
        if settings.gender:
            p.inputs.set_gender(settings.gender)
        self.viewer = CompareViewer()
        self.viewer.setAccessibleName("Coarse and refined comparison")
        # The shown look's own inputs sit beside the viewer (portrait looks leave width).
        self.look_inputs = LookInputs()
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(0)
        row.addWidget(self.viewer, 1)
        row.addWidget(self.look_inputs)
        # No stretch: an empty layout keeps its share (the preview would get half the page);
        # the viewer expands into the space anyway.
        p.right_layout.insertLayout(p.right_layout.indexOf(p.placeholder) + 1, row)
        self.viewer.hide()
        self.look_inputs.hide()
        # While a job runs the page shows its coarse image (not a blank or an old result).
        self.preview = RunningPreview()
        p.right_layout.insertWidget(p.right_layout.indexOf(p.placeholder) + 2, self.preview, 1)

        if demo and injected_factory is None:
            # Started last of the parts that can fail to build, and stopped again if
            # anything after it does: its server thread would keep the app from exiting.
            self.demo_session = DemoSession.start()
            self._injected = self.demo_session.factory
        try:
            self._wire(window, menus, store, settings)
        except BaseException:
            if self.demo_session is not None:
                self.demo_session.stop()
            raise

    def _wire(
        self, window: QMainWindow, menus: dict[str, QMenu], store: JobStore, settings: Settings
    ) -> None:
        p = self.parts
        self.jobs = JobController(store, self._injected or client_factory(settings), self)
        self.review = ReviewController(store, p.history, p.review_bar, self._display, self)
        self.results = ResultActions(
            window, lambda: self.settings, lambda: self.shown, lambda: self.viewer, p.history, store
        )
        self.status = JobStatus(p.progress, p.stage_label, self)
        # Several files at once (Ctrl+O, a drop on the window or on one slot) go by role.
        self.loader = FileLoader(
            p.inputs, window, lambda t: window.statusBar().showMessage(t, 10_000)
        )
        self.window_drop = WindowDropTarget(window, self.loader)
        self.batches = BatchFlow(self, window)  # the Batch tab, New batch…, batch drops
        self.menus = WindowMenus(window, menus, self)
        self.reruns = RerunFlow(self)  # History → Re-run and "Use these inputs"
        self.tryon = TryOnFlow(self)  # an empty coarse slot: generate it, then refine
        self.background = BackgroundJobs(self.jobs, self.review.open_job, p.error_panel, self)
        self.background.still_running.keepChecking.connect(self._on_keep_checking)
        self.background.checkEnded.connect(self._on_check_ended)
        self.jobs.recovered.connect(self._on_recovered)

        p.refine_button.clicked.connect(self.refine_or_cancel)
        p.error_panel.resumeRequested.connect(self.resume_task)
        p.history.rerunRequested.connect(self.reruns.ask)
        self.review.openFailed.connect(self._on_open_failed)
        self.review.undoChanged.connect(self.update_actions)
        self.look_inputs.useRequested.connect(self.reruns.use_inputs)
        for button, slot in (
            (p.save_button, self.results.save_refined),
            (p.save_cmp_button, self.results.save_comparison),
            (p.copy_button, self.results.copy_refined),
            (p.folder_button, self.results.open_output_folder),
        ):
            button.clicked.connect(slot)
        self.jobs.jobCreated.connect(self._on_created)
        self.jobs.progressed.connect(self._on_progress)
        self.jobs.submitted.connect(self._on_submitted)
        self.jobs.succeeded.connect(self._on_succeeded)
        self.jobs.failed.connect(self._on_failed)
        self.jobs.runEnded.connect(self._on_run_ended)
        self.jobs.jobChanged.connect(p.history.job_changed)
        # Connected last: the panel may emit while the window is still being built.
        p.inputs.changed.connect(self.update_actions)
        p.inputs.changed.connect(self._remember_gender)
        p.inputs.changed.connect(self.reruns.maybe_start)
        self.update_actions()

    # -- state ------------------------------------------------------------------------

    def job_running(self) -> bool:
        """Whether the window's job runs (until its thread is gone)."""
        return self.run_id is not None

    def load_samples(self) -> None:
        """Demo mode: put the sample images in the slots (checked like any file)."""
        for slot, path in sample_paths().items():
            self.parts.inputs.set_file(slot, path)

    def needs_key(self) -> bool:
        """Whether jobs use the stored key (not demo, no injected factory)."""
        return not self.demo and self._injected is None

    @Slot()
    def update_actions(self) -> None:
        """Enable what can be done now, and say why Refine cannot."""
        p = self.parts
        running = self.job_running()
        state = p.inputs.readiness()
        ready, reason = state.ready, state.reason
        key_ok = not self.needs_key() or bool(self._has_key)
        if running:
            p.refine_button.setText("Cancel")
            p.refine_button.setEnabled(True)
            p.refine_button.setToolTip("Stop waiting for this job (Esc)")
        else:
            p.refine_button.setText("Refine")
            enabled = ready and key_ok
            p.refine_button.setEnabled(enabled)
            if not ready:
                tip = reason
            elif self._has_key is None and not key_ok:
                tip = "Looking for your API key…"
            elif not key_ok:
                tip = "Add your AILabTools API key in Settings (Ctrl+,), or start with --demo"
            else:
                tip = "Submit to the refiner (Ctrl+Enter). Costs 25 credits when it succeeds."
            p.refine_button.setToolTip(tip)
            stopped = not self.background.still_running.isHidden()  # says why already
            if p.error_panel.isHidden() and self.shown is None and not stopped:
                p.stage_label.setText(tip if not enabled else "Ready to refine.")
        self.menus.update(
            can_refine=not running and ready and key_ok,
            running=running,
            has_result=self.shown is not None and not running,  # hidden while one runs
            can_undo=self.review.can_undo(),
        )
        p.inputs.set_enabled_inputs(not running)
        self.tryon.update_actions(running=running, key_ok=key_ok)

    @Slot()
    def _remember_gender(self) -> None:
        gender = self.parts.inputs.gender()
        if gender and gender != self.settings.gender:
            self.settings.gender = gender
            save_settings(self.settings)

    def refresh_key_status(self) -> None:
        """Look up (on the thread pool) whether an API key is stored, then update."""
        run_task(
            lambda: bool(get_api_key().key), self._on_key_status, self._on_key_error, owner=self
        )

    def _on_key_status(self, has_key: bool) -> None:
        self._has_key = has_key
        self.update_actions()

    def _on_key_error(self, exc: Exception) -> None:
        log.warning("key lookup failed: %s", type(exc).__name__)
        self._on_key_status(False)

    # -- running a job ----------------------------------------------------------------

    @Slot()
    def refine_or_cancel(self) -> None:
        """The Refine button: cancel the running job, else start one."""
        if self.job_running():
            self.cancel_job()
        else:
            self.start_job()

    def start_job(self, *, parent_id: int | None = None) -> bool:
        """Start a job from the current inputs. False if not startable (reason shown) or
        after shutdown began."""
        if self.job_running() or self.jobs.is_closed():
            return False
        inputs = self.parts.inputs
        state = inputs.readiness()
        if not state.ready and self.tryon.can_start():
            return self.tryon.start(parent_id=parent_id)
        if not state.ready:
            self.window.statusBar().showMessage(state.reason, 5000)
            return False
        gender = inputs.gender()
        files = {s: inputs.path(s) for s in SLOTS}
        if gender is None or any(files[s] is None for s in (PERSON, TOP, COARSE)):
            return False
        originals = {s: inputs.original_path(s) for s in SLOTS}
        request = JobRequest(
            {s: p for s, p in files.items() if p is not None},
            gender,
            parent_id=parent_id,
            original_names={s: o.name for s, o in originals.items() if o is not None},
        )
        return self._began(self.jobs.start(request), "Uploading", files[COARSE])

    def resume_job(self, job_id: int) -> bool:
        """Wait again for a submitted job (never re-submits it). False, with the reason
        in the status bar, when the job is unknown or already being waited for (by the
        recovery of the last session's jobs, say)."""
        if self.job_running():
            return False
        if self.jobs.busy_with(job_id):
            self.window.statusBar().showMessage(
                f"Job {job_id} is already being checked in the background.", 8000
            )
            return False
        try:
            job = self.store.get(job_id)
        except KeyError:
            job = None
        run_id = self.jobs.resume(job_id) if job is not None else None
        if job is None or not self._began(
            run_id, "Resuming", job.input_path(COARSE), since=job.submitted_at, resumed=True
        ):
            self.window.statusBar().showMessage(f"Job {job_id} is not in the history.", 8000)
            return False
        return True

    def _began(
        self,
        run_id: int | None,
        stage_text: str,
        coarse: Path | None,
        *,
        since: float | None = None,
        resumed: bool = False,
    ) -> bool:
        if run_id is None:
            return False
        self.run_id = run_id
        self.job_id = None
        self._resumed = resumed
        p = self.parts
        p.error_panel.hide()
        self.background.still_running.hide()
        p.inputs.highlight(None, None)
        self.status.start(stage_text, since=since)
        self.window.setWindowTitle(window_title(demo=self.demo))  # no old job's number
        covered = (p.placeholder, self.viewer, self.look_inputs, p.review_bar, p.result_bar)
        self.preview.show_coarse(coarse, covered)
        p.tabs.setCurrentWidget(p.compare_page)
        self.update_actions()
        return True

    @Slot(str)
    def resume_task(self, task_id: str) -> None:
        """The error panel's "Resume task": the job with that task id."""
        job = self.store.find_by_task(task_id)
        if job is not None:
            self.resume_job(job.id)

    @Slot()
    def cancel_job(self) -> None:
        """Stop waiting for the window's job (a submitted one stays resumable)."""
        if self.run_id is not None:
            self.jobs.cancel(self.run_id)
            self.status.set_stage_text("Cancelling")

    @Slot(int)
    def rerun_job(self, job_id: int) -> None:
        """Re-run a past job with its stored inputs, without asking (see :class:`RerunFlow`)."""
        self.reruns.rerun(job_id)

    def recover_unfinished(self) -> None:
        """Resume, in the background, every job a crash or quit left unfinished."""
        if self.jobs.recover():
            self.window.statusBar().showMessage("Resuming unfinished jobs from the last session…")

    # -- the controller's signals (only the window's own run is shown) ----------------

    @Slot(int, int)
    def _on_created(self, run_id: int, job_id: int) -> None:
        if run_id == self.run_id:
            self.job_id = job_id

    @Slot(int, object)
    def _on_progress(self, run_id: int, event: ProgressEvent) -> None:
        if run_id == self.run_id:
            self.status.progress(event)
            self.tryon.progressed(event)

    @Slot(int, object)
    def _on_submitted(self, run_id: int, submission: Submission) -> None:
        if run_id == self.run_id:
            self.status.set_task(submission.task_id)
            self.window.statusBar().showMessage(f"Submitted: task {submission.task_id}", 5000)

    @Slot(int, object)
    def _on_succeeded(self, run_id: int, outcome: JobOutcome) -> None:
        if run_id != self.run_id:
            return
        self.status.finish(outcome.job.task_id or outcome.job.tryon_task_id, resumed=self._resumed)
        if self.shown is not None and self.preview.isHidden():
            # The reviewer opened another look meanwhile: it stays (a tag key must not
            # land on the new job); the new one is listed with a Show button.
            self.background.finished_while_reviewing(outcome.job, self.window.statusBar())
        else:
            self.preview.stop()
            self.review.present(outcome)
            self.window.statusBar().showMessage("Refined image ready. Save it with Ctrl+S.", 8000)
        self.tryon.succeeded(outcome)

    @Slot(int, object)
    def _on_failed(self, run_id: int, error: RefinerError) -> None:
        if run_id != self.run_id:
            return
        self.preview.stop(uncover=True)  # no new result: what was there comes back
        resumable = self._job_resumable(self.job_id)
        if isinstance(error, Cancelled) and resumable and self.job_id and error.task_id:
            # Cancel after the upload is no error: the task goes on at the service.
            self.status.stop_with(f"Stopped waiting · task {error.task_id} goes on")
            self.background.cancelled_after_upload(self.job_id, error.task_id)
            return
        self.status.fail(error)
        self.parts.error_panel.show_error(error, resumable=resumable)
        self.tryon.failed(self.job_id)
        if error.slot:
            self.parts.inputs.highlight(error.slot, error.user_message)

    @Slot(int)
    def _on_run_ended(self, run_id: int) -> None:
        if run_id != self.run_id:
            return
        self.run_id = None
        self.status.ended()
        self.update_actions()
        self.reruns.maybe_start()

    @Slot(int)
    def _on_keep_checking(self, job_id: int) -> None:
        if not self.job_running():
            self.parts.stage_label.setText(f"Checking job {job_id} in the background…")

    @Slot(object)
    def _on_recovered(self, jobs: list[Job]) -> None:
        # Replaces "Resuming unfinished jobs…"; the notice lists them (BackgroundJobs).
        self.window.statusBar().showMessage(
            "The last session's jobs are listed above." if jobs else "", 8000
        )

    @Slot(int)
    def _on_check_ended(self, job_id: int) -> None:
        if not self.job_running():  # the line said "Checking…"
            self.parts.stage_label.setText(f"The background check of job {job_id} ended.")
            self.update_actions()

    def _job_resumable(self, job_id: int | None) -> bool | None:
        """Whether waiting again for the job makes sense (it is still SUBMITTED)."""
        if job_id is None:
            return None
        try:
            return self.store.get(job_id).state is JobState.SUBMITTED
        except KeyError:
            return None

    @Slot(int, str)
    def _on_open_failed(self, job_id: int, message: str) -> None:
        try:
            job = self.store.get(job_id)
        except KeyError:
            return
        panel = self.parts.error_panel
        # A job the user stopped waiting for is not an error: it is still waiting.
        stopped = job.state is JobState.SUBMITTED and (job.error or {}).get("type") == "Cancelled"
        if job.error and not stopped:
            panel.show_error(
                error_from_dict({**job.error, "task_id": job.task_id}),
                resumable=job.state is JobState.SUBMITTED,
            )
        elif job.state is JobState.SUBMITTED and job.task_id:
            panel.show_error(
                TimedOut(
                    f"Job {job.id} is still waiting for task {job.task_id}. Resume it to wait "
                    "for the result (nothing is submitted again).",
                    ErrorInfo(task_id=job.task_id),
                ),
                resumable=True,
            )
        self.window.statusBar().showMessage(message, 8000)

    # -- showing a result ---------------------------------------------------------------

    def _display(
        self, outcome: JobOutcome, left: Picture, right: Picture, left_label: str, right_label: str
    ) -> None:
        """Put two pictures in the viewer (the review controller decides which and how)."""
        p = self.parts
        self.shown = outcome
        self.preview.stop()
        self.viewer.set_images(left[0], right[0], left[1], right[1])
        self.viewer.set_labels(left_label, right_label)
        # While blind and hidden, the coarse thumbnail would tell which side is which.
        hidden = (left_label, right_label) == HIDDEN_LABELS
        self.look_inputs.show_job(outcome.job, hide_coarse=hidden)
        p.placeholder.hide()
        self.viewer.show()
        self.look_inputs.show()
        p.review_bar.show()
        p.result_bar.show()
        p.tabs.setCurrentWidget(p.compare_page)
        job = outcome.job
        when = datetime.fromtimestamp(job.finished_at or job.created_at)
        task = " → ".join(t for t in (job.tryon_task_id, job.task_id) if t)
        p.result_label.setText(f"Job {job.id} · task {task} · {when:%d %b %H:%M}")
        self.window.setWindowTitle(window_title(demo=self.demo, detail=f"Job {job.id}"))
        self.update_actions()

    @Slot()
    def undo_review(self) -> None:
        """Edit → Undo review change (Ctrl+Z): restore the last change and show that look."""
        message = self.review.undo()
        self.window.statusBar().showMessage(message or "Nothing to undo in the review.", 8000)

    # -- dialogs ------------------------------------------------------------------------

    @Slot()
    def open_settings(self) -> None:
        """Edit the settings and the API key (modal)."""
        dlg = SettingsDialog(self.settings, self.window, sandbox_url=self._sandbox_url())
        dlg.saved.connect(self._on_settings_saved)
        dlg.key_stored.connect(self._on_key_stored)
        dlg.exec()

    def _sandbox_url(self) -> str | None:
        """Demo mode: the address of the sandbox jobs go to (None otherwise)."""
        if not self.demo:
            return None
        if self.demo_session is not None:
            return self.demo_session.base_url
        if self._injected is None:
            return None
        client = self._injected()  # no network: only to learn its address
        try:
            return client.base_url
        finally:
            client.close()

    @Slot(object)
    def _on_settings_saved(self, settings: Settings) -> None:
        self.settings = settings
        if self._injected is None:
            self.jobs.set_client_factory(client_factory(settings))
        self.update_actions()
        if self.needs_key():
            self.refresh_key_status()

    @Slot(str)
    def _on_key_stored(self, where: str) -> None:
        text = KEY_MESSAGES.get(where, "")
        if text:
            self.window.statusBar().showMessage(text, 10_000)

    @Slot()
    def show_rules(self) -> None:
        """Help → Photo rules."""
        show_rules(self.window)

    @Slot()
    def show_about(self) -> None:
        """Help → About."""
        show_about(self.window)

    # -- shutdown -----------------------------------------------------------------------

    def running_task_id(self) -> str | None:
        """The task id of the window's running job, if it has one yet."""
        return self.status.task_id if self.job_running() else None

    def shutdown(self) -> bool:
        """Stop every job and background task; True when every thread ended."""
        self.reruns.pending = None
        stopped = self.batches.shutdown(SHUTDOWN_WAIT_MS)  # resumable: nothing cancelled
        stopped = self.jobs.shutdown() and stopped
        QCoreApplication.processEvents()  # deliver the queued finished signals
        for part in (self.parts.inputs, self.parts.history, self.viewer):
            part.shutdown()
        # The registry is the last word: whatever worker is still live (none, normally)
        # is cancelled and waited for before the window lets go.
        stopped = stop_workers(SHUTDOWN_WAIT_MS) and stopped
        wait_for_tasks()
        if self.demo_session is not None:
            # Even when a job thread did not stop in time: it only talks to this sandbox,
            # and the sandbox's thread must not keep the app from exiting.
            self.demo_session.stop()
            self.demo_session = None
        return stopped


def open_store(*, demo: bool) -> JobStore:
    """The user's job store; in demo mode its own store, so that the sandbox never
    "recovers" (and so expires) a real task, and its task ids stay out of the history."""
    if demo:
        return JobStore(app_paths().data / "demo" / DB_NAME)
    return JobStore.open_default()
