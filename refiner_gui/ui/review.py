"""The review bar: record a verdict, defect tags and a note for the shown look, by keyboard.

A view in the STYLE.md sense: it shows one review and reports what the user changed; it
never stores anything and does not know which job is shown. The main window embeds it
under the result viewer, feeds it with :meth:`ReviewBar.set_review` /
:meth:`ReviewBar.set_position` and saves what :attr:`ReviewBar.reviewChanged` reports.

Keys (window-wide, declared in :mod:`refiner_gui.ui.review_keys`) work wherever the focus
is in the bar's window, except in an editable text field, where letters and digits are
typed instead.

Threads: everything here runs on the GUI thread.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial

import shiboken6
from PySide6.QtCore import QEvent, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QLabel,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from refiner_gui.jobs.models import DEFECT_TAGS, VERDICTS
from refiner_gui.ui.drop_slot import ERROR, OK
from refiner_gui.ui.flow_layout import FlowLayout, row_widget
from refiner_gui.ui.review_advance import ADVANCE_PAUSE_MS, AdvancePause
from refiner_gui.ui.review_keys import (
    BLIND_KEY,
    FAIL_KEY,
    KEY_HINT,
    KEY_MAP,
    NEXT_KEYS,
    NOTE_KEY,
    PASS_KEY,
    PREFER_KEYS,
    PREVIOUS_KEYS,
    SHORT_TAG_LABELS,
    TAG_KEYS,
    is_editing_text,
)
from refiner_gui.ui.review_note import NoteEdit
from refiner_gui.ui.review_parts import (
    ReviewHints,
    separator,
    style_toggle,
    style_verdict,
    tool_button,
)

log = logging.getLogger(__name__)

PASS, FAIL = VERDICTS

NOTE_DEBOUNCE_MS = 400
"""Quiet time after the last keystroke before a note edit is reported."""

NOTE_MAX_LENGTH = 2000


@dataclass(frozen=True)
class Review:
    """One look's review as the user left it.

    Attributes:
        verdict: ``"pass"``, ``"fail"`` or None (not judged).
        tags: defect tag ids, DEFECT_TAGS order first, then any stored ids this version
            does not know (kept so that saving never drops them).
        note: the free note, exactly as typed.
    """

    verdict: str | None
    tags: tuple[str, ...]
    note: str


class ReviewBar(QWidget):
    """Verdict, defect tags and note for the shown look, plus look navigation and the
    blind-review toggle, for under the viewer: two rows of controls and a line of key
    hints (about 66 px high at 1x with the default font).

    Signals (all emitted on the GUI thread, only for user actions unless stated):
        reviewChanged(Review): the user set or cleared the verdict, toggled a tag, or
            edited the note. Note edits are reported 400 ms after the last keystroke, on
            leaving the note, and before ``nextRequested`` / ``previousRequested`` and
            :meth:`set_review`, so no typed text is lost when the look changes.
        nextRequested(): go to the next look (N, ], the Next button, or auto-advance at
            the end of the pause after a verdict key, see :mod:`.review_advance`). Not
            emitted on the last look (see :meth:`set_position`).
        previousRequested(): go to the previous look (B, [, the Back button); not emitted
            on the first look.
        preferenceChosen(str): blind mode, sides hidden: the reviewer answered "which
            looks better?" with "A", "B" (the side captions) or "same". The bar now counts
            the look as revealed; the receiver stores the unblinded answer and shows the
            real captions. While hidden, P and F are refused: answer first.
        blindChanged(bool): blind mode was switched (by the user, Ctrl+B, or
            :meth:`set_blind`); not emitted when it stays the same.

    Contract with the window, per shown job: ``set_position``, ``set_look_name``, then
    ``set_review`` (``revealed=False`` for a blind look still hidden), then
    ``set_enabled_review(job is finished)``. Showing another review cancels a pending
    auto-advance: keys never act on a look other than the one shown.

    Keys are ``Qt.WindowShortcut`` shortcuts: they work anywhere in the bar's window
    while the bar is visible, but not while an editable text field has the focus. They
    claim the tag letters (:data:`TAG_KEYS`), P, F, E, N, B, [, ] and Ctrl+B in that
    window; another window-wide action on the same key makes Qt treat both as ambiguous
    and neither fires.
    """

    reviewChanged = Signal(object)
    nextRequested = Signal()
    previousRequested = Signal()
    preferenceChosen = Signal(str)
    blindChanged = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Review")
        self.setAccessibleDescription(
            "Verdict, defect tags and note for the shown look. " + KEY_HINT
        )
        self._verdict: str | None = None
        self._extra_tags: tuple[str, ...] = ()  # stored tags this version does not know
        self._reported_note = ""
        self._review_enabled = True
        self._revealed = False
        self._answer = ""
        self._index: int | None = None
        self._total: int | None = None
        self._return_focus: QWidget | None = None
        self._look_name = ""
        self._advance = AdvancePause(ADVANCE_PAUSE_MS, self)
        self._advance.elapsed.connect(self._request_next)
        self._advance.changed.connect(self._update_rule)

        self._note_timer = QTimer(self)
        self._note_timer.setSingleShot(True)
        self._note_timer.setInterval(NOTE_DEBOUNCE_MS)
        self._note_timer.timeout.connect(self.commit_pending)

        self._build()
        self._build_shortcuts()
        app = QApplication.instance()
        if isinstance(app, QApplication):
            app.focusChanged.connect(self._on_focus_changed)
        self._update_verdict_buttons()
        self._update_position()
        self._update_blind_hint()
        self._update_rule()

    # ================================================================ public API
    def review(self) -> Review:
        """The review as shown now (the note as typed, even if not reported yet)."""
        known = tuple(tag for tag, button in self._tag_buttons.items() if button.isChecked())
        return Review(self._verdict, known + self._extra_tags, self._note.text())

    def set_review(
        self,
        verdict: str | None,
        tags: Iterable[str],
        note: str,
        *,
        revealed: bool | None = None,
        answer: str = "",
    ) -> None:
        """Show a job's stored review; emits nothing about it. Cancels a pending advance.

        A note edit still waiting for its debounce is reported first (``reviewChanged``
        with the review shown until now), so call this *before* switching the job your
        ``reviewChanged`` handler saves to, or call :meth:`commit_pending` yourself.
        ``revealed`` sets the blind state (None: a look with a verdict counts as
        revealed); ``answer`` describes its stored blind answer for the bar ("" none).

        Raises:
            ValueError: ``verdict`` is not None, "pass" or "fail".
        """
        if verdict is not None and verdict not in VERDICTS:
            raise ValueError(f"unknown verdict {verdict!r}; expected one of {VERDICTS}")
        self.commit_pending()
        self._advance.cancel()
        tag_set = list(dict.fromkeys(tags))
        self._verdict = verdict
        for tag, button in self._tag_buttons.items():
            button.setChecked(tag in tag_set)
        self._extra_tags = tuple(t for t in tag_set if t not in self._tag_buttons)
        self._note.setText(note)  # setText does not emit textEdited: no debounce starts
        self._note.setCursorPosition(0)
        self._reported_note = note
        self._revealed = verdict is not None if revealed is None else revealed
        self._answer = answer
        self._update_verdict_buttons()
        self._update_blind_hint()

    def commit_pending(self) -> None:
        """Report a note edit now if it has not been reported yet (no-op otherwise)."""
        self._note_timer.stop()
        if self._note.text() != self._reported_note:
            self._emit_review()

    def set_position(self, index: int | None, total: int | None) -> None:
        """Show "Look 3 of 27": ``index`` is 0-based (index 2 is the third look); None for
        either means unknown. Back is disabled on index 0, Next on the last look."""
        self._index = index
        self._total = total
        self._update_position()

    def set_enabled_review(self, enabled: bool) -> None:
        """Allow or block reviewing (block it while no finished job is shown). Blocked,
        the verdict, tag and note controls are disabled and their keys do nothing;
        navigation and the blind toggle keep working."""
        if not enabled:
            self.commit_pending()
            self._advance.cancel()
        self._review_enabled = enabled
        for widget in (self._note, *self._tag_buttons.values()):
            widget.setEnabled(enabled)
        for shortcut in self._review_shortcuts:
            shortcut.setEnabled(enabled)
        self._blind_question.set_answers_enabled(enabled)
        self._update_verdict_buttons()

    def review_enabled(self) -> bool:
        return self._review_enabled

    def blind(self) -> bool:
        return self._blind_button.isChecked()

    def set_blind(self, on: bool) -> None:
        """Switch blind mode; emits ``blindChanged`` if it changes."""
        self._blind_button.setChecked(on)

    def auto_advance(self) -> bool:
        return self._auto_button.isChecked()

    def set_auto_advance(self, on: bool) -> None:
        """After a verdict *key*, emit ``nextRequested`` once the pause ends (not for mouse
        clicks, not when the verdict is cleared, not on the last look)."""
        self._auto_button.setChecked(on)

    def set_advance_delay(self, ms: int) -> None:
        """The auto-advance pause (0: at once); tests and settings set it."""
        self._advance.set_delay(ms)
        self._update_rule()

    def advance_pending(self) -> bool:
        """True while a judged look waits for the pause to end."""
        return self._advance.pending()

    def cancel_advance(self) -> None:
        """Stay on the shown look (no-op without a pending advance)."""
        self._advance.cancel()

    def set_look_name(self, name: str) -> None:
        """What the pause banner calls the shown look ("job 14")."""
        self._look_name = name

    def rule_text(self) -> str:
        """The auto-advance rule or pause banner as shown ("" with auto-advance off)."""
        return self._rule_label.text() if self._rule_label.isVisibleTo(self) else ""

    def position_text(self) -> str:
        return self._position_label.text()

    def hint_text(self) -> str:
        """The line of key hints."""
        return self._hint_label.text()

    def blind_text(self) -> str:
        """What the bar says about blind review ("" while blind mode is off)."""
        return self._blind_question.text() if self.blind() else ""

    def set_blind_answer(self, answer: str) -> None:
        """Describe the shown look's stored blind answer ("you chose A: refined")."""
        self._answer = answer
        self._update_blind_hint()

    def blind_hidden(self) -> bool:
        """True in blind mode while the sides are still hidden (P and F wait)."""
        return self.blind() and not self._revealed

    # ================================================================ building
    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 3, 6, 3)
        layout.setSpacing(2)
        # The verdict and tag buttons wrap onto a second row in a narrow window.
        top = FlowLayout(spacing=3)
        bottom = FlowLayout(spacing=6)
        layout.addLayout(top)
        layout.addLayout(bottom)

        self._pass_button = tool_button(
            "\u2713 Pass (P)", "Pass", "The refined look is acceptable (P; press again to clear)"
        )
        self._fail_button = tool_button(
            "\u2717 Fail (F)",
            "Fail",
            "The refined look is not acceptable (F; press again to clear)",
        )
        self._pass_button.clicked.connect(self._on_pass_clicked)
        self._fail_button.clicked.connect(self._on_fail_clicked)
        top.addWidget(self._pass_button)
        top.addWidget(self._fail_button)
        top.addWidget(separator())

        self._tag_buttons: dict[str, QToolButton] = {}
        for tag, label in DEFECT_TAGS.items():
            short = SHORT_TAG_LABELS.get(tag, label)
            letter = TAG_KEYS.get(tag)
            key = f" ({letter})" if letter else ""
            button = tool_button(
                f"{letter} {short}" if letter else short,
                label,
                f"Defect: {label}{key}. Toggle on or off.",
            )
            button.setAccessibleDescription(f"Defect tag{key}")
            button.clicked.connect(self._on_tag_clicked)
            button.toggled.connect(self._style_toggles)
            self._tag_buttons[tag] = button
            top.addWidget(button)

        self._back_button = tool_button("\u25c0 Back", "Previous look", "Previous look (B or [)")
        self._back_button.setCheckable(False)
        self._back_button.clicked.connect(self._request_previous)
        self._position_label = QLabel()
        self._position_label.setAccessibleName("Look position")
        self._position_label.setToolTip("Which look of the list is shown")
        self._position_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._position_label.setMinimumWidth(
            self._position_label.fontMetrics().horizontalAdvance("Look 888 of 888")
        )
        self._next_button = tool_button("Next \u25b6", "Next look", "Next look (N or ])")
        self._next_button.setCheckable(False)
        self._next_button.clicked.connect(self._request_next)
        bottom.addWidget(row_widget(self._back_button, self._position_label, self._next_button))

        note_label = QLabel("&Note")
        note_label.setAccessibleName("Note")
        self._note = NoteEdit(NOTE_MAX_LENGTH)
        note_label.setBuddy(self._note)
        note_label.setToolTip(self._note.toolTip())
        self._note.textEdited.connect(self._on_note_edited)
        self._note.focusLeft.connect(self.commit_pending)
        self._note.leaveRequested.connect(self._leave_note)
        self._note.setMinimumWidth(self._note.fontMetrics().horizontalAdvance("What did you see?"))
        bottom.addWidget(row_widget(note_label, self._note, stretch=self._note), stretch=True)

        self._auto_button = QCheckBox("Auto-advance")
        self._auto_button.setChecked(True)
        self._auto_button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        self._auto_button.setAccessibleName("Auto-advance")
        self._auto_button.setToolTip(
            "After a verdict key (P or F), go to the next look after a short pause.\n"
            "During the pause, keys still apply to the look you just judged."
        )
        self._auto_button.toggled.connect(self._update_rule)
        self._blind_button = tool_button(
            "Blind (Ctrl+B)",
            "Blind review",
            "Blind review (Ctrl+B): the sides are shuffled and called A and B until you\n"
            "say which looks better (Shift+A, Shift+B, Shift+S), which reveals them.",
        )
        self._blind_button.toggled.connect(self._on_blind_toggled)
        bottom.addWidget(self._auto_button)
        bottom.addWidget(self._blind_button)

        self._hints = ReviewHints(self._auto_button.toolTip(), self._blind_button.toolTip())
        self._hint_label = self._hints.hint_label
        self._rule_label = self._hints.rule_label
        self._blind_question = self._hints.blind
        self._blind_question.answered.connect(self._on_answer)
        layout.addWidget(self._hints)

    def _build_shortcuts(self) -> None:
        self._review_shortcuts: list[QShortcut] = []

        def add(key: str, slot: object, *, review: bool) -> QShortcut:
            shortcut = QShortcut(QKeySequence(key), self)
            shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
            shortcut.activated.connect(slot)
            if review:
                self._review_shortcuts.append(shortcut)
            return shortcut

        # The keys come from review_keys, which the keyboard help lists too.
        add(PASS_KEY, self._on_pass_key, review=True)
        add(FAIL_KEY, self._on_fail_key, review=True)
        for tag in self._tag_buttons:
            if tag in TAG_KEYS:
                add(TAG_KEYS[tag], partial(self._on_tag_key, tag), review=True)
        add(NOTE_KEY, self._focus_note, review=True)
        for key in NEXT_KEYS:
            add(key, self._on_next_key, review=False)
        for key in PREVIOUS_KEYS:
            add(key, self._on_previous_key, review=False)
        add(BLIND_KEY, self._blind_button.toggle, review=False)
        for answer, key in PREFER_KEYS.items():
            add(key, partial(self._on_answer_key, answer), review=True)

    # ================================================================ slots
    @Slot(bool)
    def _on_pass_clicked(self, checked: bool) -> None:
        self._set_verdict(PASS if checked else None, by_key=False)

    @Slot(bool)
    def _on_fail_clicked(self, checked: bool) -> None:
        self._set_verdict(FAIL if checked else None, by_key=False)

    def _on_answer_key(self, answer: str) -> None:
        if self._keys_allowed(review=True):
            self._on_answer(answer)

    @Slot(str)
    def _on_answer(self, answer: str) -> None:
        if not self.blind_hidden() or not self._review_enabled:
            return  # only a hidden comparison can be answered blind
        self._revealed = True
        self._update_verdict_buttons()
        self._update_blind_hint()
        self.preferenceChosen.emit(answer)

    @Slot()
    def _on_pass_key(self) -> None:
        if self._keys_allowed(review=True):
            self._set_verdict(None if self._verdict == PASS else PASS, by_key=True)

    @Slot()
    def _on_fail_key(self) -> None:
        if self._keys_allowed(review=True):
            self._set_verdict(None if self._verdict == FAIL else FAIL, by_key=True)

    @Slot()
    def _on_tag_clicked(self) -> None:
        self._emit_review()

    def _on_tag_key(self, tag: str) -> None:
        if self._keys_allowed(review=True):
            self._tag_buttons[tag].toggle()
            self._emit_review()

    @Slot()
    def _on_next_key(self) -> None:
        if self._keys_allowed(review=False):
            self._request_next()

    @Slot()
    def _on_previous_key(self) -> None:
        if self._keys_allowed(review=False):
            self._request_previous()

    @Slot()
    def _request_next(self) -> None:
        self._advance.cancel()
        if self._next_button.isEnabled():
            self.commit_pending()
            self.nextRequested.emit()

    @Slot()
    def _request_previous(self) -> None:
        self._advance.cancel()
        if self._back_button.isEnabled():
            self.commit_pending()
            self.previousRequested.emit()

    @Slot(str)
    def _on_note_edited(self, _text: str) -> None:
        self._note_timer.start()

    @Slot()
    def _focus_note(self) -> None:
        if self._keys_allowed(review=True):
            self._advance.cancel()  # typing a note holds the look
            self._note.setFocus(Qt.FocusReason.ShortcutFocusReason)
            self._note.end(False)

    @Slot()
    def _leave_note(self) -> None:
        self.commit_pending()
        target = self._return_focus
        self._return_focus = None
        if (
            target is not None
            and shiboken6.isValid(target)
            and target.isVisible()
            and (target.isEnabled() and target.window() is self.window())
        ):
            target.setFocus(Qt.FocusReason.OtherFocusReason)
        else:
            # Nowhere sensible to go back to: with no focus widget the window's keys work.
            self._note.clearFocus()

    @Slot(QWidget, QWidget)
    def _on_focus_changed(self, old: QWidget | None, new: QWidget | None) -> None:
        # Remember where the user came from, so Esc/Enter in the note returns there.
        if new is self._note:
            self._advance.cancel()  # typing a note holds the look
        if new is self._note and old is not None and old is not self._note:
            self._return_focus = old

    @Slot(bool)
    def _on_blind_toggled(self, on: bool) -> None:
        self._style_toggles()
        self._update_blind_hint()
        self.blindChanged.emit(on)

    # ================================================================ internals
    def _keys_allowed(self, *, review: bool) -> bool:
        """Whether a single-key shortcut may act now. Text fields normally claim typed
        keys themselves (ShortcutOverride); this also covers those that do not."""
        if review and not self._review_enabled:
            return False
        return not is_editing_text(QApplication.focusWidget())

    def _set_verdict(self, verdict: str | None, *, by_key: bool) -> None:
        if verdict == self._verdict or self.blind_hidden():
            self._update_verdict_buttons()  # blind and hidden: answer first
            return
        self._verdict = verdict
        self._update_verdict_buttons()
        self._emit_review()
        if verdict is None:
            self._advance.cancel()
        elif by_key and self.auto_advance() and self._next_button.isEnabled():
            self._advance.start(self._look_name)

    def _emit_review(self) -> None:
        self._note_timer.stop()
        self._reported_note = self._note.text()
        self.reviewChanged.emit(self.review())

    def _update_verdict_buttons(self) -> None:
        allowed = self._review_enabled and not self.blind_hidden()
        self._pass_button.setEnabled(allowed)
        self._fail_button.setEnabled(allowed)
        self._pass_button.setChecked(self._verdict == PASS)
        self._fail_button.setChecked(self._verdict == FAIL)
        style_verdict(self._pass_button, OK, self.palette())
        style_verdict(self._fail_button, ERROR, self.palette())

    @Slot()
    def _style_toggles(self) -> None:
        for button in (*self._tag_buttons.values(), self._blind_button):
            style_toggle(button, self.palette())

    def _update_position(self) -> None:
        index, total = self._index, self._total
        if index is None:
            text = "No look" if not total else f"– of {total}"
        elif total is None:
            text = f"Look {index + 1}"
        else:
            text = f"Look {index + 1} of {total}"
        self._position_label.setText(text)
        self._back_button.setEnabled(index is None or index > 0)
        self._next_button.setEnabled(index is None or total is None or index < total - 1)

    def _update_blind_hint(self) -> None:
        self._blind_question.setVisible(self.blind())
        self._blind_question.set_state(hidden=not self._revealed, answer=self._answer)
        self._update_rule()

    @Slot()
    def _update_rule(self) -> None:
        # While blind and hidden the question is what matters; the rule returns after.
        visible = self.auto_advance() and not self.blind_hidden()
        self._hints.show_rule(visible, self._advance.text(), pending=self._advance.pending())

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt override)
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self._update_verdict_buttons()
            self._style_toggles()
            self._blind_question.refresh_palette()
            self._update_blind_hint()


__all__ = ["KEY_MAP", "NOTE_DEBOUNCE_MS", "TAG_KEYS", "Review", "ReviewBar"]
