"""InputsPanel, the controller of the four slots: drops of every kind, verdicts, Fix, the
coarse size rule, ready(), gender and highlights. Real files, real background threads; the
URL drop fetches a real result image from the sandbox server."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
from PySide6.QtGui import QColor, QGuiApplication, QImage
from PySide6.QtWidgets import QFileDialog, QRadioButton, QScrollArea, QWidget

from refiner_gui.api import RefineInputs, RefinerClient
from refiner_gui.images import check_image
from refiner_gui.images.preflight import ImageReport, Problem
from refiner_gui.readiness import InputsState, Readiness
from refiner_gui.slots import BOTTOM, COARSE, PERSON, POSE_RULES, SLOTS, TOP
from refiner_gui.ui.drop_slot import ERROR, OK, PROBLEM
from refiner_gui.ui.inputs_panel import InputsPanel
from refiner_gui.ui.slot_state import CHECK, DOWNLOAD, FIX, SAVE, SlotState, slot_readiness
from refiner_gui.url_fetch import UrlFetchError, fetch_url, is_web_url
from tests.helpers.images import make_image
from tests.test_drop_slot import drop_mime, file_mime

SCREENSHOT_DIR = Path(__file__).resolve().parent.parent / "docs" / "screenshots"


@pytest.fixture
def panel(qtbot, tmp_path):
    widget = InputsPanel(tmp_path / "work")
    qtbot.addWidget(widget)
    widget.resize(1000, 520)
    widget.show()
    qtbot.waitExposed(widget)
    yield widget
    widget.shutdown()


def ready(panel: InputsPanel) -> tuple[bool, str]:
    """The panel's readiness as (ready, reason)."""
    state = panel.readiness()
    return state.ready, state.reason


def settled(panel: InputsPanel, *slots: str) -> bool:
    """True when no slot among ``slots`` (default: all filled ones) is still working."""
    for slot in slots or SLOTS:
        view = panel.slot_view(slot)
        if view.verdict_kind() == "busy":
            return False
    return True


def thumbnail_shown(panel: InputsPanel, slot: str) -> bool:
    view = panel.slot_view(slot)
    thumb = next(
        c for c in view.findChildren(QWidget) if c.accessibleName().startswith("Preview of")
    )
    return not thumb.pixmap().isNull()


def wait_report(qtbot, panel: InputsPanel, slot: str):
    qtbot.waitUntil(lambda: panel.report(slot) is not None and settled(panel, slot))
    return panel.report(slot)


def fill(qtbot, panel: InputsPanel, images: dict[str, Path]) -> None:
    panel.set_file(PERSON, images["person"])
    panel.set_file(TOP, images["top"])
    panel.set_file(COARSE, images["coarse"])
    for slot in (PERSON, TOP, COARSE):
        assert wait_report(qtbot, panel, slot).ok


# -- the four ways in --------------------------------------------------------------------------


def test_drop_local_file_shows_thumbnail_facts_and_ok(qtbot, panel, job_images):
    view = panel.slot_view(PERSON)
    with qtbot.waitSignal(panel.changed):
        assert drop_mime(view, file_mime(job_images["person"]))
    assert panel.original_path(PERSON) == job_images["person"]
    assert panel.path(PERSON) == job_images["person"]
    report = wait_report(qtbot, panel, PERSON)
    assert report.ok and report.size == (320, 480)
    assert view.name_text() == "person.jpg"
    assert view.details_text().startswith("JPEG 320×480 · ")
    assert view.verdict_kind() == OK and "OK" in view.verdict_text()
    assert not view.fix_visible()
    qtbot.waitUntil(lambda: thumbnail_shown(panel, PERSON))


