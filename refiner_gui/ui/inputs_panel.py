"""The input side of the window: four drop slots, the pose rules and the gender choice.

:class:`InputsPanel` is the controller of its :class:`~refiner_gui.ui.drop_slot.DropSlot`
views. It decides what a drop means (check a file, download an address, save pasted
pixels), runs the slow parts on the global thread pool through
:class:`~refiner_gui.workers.BackgroundTask`, and keeps, per slot, the original file, the
fixed copy (after Fix) and the current pre-flight verdict.

Threads: every public method and every ``@Slot`` here runs on the GUI thread. The
background functions (``_check_job``, ``_fix_job``, thumbnail decoding, downloads, saving
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

from refiner_gui.images import (
    ImageFixError,
    ImageReport,
    Problem,
    check_image,
    check_inputs,
    fix_image,
    planned_size,
)
from refiner_gui.images.preflight import format_bytes
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
from refiner_gui.ui.drop_slot import BUSY, ERROR, OK, PROBLEM, DropSlot
from refiner_gui.ui.drop_slot import MIN_WIDTH as DROP_SLOT_MIN_WIDTH
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

# What a slot is waiting for (None: nothing).
_DOWNLOAD, _SAVE, _CHECK, _FIX = "download", "save", "check", "fix"


@dataclass
class _SlotState:
    """Everything the panel knows about one slot. GUI thread only."""

    original: Path | None = None
    fixed: Path | None = None
    report: ImageReport | None = None  # the verdict on path(): the fixed copy if any
    busy: str | None = None
    error: str | None = None  # a background task failed; plain words
    content_gen: int = 0  # bumps when the slot's file changes (or it is cleared)
    verdict_gen: int = 0  # bumps when a new check or fix starts, and with content_gen
    has_thumbnail: bool = False

    def upload_path(self) -> Path | None:
        return self.fixed if self.fixed is not None else self.original


@dataclass(frozen=True)
class _Tag:
    """Identifies a background task's purpose and the slot state it was started for."""

    kind: str  # "thumb", "check", "fix", "download", "save"
    slot: str
    content_gen: int
    verdict_gen: int
    number: int  # unique per task, to keep its signals object alive until it reports


@dataclass(frozen=True)
class _CheckResult:
    original: ImageReport
    fixed: ImageReport | None


# -- background work: plain functions of plain data, run on pool threads --------------------


def _check_one(path: Path, slot: str, person: Path | None) -> ImageReport:
    """Pre-flight of one file; the coarse image is also compared with the person photo."""
    if slot == COARSE and person is not None:
        # check_inputs holds the size-mismatch rule (and whether Fix can cure it); the
        # other slots' reports it builds are ignored. Only headers are read: cheap.
        return check_inputs(person, None, path)[COARSE]
    return check_image(path, slot)


def _check_job(slot: str, original: Path, fixed: Path | None, person: Path | None) -> _CheckResult:
    """Worker thread: the verdicts on the original and, if there is one, the fixed copy."""
    fixed_report = _check_one(fixed, slot, person) if fixed is not None else None
    return _CheckResult(_check_one(original, slot, person), fixed_report)


def _fix_job(
    slot: str, original: Path, dest: Path, person: Path | None
) -> tuple[Path, ImageReport]:
    """Worker thread: Fix ``original`` into ``dest``; return the copy and its verdict.

    The coarse image is resized to the person photo's planned size (what the person photo
    is, or will be once fixed) when their sizes differ, as check_inputs prescribes.
    """
    target: tuple[int, int] | None = None
    if slot == COARSE and person is not None:
        coarse_report = check_inputs(person, None, original)[COARSE]
        if any(p.code == "size_mismatch" for p in coarse_report.problems):
            target = planned_size(check_image(person, PERSON))
    fixed = fix_image(original, dest, slot=slot, target_size=target)
    return fixed, _check_one(fixed, slot, person)


