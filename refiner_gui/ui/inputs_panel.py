"""The input side of the window: four drop slots, the pose rules and the gender choice.

:class:`InputsPanel` is the controller of its :class:`~refiner_gui.ui.drop_slot.DropSlot`
views. It decides what a drop means (check a file, download an address, save pasted
pixels), runs the slow parts on the global thread pool through
:class:`~refiner_gui.workers.BackgroundTask`, and keeps, per slot, the original file, the
fixed copy (after Fix) and the current pre-flight verdict (a
:class:`~refiner_gui.ui.slot_state.SlotState`). Its neighbours hold the parts that need no
panel: :mod:`~refiner_gui.ui.slot_state` (the state and whether it keeps a job from being
sent, see :meth:`InputsPanel.readiness`), :mod:`~refiner_gui.ui.slot_jobs` (the checks and
Fix run on the pool) and :mod:`~refiner_gui.ui.slot_render` (drawing a state into a view).

Threads: every public method and every ``@Slot`` here runs on the GUI thread. The
background functions (``check_job``, ``fix_job``, thumbnail decoding, downloads, saving
pasted pixels) take and return plain data (paths, reports, ``QImage``) and touch no widget.
Each task is tagged with the slot's generation counters when it starts; a result whose
slot has changed since then is stale and is dropped, so a slow check of a replaced photo
can never overwrite the verdict of the new one.
"""

from __future__ import annotations

import functools
import itertools
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any
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
from refiner_gui.ui.drop_slot import MIN_WIDTH as DROP_SLOT_MIN_WIDTH
from refiner_gui.ui.drop_slot import DropSlot
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
from refiner_gui.workers import (
    BackgroundTask,
    load_image,
    save_image_png,
    submit_task,
    wait_for_background_tasks,
)