def test_drop_web_address_downloads_into_work_dir(qtbot, panel, sandbox, job_images, tmp_path):
    client = RefinerClient("k", sandbox.base_url, poll_interval=0.05)
    try:
        sub = client.submit(
            RefineInputs(
                person=job_images["person"],
                top=job_images["top"],
                coarse=job_images["coarse"],
                gender="woman",
            )
        )
        url = client.wait(sub.task_id).image_url
    finally:
        client.close()
    assert url.startswith(sandbox.base_url)

    mime = QMimeData()
    mime.setUrls([QUrl(url)])
    assert drop_mime(panel.slot_view(PERSON), mime)
    assert "Downloading" in panel.slot_view(PERSON).verdict_text()
    assert ready(panel) == (False, "Wait until the person photo is downloaded")
    report = wait_report(qtbot, panel, PERSON)
    fetched = panel.path(PERSON)
    assert fetched.parent == tmp_path / "work"
    assert fetched.suffix == ".png"
    assert report.ok and report.path == fetched
    assert not list((tmp_path / "work").glob("*.part"))


def test_failed_download_is_shown_in_the_slot(qtbot, panel, sandbox):
    view = panel.slot_view(TOP)
    mime = QMimeData()
    mime.setText(f"{sandbox.base_url}/sandbox/results/no-such-token.png")
    assert drop_mime(view, mime)
    qtbot.waitUntil(lambda: view.verdict_kind() == ERROR)
    assert view.verdict_text().startswith("Could not download the top garment: ")
    assert "404" in view.verdict_text()
    assert panel.path(TOP) is None and panel.report(TOP) is None
    assert ready(panel) == (False, "Add the person photo")
    # The message can be dismissed.
    panel.clear_slot(TOP)
    assert view.verdict_text() == ""


def test_drop_image_data_is_saved_as_png(qtbot, panel, tmp_path):
    image = QImage(300, 400, QImage.Format.Format_RGB32)
    image.fill(QColor(30, 80, 160))
    mime = QMimeData()
    mime.setImageData(image)
    assert drop_mime(panel.slot_view(TOP), mime)
    report = wait_report(qtbot, panel, TOP)
    saved = panel.path(TOP)
    assert saved.parent == tmp_path / "work" and saved.suffix == ".png"
    assert report.ok and report.format == "PNG" and report.size == (300, 400)


def test_browse_with_the_file_dialog(qtbot, panel, job_images, monkeypatch):
    monkeypatch.setattr(
        QFileDialog,
        "getOpenFileName",
        staticmethod(lambda *args: (str(job_images["top"]), "Images")),
    )
    view = panel.slot_view(TOP)
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=QPoint(80, 120))
    assert panel.original_path(TOP) == job_images["top"]
    assert wait_report(qtbot, panel, TOP).ok


def test_paste_a_file_with_ctrl_v(qtbot, panel, job_images):
    QGuiApplication.clipboard().setMimeData(file_mime(job_images["bottom"]))
    view = panel.slot_view(BOTTOM)
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    assert panel.original_path(BOTTOM) == job_images["bottom"]
    assert wait_report(qtbot, panel, BOTTOM).ok
    QGuiApplication.clipboard().clear()


def test_clear_and_replace(qtbot, panel, job_images, tmp_path):
    panel.set_file(TOP, job_images["top"])
    wait_report(qtbot, panel, TOP)
    other = make_image(tmp_path / "other-top.jpg", (400, 400))
    drop_mime(panel.slot_view(TOP), file_mime(other))
    assert panel.original_path(TOP) == other
    assert wait_report(qtbot, panel, TOP).path == other

    with qtbot.waitSignal(panel.changed):
        panel.slot_view(TOP).clearRequested.emit()
    assert panel.path(TOP) is None and panel.report(TOP) is None
    assert panel.slot_view(TOP).name_text() == ""


def test_stale_results_are_ignored(qtbot, panel, tmp_path):
    first = make_image(tmp_path / "first.jpg", (3000, 4500))
    second = make_image(tmp_path / "second.jpg", (320, 480))
    panel.set_file(PERSON, first)
    panel.set_file(PERSON, second)
    report = wait_report(qtbot, panel, PERSON)
    panel.shutdown()  # every task has now reported or will be dropped
    qtbot.wait(20)
    assert report.path == second and panel.report(PERSON).path == second
    assert panel.slot_view(PERSON).name_text() == "second.jpg"


