"""Loading several files at once (issue 10): Ctrl+O and drops on the window put each file in
its slot by role, unclear cases ask in a dialog (never alphabetical), thumbnails drag from
slot to slot to swap, and a slot never shows stale or contradictory states. Real files,
real background threads, the real window."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QApplication, QFileDialog

from refiner_gui.role_guess import guess_roles
from refiner_gui.settings import Settings
from refiner_gui.slots import BOTTOM, COARSE, PERSON, SLOTS, TOP
from refiner_gui.ui.assign_dialog import NOT_USED, AssignDialog, assignment_problem
from refiner_gui.ui.drop_mime import dragged_slot, slot_mime
from refiner_gui.ui.drop_slot import OK
from refiner_gui.ui.main_window import MainWindow
from tests.helpers.images import make_photo, make_product_shot
from tests.test_drop_slot import drag_enter, drop_mime, file_mime

SCREENSHOT_DIR = Path(__file__).resolve().parent.parent / "docs" / "screenshots"


@pytest.fixture
def window(qtbot):
    w = MainWindow(settings=Settings())
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.shutdown()


@pytest.fixture
def look(tmp_path):
    """One look with telling names: person, shirt, try-on (person's size), trousers."""
    return {
        PERSON: make_photo(tmp_path / "model_front.jpg", (320, 480)),
        TOP: make_product_shot(tmp_path / "shirt.png"),
        COARSE: make_photo(tmp_path / "try-on.png", (320, 480), seed=2),
        BOTTOM: make_product_shot(tmp_path / "pantalon.jpg", (200, 400), colour=(20, 20, 20)),
    }


def loader(window):
    return window.content.loader


def placed(window) -> dict[str, Path | None]:
    return {slot: window.inputs.original_path(slot) for slot in SLOTS}


def drop_on_window(window, mime: QMimeData) -> bool:
    """Drop ``mime`` on the window outside any slot (its frame takes drops there)."""
    if not drag_enter(window, mime).isAccepted():
        return False
    event = QDropEvent(
        QPointF(5, 5),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(window, event)
    return event.isAccepted()


def answer(dialog: AssignDialog, roles: dict[Path, str]) -> None:
    for path, slot in roles.items():
        dialog.set_role(path, slot)
    assert dialog.load_button.isEnabled(), dialog.problem()
    dialog.load_button.click()


# -- by role, from anywhere --------------------------------------------------------------------


def test_four_files_dropped_on_the_window_land_in_their_slots(qtbot, window, look):
    scrambled = [look[BOTTOM], look[COARSE], look[TOP], look[PERSON]]
    with qtbot.waitSignal(loader(window).loaded, timeout=10_000) as sig:
        assert drop_on_window(window, file_mime(*scrambled))
    assert sig.args == [look]
    assert placed(window) == look
    assert "person photo: model_front.jpg" in window.statusBar().currentMessage()
    qtbot.waitUntil(lambda: window.inputs.slot_view(COARSE).verdict_kind() == OK)


def test_ctrl_o_takes_several_files_by_role_not_by_order(qtbot, window, look, monkeypatch):
    # The person photo is already there: Open replaces by role, never "the empty slots".
    window.inputs.set_file(PERSON, make_photo(look[PERSON].with_name("old.jpg"), (320, 480)))
    names = [str(look[s]) for s in (COARSE, BOTTOM, PERSON, TOP)]
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", lambda *a, **k: (names, ""))
    with qtbot.waitSignal(loader(window).loaded, timeout=10_000):
        window.content.menus.action("open").trigger()
    assert placed(window) == look


def test_picture_rules_fill_in_where_names_say_nothing(qtbot, window, tmp_path):
    person = make_photo(tmp_path / "person.jpg", (320, 480))
    coarse = make_photo(tmp_path / "IMG_0001.jpg", (320, 480), seed=7)  # person's size
    shot = make_product_shot(tmp_path / "IMG_0002.jpg")  # plain border: the garment
    with qtbot.waitSignal(loader(window).loaded, timeout=10_000):
        assert drop_on_window(window, file_mime(shot, coarse, person))
    assert placed(window) == {PERSON: person, TOP: shot, COARSE: coarse, BOTTOM: None}


def test_unclear_files_open_the_dialog_and_its_answer_is_used(qtbot, window, tmp_path):
    a = make_photo(tmp_path / "a.jpg", (320, 480))
    b = make_photo(tmp_path / "b.jpg", (320, 480), seed=3)  # same size: person or coarse?
    top = make_product_shot(tmp_path / "top.png")
    with qtbot.waitSignal(loader(window).asking, timeout=10_000) as sig:
        assert drop_on_window(window, file_mime(a, b, top))
    dialog = sig.args[0]
    assert dialog.isVisible() and dialog is loader(window).dialog()
    assert dialog.choices() == {a: None, b: None, top: TOP}  # sure roles only, no guess
    assert not dialog.load_button.isEnabled()
    assert placed(window)[PERSON] is None  # nothing loaded before the user answers
    with qtbot.waitSignal(loader(window).loaded):
        answer(dialog, {a: COARSE, b: PERSON})
    assert placed(window) == {PERSON: b, TOP: top, COARSE: a, BOTTOM: None}


def test_files_without_any_clue_are_never_assigned_alphabetically(qtbot, window, tmp_path):
    files = [
        make_photo(tmp_path / f"{n}.png", (300 + 20 * i, 400), seed=i) for i, n in enumerate("abcd")
    ]
    with qtbot.waitSignal(loader(window).asking, timeout=10_000) as sig:
        assert drop_on_window(window, file_mime(*files))
    dialog = sig.args[0]
    assert list(dialog.choices().values()) == [None, None, None, None]
    assert "Choose what a.png is" in dialog.problem()
    dialog.reject()
    qtbot.waitUntil(lambda: loader(window).dialog() is None)
    assert placed(window) == dict.fromkeys(SLOTS)  # cancelled: nothing loaded


def test_several_files_on_one_slot_go_by_role_and_say_so(qtbot, window, look):
    view = window.inputs.slot_view(TOP)
    with qtbot.waitSignal(loader(window).loaded, timeout=10_000):
        assert drop_mime(view, file_mime(look[PERSON], look[TOP]))
    assert placed(window) == {PERSON: look[PERSON], TOP: look[TOP], COARSE: None, BOTTOM: None}
    message = window.statusBar().currentMessage()
    assert "top garment: shirt.png" in message and "person photo: model_front.jpg" in message


def test_a_fifth_file_can_be_left_out(qtbot, window, look, tmp_path):
    extra = make_photo(tmp_path / "portrait_side.jpg", (300, 500), seed=8)  # a second person
    with qtbot.waitSignal(loader(window).asking, timeout=10_000) as sig:
        assert drop_on_window(window, file_mime(*look.values(), extra))
    dialog = sig.args[0]
    assert dialog.choices()[look[TOP]] == TOP  # the sure ones are kept
    assert dialog.choices()[extra] is None and dialog.choices()[look[PERSON]] is None
    with qtbot.waitSignal(loader(window).loaded):
        answer(dialog, {look[PERSON]: PERSON, extra: NOT_USED})
    assert placed(window) == look
    assert "Not used: portrait_side.jpg" in window.statusBar().currentMessage()


def test_nothing_loads_while_a_job_runs(qtbot, window, look):
    window.inputs.set_enabled_inputs(False)  # what the window does while a job runs
    assert drop_on_window(window, file_mime(*look.values()))
    assert "Wait for the running job" in window.statusBar().currentMessage()
    assert not drop_mime(window.inputs.slot_view(PERSON), slot_mime(TOP))
    assert placed(window) == dict.fromkeys(SLOTS)


# -- the dialog's rules --------------------------------------------------------------------------


def test_dialog_refuses_duplicates_and_missing_slots_until_partial_is_accepted(qtbot, tmp_path):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    dialog = AssignDialog([a, b], guess_roles([a, b], {}), {})
    qtbot.addWidget(dialog)
    dialog.set_role(a, TOP)
    dialog.set_role(b, TOP)
    assert not dialog.load_button.isEnabled() and "Two files" in dialog.problem()
    dialog.set_role(b, NOT_USED)
    assert not dialog.load_button.isEnabled() and "would be missing" in dialog.problem()
    dialog.set_partial_ok(True)
    assert dialog.load_button.isEnabled()
    assert dialog.assignment() == {TOP: a}


def test_slots_that_stay_filled_count_as_filled():
    a = Path("a.png")
    problem, missing = assignment_problem({a: COARSE}, {PERSON, TOP}, partial_ok=False)
    assert problem is None and missing == []


# -- drag a thumbnail to swap ------------------------------------------------------------------


def test_dragging_a_thumbnail_onto_another_slot_swaps_them(qtbot, window, look):
    inputs = window.inputs
    inputs.set_file(PERSON, look[COARSE])  # the wrong way round
    inputs.set_file(COARSE, look[PERSON])
    mime = slot_mime(PERSON)
    assert dragged_slot(mime) == PERSON
    assert not drag_enter(inputs.slot_view(PERSON), mime).isAccepted()  # not onto itself
    assert drop_mime(inputs.slot_view(COARSE), mime)
    assert inputs.original_path(PERSON) == look[PERSON]
    assert inputs.original_path(COARSE) == look[COARSE]
    assert "Swapped" in window.statusBar().currentMessage()


def test_pressing_and_moving_on_a_thumbnail_starts_a_swap_drag(qtbot, window, look, monkeypatch):
    started = []
    monkeypatch.setattr(
        "refiner_gui.ui.drop_slot.start_slot_drag",
        lambda source, slot, picture: started.append((source, slot, picture.isNull())),
    )
    browsed = []
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: browsed.append(1))
    inputs = window.inputs
    view = inputs.slot_view(TOP)
    inputs.set_file(TOP, look[TOP])
    qtbot.waitUntil(lambda: view.preview_text() == "")  # the thumbnail is shown
    start = view.rect().center()
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(view, start + QPoint(QApplication.startDragDistance() + 5, 0))
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=start)
    assert started == [(view, TOP, False)]
    assert browsed == []  # the release after a drag is not a click