log = logging.getLogger(__name__)

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
class _Tag:
    """Identifies a background task's purpose and the slot state it was started for."""

    kind: str  # "thumb", "check", "fix", "download", "save"
    slot: str
    content_gen: int
    verdict_gen: int
    number: int  # unique per task, to keep its signals object alive until it reports


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
        self._pending: dict[int, BackgroundTask] = {}
        self._numbers = itertools.count(1)
        self._cancel = threading.Event()  # stops downloads at shutdown
        self._shut_down = False
        self.setAccessibleName("Inputs")

        self._grid = grid = QGridLayout()
        grid.setHorizontalSpacing(_SPACING)
        grid.setVerticalSpacing(4)
        self._columns = 0
        for slot in SLOTS:
            view = DropSlot(SLOT_TITLES[slot], SLOT_LABELS[slot])
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
        gender_row = QHBoxLayout()
        gender_row.addWidget(self._gender_label)
        for index, gender in enumerate(GENDERS):
            button = QRadioButton(gender.capitalize())
            button.setAccessibleName(gender.capitalize())
            button.setToolTip(f"The person photo shows a {gender}.")
            self._gender_group.addButton(button, index)
            self._gender_buttons[gender] = button
            gender_row.addWidget(button)
        self._gender_group.idToggled.connect(self._on_gender_toggled)
        self._gender_label.setBuddy(self._gender_buttons[GENDERS[0]])
        gender_row.addStretch(1)
        self._rules_caption = self._caption(RULES_CAPTION, IMAGE_RULES, "Image rules")

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        # The panel picks 2 or 4 columns from the width it is given (see resizeEvent), so
        # its layout must not pin a minimum size of its own on a top-level window.
        layout.setSizeConstraint(QLayout.SizeConstraint.SetNoConstraint)
        layout.addLayout(grid)
        layout.addWidget(self._rules_caption)
        layout.addLayout(gender_row)
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

    @staticmethod
    def _columns_for(width: int) -> int:
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
        self._start(
            BackgroundTask(
                self._tag("thumb", slot),
                functools.partial(load_image, state.original, THUMB_DECODE_SIDE),
            )
        )
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

    def ready(self) -> tuple[bool, str]:
        """(True, "") when a job can be sent; else (False, what to do next in plain words).

        Deprecated: :meth:`readiness` tells waiting from needing the user; this tuple is
        kept until the main window uses it.
        """
        state = self.readiness()
        return state.ready, state.reason

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
        wait_for_background_tasks()

    # -- what the views report ------------------------------------------------------------------

    def _on_file_dropped(self, slot: str, path: object) -> None:
        self.set_file(slot, Path(str(path)))

    def _on_url_dropped(self, slot: str, url: str) -> None:
        state = self._state(slot)
        self._reset(slot, state)
        state.busy = DOWNLOAD
        host = urlsplit(url).hostname or "the web"
        self._slots[slot].show_busy_empty(f"Downloading from {host}…")
        self._start(
            BackgroundTask(
                self._tag("download", slot),
                functools.partial(fetch_url, url, self._work_dir, cancel=self._cancel),
            )
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
        self._start(
            BackgroundTask(
                self._tag("save", slot),
                functools.partial(save_image_png, QImage(image), self._work_dir, stem),
            )
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
        self._start(
            BackgroundTask(
                self._tag("fix", slot),
                functools.partial(fix_job, slot, state.original, self._work_dir, person),
            )
        )
        self._render(slot)
        self.changed.emit()

    @Slot(int, bool)
    def _on_gender_toggled(self, _id: int, checked: bool) -> None:
        if checked:
            self.changed.emit()

    # -- background results (queued from pool threads to the GUI thread) -----------------------

    @Slot(object, object)
    def _on_task_done(self, tag: _Tag, result: Any) -> None:
        self._pending.pop(tag.number, None)
        if self._shut_down or not self._current(tag):
            return
        state = self._states[tag.slot]
        view = self._slots[tag.slot]
        if tag.kind == "thumb":
            image = result if isinstance(result, QImage) else None
            state.has_thumbnail = image is not None and not image.isNull()
            view.set_thumbnail(image)
        elif tag.kind in ("download", "save"):
            self.set_file(tag.slot, Path(result))
        elif tag.kind == "check":
            checked: CheckResult = result
            if checked.fixed is not None and checked.fixed.ok:
                state.report = checked.fixed
            else:
                # The fixed copy no longer fits (the person photo changed): Fix again
                # from the original if needed.
                state.fixed = None
                state.report = checked.original
            state.busy = None
            self._render(tag.slot)
            self.changed.emit()
        elif tag.kind == "fix":
            fixed, report = result
            state.busy = None
            if report.ok:
                state.fixed = Path(fixed)
                state.report = report
                view.set_highlight(None)  # what the service rejected is not what we send now
                if not state.has_thumbnail:  # e.g. a format Qt cannot preview
                    self._start(
                        BackgroundTask(
                            self._tag("thumb", tag.slot),
                            functools.partial(load_image, state.fixed, THUMB_DECODE_SIDE),
                        )
                    )
            else:
                state.error = f"Fix did not help: {shown_problem(report).message}"
            self._render(tag.slot)
            if tag.slot == PERSON:
                self._recheck_coarse()
            self.changed.emit()

    @Slot(object, object)
    def _on_task_error(self, tag: _Tag, exc: Exception) -> None:
        self._pending.pop(tag.number, None)
        if self._shut_down or not self._current(tag):
            return
        state = self._states[tag.slot]
        label = SLOT_LABELS[tag.slot]
        if tag.kind == "thumb":
            log.info("no preview for %s: %s", state.original, exc)
            state.has_thumbnail = False
            self._slots[tag.slot].set_thumbnail(None)
            return
        state.busy = None
        if tag.kind == "download":
            why = exc.message if isinstance(exc, UrlFetchError) else plain(exc)
            state.error = f"Could not download the {label}: {why}"
        elif tag.kind == "save":
            state.error = f"Could not save the pasted picture: {plain(exc)}"
        elif tag.kind == "fix":
            why = exc.message if isinstance(exc, ImageFixError) else plain(exc)
            state.error = f"Fix failed: {why}"
        else:  # check_image never raises for a bad file, so this is a bug; still no crash
            log.error("pre-flight of %s failed", state.original, exc_info=exc)
            state.error = f"The {label} could not be checked: {plain(exc)}"
        self._render(tag.slot)
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

    def _tag(self, kind: str, slot: str) -> _Tag:
        state = self._states[slot]
        return _Tag(kind, slot, state.content_gen, state.verdict_gen, next(self._numbers))

    def _current(self, tag: _Tag) -> bool:
        state = self._states[tag.slot]
        if tag.content_gen != state.content_gen:
            return False
        # A thumbnail belongs to the content; a verdict also to the latest check or fix.
        return tag.kind == "thumb" or tag.verdict_gen == state.verdict_gen

    def _start(self, task: BackgroundTask) -> None:
        task.signals.done.connect(self._on_task_done)
        task.signals.error.connect(self._on_task_error)
        # Keep the task (and with it its signals object) referenced until it reports.
        self._pending[task.tag.number] = task
        submit_task(task)

    def _start_check(self, slot: str) -> None:
        state = self._states[slot]
        assert state.original is not None
        state.verdict_gen += 1
        state.busy = CHECK
        state.error = None
        person = self._states[PERSON].upload_path() if slot == COARSE else None
        self._start(
            BackgroundTask(
                self._tag("check", slot),
                functools.partial(check_job, slot, state.original, state.fixed, person),
            )
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