# -- verdicts and Fix ---------------------------------------------------------------------------


def test_too_small_has_no_fix(qtbot, panel, tmp_path):
    tiny = make_image(tmp_path / "tiny.png", (120, 300))
    panel.set_file(TOP, tiny)
    report = wait_report(qtbot, panel, TOP)
    view = panel.slot_view(TOP)
    assert not report.ok and not report.fixable
    assert view.verdict_kind() == ERROR
    assert "too small" in view.verdict_text()
    assert not view.fix_visible()


def test_webp_is_fixed_into_a_copy(qtbot, panel, tmp_path):
    webp = make_image(tmp_path / "top.webp", (300, 300), fmt="WEBP")
    before = webp.read_bytes()
    panel.set_file(TOP, webp)
    report = wait_report(qtbot, panel, TOP)
    view = panel.slot_view(TOP)
    assert report.fixable and not report.ok
    assert view.verdict_kind() == PROBLEM and "WEBP" in view.verdict_text()
    assert view.fix_visible()
    assert ready(panel)[1] == "Add the person photo"

    view.fixRequested.emit()
    assert panel.report(TOP) is None  # fixing
    report = wait_report(qtbot, panel, TOP)
    fixed = panel.path(TOP)
    assert fixed != webp and fixed.parent == tmp_path / "work"
    assert check_image(fixed, TOP).ok and report.ok
    assert panel.original_path(TOP) == webp and webp.read_bytes() == before
    assert view.details_text().startswith("Fixed copy · JPEG 300×300 · ")
    assert view.verdict_kind() == OK and not view.fix_visible()


def test_fix_failure_is_shown_not_raised(qtbot, panel, tmp_path):
    webp = make_image(tmp_path / "gone.webp", (300, 300), fmt="WEBP")
    panel.set_file(TOP, webp)
    wait_report(qtbot, panel, TOP)
    webp.unlink()  # vanished between the check and Fix
    panel.slot_view(TOP).fixRequested.emit()
    view = panel.slot_view(TOP)
    qtbot.waitUntil(lambda: view.verdict_kind() == ERROR)
    assert view.verdict_text().startswith("Fix failed: ")
    assert ready(panel) == (False, "Add the person photo")
    panel.set_file(PERSON, webp.with_name("none.jpg"))
    wait_report(qtbot, panel, PERSON)
    assert ready(panel) == (False, "Replace the person photo")


# -- the coarse size rule ------------------------------------------------------------------------


def test_coarse_of_another_size_is_flagged_without_fix(qtbot, panel, job_images, tmp_path):
    panel.set_file(PERSON, job_images["person"])
    panel.set_file(COARSE, make_image(tmp_path / "square.png", (300, 300)))
    report = wait_report(qtbot, panel, COARSE)
    view = panel.slot_view(COARSE)
    assert [p.code for p in report.problems] == ["size_mismatch"]
    assert "300×300" in view.verdict_text() and "320×480" in view.verdict_text()
    assert not view.fix_visible()
    panel.set_file(TOP, job_images["top"])
    panel.set_gender("woman")
    wait_report(qtbot, panel, TOP)
    assert ready(panel) == (
        False,
        "Make the coarse try-on result again at the person photo's size",
    )


def test_larger_coarse_is_fixed_to_the_person_size(qtbot, panel, job_images, tmp_path):
    panel.set_file(PERSON, job_images["person"])
    big = make_image(tmp_path / "coarse-big.png", (640, 960))
    panel.set_file(COARSE, big)
    report = wait_report(qtbot, panel, COARSE)
    assert report.fixable and not report.ok
    assert panel.slot_view(COARSE).fix_visible()
    panel.slot_view(COARSE).fixRequested.emit()
    report = wait_report(qtbot, panel, COARSE)
    assert report.ok and report.size == (320, 480)
    assert panel.path(COARSE) != big

    # A person photo of the coarse image's original size: the fixed copy no longer fits,
    # the original does, so the original is what gets sent.
    panel.set_file(PERSON, make_image(tmp_path / "person-big.jpg", (640, 960)))
    assert panel.report(COARSE) is None  # rechecking
    report = wait_report(qtbot, panel, COARSE)
    assert report.ok and panel.path(COARSE) == big


