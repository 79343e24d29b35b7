"""DropSlot, the view: what each user action emits, and what it refuses. No files are checked
here (that is the panel's job); the slot only reports what arrived."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import (
    QColor,
    QDragEnterEvent,
    QDragLeaveEvent,
    QDropEvent,
    QGuiApplication,
    QImage,
)
from PySide6.QtWidgets import QApplication, QFileDialog, QLabel, QPushButton, QToolButton

from refiner_gui.ui.drop_slot import BUSY, ERROR, OK, PROBLEM, DropSlot
from tests.helpers.images import make_image


def file_mime(*paths: Path) -> QMimeData:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    return mime


def drag_enter(widget, mime: QMimeData) -> QDragEnterEvent:
    """Send a drag-enter of ``mime`` to ``widget``; return the event to inspect acceptance."""
    # Qt's C++ signature takes a QPoint here (QDropEvent takes a QPointF).
    event = QDragEnterEvent(
        QPoint(20, 20),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(widget, event)
    return event


def drop_mime(widget, mime: QMimeData) -> bool:
    """Drag ``mime`` onto ``widget`` and drop it, as a real drag does. True when accepted."""
    if not drag_enter(widget, mime).isAccepted():
        return False
    event = QDropEvent(
        QPointF(20, 20),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(widget, event)
    return event.isAccepted()


@pytest.fixture
def slot(qtbot):
    view = DropSlot("Person photo", "person photo")
    qtbot.addWidget(view)
    view.resize(240, 420)
    view.show()
    qtbot.waitExposed(view)
    return view


@pytest.fixture
def photo(tmp_path):
    return make_image(tmp_path / "photo.jpg", (320, 480))


def test_drop_local_file_emits_path_and_highlights_during_drag(qtbot, slot, photo):
    mime = file_mime(photo, photo.with_name("other.jpg"))
    assert drag_enter(slot, mime).isAccepted()
    assert slot.is_drag_over()
    QApplication.sendEvent(slot, QDragLeaveEvent())
    assert not slot.is_drag_over()

    with qtbot.waitSignal(slot.fileDropped) as sig:
        assert drop_mime(slot, file_mime(photo))
    assert sig.args == [photo]
    assert not slot.is_drag_over()


def test_several_files_on_one_slot_are_handed_on_whole(qtbot, slot, photo):
    """Several files are not reduced to the first: the window assigns them by role."""
    other = make_image(photo.with_name("other.jpg"))
    with qtbot.assertNotEmitted(slot.fileDropped), qtbot.waitSignal(slot.filesDropped) as sig:
        assert drop_mime(slot, file_mime(photo, other))
    assert sig.args == [[photo, other]]


def test_drop_web_address_as_url_or_text(qtbot, slot):
    mime = QMimeData()
    mime.setUrls([QUrl("https://example.com/look/dress.jpg")])
    with qtbot.waitSignal(slot.urlDropped) as sig:
        assert drop_mime(slot, mime)
    assert sig.args == ["https://example.com/look/dress.jpg"]

    text = QMimeData()
    text.setText("  http://127.0.0.1:8080/a.png\n")
    with qtbot.waitSignal(slot.urlDropped) as sig:
        assert drop_mime(slot, text)
    assert sig.args == ["http://127.0.0.1:8080/a.png"]


def test_drop_image_data_emits_the_image(qtbot, slot):
    image = QImage(200, 300, QImage.Format.Format_RGB32)
    image.fill(QColor(10, 120, 200))
    mime = QMimeData()
    mime.setImageData(image)
    with qtbot.waitSignal(slot.imageDropped) as sig:
        assert drop_mime(slot, mime)
    got = sig.args[0]
    assert isinstance(got, QImage)
    assert got.size() == image.size()


def test_unusable_drops_are_refused(qtbot, slot):
    for text in ("hello there", "ftp://example.com/a.jpg", "https://"):
        mime = QMimeData()
        mime.setText(text)
        with qtbot.assertNotEmitted(slot.fileDropped), qtbot.assertNotEmitted(slot.urlDropped):
            assert not drop_mime(slot, mime)
    assert not slot.is_drag_over()


def test_click_and_keyboard_open_the_file_dialog(qtbot, slot, photo, monkeypatch):
    calls = []

    def fake_dialog(parent, caption, folder, filters):
        calls.append((caption, filters))
        return str(photo), filters

    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(fake_dialog))
    with qtbot.waitSignal(slot.fileDropped) as sig:
        qtbot.mouseClick(slot, Qt.MouseButton.LeftButton, pos=QPoint(100, 150))
    assert sig.args == [photo]
    assert "person photo" in calls[0][0]
    assert "*.jpg" in calls[0][1]

    for key in (Qt.Key.Key_Return, Qt.Key.Key_Space):
        slot.setFocus()
        with qtbot.waitSignal(slot.fileDropped):
            qtbot.keyClick(slot, key)

    # Cancelling the dialog changes nothing.
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a: ("", "")))
    with qtbot.assertNotEmitted(slot.fileDropped):
        qtbot.mouseClick(slot, Qt.MouseButton.LeftButton, pos=QPoint(100, 150))


def test_paste_file_image_and_address(qtbot, slot, photo):
    clipboard = QGuiApplication.clipboard()
    slot.setFocus()

    clipboard.setMimeData(file_mime(photo))
    with qtbot.waitSignal(slot.fileDropped) as sig:
        qtbot.keyClick(slot, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    assert sig.args == [photo]

    image = QImage(180, 200, QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    clipboard.setImage(image)
    with qtbot.waitSignal(slot.imageDropped):
        qtbot.keyClick(slot, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)

    clipboard.setText("https://example.com/p.png")
    with qtbot.waitSignal(slot.urlDropped) as sig:
        qtbot.keyClick(slot, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    assert sig.args == ["https://example.com/p.png"]
    clipboard.clear()


def test_clear_by_button_and_delete_key(qtbot, slot):
    slot.show_file("photo.jpg", "/somewhere/photo.jpg")
    button = slot.findChild(QToolButton)
    assert button.isVisible()
    with qtbot.waitSignal(slot.clearRequested):
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    slot.setFocus()
    with qtbot.waitSignal(slot.clearRequested):
        qtbot.keyClick(slot, Qt.Key.Key_Delete)
    slot.show_empty()
    assert not button.isVisible()


def test_fix_button_only_for_fixable_problems(qtbot, slot):
    slot.show_file("a.webp", "a.webp")
    slot.set_verdict(PROBLEM, "It is a WEBP image. Use Fix.", fixable=True)
    fix = slot.findChild(QPushButton)
    assert fix.isVisible()
    with qtbot.waitSignal(slot.fixRequested):
        qtbot.mouseClick(fix, Qt.MouseButton.LeftButton)
    for kind in (OK, ERROR, BUSY):
        slot.set_verdict(kind, "text", fixable=True)
        assert not fix.isVisible()


def test_locked_slot_refuses_input(qtbot, slot, photo, monkeypatch):
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a: (str(photo), "")))
    slot.set_locked(True)
    with qtbot.assertNotEmitted(slot.fileDropped):
        assert not drop_mime(slot, file_mime(photo))
        qtbot.mouseClick(slot, Qt.MouseButton.LeftButton, pos=QPoint(100, 150))
        QGuiApplication.clipboard().setMimeData(file_mime(photo))
        slot.setFocus()
        qtbot.keyClick(slot, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    slot.set_locked(False)
    with qtbot.waitSignal(slot.fileDropped):
        assert drop_mime(slot, file_mime(photo))
    QGuiApplication.clipboard().clear()


def test_every_control_has_an_accessible_name_and_tooltip(slot):
    slot.show_file("photo.jpg", "photo.jpg")
    slot.set_verdict(PROBLEM, "Fixable", fixable=True)
    assert slot.accessibleName() == "Person photo"
    assert slot.toolTip()
    for button in (slot.findChild(QToolButton), slot.findChild(QPushButton)):
        assert "person photo" in button.accessibleName()
        assert button.toolTip()
    for label in slot.findChildren(QLabel):
        assert label.accessibleName()


def test_highlight_shows_message(slot):
    slot.set_highlight("The service says the person photo has no full body.")
    assert slot.highlight_message() == "The service says the person photo has no full body."
    assert "no full body" in slot.accessibleDescription()
    slot.set_highlight(None)
    assert slot.highlight_message() is None


def test_thumbnail_scaled_to_fit_and_never_enlarged(slot):
    big = QImage(400, 600, QImage.Format.Format_RGB32)
    big.fill(QColor("gray"))
    slot.set_thumbnail(big)
    thumb = next(
        lbl for lbl in slot.findChildren(QLabel) if lbl.accessibleName().startswith("Preview")
    )
    pix = thumb.pixmap()
    assert not pix.isNull()
    assert pix.height() <= thumb.height() * pix.devicePixelRatio() + 1

    small = QImage(40, 60, QImage.Format.Format_RGB32)
    small.fill(QColor("gray"))
    slot.set_thumbnail(small)
    assert thumb.pixmap().size().width() == 40

    slot.set_thumbnail(QImage())
    assert thumb.text() == "No preview"
