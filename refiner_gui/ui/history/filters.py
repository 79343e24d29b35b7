"""The history's filter bar: state, verdict and tag choices and a search field.

A view: :class:`FilterBar` reports that the filter changed and describes it as a
:class:`~refiner_gui.jobs.store.JobFilter`; the panel runs the query. GUI thread only.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QLineEdit, QWidget

from refiner_gui.jobs.models import DEFECT_TAGS, JobState
from refiner_gui.jobs.store import JobFilter
from refiner_gui.ui.flow_layout import FlowLayout

SEARCH_DEBOUNCE_MS = 200
"""Quiet time after the last keystroke in the search field before the filter changes."""

STATE_FILTERS: tuple[tuple[str, tuple[JobState, ...], str], ...] = (
    ("All states", (), "Jobs in any state"),
    ("Done", (JobState.SUCCEEDED,), "Jobs with a stored result"),
    ("Failed", (JobState.FAILED,), "Refused by the service or failed (not billed)"),
    (
        "Waiting",
        (JobState.PENDING, JobState.SUBMITTING, JobState.SUBMITTED),
        "Not finished yet: not sent, uploading, or waiting for the result",
    ),
    (
        "Outcome unknown",
        (JobState.OUTCOME_UNKNOWN,),
        "Uploaded without an answer: may exist and be billed",
    ),
    ("Expired", (JobState.EXPIRED,), "The result was not fetched within 24 hours"),
    ("Cancelled", (JobState.CANCELLED,), "Stopped before anything was sent"),
)
VERDICT_FILTERS: tuple[tuple[str, str | None], ...] = (
    ("All verdicts", None),
    ("✓ Pass", "pass"),
    ("✗ Fail", "fail"),
    ("Unreviewed", "unreviewed"),
)


BATCH_PREFIX = "batch:"  # the search text that lists one batch's looks


class FilterBar(QWidget):
    """State, verdict and tag combo boxes and a search field, in one row.

    Signals:
        changed(): the user changed a choice, pressed Enter in the search field, or
            stopped typing for :data:`SEARCH_DEBOUNCE_MS`; also after :meth:`clear`. It
            may fire when the filter ends up the same: compare :meth:`current_filter`.
    """

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DEBOUNCE_MS)
        self._search_timer.timeout.connect(self._emit_changed)

        self.state_combo = QComboBox()
        for i, (text, states, tip) in enumerate(STATE_FILTERS):
            self.state_combo.addItem(text, states)
            self.state_combo.setItemData(i, tip, Qt.ItemDataRole.ToolTipRole)
        self.verdict_combo = QComboBox()
        for text, verdict in VERDICT_FILTERS:
            self.verdict_combo.addItem(text, verdict)
        self.tag_combo = QComboBox()
        self.tag_combo.addItem("All tags", None)
        for key, label in DEFECT_TAGS.items():
            self.tag_combo.addItem(label, key)
        self.search_edit = QLineEdit()
        self.search_edit.setPlaceholderText("Search task id, note, file name, job #…")
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.setMinimumWidth(220)

        # Each label stays with its control; the pairs wrap onto a second row when narrow.
        row = FlowLayout(self, spacing=6)
        # Laid out as the panel's first row: no margins of its own.
        row.setContentsMargins(0, 0, 0, 0)
        for label_text, widget, name, tip in (
            ("&State", self.state_combo, "State filter", "Show only jobs in this state"),
            (
                "&Verdict",
                self.verdict_combo,
                "Verdict filter",
                "Show only jobs with this review verdict",
            ),
            ("&Tag", self.tag_combo, "Tag filter", "Show only jobs tagged with this defect"),
            (
                "Searc&h",
                self.search_edit,
                "Search jobs",
                "Matches task ids, notes, input file names, errors, tags and job numbers",
            ),
        ):
            buddy = QLabel(label_text)
            buddy.setBuddy(widget)
            widget.setAccessibleName(name)
            widget.setToolTip(tip)
            pair = QWidget()
            pair_row = QHBoxLayout(pair)
            pair_row.setContentsMargins(0, 0, 6, 0)
            pair_row.addWidget(buddy)
            pair_row.addWidget(widget, 1)
            row.addWidget(pair, stretch=widget is self.search_edit)
        for combo in self._combos():
            combo.currentIndexChanged.connect(self._emit_changed)
        self.search_edit.textChanged.connect(self._search_timer.start)
        self.search_edit.returnPressed.connect(self._emit_changed)

    def current_filter(self) -> JobFilter:
        """The filter the controls describe ("#123" searches job 123, "batch:7" lists the
        looks of batch 7)."""
        text = self.search_edit.text().strip()
        batch_id = None
        if text.startswith("#") and text[1:].isdigit():
            text = text[1:]  # "#123" is how jobs are named in dialogs; the store wants "123"
        elif text.lower().startswith(BATCH_PREFIX) and text[len(BATCH_PREFIX) :].isdigit():
            batch_id, text = int(text[len(BATCH_PREFIX) :]), ""
        return JobFilter(
            states=tuple(self.state_combo.currentData() or ()),
            verdict=self.verdict_combo.currentData(),
            text=text,
            tag=self.tag_combo.currentData(),
            batch_id=batch_id,
        )

    @Slot()
    def clear(self) -> None:
        """Back to "everything" (first choice everywhere, empty search); emits ``changed``
        once."""
        for combo in self._combos():
            combo.blockSignals(True)
            combo.setCurrentIndex(0)
            combo.blockSignals(False)
        self.search_edit.blockSignals(True)
        self.search_edit.clear()
        self.search_edit.blockSignals(False)
        self._emit_changed()

    def stop(self) -> None:
        """Drop a pending search (shutdown): ``changed`` will not fire for it."""
        self._search_timer.stop()

    def _combos(self) -> tuple[QComboBox, ...]:
        return (self.state_combo, self.verdict_combo, self.tag_combo)

    @Slot()
    def _emit_changed(self) -> None:
        self._search_timer.stop()
        self.changed.emit()
