"""ReviewBar (keys, debounce, blind toggle) inside a real QMainWindow, and the Qt-free
BlindAssignment.

The window also holds a QLineEdit (as the main window's other text fields) and a focusable
plain widget standing in for the viewer, so every key test says where the focus is.
The screenshot goes to ``docs/screenshots/review_bar.png`` when ``REFINER_SCREENSHOTS=1``,
otherwise to the test's tmp_path (it is still taken, so drawing errors show up).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractButton,
    QComboBox,
    QLabel,
    QLineEdit,
    QMainWindow,
    QPlainTextEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from refiner_gui.jobs.models import DEFECT_TAGS
from refiner_gui.ui.blind import BlindAssignment, new_session_salt
from refiner_gui.ui.review import NOTE_DEBOUNCE_MS, TAG_KEYS, Review, ReviewBar
from refiner_gui.ui.review_advance import ADVANCE_PAUSE_MS
from refiner_gui.ui.review_keys import is_editing_text

SCREENSHOT_DIR = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
TAG_IDS = list(DEFECT_TAGS)


class Window(QMainWindow):
    """The bar under a focusable stand-in for the viewer, with a search field above."""

    def __init__(self) -> None:
        super().__init__()
        central = QWidget()
        column = QVBoxLayout(central)
        self.search = QLineEdit()
        self.search.setAccessibleName("Search")
        self.viewer = QWidget()
        self.viewer.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.viewer.setMinimumHeight(200)
        self.bar = ReviewBar()
        column.addWidget(self.search)
        column.addWidget(self.viewer, 1)
        column.addWidget(self.bar)
        self.setCentralWidget(central)
        # Like the main window's "Cancel job": Esc must not reach it from the note.
        self.cancelled = 0
        cancel = QAction("Cancel", self)
        cancel.setShortcut(QKeySequence("Esc"))
        cancel.triggered.connect(self._cancel)
        self.addAction(cancel)

    def _cancel(self) -> None:
        self.cancelled += 1


@pytest.fixture
def win(qtbot):
    window = Window()
    qtbot.addWidget(window)
    window.resize(1200, 420)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    focus(qtbot, window.viewer)
    return window


def focus(qtbot, widget: QWidget) -> None:
    widget.setFocus(Qt.FocusReason.OtherFocusReason)
    qtbot.waitUntil(widget.hasFocus)


def key(qtbot, window: Window, text: str, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    """Press a key where the focus is, as a user would (shortcuts see it first)."""
    target = window.focusWidget() or window
    qtbot.keyClick(target, QKeySequence(text)[0].key(), modifier)


def recorder(bar: ReviewBar) -> list[tuple[str, object]]:
    """Every bar signal, in order, as (name, argument)."""
    events: list[tuple[str, object]] = []
    bar.reviewChanged.connect(lambda r: events.append(("review", r)))
    bar.nextRequested.connect(lambda: events.append(("next", None)))
    bar.previousRequested.connect(lambda: events.append(("previous", None)))
    bar.preferenceChosen.connect(lambda answer: events.append(("answer", answer)))
    bar.blindChanged.connect(lambda on: events.append(("blind", on)))
    return events


# -- verdict keys ---------------------------------------------------------------------------


def test_p_and_f_set_the_verdict_and_report_it(qtbot, win):
    bar = win.bar
    bar.set_auto_advance(False)
    with qtbot.waitSignal(bar.reviewChanged) as blocker:
        key(qtbot, win, "P")
    assert blocker.args == [Review("pass", (), "")]
    assert bar.review().verdict == "pass"
    with qtbot.waitSignal(bar.reviewChanged) as blocker:
        key(qtbot, win, "F")
    assert blocker.args == [Review("fail", (), "")]
    assert bar._fail_button.isChecked() and not bar._pass_button.isChecked()


def test_pressing_the_active_verdict_again_clears_it(qtbot, win):
    bar = win.bar
    events = recorder(bar)
    key(qtbot, win, "P")
    assert bar.advance_pending()
    key(qtbot, win, "P")
    assert bar.review().verdict is None
    assert not bar._pass_button.isChecked()
    # Clearing is reported and cancels the pending auto-advance.
    assert not bar.advance_pending()
    assert events == [
        ("review", Review("pass", (), "")),
        ("review", Review(None, (), "")),
    ]


def test_verdict_buttons_are_exclusive_and_clearable_by_mouse(qtbot, win):
    bar = win.bar
    events = recorder(bar)
    qtbot.mouseClick(bar._fail_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(bar._pass_button, Qt.MouseButton.LeftButton)
    assert bar._pass_button.isChecked() and not bar._fail_button.isChecked()
    qtbot.mouseClick(bar._pass_button, Qt.MouseButton.LeftButton)
    assert events == [
        ("review", Review("fail", (), "")),
        ("review", Review("pass", (), "")),
        ("review", Review(None, (), "")),
    ]  # mouse clicks do not auto-advance
    assert win.viewer.hasFocus(), "a click on the bar must leave the focus on the viewer"


def test_letter_keys_toggle_tags(qtbot, win):

    bar = win.bar
    assert len(set(TAG_KEYS.values())) == len(TAG_KEYS) == len(TAG_IDS)
    assert not set(TAG_KEYS.values()) & {"P", "F", "E", "N", "B", "0", "1"}
    for tag in TAG_IDS:
        with qtbot.waitSignal(bar.reviewChanged) as blocker:
            key(qtbot, win, TAG_KEYS[tag])
        assert tag in blocker.args[0].tags
        assert bar._tag_buttons[tag].text().startswith(f"{TAG_KEYS[tag]} ")
    assert bar.review().tags == tuple(TAG_IDS)
    with qtbot.waitSignal(bar.reviewChanged) as blocker:
        key(qtbot, win, TAG_KEYS[TAG_IDS[2]])
    assert TAG_IDS[2] not in blocker.args[0].tags
    assert not bar._tag_buttons[TAG_IDS[2]].isChecked()


# -- note -----------------------------------------------------------------------------------


def test_note_edits_are_reported_once_after_the_debounce(qtbot, win):
    bar = win.bar
    events = recorder(bar)
    focus(qtbot, bar._note)
    qtbot.keyClicks(bar._note, "seam")
    assert events == [], "reported before the debounce"
    with qtbot.waitSignal(bar.reviewChanged, timeout=NOTE_DEBOUNCE_MS * 5) as blocker:
        pass
    assert blocker.args == [Review(None, (), "seam")]
    with qtbot.assertNotEmitted(bar.reviewChanged, wait=NOTE_DEBOUNCE_MS + 100):
        pass  # a quiet period: nothing more is reported


def test_leaving_the_note_reports_at_once_and_returns_the_focus(qtbot, win):
    bar = win.bar
    events = recorder(bar)
    focus(qtbot, win.viewer)
    key(qtbot, win, "E")  # E: into the note
    assert bar._note.hasFocus()
    qtbot.keyClicks(bar._note, "pfn1")
    with (
        qtbot.assertNotEmitted(bar.nextRequested),
        qtbot.waitSignal(bar.reviewChanged, timeout=100) as blocker,
    ):
        qtbot.keyClick(bar._note, Qt.Key.Key_Escape)
    assert blocker.args == [Review(None, (), "pfn1")]
    assert win.viewer.hasFocus()
    assert win.cancelled == 0, "Esc in the note reached the window's Esc action"
    assert events == [("review", Review(None, (), "pfn1"))], "letters typed in the note acted"
    with qtbot.assertNotEmitted(bar.reviewChanged, wait=NOTE_DEBOUNCE_MS + 100):
        pass  # the debounce timer was stopped: no second report


def test_focus_out_of_the_note_reports_the_edit(qtbot, win):
    bar = win.bar
    focus(qtbot, bar._note)
    qtbot.keyClicks(bar._note, "hair")
    with qtbot.waitSignal(bar.reviewChanged, timeout=100) as blocker:
        focus(qtbot, win.search)
    assert blocker.args[0].note == "hair"


@pytest.mark.parametrize("field", ["note", "search"])
def test_typing_in_a_text_field_does_not_trigger_keys(qtbot, win, field):
    bar = win.bar
    target = bar._note if field == "note" else win.search
    focus(qtbot, target)
    with (
        qtbot.assertNotEmitted(bar.nextRequested),
        qtbot.assertNotEmitted(bar.previousRequested),
        qtbot.assertNotEmitted(bar.blindChanged, wait=0),
    ):
        for text in "pf1nb[]e":
            key(qtbot, win, text)
    assert target.text() == "pf1nb[]e"
    assert bar.review().verdict is None
    assert bar.review().tags == ()
    assert target.hasFocus()


def test_a_pending_note_is_reported_before_navigation(qtbot, win):
    bar = win.bar
    events = recorder(bar)
    focus(qtbot, bar._note)
    qtbot.keyClicks(bar._note, "collar")
    qtbot.mouseClick(bar._next_button, Qt.MouseButton.LeftButton)
    assert events == [("review", Review(None, (), "collar")), ("next", None)]


# -- navigation and auto-advance --------------------------------------------------------------


def test_n_and_b_request_next_and_previous(qtbot, win):
    bar = win.bar
    bar.set_position(4, 10)
    for text, signal in (
        ("N", bar.nextRequested),
        ("]", bar.nextRequested),
        ("B", bar.previousRequested),
        ("[", bar.previousRequested),
    ):
        with qtbot.waitSignal(signal, timeout=100):
            key(qtbot, win, text)


def test_position_text_and_ends(qtbot, win):
    bar = win.bar
    bar.set_position(2, 27)
    assert bar.position_text() == "Look 3 of 27"
    bar.set_position(0, 27)
    with qtbot.assertNotEmitted(bar.previousRequested, wait=0):
        key(qtbot, win, "B")
    bar.set_position(26, 27)
    with qtbot.assertNotEmitted(bar.nextRequested, wait=0):
        key(qtbot, win, "N")
    bar.set_position(None, None)
    assert bar.position_text() == "No look"
    assert bar._next_button.isEnabled() and bar._back_button.isEnabled()


def test_auto_advance_waits_a_visible_pause_in_which_keys_apply_to_the_judged_look(qtbot, win):
    """F then A: the tag lands on the look just failed, the one still on screen; the bar
    says so while the pause runs, and only then asks for the next look."""
    bar = win.bar
    assert bar.auto_advance()
    bar.set_advance_delay(60_000)  # a pause that cannot end by itself during the test
    bar.set_look_name("job 15")
    assert "after P or F" in bar.rule_text()
    events = recorder(bar)
    key(qtbot, win, "F")
    assert bar.advance_pending()
    assert "keys still apply to job 15" in bar.rule_text()
    key(qtbot, win, "A")  # Artifacts, for the look still shown
    assert events == [
        ("review", Review("fail", (), "")),
        ("review", Review("fail", ("artifacts",), "")),
    ]
    key(qtbot, win, "N")  # go now
    assert events[-1] == ("next", None) and not bar.advance_pending()
    assert "after P or F" in bar.rule_text()


def test_the_pause_ends_by_itself_and_then_moves_on(qtbot, win):
    bar = win.bar
    bar.set_advance_delay(50)
    events = recorder(bar)
    key(qtbot, win, "P")
    assert events == [("review", Review("pass", (), ""))]
    with qtbot.waitSignal(bar.nextRequested, timeout=5000):
        pass
    assert events[-1] == ("next", None) and not bar.advance_pending()


def test_showing_another_look_or_typing_a_note_cancels_the_pause(qtbot, win):
    bar = win.bar
    bar.set_advance_delay(60_000)
    key(qtbot, win, "F")
    assert bar.advance_pending()
    bar.set_review(None, (), "")  # another look came on screen
    assert not bar.advance_pending()
    key(qtbot, win, "F")
    assert bar.advance_pending()
    key(qtbot, win, "E")  # a note holds the look
    assert not bar.advance_pending() and bar._note.hasFocus()


def test_no_pause_means_the_old_immediate_advance(qtbot, win):
    bar = win.bar
    bar.set_advance_delay(0)
    assert "at once" in bar.rule_text()
    events = recorder(bar)
    key(qtbot, win, "F")
    assert events == [("review", Review("fail", (), "")), ("next", None)]


def test_no_pause_on_the_last_look(qtbot, win):
    bar = win.bar
    bar.set_position(4, 5)
    with qtbot.assertNotEmitted(bar.nextRequested, wait=0):
        key(qtbot, win, "P")
    assert not bar.advance_pending()


def test_no_auto_advance_when_off(qtbot, win):
    bar = win.bar
    bar.set_auto_advance(False)
    events = recorder(bar)
    key(qtbot, win, "P")
    assert events == [("review", Review("pass", (), ""))]
    assert not bar.advance_pending() and bar.rule_text() == ""


# -- stored reviews and enabling ------------------------------------------------------------


def test_set_review_shows_a_stored_review_without_emitting(qtbot, win):
    bar = win.bar
    tags = (TAG_IDS[1], "retired_tag", TAG_IDS[0])
    with qtbot.assertNotEmitted(bar.reviewChanged, wait=NOTE_DEBOUNCE_MS + 100):
        bar.set_review("fail", tags, "sleeve too long")
    assert bar._fail_button.isChecked() and not bar._pass_button.isChecked()
    assert bar._tag_buttons[TAG_IDS[0]].isChecked() and bar._tag_buttons[TAG_IDS[1]].isChecked()
    assert bar._note.text() == "sleeve too long"
    # Canonical order; an id this version does not know is kept, not dropped.
    assert bar.review() == Review(
        "fail", (TAG_IDS[0], TAG_IDS[1], "retired_tag"), "sleeve too long"
    )
    with pytest.raises(ValueError):
        bar.set_review("maybe", (), "")


def test_set_review_reports_a_pending_note_first(qtbot, win):
    bar = win.bar
    events = recorder(bar)
    focus(qtbot, bar._note)
    qtbot.keyClicks(bar._note, "old")
    bar.set_review(None, (), "new job")
    assert events == [("review", Review(None, (), "old"))]
    with qtbot.assertNotEmitted(bar.reviewChanged, wait=NOTE_DEBOUNCE_MS + 100):
        pass  # the pending edit was reported once, not again by its timer


def test_disabled_review_ignores_keys(qtbot, win):
    bar = win.bar
    bar.set_review("pass", (TAG_IDS[0],), "x")
    bar.set_enabled_review(False)
    with qtbot.assertNotEmitted(bar.reviewChanged):
        for text in "PFIHE":
            key(qtbot, win, text)
    assert bar.review() == Review("pass", (TAG_IDS[0],), "x")
    assert not bar._note.hasFocus() and not bar._pass_button.isEnabled()
    # Navigation still works: a reviewer can move past a failed job.
    with qtbot.waitSignal(bar.nextRequested, timeout=100):
        key(qtbot, win, "N")
    bar.set_enabled_review(True)
    with qtbot.waitSignal(bar.reviewChanged, timeout=100):
        key(qtbot, win, "H")


def test_keys_are_dead_while_the_bar_is_hidden(qtbot, win):
    bar = win.bar
    bar.hide()
    with qtbot.assertNotEmitted(bar.reviewChanged), qtbot.assertNotEmitted(bar.nextRequested):
        key(qtbot, win, "P")
        key(qtbot, win, "N")


def test_every_control_has_a_name_and_a_tooltip(win):

    for widget in win.bar.findChildren(QWidget):
        if isinstance(widget.parent(), QLineEdit):
            continue  # the line edit's own clear button
        if isinstance(widget, QAbstractButton | QLineEdit) or (
            isinstance(widget, QLabel) and widget.text()
        ):
            assert widget.accessibleName(), widget
            assert widget.toolTip(), widget.accessibleName()


def test_the_bar_is_compact(win):
    assert win.bar.height() <= 90
    assert win.bar.sizeHint().height() <= 90
    assert win.bar.minimumSizeHint().width() <= 1200


def test_the_banner_and_the_blind_question_never_widen_the_bar(qtbot, win):
    bar = win.bar
    plain = bar.minimumSizeHint().width()
    bar.set_blind(True)
    bar.set_review(None, (), "", revealed=False)  # three answer buttons and the question
    assert bar.minimumSizeHint().width() <= plain
    bar.set_review(None, (), "", revealed=True, answer="You chose A: the refined image better")
    assert bar.minimumSizeHint().width() <= plain
    bar.set_blind(False)
    bar.set_advance_delay(60_000)
    key(qtbot, win, "F")
    assert bar.advance_pending() and bar.minimumSizeHint().width() <= plain
    assert bar.sizeHint().height() <= 90


# -- blind mode -----------------------------------------------------------------------------


def test_blind_toggle_and_ctrl_b(qtbot, win):
    bar = win.bar
    assert not bar.blind()
    with qtbot.waitSignal(bar.blindChanged) as blocker:
        bar.set_blind(True)
    assert blocker.args == [True] and bar.blind()
    assert "which looks better" in bar.blind_text()
    with qtbot.assertNotEmitted(bar.blindChanged, wait=0):
        bar.set_blind(True)
    with qtbot.waitSignal(bar.blindChanged, timeout=100) as blocker:
        key(qtbot, win, "B", Qt.KeyboardModifier.ControlModifier)
    assert blocker.args == [False] and not bar.blind()
    assert bar.blind_text() == "" and "P pass" in bar.hint_text()
    # Ctrl+B also works from the note: it types nothing.
    focus(qtbot, bar._note)
    with qtbot.waitSignal(bar.blindChanged, timeout=100) as blocker:
        key(qtbot, win, "B", Qt.KeyboardModifier.ControlModifier)
    assert blocker.args == [True] and bar._note.text() == ""


@pytest.mark.parametrize(("press", "answer"), [("A", "A"), ("B", "B"), ("S", "same")])
def test_blind_asks_which_looks_better_before_the_verdict(qtbot, win, press, answer):
    bar = win.bar
    bar.set_auto_advance(False)
    bar.set_blind(True)
    bar.set_review(None, (), "", revealed=False)
    assert "which looks better" in bar.blind_text() and bar.blind_hidden()
    assert not bar._pass_button.isEnabled()
    events = recorder(bar)
    key(qtbot, win, "P")  # refused while hidden: answer first
    assert events == [] and bar.review().verdict is None
    key(qtbot, win, press, Qt.KeyboardModifier.ShiftModifier)
    assert events == [("answer", answer)]  # not a tag: Shift+A is not A
    assert not bar.blind_hidden() and "revealed" in bar.blind_text()
    with qtbot.assertNotEmitted(bar.preferenceChosen, wait=0):
        key(qtbot, win, press, Qt.KeyboardModifier.ShiftModifier)  # answered once only
    key(qtbot, win, "P")
    assert events[-1] == ("review", Review("pass", (), ""))
    bar.set_blind_answer("You chose A: the refined image better")
    assert "You chose A" in bar.blind_text()
    bar.set_review(None, (), "", revealed=False)  # the next look: hidden again
    assert bar.blind_hidden()


def test_blind_answer_buttons(qtbot, win):
    bar = win.bar
    bar.set_blind(True)
    bar.set_review(None, (), "", revealed=False)
    buttons = bar._blind_question.buttons
    assert all(b.isVisible() for b in buttons.values())
    with qtbot.waitSignal(bar.preferenceChosen) as blocker:
        qtbot.mouseClick(buttons["same"], Qt.MouseButton.LeftButton)
    assert blocker.args == ["same"]
    assert not any(b.isVisible() for b in buttons.values())
    bar.set_review("pass", (), "")  # an already judged look counts as revealed
    assert not bar.blind_hidden() and bar._pass_button.isEnabled()


def test_blind_assignment_is_reproducible_and_fair():
    draws = [BlindAssignment.draw(seed) for seed in range(200)]
    assert draws == [BlindAssignment.draw(seed) for seed in range(200)]
    swapped = sum(d.swapped for d in draws)
    assert 60 < swapped < 140, swapped
    salt = new_session_salt()
    assert BlindAssignment.draw(7 ^ salt) == BlindAssignment.draw(7 ^ salt)
    assert isinstance(BlindAssignment.draw().swapped, bool)


@pytest.mark.parametrize("swapped", [False, True])
def test_blind_assignment_order_labels_and_side_agree(swapped):
    assignment = BlindAssignment(swapped=swapped)
    left, right = assignment.order("coarse.png", "refined.png")
    side = assignment.which_is_refined()
    assert {"left": left, "right": right}[side] == "refined.png"
    assert side == ("left" if swapped else "right")
    assert assignment.labels(revealed=False) == ("A", "B")
    revealed = dict(zip(("left", "right"), assignment.labels(revealed=True), strict=True))
    assert revealed[side] == "Refined"
    assert set(revealed.values()) == {"Coarse", "Refined"}


# -- screenshot -----------------------------------------------------------------------------


def test_screenshot(qtbot, win, tmp_path):
    """docs/screenshots/review_bar.png when REFINER_SCREENSHOTS=1; tmp_path otherwise."""
    out = SCREENSHOT_DIR if os.environ.get("REFINER_SCREENSHOTS") == "1" else tmp_path
    out.mkdir(parents=True, exist_ok=True)
    bar = win.bar
    bar.set_position(2, 27)
    bar.set_review("fail", (TAG_IDS[0], TAG_IDS[3]), "Logo on the chest is blurred")
    image = bar.grab()
    assert not image.isNull()
    assert image.save(str(out / "review_bar.png"))
    bar.set_blind(True)
    bar.set_review(None, (), "", revealed=False)
    label = bar._blind_question.label  # the layout settles on the next event-loop turn
    qtbot.waitUntil(lambda: label.width() >= label.sizeHint().width())
    assert bar.grab().save(str(out / "review_bar_blind.png"))
    bar.set_blind(False)
    bar.set_review(None, (), "")
    # The real pause for the docs (run by hand); one that cannot end during a test run.
    bar.set_advance_delay(ADVANCE_PAUSE_MS if out == SCREENSHOT_DIR else 60_000)
    bar.set_look_name("job 14")
    key(qtbot, win, "F")
    assert bar.advance_pending()
    label = bar._rule_label
    qtbot.waitUntil(lambda: label.width() >= label.sizeHint().width())
    assert bar.grab().save(str(out / "review_bar_pause.png"))


def test_which_widgets_count_as_typing(qtbot):

    read_only = QLineEdit()
    read_only.setReadOnly(True)
    editable_combo = QComboBox()
    editable_combo.setEditable(True)
    widgets = (QLineEdit(), read_only, QPlainTextEdit(), QSpinBox(), editable_combo, QComboBox())
    for widget in widgets:
        qtbot.addWidget(widget)
    assert [is_editing_text(w) for w in widgets] == [True, False, True, True, True, False]
    assert not is_editing_text(None)
