"""The Settings dialog: round trip, key storage rules, validation, key test, preview."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import keyring
import keyring.backends.fail
import keyring.errors
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSpinBox,
    QComboBox,
    QDialogButtonBox,
    QFileDialog,
    QLineEdit,
)

from refiner_gui.api import RefinerClient
from refiner_gui.config import DEFAULT_FILENAME_PATTERN, DEFAULT_POLL_INTERVAL, DEFAULT_TIMEOUT
from refiner_gui.keystore import SERVICE, USERNAME, clear_api_key, get_api_key
from refiner_gui.sandbox import SandboxServer
from refiner_gui.settings import Settings, load_settings, settings_path
from refiner_gui.threads import wait_for_tasks
from refiner_gui.ui.settings_dialog import SettingsDialog, format_credits
from tests.helpers.fast import fast_retry


@pytest.fixture
def make_dialog(qtbot):
    """Build a dialog (fast-retry client for Test key) and join pool tasks at the end."""
    made: list[SettingsDialog] = []

    def factory(settings: Settings | None = None, **kw) -> SettingsDialog:
        kw.setdefault(
            "client_factory", lambda key, url: RefinerClient(key, url, retry=fast_retry())
        )
        dlg = SettingsDialog(settings or load_settings(), **kw)
        qtbot.addWidget(dlg)
        made.append(dlg)
        return dlg

    yield factory
    for dlg in made:
        dlg.reject()  # tells a running key test to stop
    assert wait_for_tasks()


@pytest.fixture
def session_key_cleanup():
    """A session-only key lives in the keystore module; never let it leak into other tests."""
    yield
    clear_api_key()


def ok_button(dlg: SettingsDialog):
    return dlg._buttons.button(QDialogButtonBox.StandardButton.Ok)


def set_text(qtbot, edit, text: str) -> None:
    """Replace a line edit's text the way a user does (textEdited fires)."""
    edit.selectAll()
    qtbot.keyClick(edit, Qt.Key.Key_Delete)
    qtbot.keyClicks(edit, text)


def test_round_trip_saves_settings_and_key_in_keyring(
    qtbot, make_dialog, monkeypatch, tmp_path, caplog
):
    caplog.set_level(logging.DEBUG)
    key = "sk-live-roundtrip-123"
    out = tmp_path / "results"
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(out)))
    dlg = make_dialog()

    set_text(qtbot, dlg.key_edit, key)
    set_text(qtbot, dlg.base_url_edit, "https://api.example.test/")
    dlg.poll_spin.setValue(7.5)
    dlg.timeout_unit.setCurrentIndex(1)  # minutes
    dlg.timeout_spin.setValue(15)
    qtbot.mouseClick(dlg.browse_button, Qt.MouseButton.LeftButton)
    set_text(qtbot, dlg.pattern_edit, "{task_id}_{gender}")
    assert dlg.api_key_text() == key

    with qtbot.waitSignal(dlg.saved) as saved:
        qtbot.mouseClick(ok_button(dlg), Qt.MouseButton.LeftButton)

    expected = Settings(
        base_url="https://api.example.test",
        poll_interval=7.5,
        timeout=900.0,
        output_dir=str(out),
        filename_pattern="{task_id}_{gender}",
    )
    assert saved.args[0] == expected
    assert load_settings() == expected
    assert dlg.key_storage == "keyring"
    assert keyring.get_password(SERVICE, USERNAME) == key
    assert key not in settings_path().read_text("utf-8")
    assert key not in caplog.text
    assert dlg.result() == dlg.DialogCode.Accepted


def test_unchanged_key_is_not_rewritten_and_empty_key_clears(qtbot, make_dialog):
    keyring.set_password(SERVICE, USERNAME, "stored-key-1")
    dlg = make_dialog()
    assert dlg.api_key_text() == "stored-key-1"
    assert dlg.key_edit.echoMode() == dlg.key_edit.EchoMode.Password
    with qtbot.assertNotEmitted(dlg.key_stored), qtbot.waitSignal(dlg.saved):
        dlg.accept()
    assert dlg.key_storage is None

    dlg2 = make_dialog()
    set_text(qtbot, dlg2.key_edit, "")
    with qtbot.waitSignal(dlg2.key_stored) as stored:
        dlg2.accept()
    assert stored.args == ["cleared"]
    assert keyring.get_password(SERVICE, USERNAME) is None