def test_coarse_is_rechecked_when_the_person_changes(qtbot, panel, job_images, tmp_path):
    panel.set_file(PERSON, job_images["person"])
    panel.set_file(COARSE, job_images["coarse"])
    assert wait_report(qtbot, panel, COARSE).ok
    panel.set_file(PERSON, make_image(tmp_path / "tall.jpg", (400, 600)))
    report = wait_report(qtbot, panel, COARSE)
    assert [p.code for p in report.problems] == ["size_mismatch"]
    assert not report.fixable  # would need enlarging
    panel.clear_slot(PERSON)
    assert wait_report(qtbot, panel, COARSE).ok  # nothing to compare with


# -- ready(), gender, highlight, locking ---------------------------------------------------------


def test_ready_rules(qtbot, panel, job_images, tmp_path):
    assert ready(panel) == (False, "Add the person photo")
    panel.set_file(PERSON, job_images["person"])
    assert ready(panel) == (False, "Checking the person photo…")
    wait_report(qtbot, panel, PERSON)
    assert ready(panel) == (False, "Add the top garment")
    panel.set_file(TOP, job_images["top"])
    wait_report(qtbot, panel, TOP)
    assert ready(panel) == (False, "Add the coarse try-on result")
    panel.set_file(COARSE, job_images["coarse"])
    wait_report(qtbot, panel, COARSE)
    assert ready(panel) == (False, "Choose Woman or Man")
    panel.set_gender("man")
    assert ready(panel) == (True, "")

    panel.set_file(BOTTOM, make_image(tmp_path / "tiny.jpg", (100, 100)))
    wait_report(qtbot, panel, BOTTOM)
    assert ready(panel) == (False, "Replace the bottom garment")
    panel.set_file(BOTTOM, make_image(tmp_path / "b.webp", (300, 300), fmt="WEBP"))
    wait_report(qtbot, panel, BOTTOM)
    assert ready(panel) == (False, "Fix the bottom garment")
    panel.clear_slot(BOTTOM)
    assert ready(panel) == (True, "")


def _report(*problems: Problem) -> ImageReport:
    return ImageReport(Path("x.jpg"), BOTTOM, "JPEG", 300, 300, 1000, problems)


_BAD = Problem("too_small", "Too small", fixable=False)
_FIXABLE = Problem("unsupported_format", "WEBP", fixable=True)
_MISMATCH = Problem("size_mismatch", "Other size", fixable=False)


@pytest.mark.parametrize(
    ("state", "required", "expected"),
    [
        (SlotState(busy=DOWNLOAD), True, (Readiness.BUSY, "Wait until the {} is downloaded")),
        (SlotState(busy=SAVE), False, (Readiness.BUSY, "Wait until the {} is saved")),
        (SlotState(original=Path("a"), busy=CHECK), True, (Readiness.BUSY, "Checking the {}…")),
        (SlotState(original=Path("a"), busy=FIX), True, (Readiness.BUSY, "Fixing the {}…")),
        (SlotState(), True, (Readiness.NEEDS_USER, "Add the {}")),
        (SlotState(), False, None),
        (SlotState(original=Path("a")), True, (Readiness.NEEDS_USER, "Replace the {}")),
        (
            SlotState(original=Path("a"), report=_report(), error="Fix failed: x"),
            True,
            (Readiness.NEEDS_USER, "Replace the {}"),
        ),
        (SlotState(original=Path("a"), report=_report()), True, None),
        (
            SlotState(original=Path("a"), report=_report(_FIXABLE)),
            True,
            (Readiness.NEEDS_USER, "Fix the {}"),
        ),
        (
            SlotState(original=Path("a"), report=_report(_BAD)),
            False,
            (Readiness.NEEDS_USER, "Replace the {}"),
        ),
        (
            SlotState(original=Path("a"), report=_report(_MISMATCH)),
            True,
            (
                Readiness.NEEDS_USER,
                "Make the coarse try-on result again at the person photo's size",
            ),
        ),
    ],
)
def test_slot_readiness_maps_work_in_progress_to_busy(state, required, expected):
    got = slot_readiness(BOTTOM, state, required=required)
    if expected is None:
        assert got is None
    else:
        readiness, words = expected
        assert got == InputsState(readiness, words.format("bottom garment"))
        assert got.busy == (readiness is Readiness.BUSY) and not got.ready


