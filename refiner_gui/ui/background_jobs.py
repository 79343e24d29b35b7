"""Jobs the window is not showing: ones the user stopped waiting for after the upload, and
ones that finished without being watched (recovered at start-up, or checked in the
background). Two notices say so plainly and stay until the user has seen them.

* :class:`StillRunningNotice`: after Cancel once the images were sent. The task goes on at
  the service and is billed if it succeeds; "Keep checking in the background" resumes it
  without taking over the viewer (History's Resume works later too).
* :class:`FinishedJobsNotice`: "3 jobs finished while the app was closed", one line per
  job, each with Show (its result in the viewer); it stays until dismissed.

:class:`BackgroundJobs` wires them to the job controller. GUI thread only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QBoxLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QStatusBar,
    QVBoxLayout,
    QWidget,
)

from refiner_gui.api import RefinerError
from refiner_gui.controllers import JobController
from refiner_gui.jobs import Job, JobState
from refiner_gui.jobs.two_stage import COSTS, MODEL_NAMES
from refiner_gui.safe_text import one_line
from refiner_gui.workers import JobOutcome

log = logging.getLogger(__name__)

CREDITS_PER_REFINEMENT = COSTS["refiner"]  # CONTRACT.md § Billing
MAX_ROWS = 5  # more would push the viewer off the window: the rest are in History
CLOSED = "closed"
BACKGROUND = "background"
# Per origin: (all of them succeeded, some did not) — see FinishedJobsNotice.add.
HEADINGS = {
    CLOSED: ("finished while the app was closed", "from the last session"),
    BACKGROUND: ("finished in the background", "checked in the background"),
}
NOTICE_STYLE = "#{name} {{ border: 1px solid palette(mid); border-radius: 6px; }}"


def _plain_label(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)  # job errors quote the service
    label.setWordWrap(True)
    return label


class StillRunningNotice(QFrame):
    """Says that a cancelled-after-upload task goes on at the service (and may bill).

    ``keepChecking(job_id)`` when the user asks to keep checking in the background."""

    keepChecking = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("stillRunningNotice")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet(NOTICE_STYLE.format(name="stillRunningNotice"))
        self.setAccessibleName("Task still running")
        self.job_id: int | None = None
        self.title = _plain_label()
        self.title.setStyleSheet("font-weight: bold;")
        self.message = _plain_label()
        self.keep_button = QPushButton("Keep checking in the background")
        self.keep_button.setToolTip(
            "Poll the task without taking over the viewer; you are told when it is done. "
            "Nothing is submitted again."
        )
        self.keep_button.clicked.connect(self._keep)
        self.dismiss_button = QPushButton("Dismiss")
        self.dismiss_button.clicked.connect(self.hide)
        buttons = QHBoxLayout()
        buttons.addWidget(self.keep_button)
        buttons.addStretch(1)
        buttons.addWidget(self.dismiss_button)
        box = QVBoxLayout(self)
        box.addWidget(self.title)
        box.addWidget(self.message)
        box.addLayout(buttons)
        self.hide()

    def show_for(self, job_id: int, task_id: str, job: Job | None = None) -> None:
        """Job ``job_id``'s task ``task_id`` goes on at the service (``job``, as stored,
        says which stage it is and so what it bills)."""
        self.job_id = job_id
        self.title.setText(f"Stopped waiting — task {task_id} goes on at the service")
        self.message.setText(
            f"The images of job {job_id} were already sent, so the service keeps working "
            f"on them; {billing_text(job)} The result is kept for 24 hours: keep checking "
            "in the background now, or open the job later in History and resume it."
        )
        self.keep_button.setEnabled(True)
        self.show()

    @Slot()
    def _keep(self) -> None:
        if self.job_id is not None:
            self.keepChecking.emit(self.job_id)


def billing_text(job: Job | None) -> str:
    """What the task a stopped wait leaves running bills: the stage it is at (a
    two-stage job's try-on, or the refinement) and its cost, and for a try-on the
    refinement that follows if the user keeps checking."""
    if job is None or job.tryon is None or job.tryon.done:
        return f"it bills {CREDITS_PER_REFINEMENT} credits if the refinement succeeds."
    model = job.tryon.model
    text = (
        f"this task makes the coarse image with {MODEL_NAMES.get(model, model)} and bills "
        f"{COSTS.get(model, 0)} credits if it succeeds."
    )
    if job.kind == "tryon_refine":
        text += (
            f" If you keep checking, the refinement ({CREDITS_PER_REFINEMENT} credits) is "
            "sent once the coarse image is made."
        )
    return text


class FinishedJobsNotice(QFrame):
    """Lists jobs that ended while nobody watched them, until the user dismisses it.

    ``openRequested(job_id)`` from a line's Show button."""

    openRequested = Signal(int)
    seen = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("finishedJobsNotice")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet(NOTICE_STYLE.format(name="finishedJobsNotice"))
        self.setAccessibleName("Jobs finished in the background")
        self._jobs: dict[int, tuple[Job, str]] = {}  # job id -> (job, where it ended)
        self.title = _plain_label()
        self.title.setStyleSheet("font-weight: bold;")
        self._rows = QVBoxLayout()
        self.dismiss_button = QPushButton("Got it")
        self.dismiss_button.setToolTip("Hide this list (the jobs stay in History)")
        self.dismiss_button.clicked.connect(self.dismiss)
        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(self.dismiss_button, 0, Qt.AlignmentFlag.AlignTop)
        box = QVBoxLayout(self)
        box.addLayout(top)
        box.addLayout(self._rows)
        self.hide()

    def job_ids(self) -> list[int]:
        """The listed jobs, in the order they arrived."""
        return list(self._jobs)

    def add(self, jobs: list[Job], where: str) -> None:
        """List ``jobs`` (a job already listed is updated); ``where``: :data:`CLOSED`
        (recovered at start-up) or :data:`BACKGROUND`."""
        for job in jobs:
            self._jobs[job.id] = (job, where)
        self._rebuild()

    @Slot()
    def dismiss(self) -> None:
        """The user has seen the list: clear and hide it."""
        self._jobs.clear()
        self._rebuild()
        self.seen.emit()

    def _rebuild(self) -> None:
        while self._rows.count():
            item = self._rows.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                # Deleted by the GUI thread's event loop while still parented: a widget
                # left to Python's garbage collector may be destroyed on another thread.
                widget.hide()
                widget.deleteLater()
        if not self._jobs:
            self.hide()
            return
        counts: dict[str, int] = {}
        for job, _ in self._jobs.values():
            counts[job.state.label] = counts.get(job.state.label, 0) + 1
        wheres = {where for _, where in self._jobs.values()}
        if len(wheres) == 1:
            all_done, some = HEADINGS[next(iter(wheres))]
        else:  # recovered ones and background checks together
            all_done, some = "finished without being watched", "not watched"
        n = len(self._jobs)
        jobs = f"{n} job{'s' if n != 1 else ''}"
        if set(counts) == {JobState.SUCCEEDED.label}:
            self.title.setText(f"{jobs} {all_done}")
        else:
            parts = ", ".join(f"{k} {label.lower()}" for label, k in counts.items())
            self.title.setText(f"{jobs} {some}: {parts}")
        listed = list(self._jobs.values())
        for job, _ in listed[:MAX_ROWS]:
            self._rows.addWidget(self._row(job))
        if len(listed) > MAX_ROWS:
            more = _plain_label(f"… and {len(listed) - MAX_ROWS} more: see History.")
            self._rows.addWidget(more)
        self.show()

    def _row(self, job: Job) -> QWidget:
        row = QWidget()
        line = QHBoxLayout(row)
        line.setContentsMargins(0, 0, 0, 0)
        text = f"Job {job.id} · {job.state.label}"
        if job.task_id:
            text += f" · task {job.task_id}"
        if job.state is not JobState.SUCCEEDED and job.error_message:
            text += f" — {one_line(job.error_message)}"
        label = _plain_label(text)
        label.setAccessibleName(f"Job {job.id}")
        show = QPushButton("Show")
        show.setAccessibleName(f"Show job {job.id}")
        show.setToolTip(
            "Open its result in the viewer"
            if job.state is JobState.SUCCEEDED
            else "Show what happened to it"
        )
        show.clicked.connect(lambda _=False, job_id=job.id: self.openRequested.emit(job_id))
        line.addWidget(label, 1)
        line.addWidget(show)
        return row


class BackgroundJobs(QObject):
    """Keeps the books of jobs the window does not show, and drives the two notices.

    Args:
        jobs: the job controller (its signals about runs this object started).
        open_job: shows a stored job in the viewer (the review controller's ``open_job``).
        anchor: the notices are laid out right after this widget (the error panel).
        parent: the owner (the window content).
    """

    checkEnded = Signal(int)  # job id: a background check of it ended (listed if it settled)

    def __init__(
        self,
        jobs: JobController,
        open_job: Callable[[int], None],
        anchor: QWidget,
        parent: QObject,
    ) -> None:
        super().__init__(parent)
        self._jobs = jobs
        self._runs: dict[int, int] = {}  # run id -> job id, for background checks
        self.still_running = StillRunningNotice()
        self.finished = FinishedJobsNotice()
        place_after(anchor, self.finished)
        place_after(anchor, self.still_running)
        self.still_running.keepChecking.connect(self.keep_checking)
        self.finished.openRequested.connect(open_job)
        jobs.succeeded.connect(self._on_succeeded)
        jobs.failed.connect(self._on_failed)
        jobs.runEnded.connect(self._on_run_ended)
        jobs.recovered.connect(self._on_recovered)

    def is_checking(self, job_id: int) -> bool:
        """Whether a background check of this job runs."""
        return job_id in self._runs.values()

    def cancelled_after_upload(self, job_id: int, task_id: str) -> None:
        """The user stopped waiting for a submitted job: say what that means (and what
        the stage it stopped at bills)."""
        try:
            job: Job | None = self._jobs.store.get(job_id)
        except KeyError:
            job = None
        self.still_running.show_for(job_id, task_id, job)

    def finished_while_reviewing(self, job: Job, status_bar: QStatusBar) -> None:
        """The window's job finished while the reviewer looks at another stored look:
        list it (Show opens it) instead of replacing that look, and say so."""
        self.finished.add([job], BACKGROUND)
        status_bar.showMessage(
            f"Job {job.id} finished; it is listed above (Show opens it). The look you are "
            "reviewing stays.",
            10_000,
        )

    @Slot(int)
    def keep_checking(self, job_id: int) -> None:
        """Resume ``job_id`` without showing it; it is listed once it ends."""
        run_id = self._jobs.resume(job_id)
        self.still_running.hide()
        if run_id is not None:
            self._runs[run_id] = job_id

    @Slot(object)
    def _on_recovered(self, jobs: list[Job]) -> None:
        if jobs:
            self.finished.add(jobs, CLOSED)

    @Slot(int, object)
    def _on_succeeded(self, run_id: int, outcome: JobOutcome) -> None:
        if run_id in self._runs:
            self.finished.add([outcome.job], BACKGROUND)

    @Slot(int, object)
    def _on_failed(self, run_id: int, error: RefinerError) -> None:
        job_id = self._runs.get(run_id)
        if job_id is None or self._jobs.is_closed():
            return
        try:
            job = self._jobs.store.get(job_id)
        except KeyError:
            return
        self.finished.add([job], BACKGROUND)

    @Slot(int)
    def _on_run_ended(self, run_id: int) -> None:
        job_id = self._runs.pop(run_id, None)
        if job_id is not None:
            self.checkEnded.emit(job_id)


def place_after(anchor: QWidget, widget: QWidget) -> None:
    """Put ``widget`` right after ``anchor`` in ``anchor``'s box layout."""
    parent = anchor.parentWidget()
    layout = parent.layout() if parent is not None else None
    if not isinstance(layout, QBoxLayout):
        raise ValueError("the anchor is not in a box layout")
    layout.insertWidget(layout.indexOf(anchor) + 1, widget)