def test_swap_with_an_empty_slot_moves_the_file(qtbot, window, look):
    inputs = window.inputs
    inputs.set_file(BOTTOM, look[TOP])
    assert drop_mime(inputs.slot_view(TOP), slot_mime(BOTTOM))
    assert inputs.original_path(TOP) == look[TOP]
    assert inputs.original_path(BOTTOM) is None
    assert not inputs.slot_view(BOTTOM).has_content()


def test_a_slot_drag_is_not_taken_for_files_by_the_window(qtbot, window):
    assert not drag_enter(window, slot_mime(TOP)).isAccepted()


# -- honest slot states ------------------------------------------------------------------------


def test_a_text_file_never_leaves_loading_preview(qtbot, window, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("not a picture")
    view = window.inputs.slot_view(PERSON)
    assert drop_mime(view, file_mime(notes))
    qtbot.waitUntil(
        lambda: view.verdict_kind() not in ("busy",) and view.preview_text() != "Loading preview…"
    )
    window.inputs.shutdown()  # every task reported: nothing may change the preview back
    assert view.preview_text() == "No preview"
    assert "JPG, PNG or BMP" in view.verdict_text()


def test_preview_failure_survives_a_later_render(qtbot, window, tmp_path):
    """The order a check and a failed preview arrive in must not matter."""
    view = window.inputs.slot_view(TOP)
    view.show_file("notes.txt", "notes.txt")
    assert view.preview_text() == "Loading preview…"
    view.set_thumbnail(None)
    view.show_file("notes.txt", "notes.txt")  # the check's verdict re-renders the slot
    assert view.preview_text() == "No preview"


def test_red_message_and_green_ok_are_never_shown_together(qtbot, window, look):
    inputs = window.inputs
    view = inputs.slot_view(PERSON)
    inputs.set_file(PERSON, look[PERSON])
    qtbot.waitUntil(lambda: view.verdict_kind() == OK)
    assert view.verdict_shown()
    inputs.highlight(PERSON, "No face found in the person photo.")
    assert view.highlight_message() and not view.verdict_shown()
    inputs.highlight(None, None)
    assert view.verdict_shown() and "OK" in view.verdict_text()


# -- screenshot --------------------------------------------------------------------------------


def test_screenshot_assign_dialog(qtbot, window, tmp_path):
    person = make_photo(tmp_path / "IMG_2041.jpg", (320, 480))
    coarse = make_photo(tmp_path / "IMG_2047.jpg", (320, 480), seed=2)
    top = make_product_shot(tmp_path / "chemise_bleue.png")
    bottom = make_product_shot(tmp_path / "IMG_2050.jpg", (200, 420), colour=(30, 30, 40))
    with qtbot.waitSignal(loader(window).asking, timeout=10_000) as sig:
        assert drop_on_window(window, file_mime(person, top, coarse, bottom))
    dialog = sig.args[0]
    dialog.set_role(person, PERSON)
    qtbot.waitExposed(dialog)
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    assert dialog.grab().save(str(SCREENSHOT_DIR / "assign-roles.png"))
    dialog.reject()