def test_readiness_is_busy_while_fixing(qtbot, panel, job_images, tmp_path):
    fill(qtbot, panel, job_images)
    panel.set_gender("woman")
    assert panel.readiness() == InputsState(Readiness.READY)
    assert panel.readiness().ready and ready(panel) == (True, "")
    panel.set_file(BOTTOM, make_image(tmp_path / "b.webp", (300, 300), fmt="WEBP"))
    assert panel.readiness() == InputsState(Readiness.BUSY, "Checking the bottom garment…")
    wait_report(qtbot, panel, BOTTOM)
    assert panel.readiness() == InputsState(Readiness.NEEDS_USER, "Fix the bottom garment")
    panel.slot_view(BOTTOM).fixRequested.emit()  # the fix starts at once, on the pool
    assert panel.readiness() == InputsState(Readiness.BUSY, "Fixing the bottom garment…")
    assert ready(panel) == (False, "Fixing the bottom garment…")
    assert wait_report(qtbot, panel, BOTTOM).ok
    assert panel.readiness().ready


def test_gender_starts_unchosen_and_can_be_cleared(qtbot, panel):
    woman, man = panel.findChildren(QRadioButton)
    assert panel.gender() is None
    assert not woman.isChecked() and not man.isChecked()
    with qtbot.waitSignal(panel.changed):
        qtbot.mouseClick(man, Qt.MouseButton.LeftButton)
    assert panel.gender() == "man"
    with qtbot.waitSignal(panel.changed):
        panel.set_gender("woman")
    assert panel.gender() == "woman" and not man.isChecked()
    with qtbot.waitSignal(panel.changed):
        panel.set_gender(None)
    assert panel.gender() is None
    assert not woman.isChecked() and not man.isChecked()
    with qtbot.assertNotEmitted(panel.changed):
        panel.set_gender(None)
    with pytest.raises(ValueError):
        panel.set_gender("other")
    for button in (woman, man):
        assert button.accessibleName() and button.toolTip()


def test_highlight_marks_and_clears(qtbot, panel, job_images):
    panel.set_file(PERSON, job_images["person"])
    panel.set_file(TOP, job_images["top"])
    panel.highlight(PERSON, "The service found no full body in the person photo.")
    panel.highlight(TOP, "The service could not find a garment.")
    assert "full body" in panel.slot_view(PERSON).highlight_message()
    assert panel.slot_view(TOP).highlight_message()
    panel.highlight(None, None)
    assert panel.slot_view(PERSON).highlight_message() is None
    assert panel.slot_view(TOP).highlight_message() is None
    # A new file clears its slot's mark.
    panel.highlight(PERSON, "Rejected")
    panel.set_file(PERSON, job_images["person"])
    assert panel.slot_view(PERSON).highlight_message() is None
    with pytest.raises(ValueError):
        panel.highlight("shoes", "x")


def test_locked_inputs_refuse_changes(qtbot, panel, job_images):
    panel.set_enabled_inputs(False)
    assert not drop_mime(panel.slot_view(PERSON), file_mime(job_images["person"]))
    assert panel.path(PERSON) is None
    assert not any(b.isEnabled() for b in panel.findChildren(QRadioButton))
    panel.set_enabled_inputs(True)
    assert drop_mime(panel.slot_view(PERSON), file_mime(job_images["person"]))
    assert all(b.isEnabled() for b in panel.findChildren(QRadioButton))