def _shown_problem(report: ImageReport) -> Problem:
    """The problem to put in words: an unfixable one first, since Fix will not help there
    and the user must act; else the first."""
    return next((p for p in report.problems if not p.fixable), report.problems[0])


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
        self._states: dict[str, _SlotState] = {slot: _SlotState() for slot in SLOTS}
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
        state.busy = _CHECK
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
        return None if state.busy in (_CHECK, _FIX) else state.report

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

    def ready(self) -> tuple[bool, str]:
        """(True, "") when a job can be sent; else (False, what to do next in plain words).

        Required: person, top and coarse present and checked OK (which includes the coarse
        having the person photo's size), the bottom empty or OK, and a gender chosen.
        """
        for slot in REQUIRED_SLOTS:
            reason = self._slot_reason(slot, required=True)
            if reason:
                return False, reason
        reason = self._slot_reason(BOTTOM, required=False)
        if reason:
            return False, reason
        if self.gender() is None:
            return False, "Choose Woman or Man"
        return True, ""

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
        state.busy = _DOWNLOAD
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
        state.busy = _SAVE
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
        state.busy = _FIX
        state.error = None
        person = self._state(PERSON).upload_path() if slot == COARSE else None
        self._start(
            BackgroundTask(
                self._tag("fix", slot),
                functools.partial(_fix_job, slot, state.original, self._work_dir, person),
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
            checked: _CheckResult = result
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
                state.error = f"Fix did not help: {_shown_problem(report).message}"
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
            why = exc.message if isinstance(exc, UrlFetchError) else _plain(exc)
            state.error = f"Could not download the {label}: {why}"
        elif tag.kind == "save":
            state.error = f"Could not save the pasted picture: {_plain(exc)}"
        elif tag.kind == "fix":
            why = exc.message if isinstance(exc, ImageFixError) else _plain(exc)
            state.error = f"Fix failed: {why}"
        else:  # check_image never raises for a bad file, so this is a bug; still no crash
            log.error("pre-flight of %s failed", state.original, exc_info=exc)
            state.error = f"The {label} could not be checked: {_plain(exc)}"
        self._render(tag.slot)
        self.changed.emit()

    # -- helpers ---------------------------------------------------------------------------------

    @staticmethod
    def _known(slot: str) -> str:
        if slot not in SLOTS:
            raise ValueError(f"unknown slot {slot!r}; expected one of {', '.join(SLOTS)}")
        return slot

    def _state(self, slot: str) -> _SlotState:
        return self._states[self._known(slot)]

    def _reset(self, slot: str, state: _SlotState) -> None:
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
        state.busy = _CHECK
        state.error = None
        person = self._states[PERSON].upload_path() if slot == COARSE else None
        self._start(
            BackgroundTask(
                self._tag("check", slot),
                functools.partial(_check_job, slot, state.original, state.fixed, person),
            )
        )

    def _recheck_coarse(self) -> None:
        """The person photo changed: the coarse verdict (its size rule) must be redone."""
        if self._states[COARSE].original is not None and self._states[COARSE].busy != _DOWNLOAD:
            self._start_check(COARSE)
            self._render(COARSE)
            self.changed.emit()

    def _slot_reason(self, slot: str, *, required: bool) -> str:
        """Why ``slot`` keeps the job from being sent, or "" when it does not."""
        state = self._states[slot]
        label = SLOT_LABELS[slot]
        if state.busy == _DOWNLOAD:
            return f"Wait until the {label} is downloaded"
        if state.busy == _SAVE:
            return f"Wait until the {label} is saved"
        if state.original is None:
            return f"Add the {label}" if required else ""
        if state.busy == _CHECK:
            return f"Checking the {label}…"
        if state.busy == _FIX:
            return f"Fixing the {label}…"
        if state.error or state.report is None:
            return f"Replace the {label}"
        if state.report.ok:
            return ""
        if state.report.fixable:
            return f"Fix the {label}"
        problem = _shown_problem(state.report)
        if problem.code == "size_mismatch":
            return "Make the coarse try-on result again at the person photo's size"
        return f"Replace the {label}"

    def _render(self, slot: str) -> None:
        """Draw ``slot``'s state into its view (the thumbnail is set when it arrives)."""
        state = self._states[slot]
        view = self._slots[slot]
        if state.original is None:
            if state.busy in (_DOWNLOAD, _SAVE):
                return  # the busy look was set when the work started
            view.show_empty(state.error)
            return
        tooltip = str(state.original)
        if state.fixed is not None:
            tooltip = f"Original: {state.original}\nSent: fixed copy {state.fixed.name}"
        view.show_file(state.original.name, tooltip)
        report = state.report
        if report is not None and state.busy != _FIX:
            facts = " · ".join(_facts(report))
            view.set_details(f"Fixed copy · {facts}" if state.fixed is not None else facts)
        else:
            view.set_details("")
        if state.busy == _CHECK:
            view.set_verdict(BUSY, "Checking…")
        elif state.busy == _FIX:
            view.set_verdict(BUSY, "Fixing… (the original stays as it is)")
        elif state.error:
            view.set_verdict(ERROR, state.error)
        elif report is None:
            view.set_verdict(BUSY, "Checking…")
        elif report.ok:
            view.set_verdict(OK, "✓ OK")
        else:
            problem = _shown_problem(report)
            everything = "\n".join(f"• {p.message}" for p in report.problems)
            view.set_verdict(
                PROBLEM if report.fixable else ERROR,
                problem.message,
                fixable=report.fixable,
                tooltip=everything if len(report.problems) > 1 else "",
            )


def _facts(report: ImageReport) -> list[str]:
    """["JPEG 320×480", "45 KB"]: what the report knows, in the order people read it."""
    parts: list[str] = []
    if report.size is not None:
        kind = f"{report.format} " if report.format else ""
        parts.append(f"{kind}{report.width}×{report.height}")
    if report.file_size:
        # format_bytes says "0 KB" below 512 bytes, which reads like an empty file.
        size = report.file_size
        parts.append(f"{size} bytes" if size < 1024 else format_bytes(size))
    return parts


def _plain(exc: BaseException) -> str:
    """An exception in words for a user: its own message, else its type."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