def test_show_toggle_reveals_and_hides_the_key(qtbot, make_dialog):
    dlg = make_dialog()
    qtbot.mouseClick(dlg.show_key_button, Qt.MouseButton.LeftButton)
    assert dlg.key_edit.echoMode() == dlg.key_edit.EchoMode.Normal
    assert dlg.show_key_button.accessibleName() == "Hide API key"
    qtbot.mouseClick(dlg.show_key_button, Qt.MouseButton.LeftButton)
    assert dlg.key_edit.echoMode() == dlg.key_edit.EchoMode.Password


def test_cancel_saves_nothing(qtbot, make_dialog):
    dlg = make_dialog()
    set_text(qtbot, dlg.key_edit, "never-saved-key")
    set_text(qtbot, dlg.pattern_edit, "{date}")
    with qtbot.assertNotEmitted(dlg.saved):
        dlg.reject()
    assert not settings_path().exists()
    assert keyring.get_password(SERVICE, USERNAME) is None


def test_env_key_wins_and_is_shown(qtbot, make_dialog, monkeypatch):
    keyring.set_password(SERVICE, USERNAME, "stored-key-2")
    monkeypatch.setenv("AILABAPI_API_KEY", "env-key-xyz")
    dlg = make_dialog()
    dlg.show()

    assert dlg.key_edit.isReadOnly()
    assert dlg.key_edit.text() == ""  # the env key itself is not put into a widget
    assert "AILABAPI_API_KEY" in dlg.key_edit.placeholderText()
    assert dlg.key_note.isVisible()
    assert "AILABAPI_API_KEY" in dlg.key_note.text()
    assert "wins" in dlg.key_note.text()
    assert not dlg.show_key_button.isEnabled()
    assert dlg.test_button.isEnabled()  # the env key can be tested

    with qtbot.assertNotEmitted(dlg.key_stored), qtbot.waitSignal(dlg.saved):
        dlg.accept()
    assert keyring.get_password(SERVICE, USERNAME) == "stored-key-2"


def test_no_keyring_note_and_session_only_storage(qtbot, make_dialog, session_key_cleanup):
    keyring.set_keyring(keyring.backends.fail.Keyring())
    dlg = make_dialog()
    dlg.show()
    assert dlg.key_note.isVisible()
    assert dlg.key_note.kind == "warning"
    assert "this session only" in dlg.key_note.text()
    assert "never written to disk" in dlg.key_note.text()

    set_text(qtbot, dlg.key_edit, "session-key-789")
    with qtbot.waitSignal(dlg.key_stored) as stored:
        qtbot.mouseClick(ok_button(dlg), Qt.MouseButton.LeftButton)
    assert stored.args == ["session"]
    assert dlg.key_storage == "session"
    assert "session only" in dlg.key_note.text()
    assert get_api_key().source == "session"
    assert get_api_key().key == "session-key-789"
    assert "session-key-789" not in settings_path().read_text("utf-8")
    assert not dlg.isVisible()  # the user was warned before pressing OK


class RefusingKeyring(keyring.backend.KeyringBackend):
    """A keyring that exists but refuses writes (locked, denied)."""

    priority = 1  # type: ignore[assignment]

    def get_password(self, service, username):
        return None

    def set_password(self, service, username, password):
        raise keyring.errors.PasswordSetError("locked")

    def delete_password(self, service, username):
        raise keyring.errors.PasswordDeleteError("locked")


def test_keyring_refusing_the_key_keeps_dialog_open_once(
    qtbot, make_dialog, session_key_cleanup, caplog
):
    keyring.set_keyring(RefusingKeyring())
    dlg = make_dialog()
    dlg.show()
    assert not dlg.key_note.isVisible()  # a keyring exists: nothing to warn about yet
    set_text(qtbot, dlg.key_edit, "refused-key-456")

    with qtbot.waitSignal(dlg.key_stored) as stored:
        qtbot.mouseClick(ok_button(dlg), Qt.MouseButton.LeftButton)
    assert stored.args == ["session"]
    assert dlg.isVisible()
    assert "refused" in dlg.key_note.text()

    with qtbot.assertNotEmitted(dlg.key_stored):
        qtbot.mouseClick(ok_button(dlg), Qt.MouseButton.LeftButton)
    assert not dlg.isVisible()
    assert get_api_key().key == "refused-key-456"
    assert "refused-key-456" not in caplog.text


@pytest.mark.parametrize(
    "url, fragment",
    [
        ("http://api.example.com", "https"),
        ("ftp://example.com", "https"),
        ("https://", "https"),
        ("", "Enter the service address"),
    ],
)
def test_invalid_base_url_disables_ok_with_message(qtbot, make_dialog, url, fragment):
    dlg = make_dialog()
    dlg.show()
    set_text(qtbot, dlg.base_url_edit, url)
    assert not ok_button(dlg).isEnabled()
    assert dlg.url_note.isVisible()
    assert fragment in dlg.url_note.text()
    with qtbot.assertNotEmitted(dlg.saved):
        dlg.accept()  # Enter on a disabled OK must not slip through either
    assert not settings_path().exists()

    set_text(qtbot, dlg.base_url_edit, "https://api.example.com")
    assert ok_button(dlg).isEnabled()
    assert not dlg.url_note.isVisible()