def test_pose_rules_are_visible_and_controls_are_named(panel):

    captions = [w for w in panel.findChildren(QWidget) if w.toolTip() == POSE_RULES]
    assert captions and captions[0].isVisible()
    assert "hands visible" in captions[0].text()
    for slot in SLOTS:
        view = panel.slot_view(slot)
        assert view.accessibleName() and view.toolTip()
    assert panel.slot_view(BOTTOM).accessibleName() == "Bottom garment (optional)"


# -- screenshots ---------------------------------------------------------------------------------


def test_screenshots(qtbot, panel, job_images, tmp_path):
    """docs/screenshots/inputs_{empty,filled}.png when REFINER_SCREENSHOTS=1; tmp_path else."""
    out = SCREENSHOT_DIR if os.environ.get("REFINER_SCREENSHOTS") == "1" else tmp_path
    out.mkdir(parents=True, exist_ok=True)
    panel.resize(1000, 500)
    assert panel.grab().save(str(out / "inputs_empty.png"))

    panel.set_file(PERSON, job_images["person"])
    panel.set_file(
        TOP, make_image(tmp_path / "blouse.webp", (300, 300), fmt="WEBP", color=(20, 90, 200))
    )
    panel.set_file(
        COARSE, make_image(tmp_path / "coarse-square.png", (300, 300), color=(200, 100, 90))
    )
    panel.set_file(BOTTOM, job_images["bottom"])
    panel.set_gender("woman")
    for slot in SLOTS:
        wait_report(qtbot, panel, slot)
    for slot in SLOTS:
        qtbot.waitUntil(lambda s=slot: thumbnail_shown(panel, s))
    assert panel.grab().save(str(out / "inputs_filled.png"))


def test_two_columns_when_narrow_four_when_wide(qtbot, panel):

    assert panel.columns() == 4
    assert panel.minimumSizeHint().width() < 450
    scroll = QScrollArea()
    qtbot.addWidget(scroll)
    scroll.setWidgetResizable(True)
    scroll.setWidget(panel)  # as the window's input column holds it
    scroll.resize(470, 800)
    scroll.show()
    qtbot.waitUntil(lambda: panel.columns() == 2)
    assert panel.width() <= 470
    person, top = panel.slot_view(PERSON), panel.slot_view(TOP)
    coarse = panel.slot_view(COARSE)
    qtbot.waitUntil(lambda: coarse.y() > person.y() + person.height())
    assert person.y() == top.y()
    assert coarse.height() >= coarse.minimumSizeHint().height()
    scroll.resize(1100, 800)
    qtbot.waitUntil(lambda: panel.columns() == 4)
    scroll.takeWidget()  # the panel fixture owns it


# -- the download helper the panel uses (Qt-free) ------------------------------------------------


def sandbox_result_url(sandbox, job_images) -> str:
    client = RefinerClient("k", sandbox.base_url, poll_interval=0.05)
    try:
        sub = client.submit(
            RefineInputs(
                person=job_images["person"],
                top=job_images["top"],
                coarse=job_images["coarse"],
                gender="man",
            )
        )
        return client.wait(sub.task_id).image_url
    finally:
        client.close()


def test_fetch_url_refuses_and_caps(sandbox, job_images, tmp_path):

    assert is_web_url("https://example.com/a.jpg")
    assert not is_web_url("file:///tmp/a.jpg") and not is_web_url("see https://x.y/a")
    with pytest.raises(UrlFetchError, match="http:// or https://"):
        fetch_url("ftp://example.com/a.jpg", tmp_path)

    url = sandbox_result_url(sandbox, job_images)
    with pytest.raises(UrlFetchError, match="larger than"):
        fetch_url(url, tmp_path, max_bytes=1000)
    assert list(tmp_path.iterdir()) == []  # nothing half-written left behind

    with pytest.raises(UrlFetchError, match="HTTP 404"):
        fetch_url(url + "x", tmp_path)

    got = fetch_url(url, tmp_path / "new")
    again = fetch_url(url, tmp_path / "new")
    assert got == again and check_image(got).ok  # same address, same name: no pile-up
