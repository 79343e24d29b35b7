"""What the window says about the job it runs: a progress bar and a stage line with the
time so far, the task id and, while the task runs, the time it usually still takes
("Refining · 12 s · usually done in ~20 s · task abc").

A view helper: the window content tells it when a job starts, progresses and ends; it
never decides anything. GUI thread only.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, QTimer, Slot
from PySide6.QtWidgets import QLabel, QProgressBar

from refiner_gui.api import ProgressEvent, RefinerError, Stage
from refiner_gui.api.progress import expected_left_text

STAGE_TEXT = {
    Stage.CHECKING: "Checking images",
    Stage.WAITING_SLOT: "Waiting: the app already runs 5 tasks at the service",
    Stage.UPLOADING: "Uploading",
    Stage.QUEUED: "Queued at the service",
    Stage.PROCESSING: "Refining",
    Stage.DOWNLOADING: "Downloading the result",
    Stage.DONE: "Done",
}

TICK_MS = 200


class JobStatus(QObject):
    """Drives ``progress`` and ``label`` for one job at a time.

    Between :meth:`start` and :meth:`finish`/:meth:`fail` the label ticks every
    :data:`TICK_MS`; afterwards it keeps the final text until the next start.
    """

    def __init__(self, progress: QProgressBar, label: QLabel, parent: QObject) -> None:
        super().__init__(parent)
        self._progress = progress
        self._label = label
        self._stage = ""
        self._task_id: str | None = None
        self._started = 0.0
        self._since: float | None = None  # wall-clock origin of a resumed job's clock
        self._active = False
        self._left: tuple[float, float] | None = None  # (seconds left, monotonic when said)
        # A child timer dies with its parent, so it can never fire into a deleted label.
        self._tick = QTimer(self)
        self._tick.setInterval(TICK_MS)
        self._tick.timeout.connect(self._show)

    @property
    def task_id(self) -> str | None:
        """The shown job's task id, once known."""
        return self._task_id

    def is_active(self) -> bool:
        """Whether a job is being shown as running."""
        return self._active

    def start(self, stage_text: str, *, since: float | None = None) -> None:
        """A job started: busy bar, ``stage_text``, the clock from zero; or, for a resumed
        job, from ``since`` (its ``submitted_at``, wall-clock seconds)."""
        self._active = True
        self._stage = stage_text
        self._task_id = None
        self._left = None
        self._started = time.monotonic()
        self._since = since
        self._progress.setRange(0, 0)
        self._progress.show()
        self._tick.start()
        self._show()

    def set_stage_text(self, text: str) -> None:
        """Say ``text`` for the rest of the job (e.g. "Cancelling"); nothing once it
        has ended."""
        self._stage = text
        self._show()

    def set_task(self, task_id: str) -> None:
        """The job's task id is known."""
        self._task_id = task_id
        self._show()

    def progress(self, event: ProgressEvent) -> None:
        """A stage change or a byte count of the running job."""
        if event.task_id:
            self._task_id = event.task_id
        text = STAGE_TEXT.get(event.stage, event.stage.value)
        if event.bytes_total and event.bytes_done is not None:
            pct = event.bytes_done * 100 // max(event.bytes_total, 1)
            text += f" {pct}%"
            self._progress.setRange(0, 100)
            self._progress.setValue(pct)
        else:
            self._progress.setRange(0, 0)
        running = event.stage in (Stage.QUEUED, Stage.PROCESSING)
        said = event.expected_left
        self._left = (said, time.monotonic()) if running and said is not None else None
        self._stage = text
        self._show()

    def finish(self, task_id: str | None, *, resumed: bool = False) -> None:
        """The job succeeded: "Done in N s · task T", timed from its submission.

        A resumed job is timed from the ``since`` given to :meth:`start`; without one its
        time is unknown, and the line says "Done" without a time (never "Done in 0 s")."""
        elapsed = self._end()
        if resumed and self._since is None:
            self._label.setText(f"Done · task {task_id}")
            return
        self._label.setText(f"Done in {elapsed_text(elapsed)} · task {task_id}")

    def stop_with(self, text: str) -> None:
        """The job stopped and ``text`` says how (kept until the next start)."""
        self._end()
        self._label.setText(text)

    def fail(self, error: RefinerError) -> None:
        """The job failed: its title and task id stay on the line."""
        self._end()
        task = error.task_id or self._task_id
        self._label.setText(error.title + (f" · task {task}" if task else ""))

    def ended(self) -> None:
        """The job's thread is gone: hide the bar (the text stays)."""
        self._end()
        self._progress.hide()

    def _end(self) -> float:
        # Stopped first, and inactive: neither the ticker nor a late "Cancelling" may
        # overwrite the final text.
        self._active = False
        self._tick.stop()
        return self._elapsed()

    def _elapsed(self) -> float:
        if self._since is not None:
            return max(0.0, time.time() - self._since)
        return time.monotonic() - self._started

    @Slot()
    def _show(self) -> None:
        if not self._active:
            return
        elapsed = self._elapsed()
        task = f" · task {self._task_id}" if self._task_id else ""
        left = ""
        if self._left is not None:  # counts down between polls
            seconds, said_at = self._left
            left = " · " + expected_left_text(max(0.0, seconds - (time.monotonic() - said_at)))
        self._label.setText(f"{self._stage} · {elapsed_text(elapsed)}{left}{task}")


def elapsed_text(seconds: float) -> str:
    """A job's time so far: "under 1 s", "42 s", "7 min 5 s", "3 h 12 min"."""
    if seconds < 0.5:  # "0 s" reads as a clock that never started
        return "under 1 s"
    whole = round(seconds)
    if whole < 120:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    return f"{whole // 3600} h {whole % 3600 // 60} min"
