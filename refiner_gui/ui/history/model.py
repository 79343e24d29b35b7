"""The history table's model: the ids of the jobs that match, and a small page cache of jobs.

Filtering and sorting happen in SQLite (:meth:`JobStore.list_ids`), never in a proxy over
all rows: a query gives the ordered ids (cheap for tens of thousands), and :class:`Job`
objects are fetched with :meth:`JobStore.get_many` a page at a time, only for the rows the
view asks about, i.e. the rows it paints. Thumbnails are asked for the same way.

GUI thread only. The store is thread-safe; this model uses the GUI thread's connection.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Slot,
)
from PySide6.QtGui import QColor, QPainter, QPalette, QPixmap

from refiner_gui.jobs.models import DEFECT_TAGS, Job, JobState
from refiner_gui.jobs.store import JobFilter, JobStore
from refiner_gui.safe_text import plain_tooltip
from refiner_gui.slots import COARSE
from refiner_gui.ui.history.thumbnails import ThumbKey, ThumbnailCache

Index = QModelIndex | QPersistentModelIndex

# Columns, in view order.
THUMBS, STATE, DATE, GENDER, VERDICT, TAGS, TASK, NOTE = range(8)
HEADERS = ("Coarse · Refined", "State", "Date", "Gender", "Verdict", "Tags", "Task id", "Note")
HEADER_TIPS = (
    "Left: the coarse try-on sent to the service. Right: the refined result.",
    "Where the job is. Click to sort.",
    "When the job was created (local time). Click to sort.",
    "The gender sent with the job. Click to sort.",
    "The review verdict. Click to sort.",
    "Defects noted in review.",
    "The service's task id (quote it to support).",
    "The reviewer's note.",
)
#: The columns a header click sorts by, and the store column each one means.
SORT_KEYS: dict[int, str] = {
    DATE: "created_at",
    STATE: "state",
    GENDER: "gender",
    VERDICT: "verdict",
}

JOB_ID_ROLE = Qt.ItemDataRole.UserRole + 1
JOB_ROLE = Qt.ItemDataRole.UserRole + 2

# Jobs fetched per get_many. Measured with bench/history.py (10,000 jobs, scrolled end to
# end): 200 per page cost ~10 ms per fetch and stalls of 40-65 ms; 50 per page keeps the
# longest stall near 20 ms and still covers several screens per fetch.
PAGE_SIZE = 50
JOB_CACHE_PAGES = 20  # ~1,000 jobs: many screens either side of any scroll position
JOB_CACHE_MIN = 500

# Fixed status colours: mid-tones that read on light and dark palettes alike, and the dot
# always sits next to the label, so colour is never the only cue.
_GREEN, _RED, _BLUE, _AMBER, _GREY = "#2e9d4f", "#d64541", "#3b7dd8", "#e0a000", "#8c8c8c"
STATE_COLOURS: dict[JobState, str] = {
    JobState.SUCCEEDED: _GREEN,
    JobState.FAILED: _RED,
    JobState.PENDING: _BLUE,
    JobState.SUBMITTING: _BLUE,
    JobState.SUBMITTED: _BLUE,
    JobState.OUTCOME_UNKNOWN: _AMBER,
    JobState.EXPIRED: _GREY,
    JobState.CANCELLED: _GREY,
}
STATE_TIPS: dict[JobState, str] = {
    JobState.PENDING: "Stored, not sent yet.",
    JobState.SUBMITTING: "Being uploaded to the service.",
    JobState.SUBMITTED: "Sent; waiting for the service's result.",
    JobState.SUCCEEDED: "The refined result is stored.",
    JobState.FAILED: "The service refused the request or the task failed (not billed).",
    JobState.OUTCOME_UNKNOWN: (
        "Uploaded, but no answer came back. It may exist and be "
        "billed; it is not re-sent automatically."
    ),
    JobState.EXPIRED: "The result was not fetched within 24 hours; the service discarded it.",
    JobState.CANCELLED: "Stopped before anything was sent.",
}
VERDICT_TEXT = {"pass": "✓ Pass", "fail": "✗ Fail", None: "—"}


def format_date(ts: float, now: float | None = None) -> str:
    """``25 Nov 14:03`` in local time; the year is added when it is not this year."""
    t = time.localtime(ts)
    this_year = time.localtime(now if now is not None else time.time()).tm_year
    text = f"{t.tm_mday} {time.strftime('%b', t)}"
    if t.tm_year != this_year:
        text += f" {t.tm_year}"
    return f"{text} {time.strftime('%H:%M', t)}"


def tag_labels(tags: Sequence[str]) -> str:
    return ", ".join(DEFECT_TAGS.get(t, t) for t in tags)


def matches(job: Job, f: JobFilter) -> bool:
    """Whether ``job`` passes ``f`` as :meth:`JobStore.list_ids` would decide.

    Used to update one changed row in place instead of re-querying; the text part follows
    SQLite's ``LIKE`` (case-insensitive) over the same fields.
    """
    if f.states and job.state not in f.states:
        return False
    if f.verdict == "unreviewed" and job.verdict is not None:
        return False
    if f.verdict in ("pass", "fail") and job.verdict != f.verdict:
        return False
    if f.tag and f.tag not in job.tags:
        return False
    text = f.text.strip().lower()
    if text:
        hay = [
            job.task_id or "",
            (job.tryon.task_id or "") if job.tryon else "",
            job.note,
            job.gender,
            json.dumps(job.error) if job.error else "",
            json.dumps(list(job.tags)),
        ]
        hay += [i.name for i in job.inputs.values()]
        if str(job.id) != text and not any(text in h.lower() for h in hay):
            return False
    return True


class HistoryModel(QAbstractTableModel):
    """One row per job id from the last query. GUI thread only.

    The model holds the ordered ids, a row-by-id map, and an LRU of at most
    ``PAGE_SIZE * JOB_CACHE_PAGES`` jobs. ``data`` of an uncached row fetches that row's
    whole page with one ``get_many``.
    """

    def __init__(
        self, store: JobStore, thumbnails: ThumbnailCache, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._store = store
        self._thumbs = thumbnails
        self._ids: list[int] = []
        self._row_of: dict[int, int] = {}
        self._jobs: OrderedDict[int, Job] = OrderedDict()
        self.page_size = PAGE_SIZE
        self._filter = JobFilter()
        self._sort = "created_at"
        self._descending = True
        self._dpr = 1.0
        self._placeholder: QPixmap | None = None
        self._dots: dict[str, QPixmap] = {}
        self._thumb_rows: dict[ThumbKey, set[int]] = {}  # key -> job ids that wait for it
        thumbnails.ready.connect(self._on_thumbnail_ready)

    # -- query ------------------------------------------------------------------------------

    @property
    def job_filter(self) -> JobFilter:
        return self._filter

    @property
    def sort_key(self) -> tuple[str, bool]:
        return self._sort, self._descending

    def set_query(
        self, f: JobFilter | None = None, sort: str | None = None, descending: bool | None = None
    ) -> None:
        """Change what is listed (``None`` keeps a part) and re-query."""
        if f is not None:
            self._filter = f
        if sort is not None:
            self._sort = sort
        if descending is not None:
            self._descending = descending
        self.requery()

    def requery(self) -> None:
        """Fetch the ids again (jobs came, went or changed). Resets the model."""
        ids = self._store.list_ids(self._filter, sort=self._sort, descending=self._descending)
        self.beginResetModel()
        self._ids = ids
        self._row_of = {job_id: row for row, job_id in enumerate(ids)}
        self._jobs.clear()  # they may have changed; pages are cheap to fetch again
        self._thumb_rows.clear()
        self.endResetModel()

    def update_job(self, job: Job) -> bool:
        """Show ``job``'s new data in its row if that keeps the list right.

        Returns False when the caller must re-query instead: the job is not listed, no
        longer matches the filter, or moved in the sort order.
        """
        row = self._row_of.get(job.id)
        if row is None or not matches(job, self._filter):
            return False
        old = self._jobs.get(job.id)
        # Store sort columns are named like Job fields; created_at and id never change.
        if self._sort not in ("created_at", "id") and (
            old is None or getattr(old, self._sort) != getattr(job, self._sort)
        ):
            return False
        self._remember(job)
        self.dataChanged.emit(self.index(row, 0), self.index(row, self.columnCount() - 1))
        return True

    def set_device_pixel_ratio(self, dpr: float) -> None:
        if abs(dpr - self._dpr) > 1e-3:
            self._dpr = dpr
            self._placeholder = None
            self._dots.clear()
            if self._ids:
                self.dataChanged.emit(self.index(0, THUMBS), self.index(len(self._ids) - 1, STATE))

    def palette_changed(self) -> None:
        """Drop pictures drawn with the old palette colours."""
        self._placeholder = None

    # -- lookups ----------------------------------------------------------------------------

    def ids(self) -> list[int]:
        return list(self._ids)

    def row_of(self, job_id: int) -> int | None:
        return self._row_of.get(job_id)

    def job_id(self, row: int) -> int:
        return self._ids[row]

    def job_at(self, row: int) -> Job | None:
        """The job shown in ``row``, fetching its page if needed (None if it vanished)."""
        job_id = self._ids[row]
        job = self._jobs.get(job_id)
        if job is not None:
            self._jobs.move_to_end(job_id)
            return job
        start = row - row % self.page_size
        page = [i for i in self._ids[start : start + self.page_size] if i not in self._jobs]
        for fetched in self._store.get_many(page):
            self._remember(fetched)
        return self._jobs.get(job_id)

    def _remember(self, job: Job) -> None:
        self._jobs[job.id] = job
        self._jobs.move_to_end(job.id)
        while len(self._jobs) > max(self.page_size * JOB_CACHE_PAGES, JOB_CACHE_MIN):
            self._jobs.popitem(last=False)

    # -- Qt model API -----------------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 (Qt's default)
        return 0 if parent.isValid() else len(self._ids)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(HEADERS):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[section]
        if role == Qt.ItemDataRole.ToolTipRole:
            tip = HEADER_TIPS[section]
            if SORT_KEYS.get(section) == self._sort:
                # Qt draws the arrow of a descending sort pointing up; say it in words.
                if section == DATE:
                    order = "newest first" if self._descending else "oldest first"
                else:
                    order = "Z to A" if self._descending else "A to Z"
                tip += f" Sorted {order}; click to reverse."
            return tip
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Header click: re-query sorted in SQLite. Columns outside SORT_KEYS are ignored."""
        key = SORT_KEYS.get(column)
        if key is None:
            return
        descending = order == Qt.SortOrder.DescendingOrder
        if (key, descending) != (self._sort, self._descending):
            self.set_query(sort=key, descending=descending)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._ids):
            return None
        if role == JOB_ID_ROLE:
            return self._ids[index.row()]
        job = self.job_at(index.row())
        if job is None:  # deleted since the last query; the next refresh drops the row
            return "…" if role == Qt.ItemDataRole.DisplayRole and index.column() == STATE else None
        if role == JOB_ROLE:
            return job
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(job, col)
        if role == Qt.ItemDataRole.DecorationRole:
            if col == THUMBS:
                return self._thumbnail(job)
            if col == STATE:
                return self._dot(STATE_COLOURS[job.state])
            return None
        if role == Qt.ItemDataRole.ToolTipRole:
            # Error text (from the service) and notes are shown literally, never as HTML.
            tip = self._tooltip(job, col)
            return plain_tooltip(tip) if tip else tip
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return self._accessible(job, col)
        return None

    # -- cells ------------------------------------------------------------------------------

    def _display(self, job: Job, col: int) -> str | None:
        if col == STATE:
            return state_text(job)
        if col == DATE:
            return format_date(job.created_at)
        if col == GENDER:
            return job.gender.capitalize() if job.gender else "—"
        if col == VERDICT:
            return VERDICT_TEXT.get(job.verdict, "—")
        if col == TAGS:
            return tag_labels(job.tags)
        if col == TASK:
            if job.tryon is not None and job.tryon.task_id:  # both calls' tasks, in order
                return " → ".join(t for t in (job.tryon.task_id, job.task_id) if t)
            return job.task_id or "—"
        if col == NOTE:
            # One line in the table; the tooltip has it all.
            return " ".join(job.note.split())
        return None

    def _tooltip(self, job: Job, col: int) -> str | None:
        if col == THUMBS:
            if job.result_path is None:
                return f"Left: coarse try-on. Right: no refined result ({job.state.label})."
            return "Left: coarse try-on. Right: refined result. Double-click to open."
        if col == STATE:
            tip = f"{job.state.label}: {STATE_TIPS[job.state]}"
            if job.error_message and job.state is not JobState.SUCCEEDED:
                tip += f"\n{job.error_message}"
            return tip
        if col == DATE:
            return time.strftime("%A %d %B %Y, %H:%M:%S", time.localtime(job.created_at))
        if col == NOTE and job.note:
            return job.note
        if col == TAGS and job.tags:
            return tag_labels(job.tags)
        if col == TASK and job.tryon is not None:
            model = "Try on Clothes " + job.tryon.model.title()
            tip = f"Coarse image: {model}, task {job.tryon.task_id or '(not sent)'}"
            if job.kind == "tryon_refine":
                tip += f"\nRefinement: task {job.task_id or '(not sent yet)'}"
            return tip + f"\n(job #{job.id})"
        if col == TASK and job.task_id:
            return f"Task {job.task_id} (job #{job.id})"
        return None

    def _accessible(self, job: Job, col: int) -> str | None:
        if col == THUMBS:
            return (
                "Coarse and refined thumbnails"
                if job.result_path is not None
                else "Coarse thumbnail, no refined result"
            )
        if col == VERDICT:
            return {"pass": "Pass", "fail": "Fail"}.get(job.verdict or "", "Not reviewed")
        return self._display(job, col)

    def thumbnail_loaded(self, row: int) -> bool:
        """Whether ``row``'s pictures are in the cache (without asking for them)."""
        job = self._jobs.get(self._ids[row])
        return job is not None and self._thumbs.peek(self._thumb_key(job)) is not None

    def _thumb_key(self, job: Job) -> ThumbKey:
        return ThumbKey(
            str(job.input_path(COARSE) or ""), str(job.result_path or ""), round(self._dpr * 100)
        )

    def _thumbnail(self, job: Job) -> QPixmap:
        """The cached pair, or a placeholder after asking for it (rows being painted only)."""
        key = self._thumb_key(job)
        pixmap = self._thumbs.get(key)
        if pixmap is not None:
            return pixmap
        self._thumb_rows.setdefault(key, set()).add(job.id)
        if self._placeholder is None:
            self._placeholder = self._thumbs.placeholder(self._dpr)
        return self._placeholder

    @Slot(object)
    def _on_thumbnail_ready(self, key: object) -> None:
        assert isinstance(key, ThumbKey)
        for job_id in self._thumb_rows.pop(key, ()):
            row = self._row_of.get(job_id)
            if row is not None:
                idx = self.index(row, THUMBS)
                self.dataChanged.emit(idx, idx, [Qt.ItemDataRole.DecorationRole])

    def _dot(self, colour: str) -> QPixmap:
        dot = self._dots.get(colour)
        if dot is None:
            size = 12
            dot = QPixmap(round(size * self._dpr), round(size * self._dpr))
            dot.setDevicePixelRatio(self._dpr)
            dot.fill(Qt.GlobalColor.transparent)
            painter = QPainter(dot)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            # A thin ring in the text colour keeps the dot visible on any row background.
            ring = QColor(QPalette().color(QPalette.ColorRole.Text))
            ring.setAlpha(90)
            painter.setPen(ring)
            painter.setBrush(QColor(colour))
            painter.drawEllipse(1, 1, size - 2, size - 2)
            painter.end()
            self._dots[colour] = dot
        return dot


def state_text(job: Job) -> str:
    """The state column: the state, and for a job that makes its coarse image, which of
    its two calls it is at (or stopped at): "Waiting · coarse image"."""
    if job.tryon is None:
        return job.state.label
    if job.kind == "tryon":
        return f"{job.state.label} · coarse only"
    return f"{job.state.label} · {'coarse image' if job.stage == 'tryon' else 'refinement'}"