def test_poll_minimum_follows_loopback(qtbot, make_dialog):
    dlg = make_dialog()
    assert dlg.poll_spin.value() == DEFAULT_POLL_INTERVAL
    set_text(qtbot, dlg.base_url_edit, "http://127.0.0.1:8765")
    assert ok_button(dlg).isEnabled()
    assert dlg.poll_spin.minimum() == pytest.approx(0.05)
    dlg.poll_spin.setValue(0.05)
    assert dlg.settings().poll_interval == pytest.approx(0.05)

    set_text(qtbot, dlg.base_url_edit, "https://www.ailabapi.com")
    assert dlg.poll_spin.minimum() == 1.0
    assert dlg.settings().poll_interval == 1.0  # clamped up for the real service

    set_text(qtbot, dlg.base_url_edit, "http://localhost:9000")
    assert dlg.poll_spin.minimum() == pytest.approx(0.05)


def test_timeout_units_keep_exact_seconds(qtbot, make_dialog):
    dlg = make_dialog(Settings(timeout=90.0))
    assert dlg.timeout_unit.currentText() == "seconds"
    assert dlg.timeout_spin.value() == 90
    dlg.timeout_unit.setCurrentIndex(1)
    assert dlg.timeout_spin.value() == pytest.approx(1.5)
    assert dlg.settings().timeout == 90.0

    dlg2 = make_dialog()
    assert dlg2.timeout_unit.currentText() == "minutes"  # the default 600 s reads as 10 min
    assert dlg2.timeout_spin.value() == DEFAULT_TIMEOUT / 60
    dlg2.timeout_unit.setCurrentIndex(0)
    assert dlg2.timeout_spin.value() == DEFAULT_TIMEOUT
    dlg2.timeout_spin.setValue(45)
    assert dlg2.settings().timeout == 45.0


def test_restore_defaults_keeps_key_and_hidden_fields(qtbot, make_dialog):
    keyring.set_password(SERVICE, USERNAME, "kept-key-1")
    dlg = make_dialog(
        Settings(
            base_url="https://other.example",
            poll_interval=9.0,
            timeout=120.0,
            output_dir="somewhere",
            filename_pattern="{date}",
            gender="man",
            save_format="jpg",
        )
    )
    qtbot.mouseClick(
        dlg._buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults),
        Qt.MouseButton.LeftButton,
    )
    assert dlg.settings() == Settings(gender="man", save_format="jpg")
    assert dlg.api_key_text() == "kept-key-1"


def test_test_key_against_sandbox_shows_balance(qtbot, make_dialog, sandbox):
    calls: list[tuple[str, str]] = []

    def factory(key: str, url: str) -> RefinerClient:
        calls.append((key, url))
        return RefinerClient(key, url, retry=fast_retry())

    dlg = make_dialog(Settings(base_url=sandbox.base_url), client_factory=factory)
    set_text(qtbot, dlg.key_edit, "any-sandbox-key")
    qtbot.mouseClick(dlg.test_button, Qt.MouseButton.LeftButton)
    assert not dlg.test_button.isEnabled()  # one test at a time

    qtbot.waitUntil(lambda: dlg.test_note.kind == "ok")
    assert dlg.test_note.text() == f"Key works · {format_credits(sandbox.credits)} credits"
    assert dlg.test_note.text() == "Key works · 1,000 credits"
    assert calls == [("any-sandbox-key", sandbox.base_url)]
    assert dlg.test_button.isEnabled()
    assert not settings_path().exists()  # testing saves nothing

    # Editing the key makes the old answer meaningless: it is cleared.
    qtbot.keyClicks(dlg.key_edit, "x")
    assert not dlg.test_note.isVisibleTo(dlg)


def test_test_key_with_wrong_key_shows_auth_message(qtbot, make_dialog):

    with SandboxServer(api_keys={"good"}) as srv:
        dlg = make_dialog(Settings(base_url=srv.base_url))
        set_text(qtbot, dlg.key_edit, "wrong-key")
        qtbot.mouseClick(dlg.test_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: dlg.test_note.kind == "error")
        text = dlg.test_note.text()
        assert "API key" in text
        assert "wrong-key" not in text

        set_text(qtbot, dlg.key_edit, "good")
        qtbot.mouseClick(dlg.test_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: dlg.test_note.kind == "ok")
        assert dlg.test_note.text().startswith("Key works")
        assert wait_for_tasks()


