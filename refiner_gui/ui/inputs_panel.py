"""The input side of the window: four drop slots, the pose rules and the gender choice.

:class:`InputsPanel` is the controller of its :class:`~refiner_gui.ui.drop_slot.DropSlot`
views. It decides what a drop means (check a file, download an address, save pasted
pixels), runs the slow parts on the global thread pool through
:func:`~refiner_gui.threads.run_task`, and keeps, per slot, the original file, the
fixed copy (after Fix) and the current pre-flight verdict (a
:class:`~refiner_gui.ui.slot_state.SlotState`). Its neighbours hold the parts that need no
panel: :mod:`~refiner_gui.ui.slot_state` (the state and whether it keeps a job from being
sent, see :meth:`InputsPanel.readiness`), :mod:`~refiner_gui.ui.slot_jobs` (the checks and
Fix run on the pool) and :mod:`~refiner_gui.ui.slot_render` (drawing a state into a view).

Threads: every public method and every ``@Slot`` here runs on the GUI thread. The
background functions (``check_job``, ``fix_job``, thumbnail decoding, downloads, saving
pasted pixels) take and return plain data (paths, reports, ``QImage``) and touch no widget.
Each task is stamped with the slot's generation counters when it starts; a result whose
slot has changed since then is stale and is dropped, so a slow check of a replaced photo
can never overwrite the verdict of the new one.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from PySide6.QtCore import QSize, Qt, Signal, Slot
from PySide6.QtGui import QImage, QPalette, QResizeEvent
from PySide6.QtWidgets import (
    QButtonGroup,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLayout,
    QRadioButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from refiner_gui.images import ImageFixError, ImageReport
from refiner_gui.readiness import READY_STATE, InputsState, Readiness
from refiner_gui.slots import (
    BOTTOM,
    COARSE,
    GENDERS,
    IMAGE_RULES,
    PERSON,
    POSE_RULES,
    REQUIRED_SLOTS,
    SLOT_LABELS,
    SLOTS,
    TOP,
)
from refiner_gui.threads import run_task, wait_for_tasks
from refiner_gui.ui.drop_slot import MIN_WIDTH as DROP_SLOT_MIN_WIDTH
from refiner_gui.ui.drop_slot import DropSlot
from refiner_gui.ui.flow_layout import FlowLayout
from refiner_gui.ui.slot_jobs import CheckResult, check_job, fix_job
from refiner_gui.ui.slot_render import render_slot
from refiner_gui.ui.slot_state import (
    CHECK,
    DOWNLOAD,
    FIX,
    SAVE,
    SlotState,
    plain,
    shown_problem,
    slot_readiness,
)
from refiner_gui.url_fetch import UrlFetchError, fetch_url
from refiner_gui.workers import load_image, save_image_png

log = logging.getLogger(__name__)

T = TypeVar("T")

SLOT_TITLES = {
    PERSON: "Person photo",
    TOP: "Top garment (or dress)",
    COARSE: "Coarse try-on result",
    BOTTOM: "Bottom garment (optional)",
}

POSE_CAPTION = "Full body · front view · one person · hands visible · arms relaxed"
"""The pose rules (:data:`refiner_gui.slots.POSE_RULES`) short enough to stay on screen."""

RULES_CAPTION = "JPG, PNG or BMP · up to 5 MB · sides 151–4095 px"
"""The file rules (:data:`refiner_gui.slots.IMAGE_RULES`) in one line."""

THUMB_DECODE_SIDE = 360
"""Thumbnails are decoded at about twice the display height so they stay sharp on 2x
screens, yet a 4000 px photo never sits whole in memory."""

_SPACING = 12
_WIDE_COLUMNS, _NARROW_COLUMNS = 4, 2


@dataclass(frozen=True)
class _Stamp:
    """A background task's purpose and the slot state it was started for; its result is
    used only while the slot is still in that state (see ``_current``)."""

    kind: str  # "thumb", "check", "fix", "download", "save"
    slot: str
    content_gen: int
    verdict_gen: int


class InputsPanel(QWidget):
    """The four inputs of a refinement and the gender, with pre-flight and Fix.

    ``changed`` is emitted (GUI thread) whenever a slot or the gender changed or a verdict
    arrived; read :meth:`ready` then. ``work_dir`` receives fixed copies, downloads and
    pasted pictures; originals are never written.
    """

    changed = Signal()

    def __init__(self, work_dir: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._work_dir = Path(work_dir)
        self._states: dict[str, SlotState] = {slot: SlotState() for slot in SLOTS}
        self._slots: dict[str, DropSlot] = {}
        self._cancel = threading.Event()  # stops downloads at shutdown
        self._shut_down = False
        self.setAccessibleName("Inputs")

        self._grid = grid = QGridLayout()
        grid.setHorizontalSpacing(_SPACING)
        grid.setVerticalSpacing(4)
        self._columns = 0
        self.compact = False  # the slots as a one-column strip (see set_compact)
        for slot in SLOTS:
            view = DropSlot(SLOT_TITLES[slot], SLOT_LABELS[slot], key=slot)
            view.setObjectName(f"slot_{slot}")
            # Same-thread view signals; partial binds the slot name.
            view.fileDropped.connect(functools.partial(self._on_file_dropped, slot))
            view.urlDropped.connect(functools.partial(self._on_url_dropped, slot))
            view.imageDropped.connect(functools.partial(self._on_image_dropped, slot))
            view.clearRequested.connect(functools.partial(self.clear_slot, slot))
            view.fixRequested.connect(functools.partial(self._on_fix_requested, slot))
            self._slots[slot] = view

        self._pose_caption = self._caption(
            POSE_CAPTION, POSE_RULES, "Pose rules for the person photo"
        )
        self._coarse_caption = self._caption(
            "Same pixel size as the person photo",
            "The coarse try-on result must have exactly the person photo's pixel size.",
            "Size rule for the coarse try-on result",
        )
        self._captions = {PERSON: self._pose_caption, COARSE: self._coarse_caption}
        self._arrange(_WIDE_COLUMNS)

        self._gender_label = QLabel("Person in the photo:")
        self._gender_label.setAccessibleName("Gender of the person")
        self._gender_label.setToolTip(
            "The service needs to know whether the person photo shows a woman or a man."
        )
        self._gender_group = QButtonGroup(self)
        self._gender_group.setExclusive(True)
        self._gender_buttons: dict[str, QRadioButton] = {}
        self._gender_row = QWidget()  # a widget, for the window to keep it in view
        gender_row = FlowLayout(self._gender_row, spacing=8)
        gender_row.setContentsMargins(0, 0, 0, 0)
        gender_row.addWidget(self._gender_label)
        choices = QWidget()  # Woman and Man wrap together, under the label
        choice_row = QHBoxLayout(choices)
        choice_row.setContentsMargins(0, 0, 0, 0)
        gender_row.addWidget(choices)
        for index, gender in enumerate(GENDERS):
            button = QRadioButton(gender.capitalize())
            button.setAccessibleName(gender.capitalize())
            button.setToolTip(f"The person photo shows a {gender}.")
            self._gender_group.addButton(button, index)
            self._gender_buttons[gender] = button
            choice_row.addWidget(button)
        self._gender_group.idToggled.connect(self._on_gender_toggled)
        self._gender_label.setBuddy(self._gender_buttons[GENDERS[0]])
        self._rules_caption = self._caption(RULES_CAPTION, IMAGE_RULES, "Image rules")

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        # The panel picks 2 or 4 columns from the width it is given (see resizeEvent), so
        # its layout must not pin a minimum size of its own on a top-level window.
        layout.setSizeConstraint(QLayout.SizeConstraint.SetNoConstraint)
        layout.addLayout(grid)
        layout.addWidget(self._rules_caption)
        layout.addWidget(self._gender_row)
        # Taller than its contents is only empty slot space: let the window keep the rest.
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)

        self.setTabOrder(self._slots[BOTTOM], self._gender_buttons[GENDERS[0]])

    def _arrange(self, columns: int) -> None:
        """Lay the slots out in ``columns`` columns, each caption under its slot."""
        if columns == self._columns:
            return
        self._columns = columns
        grid = self._grid
        for widget in (*self._slots.values(), *self._captions.values()):
            grid.removeWidget(widget)
        for column in range(_WIDE_COLUMNS):
            grid.setColumnStretch(column, 1 if column < columns else 0)
        for index, slot in enumerate(SLOTS):
            row, column = 2 * (index // columns), index % columns
            grid.addWidget(self._slots[slot], row, column)
            if slot in self._captions:
                grid.addWidget(self._captions[slot], row + 1, column)
        # The height needed changed: let a parent (the window's scroll area) ask again.
        self.updateGeometry()

    def take_gender_row(self) -> QWidget:
        """The gender choice, taken out of the panel for the window to keep in view."""
        self._gender_row.setParent(None)  # leaves the panel's layout too
        return self._gender_row

    def set_compact(self, compact: bool) -> None:
        """The slots as a one-column strip of small thumbnails and verdicts (the rule
        captions hidden; the slots' tooltips keep them), or back to the grid."""
        self.compact = compact
        for view in self._slots.values():
            view.set_compact(compact)
        for caption in (*self._captions.values(), self._rules_caption):
            caption.setVisible(not compact)
        self._arrange(self._columns_for(self.width()))

    def _columns_for(self, width: int) -> int:
        if self.compact:
            return 1
        wide = _WIDE_COLUMNS * DROP_SLOT_MIN_WIDTH + (_WIDE_COLUMNS - 1) * _SPACING
        return _WIDE_COLUMNS if width >= wide else _NARROW_COLUMNS

    def columns(self) -> int:
        """How many slots sit side by side now (4 when wide enough, else 2)."""
        return self._columns

    def resizeEvent(self, event: QResizeEvent) -> None:
        self._arrange(self._columns_for(event.size().width()))
        super().resizeEvent(event)

    def minimumSizeHint(self) -> QSize:
        # The two-column width, whichever layout is showing: a narrower parent gets two
        # columns rather than a horizontal scroll bar.
        hint = super().minimumSizeHint()
        if self.compact:
            return QSize(self._slots[PERSON].minimumWidth(), hint.height())
        narrow = _NARROW_COLUMNS * DROP_SLOT_MIN_WIDTH + (_NARROW_COLUMNS - 1) * _SPACING
        return QSize(narrow, hint.height())

    def _caption(self, text: str, tooltip: str, name: str, *, wrap: bool = True) -> QLabel:
        """A short, always visible rule line; the full rule is its tooltip."""
        label = QLabel(text)
        label.setWordWrap(wrap)
        label.setToolTip(tooltip)
        label.setAccessibleName(name)
        label.setAccessibleDescription(tooltip)
        label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        font = label.font()
        if font.pointSizeF() > 0:
            font.setPointSizeF(font.pointSizeF() * 0.92)
        label.setFont(font)
        return label

    # -- the interface the main window uses ----------------------------------------------------

    def slot_view(self, slot: str) -> DropSlot:
        """The view of ``slot`` (for the window's focus handling and for tests)."""
        return self._slots[self._known(slot)]

    def set_file(self, slot: str, path: Path) -> None:
        """Put ``path`` in ``slot`` as if dropped: thumbnail and pre-flight start in the
        background. Replaces whatever the slot held, including a fixed copy."""
        state = self._state(slot)
        self._reset(slot, state)
        state.original = Path(path)
        state.busy = CHECK
        view = self._slots[slot]
        view.set_browse_dir(str(state.original.parent))
        for other in self._slots.values():  # the next file is usually in the same folder
            other.set_browse_dir(str(state.original.parent))
        self._start_thumbnail(slot, state.original)
        self._start_check(slot)
        if slot == PERSON:
            self._recheck_coarse()
        self._render(slot)
        self.changed.emit()

    def clear_slot(self, slot: str) -> None:
        """Empty ``slot``; running work for it is ignored when it reports."""
        state = self._state(slot)
        self._reset(slot, state)
        if slot == PERSON:
            self._recheck_coarse()
        self._render(slot)
        self.changed.emit()

    def path(self, slot: str) -> Path | None:
        """The file to upload: the fixed copy if Fix made one, else the original."""
        return self._state(slot).upload_path()

    def original_path(self, slot: str) -> Path | None:
        """The file the user gave (dropped, chosen, downloaded or pasted)."""
        return self._state(slot).original

    def report(self, slot: str) -> ImageReport | None:
        """The verdict on :meth:`path`; None while checking or fixing, or when empty."""
        state = self._state(slot)
        return None if state.busy in (CHECK, FIX) else state.report

    def gender(self) -> str | None:
        """ "woman", "man", or None when the user has not chosen (there is no default)."""
        for gender, button in self._gender_buttons.items():
            if button.isChecked():
                return gender
        return None

    def set_gender(self, g: str | None) -> None:
        """Check the button for ``g`` ("woman" or "man"), or clear both with None."""
        if g is not None and g not in GENDERS:
            raise ValueError(f"gender must be one of {', '.join(GENDERS)} or None, not {g!r}")
        if g == self.gender():
            return
        if g is None:
            # An exclusive group refuses to uncheck its checked button.
            self._gender_group.setExclusive(False)
            for button in self._gender_buttons.values():
                button.setChecked(False)
            self._gender_group.setExclusive(True)
            self.changed.emit()
        else:
            self._gender_buttons[g].setChecked(True)  # idToggled emits changed

    def readiness(self) -> InputsState:
        """Whether a job can be sent now and, if not, why, as data.

        READY needs person, top and coarse present and checked OK (which includes the
        coarse having the person photo's size), the bottom empty or OK, and a gender
        chosen. Otherwise the first slot in the way decides: BUSY while its file is still
        downloading, saving, being checked or fixed (it changes by itself and
        :attr:`changed` is emitted then), NEEDS_USER when the user must act. The gender is
        asked for last. GUI thread.
        """
        for slot in REQUIRED_SLOTS:
            state = slot_readiness(slot, self._states[slot], required=True)
            if state is not None:
                return state
        state = slot_readiness(BOTTOM, self._states[BOTTOM], required=False)
        if state is not None:
            return state
        if self.gender() is None:
            return InputsState(Readiness.NEEDS_USER, "Choose Woman or Man")
        return READY_STATE

    def highlight(self, slot: str | None, message: str | None) -> None:
        """Mark ``slot`` red with ``message`` (the service rejected it). ``slot`` None clears
        every highlight; ``message`` None clears that slot's. A new file clears it too."""
        if slot is None:
            for view in self._slots.values():
                view.set_highlight(None)
            return
        self._slots[self._known(slot)].set_highlight(message)

    def set_enabled_inputs(self, enabled: bool) -> None:
        """Lock (False) or unlock every slot and the gender choice, e.g. while a job runs.

        Background checks still finish and are shown; only user input is refused.
        """
        for view in self._slots.values():
            view.set_locked(not enabled)
        for button in self._gender_buttons.values():
            button.setEnabled(enabled)

    def shutdown(self) -> None:
        """Stop downloads and wait for this panel's background tasks. GUI thread; call from
        ``closeEvent`` and at the end of tests. Later results are ignored."""
        self._shut_down = True
        self._cancel.set()
        wait_for_tasks()

    # -- what the views report ------------------------------------------------------------------

    def _on_file_dropped(self, slot: str, path: object) -> None:
        self.set_file(slot, Path(str(path)))

    def _on_url_dropped(self, slot: str, url: str) -> None:
        state = self._state(slot)
        self._reset(slot, state)
        state.busy = DOWNLOAD
        host = urlsplit(url).hostname or "the web"
        self._slots[slot].show_busy_empty(f"Downloading from {host}…")
        self._run(
            "download",
            slot,
            functools.partial(fetch_url, url, self._work_dir, cancel=self._cancel),
            functools.partial(self._on_file_arrived, slot),
        )
        if slot == PERSON:
            self._recheck_coarse()
        self.changed.emit()

    def _on_image_dropped(self, slot: str, image: QImage) -> None:
        state = self._state(slot)
        self._reset(slot, state)
        state.busy = SAVE
        self._slots[slot].show_busy_empty("Saving the picture…")
        # Encoding a big PNG takes a while; do it off the GUI thread. QImage is shared
        # copy-on-write and nobody changes this one, so reading it there is safe.
        stem = slot.split("_")[0] + "-pasted"
        self._run(
            "save",
            slot,
            functools.partial(save_image_png, QImage(image), self._work_dir, stem),
            functools.partial(self._on_file_arrived, slot),
        )
        if slot == PERSON:
            self._recheck_coarse()
        self.changed.emit()

    def _on_fix_requested(self, slot: str) -> None:
        state = self._state(slot)
        if state.original is None or state.busy is not None:
            return
        state.verdict_gen += 1
        state.busy = FIX
        state.error = None
        person = self._state(PERSON).upload_path() if slot == COARSE else None
        self._run(
            "fix",
            slot,
            functools.partial(fix_job, slot, state.original, self._work_dir, person),
            functools.partial(self._on_fixed, slot),
        )
        self._render(slot)
        self.changed.emit()

    @Slot(int, bool)
    def _on_gender_toggled(self, _id: int, checked: bool) -> None:
        if checked:
            self.changed.emit()

    # -- background results (delivered by run_task on the GUI thread, current ones only) ---

    def _on_thumbnail(self, slot: str, image: QImage) -> None:
        state = self._states[slot]
        shown = image if isinstance(image, QImage) else None
        state.has_thumbnail = shown is not None and not shown.isNull()
        self._slots[slot].set_thumbnail(shown)

    def _on_file_arrived(self, slot: str, path: Path) -> None:
        """A download or a pasted picture was saved: it is now the slot's file."""
        self.set_file(slot, Path(path))

    def _on_checked(self, slot: str, checked: CheckResult) -> None:
        state = self._states[slot]
        if checked.fixed is not None and checked.fixed.ok:
            state.report = checked.fixed
        else:
            # The fixed copy no longer fits (the person photo changed): Fix again
            # from the original if needed.
            state.fixed = None
            state.report = checked.original
        state.busy = None
        self._render(slot)
        self.changed.emit()

    def _on_fixed(self, slot: str, result: tuple[Path, ImageReport]) -> None:
        state = self._states[slot]
        fixed, report = result
        state.busy = None
        if report.ok:
            state.fixed = Path(fixed)
            state.report = report
            self._slots[slot].set_highlight(None)  # the service rejected another file
            if not state.has_thumbnail:  # e.g. a format Qt cannot preview
                self._start_thumbnail(slot, state.fixed)
        else:
            state.error = f"Fix did not help: {shown_problem(report).message}"
        self._render(slot)
        if slot == PERSON:
            self._recheck_coarse()
        self.changed.emit()

    def _on_task_error(self, stamp: _Stamp, exc: Exception) -> None:
        """A current task raised: say so in the slot (a missing preview only logs)."""
        state = self._states[stamp.slot]
        label = SLOT_LABELS[stamp.slot]
        if stamp.kind == "thumb":
            log.info("no preview for %s: %s", state.original, exc)
            state.has_thumbnail = False
            self._slots[stamp.slot].set_thumbnail(None)
            return
        state.busy = None
        if stamp.kind == "download":
            why = exc.message if isinstance(exc, UrlFetchError) else plain(exc)
            state.error = f"Could not download the {label}: {why}"
        elif stamp.kind == "save":
            state.error = f"Could not save the pasted picture: {plain(exc)}"
        elif stamp.kind == "fix":
            why = exc.message if isinstance(exc, ImageFixError) else plain(exc)
            state.error = f"Fix failed: {why}"
        else:  # check_image never raises for a bad file, so this is a bug; still no crash
            log.error("pre-flight of %s failed", state.original, exc_info=exc)
            state.error = f"The {label} could not be checked: {plain(exc)}"
        self._render(stamp.slot)
        self.changed.emit()

    # -- helpers ---------------------------------------------------------------------------------

    @staticmethod
    def _known(slot: str) -> str:
        if slot not in SLOTS:
            raise ValueError(f"unknown slot {slot!r}; expected one of {', '.join(SLOTS)}")
        return slot

    def _state(self, slot: str) -> SlotState:
        return self._states[self._known(slot)]

    def _reset(self, slot: str, state: SlotState) -> None:
        """Forget the slot's content; work already running for it becomes stale."""
        state.content_gen += 1
        state.verdict_gen += 1
        state.original = state.fixed = state.report = None
        state.busy = state.error = None
        state.has_thumbnail = False
        view = self._slots[slot]
        view.set_highlight(None)
        view.show_empty()

    def _current(self, stamp: _Stamp) -> bool:
        """Whether a result for ``stamp`` still applies (and the panel is not shut down)."""
        if self._shut_down:
            return False
        state = self._states[stamp.slot]
        if stamp.content_gen != state.content_gen:
            return False
        # A thumbnail belongs to the content; a verdict also to the latest check or fix.
        return stamp.kind == "thumb" or stamp.verdict_gen == state.verdict_gen

    def _run(
        self, kind: str, slot: str, fn: Callable[[], T], on_done: Callable[[T], object]
    ) -> None:
        """Run ``fn`` on the pool for ``slot``; ``on_done(result)`` (or the error handler)
        runs on the GUI thread only if the slot is still in the state it was started for."""
        state = self._states[slot]
        stamp = _Stamp(kind, slot, state.content_gen, state.verdict_gen)

        def done(result: T) -> None:
            if self._current(stamp):
                on_done(result)

        def failed(exc: Exception) -> None:
            if self._current(stamp):
                self._on_task_error(stamp, exc)

        run_task(fn, done, failed, owner=self)

    def _start_thumbnail(self, slot: str, path: Path) -> None:
        self._run(
            "thumb",
            slot,
            functools.partial(load_image, path, THUMB_DECODE_SIDE),
            functools.partial(self._on_thumbnail, slot),
        )

    def _start_check(self, slot: str) -> None:
        state = self._states[slot]
        assert state.original is not None
        state.verdict_gen += 1
        state.busy = CHECK
        state.error = None
        person = self._states[PERSON].upload_path() if slot == COARSE else None
        self._run(
            "check",
            slot,
            functools.partial(check_job, slot, state.original, state.fixed, person),
            functools.partial(self._on_checked, slot),
        )

    def _recheck_coarse(self) -> None:
        """The person photo changed: the coarse verdict (its size rule) must be redone."""
        if self._states[COARSE].original is not None and self._states[COARSE].busy != DOWNLOAD:
            self._start_check(COARSE)
            self._render(COARSE)
            self.changed.emit()

    def _render(self, slot: str) -> None:
        """Draw ``slot``'s state into its view (the thumbnail is set when it arrives)."""
        render_slot(self._slots[slot], self._states[slot])
