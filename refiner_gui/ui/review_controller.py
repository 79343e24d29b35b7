"""QA review: which job the viewer shows, its verdict, blind mode, next and previous.

The controller between the history panel, the review bar and the compare viewer. It
decides; they draw. GUI thread only; images are decoded on the thread pool.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtGui import QImage

from refiner_gui.jobs import JobFilter, JobState, JobStore
from refiner_gui.threads import run_task
from refiner_gui.ui.blind import BlindAssignment, new_session_salt
from refiner_gui.ui.history import HistoryPanel
from refiner_gui.ui.review import Review, ReviewBar
from refiner_gui.workers import JobOutcome, load_job_images

log = logging.getLogger(__name__)

LABELS = ("Coarse", "Refined")

Picture = tuple[QImage, tuple[QImage, ...]]
"""An image and its zoom levels (see :class:`~refiner_gui.workers.JobOutcome`)."""
Display = Callable[[JobOutcome, Picture, Picture, str, str], None]


class ReviewController(QObject):
    """Keeps the viewer, the review bar and the store in step for the shown job.

    Args:
        display: shows ``(outcome, left picture, right picture, left label, right label)``
            in the viewer (a picture is an image with its zoom levels); the window owns
            the viewer.
    """

    shown = Signal(int)  # job id now in the viewer
    openFailed = Signal(int, str)  # job id, why it cannot be shown (no result...)

    def __init__(
        self,
        store: JobStore,
        history: HistoryPanel,
        bar: ReviewBar,
        display: Display,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.store = store
        self.history = history
        self.bar = bar
        self._display = display
        self._salt = new_session_salt()
        self._outcome: JobOutcome | None = None
        self._assignment: BlindAssignment | None = None
        self._revealed = True
        self._loading: int | None = None
        bar.set_enabled_review(False)
        bar.reviewChanged.connect(self._on_review)
        bar.nextRequested.connect(self.next_job)
        bar.previousRequested.connect(self.previous_job)
        bar.revealRequested.connect(self._reveal)
        bar.blindChanged.connect(self._on_blind_changed)
        history.openRequested.connect(self.open_job)
        history.jobsDeleted.connect(self._on_deleted)

    @property
    def job_id(self) -> int | None:
        return self._outcome.job.id if self._outcome else None

    # -- showing --------------------------------------------------------------------------

    @Slot(int)
    def open_job(self, job_id: int) -> None:
        """Show a stored job (decoded in the background). GUI thread."""
        try:
            job = self.store.get(job_id)
        except KeyError:
            return
        if job.state is not JobState.SUCCEEDED or job.result_path is None:
            self.openFailed.emit(job_id, f"Job {job_id} has no result ({job.state.label}).")
            return
        self.bar.commit_pending()  # a note being typed belongs to the job shown until now
        self._loading = job_id
        run_task(
            lambda: load_job_images(job),
            lambda outcome: self._on_loaded(job_id, outcome),
            lambda exc: self._on_load_error(job_id, exc),
            owner=self,
        )

    def _on_loaded(self, job_id: int, outcome: JobOutcome) -> None:
        if job_id != self._loading:  # a newer request won
            return
        self._loading = None
        self.present(outcome)

    def _on_load_error(self, job_id: int, exc: Exception) -> None:
        if job_id == self._loading:
            self._loading = None
        self.openFailed.emit(job_id, f"Job {job_id} cannot be shown: {exc}")

    def present(self, outcome: JobOutcome) -> None:
        """Show a finished job: images (shuffled in blind mode), its review, its position."""
        self._loading = None  # an older open request must not replace what is shown now
        self.bar.commit_pending()
        self._outcome = outcome
        job = outcome.job
        blind = self.bar.blind() and job.verdict is None
        self._assignment = BlindAssignment.draw(seed=job.id ^ self._salt) if blind else None
        self._revealed = not blind
        self._redisplay()
        self.bar.set_review(job.verdict, job.tags, job.note)
        self.bar.set_enabled_review(True)
        self._update_position()
        self.history.select_job(job.id)
        self.shown.emit(job.id)

    def _redisplay(self) -> None:
        if self._outcome is None:
            return
        o = self._outcome
        coarse: Picture = (o.coarse, o.coarse_levels)
        refined: Picture = (o.refined, o.refined_levels)
        if self._assignment is None:
            self._display(o, coarse, refined, *LABELS)
        else:
            left, right = self._assignment.order(coarse, refined)
            self._display(o, left, right, *self._assignment.labels(self._revealed))

    def _update_position(self) -> None:
        ids = self._reviewable_ids()
        job_id = self.job_id
        if job_id in ids:
            self.bar.set_position(ids.index(job_id), len(ids))
        else:
            self.bar.set_position(None, len(ids) or None)

    def _reviewable_ids(self) -> list[int]:
        """The history's visible jobs that have a result, in view order."""
        done = set(self.store.list_ids(JobFilter(states=(JobState.SUCCEEDED,))))
        return [i for i in self.history.visible_job_ids() if i in done]

    # -- review ---------------------------------------------------------------------------

    @Slot(object)
    def _on_review(self, review: Review) -> None:
        job_id = self.job_id
        if job_id is None:
            return
        job = self.store.set_review(job_id, review.verdict, review.tags, review.note)
        assert self._outcome is not None
        self._outcome = dataclasses.replace(self._outcome, job=job)
        self.history.job_changed(job_id)
        if review.verdict is not None and not self._revealed:
            self._reveal()

    @Slot()
    def _reveal(self) -> None:
        if self._assignment is not None and not self._revealed:
            self._revealed = True
            self._redisplay()

    @Slot(bool)
    def _on_blind_changed(self, on: bool) -> None:
        if self._outcome is not None:
            self.present(self._outcome)

    # -- navigation -----------------------------------------------------------------------

    def _step(self, delta: int) -> None:
        ids = self._reviewable_ids()
        if not ids:
            return
        job_id = self.job_id
        # From the shown job; with none shown (or it is filtered out), from the list's end.
        start = 0 if delta > 0 else len(ids) - 1
        i = ids.index(job_id) + delta if job_id in ids else start
        if 0 <= i < len(ids):
            self.open_job(ids[i])

    @Slot()
    def next_job(self) -> None:
        self._step(+1)

    @Slot()
    def previous_job(self) -> None:
        self._step(-1)

    @Slot(list)
    def _on_deleted(self, ids: list) -> None:
        if self.job_id in ids:
            self._outcome = None
            self.bar.set_enabled_review(False)
