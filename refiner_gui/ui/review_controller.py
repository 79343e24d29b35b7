"""QA review: which job the viewer shows, its verdict, blind mode, next and previous, undo.

The controller between the history panel, the review bar and the compare viewer. It
decides; they draw. GUI thread only; images are decoded on the thread pool.

Every review change lands on the job whose look is on screen (``job_id``): the bar shows
that job's review, and the view changes only when a look is presented. Ctrl+Z (:meth:`undo`)
restores the last verdict, tag or blind-answer change and shows that look again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtGui import QImage

from refiner_gui.jobs import Job, JobFilter, JobState, JobStore
from refiner_gui.threads import run_task
from refiner_gui.ui.blind import BlindAssignment, new_session_salt
from refiner_gui.ui.history import HistoryPanel
from refiner_gui.ui.review import Review, ReviewBar
from refiner_gui.ui.review_undo import ReviewSnapshot, UndoStack, describe_change
from refiner_gui.workers import JobOutcome, load_job_images

log = logging.getLogger(__name__)

LABELS = ("Coarse", "Refined")

ANSWER_WORDS = {"refined": "the refined image better", "coarse": "the coarse image better"}

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
    undoChanged = Signal(bool)  # whether :meth:`undo` has something to undo now

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
        self._seen: set[int] = set()  # looks shown unblinded this session: never re-hidden
        self._undo = UndoStack()
        bar.set_enabled_review(False)
        bar.reviewChanged.connect(self._on_review)
        bar.nextRequested.connect(self.next_job)
        bar.previousRequested.connect(self.previous_job)
        bar.preferenceChosen.connect(self._on_preference)
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
        # The review as stored now, not as it was when the images started loading (a job
        # deleted meanwhile is shown as it was; saving to it is then a no-op).
        with contextlib.suppress(KeyError):
            outcome = dataclasses.replace(outcome, job=self.store.get(outcome.job.id))
        self._outcome = outcome
        job = outcome.job
        # Blind only while the reviewer has not judged or seen this look unblinded.
        blind = (
            self.bar.blind()
            and job.verdict is None
            and job.preference is None
            and job.id not in self._seen
        )
        self._assignment = BlindAssignment.draw(seed=job.id ^ self._salt) if blind else None
        self._revealed = not blind
        self._redisplay()
        self.bar.set_look_name(f"job {job.id}")
        self.bar.set_review(
            job.verdict, job.tags, job.note, revealed=not blind, answer=self._answer_text(job)
        )
        self.bar.set_enabled_review(True)
        self._update_position()
        self.history.select_job(job.id)
        self.shown.emit(job.id)

    def _redisplay(self) -> None:
        if self._outcome is None:
            return
        o = self._outcome
        if self._revealed:
            self._seen.add(o.job.id)
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
        try:
            old = self.store.get(job_id)
        except KeyError:
            return  # deleted meanwhile (another window, the CLI): nothing to save to
        what = describe_change(old, review.verdict, tuple(review.tags))
        job = self.store.set_review(job_id, review.verdict, review.tags, review.note)
        if what is not None:
            self._push_undo(ReviewSnapshot.before(old, what))
        self._replace_shown(job)

    @Slot(str)
    def _on_preference(self, answer: str) -> None:
        """The blind answer by side caption ("A", "B", "same"): stored unblinded."""
        job_id, assignment = self.job_id, self._assignment
        if job_id is None or assignment is None or self._revealed:
            return
        if answer == "same":
            preference = "same"
        else:
            side = "left" if answer == "A" else "right"
            preference = "refined" if side == assignment.which_is_refined() else "coarse"
        old = self.store.get(job_id)
        job = self.store.set_preference(job_id, preference)
        self._push_undo(ReviewSnapshot.before(old, "the blind answer"))
        self._replace_shown(job)
        self._reveal()
        self.bar.set_blind_answer(self._answer_text(job))

    def _replace_shown(self, job: Job) -> None:
        assert self._outcome is not None
        self._outcome = dataclasses.replace(self._outcome, job=job)
        self.history.job_changed(job.id)

    def _answer_text(self, job: Job) -> str:
        """The stored blind answer in words, naming the side when this view shuffled."""
        if job.preference is None:
            return ""
        if job.preference == "same":
            return "You found them the same"
        side = ""
        if self._assignment is not None and self._outcome and self._outcome.job.id == job.id:
            refined_left = self._assignment.which_is_refined() == "left"
            side = "A: " if refined_left == (job.preference == "refined") else "B: "
        return f"You chose {side}{ANSWER_WORDS[job.preference]}"

    # -- undo -----------------------------------------------------------------------------

    def can_undo(self) -> bool:
        """Whether :meth:`undo` has a change to undo."""
        return len(self._undo) > 0

    def _push_undo(self, snapshot: ReviewSnapshot) -> None:
        self._undo.push(snapshot)
        self.undoChanged.emit(True)

    def undo(self) -> str | None:
        """Restore the review before the last verdict, tag or blind-answer change, and show
        that look (the note stays as it is). Returns what was undone, in words, or None
        when there was nothing. GUI thread."""
        self.bar.commit_pending()  # a typed note belongs to the look shown now
        message = None
        while (entry := self._undo.pop()) is not None:
            try:
                job = self.store.get(entry.job_id)
            except KeyError:
                continue  # deleted meanwhile
            job = self.store.set_review(job.id, entry.verdict, entry.tags, job.note)
            if job.preference != entry.preference:
                job = self.store.set_preference(job.id, entry.preference)
            self.history.job_changed(job.id)
            if job.id == self.job_id:
                self._loading = None  # stay: the reviewer must see what changed
                self._replace_shown(job)
                self.bar.set_review(
                    job.verdict,
                    job.tags,
                    job.note,
                    revealed=self._revealed,
                    answer=self._answer_text(job),
                )
            else:
                self.open_job(job.id)
            message = f"Undone: {entry.what} of job {job.id}."
            break
        self.undoChanged.emit(self.can_undo())
        return message

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

    def review_from_start(self) -> bool:
        """Open the first look of the history's list (as filtered and sorted now) that has
        a result; False when there is none."""
        ids = self._reviewable_ids()
        if ids:
            self.open_job(ids[0])
        return bool(ids)

    @Slot()
    def next_job(self) -> None:
        self._step(+1)

    @Slot()
    def previous_job(self) -> None:
        self._step(-1)

    @Slot(list)
    def _on_deleted(self, ids: list) -> None:
        for job_id in ids:
            self._undo.drop_job(job_id)
        self.undoChanged.emit(self.can_undo())
        if self.job_id in ids:
            self._outcome = None
            self.bar.set_enabled_review(False)