def test_test_key_needs_a_key(qtbot, make_dialog):
    dlg = make_dialog()
    assert dlg.api_key_text() == ""
    assert not dlg.test_button.isEnabled()
    qtbot.keyClicks(dlg.key_edit, "k")
    assert dlg.test_button.isEnabled()


def test_pattern_preview_updates_live(qtbot, make_dialog):
    dlg = make_dialog()
    assert dlg.pattern_edit.text() == DEFAULT_FILENAME_PATTERN
    assert dlg.preview_label.text().startswith("refined_")
    assert dlg.preview_label.text().endswith("_T123.png")

    set_text(qtbot, dlg.pattern_edit, "look_")
    qtbot.mouseClick(dlg.token_buttons["gender"], Qt.MouseButton.LeftButton)
    qtbot.keyClicks(dlg.pattern_edit, "_")
    qtbot.mouseClick(dlg.token_buttons["task_id"], Qt.MouseButton.LeftButton)
    assert dlg.pattern_edit.text() == "look_{gender}_{task_id}"
    assert dlg.preview_label.text() == "look_woman_T123.png"

    # The input files' names: their stems, shown in the preview with sample names.
    set_text(qtbot, dlg.pattern_edit, "")
    qtbot.mouseClick(dlg.token_buttons["person_name"], Qt.MouseButton.LeftButton)
    qtbot.keyClicks(dlg.pattern_edit, "_")
    qtbot.mouseClick(dlg.token_buttons["top_name"], Qt.MouseButton.LeftButton)
    assert dlg.pattern_edit.text() == "{person_name}_{top_name}"
    assert dlg.preview_label.text() == "model_01_shirt_blue.png"
    assert not dlg.pattern_note.isVisibleTo(dlg)  # known tokens: no warning

    set_text(qtbot, dlg.pattern_edit, "{oops}_{task_id}")
    assert dlg.preview_label.text() == "T123.png"
    assert dlg.pattern_note.kind == "warning"
    assert "{oops}" in dlg.pattern_note.text()
    set_text(qtbot, dlg.pattern_edit, "{task_id}")
    assert not dlg.pattern_note.isVisibleTo(dlg)


def test_preview_uses_the_saved_format(qtbot, make_dialog):
    dlg = make_dialog(Settings(save_format="jpg", filename_pattern="{task_id}"))
    assert dlg.preview_label.text() == "T123.jpg"


def test_every_control_has_accessible_name_and_tooltip(qtbot, make_dialog):

    dlg = make_dialog()
    controls = (
        dlg.findChildren(QLineEdit)
        + dlg.findChildren(QAbstractButton)
        + dlg.findChildren(QAbstractSpinBox)
        + dlg.findChildren(QComboBox)
    )
    # Spin boxes own an inner line edit; it is reached through the spin box itself.
    controls = [c for c in controls if not isinstance(c.parent(), QAbstractSpinBox)]
    assert len(controls) > 10
    for c in controls:
        assert c.accessibleName(), c
        assert c.toolTip(), c.accessibleName()


def test_screenshot(qtbot, make_dialog, tmp_path):
    keyring.set_password(SERVICE, USERNAME, "sk-demo-0000")
    dlg = make_dialog(Settings(output_dir="~/Pictures/refiner-gui"))
    dlg.show()
    qtbot.waitExposed(dlg)
    dlg.test_note.show_message("ok", "Key works · 1,000 credits")
    dlg.adjustSize()
    if os.environ.get("REFINER_SCREENSHOTS") == "1":
        target = Path(__file__).resolve().parents[1] / "docs" / "screenshots" / "settings.png"
        target.parent.mkdir(parents=True, exist_ok=True)
    else:
        target = tmp_path / "settings.png"
    assert dlg.grab().save(str(target))
    assert target.stat().st_size > 0


def test_polling_is_automatic_by_default_and_unticking_fixes_the_interval(qtbot, make_dialog):
    dlg = make_dialog()
    assert dlg.poll_auto.isChecked() and not dlg.poll_spin.isEnabled()
    assert dlg.settings().poll_mode == "auto"
    dlg.poll_auto.setChecked(False)
    assert dlg.poll_spin.isEnabled()
    dlg.poll_spin.setValue(2.0)
    assert (dlg.settings().poll_mode, dlg.settings().poll_interval) == ("fixed", 2.0)
    again = make_dialog(Settings(poll_mode="fixed", poll_interval=3.0))
    assert not again.poll_auto.isChecked() and again.poll_spin.value() == 3.0
