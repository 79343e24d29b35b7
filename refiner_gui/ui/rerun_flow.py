"""Re-running a past look and loading its inputs into the slots (History → Re-run, "Use
these inputs"). GUI thread only; part of :class:`~refiner_gui.ui.window_content.WindowContent`.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, Slot

from refiner_gui.clients import client_factory
from refiner_gui.controllers.job_controller import rerun_kind, rerun_request
from refiner_gui.jobs import Job
from refiner_gui.readiness import Readiness
from refiner_gui.slots import COARSE, SLOTS
from refiner_gui.ui.rerun_dialog import RerunDialog, balance_query

if TYPE_CHECKING:
    from refiner_gui.ui.window_content import WindowContent


class RerunFlow(QObject):
    """Asks before a re-run (cost and balance), loads a job's stored inputs and starts the
    re-run once the slots check out. ``pending`` is the job whose re-run waits for them."""

    def __init__(self, content: WindowContent) -> None:
        super().__init__(content)
        self.content = content
        self.pending: int | None = None

    @Slot(int)
    def ask(self, job_id: int) -> None:
        """History → Re-run: say what it costs and the balance; re-run if the user agrees.

        The dialog is window-modal but opened without a nested event loop; the re-run
        starts from its ``accepted`` signal."""
        try:
            job = self.content.store.get(job_id)
        except KeyError:
            return
        if self.content.job_running():
            self.content.window.statusBar().showMessage(
                "Wait for the running job to finish first.", 5000
            )
            return
        query = (
            None
            if self.content.demo
            else balance_query(self.content._injected or client_factory(self.content.settings))
        )
        dialog = RerunDialog(job, self.content.window, query)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(partial(self.rerun, job_id))
        dialog.open()

    @Slot(int)
    def rerun(self, job_id: int) -> None:
        """Load a past job's stored inputs and gender; start it when they check out (no
        question asked: :meth:`ask` is the user's way in). A re-run that makes a new
        coarse image (:func:`~refiner_gui.controllers.job_controller.rerun_kind`) starts
        at once from the stored copies, through the try-on flow."""
        try:
            job = self.content.store.get(job_id)
        except KeyError:
            return
        if rerun_kind(job)[1] is not None:
            self._rerun_tryon(job)
            return
        if not self.load_inputs(job):
            return
        self.pending = job_id
        self.content.window.statusBar().showMessage(
            f"Re-running job {job_id} with the same inputs…", 5000
        )
        self.maybe_start()

    def _rerun_tryon(self, job: Job) -> None:
        """Re-run a job that makes its coarse image again (the slots show its inputs,
        the coarse slot empty, filled with the new coarse image once made)."""
        try:
            request = rerun_request(job)
        except ValueError:
            self.content.window.statusBar().showMessage(
                f"Job {job.id}'s stored images are missing from the data folder: add the "
                "images again to run it.",
                8000,
            )
            return
        if not self.load_inputs(job):
            return
        self.content.parts.inputs.clear_slot(COARSE)
        if self.content.tryon.run(request):
            self.content.window.statusBar().showMessage(
                f"Re-running job {job.id}: a new coarse image is being made…", 5000
            )

    def load_inputs(self, job: Job) -> bool:
        """Put ``job``'s stored inputs and gender in the slots; False (said) while a job
        runs, when the slots are locked."""
        if self.content.job_running():
            self.content.window.statusBar().showMessage(
                "Wait for the running job to finish first.", 5000
            )
            return False
        for slot in SLOTS:
            path = job.input_path(slot)
            if path is not None:
                self.content.parts.inputs.set_file(slot, path)
            else:
                self.content.parts.inputs.clear_slot(slot)
        self.content.parts.inputs.set_gender(job.gender if job.gender in ("woman", "man") else None)
        return True

    @Slot(int)
    def use_inputs(self, job_id: int) -> None:
        """ "Use these inputs": the shown look's inputs into the slots, for a new run."""
        try:
            job = self.content.store.get(job_id)
        except KeyError:
            return
        if self.load_inputs(job):
            self.content.window.statusBar().showMessage(
                f"Job {job_id}'s inputs are in the slots: check them, then Refine for a new run.",
                8000,
            )

    @Slot()
    def maybe_start(self) -> None:
        if self.pending is None or self.content.job_running() or self.content.jobs.is_closed():
            return
        state = self.content.parts.inputs.readiness()
        if state.ready:
            parent, self.pending = self.pending, None
            self.content.start_job(parent_id=parent)
        elif state.readiness is Readiness.NEEDS_USER:
            # Nothing will change by itself: stop waiting to auto-start.
            self.pending = None
            self.content.window.statusBar().showMessage(f"Re-run needs you: {state.reason}", 8000)
