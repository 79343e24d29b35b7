"""The Settings dialog: API key, service address, polling, output folder and file names.

Contract:

* The dialog edits a *copy* of the :class:`~refiner_gui.settings.Settings` it is given;
  :meth:`SettingsDialog.settings` returns that copy as currently edited.
* On OK it writes the settings file (:func:`~refiner_gui.settings.save_settings`, never a
  secret) and, when the key was changed, the key through :mod:`refiner_gui.keystore` (OS
  keyring, or this session only when no keyring exists — the user is told inline), then
  emits :attr:`SettingsDialog.saved`.
* ``AILABAPI_API_KEY`` wins over a stored key: when it is set the key field is read-only,
  says so, and OK never touches the stored key.
* "Test key" runs query-credits on the global thread pool
  (:class:`~refiner_gui.ui.key_test.KeyTester`); the GUI thread never waits on the network.
* In demo mode (``sandbox_url`` given) the address shown, and tested, is the sandbox's,
  with the sandbox key; the saved address (for normal use) is kept as it was.

Parts in their own modules: :mod:`~refiner_gui.ui.key_test` (the key test and its words),
:mod:`~refiner_gui.ui.settings_output` (the "Saved results" group) and
:mod:`~refiner_gui.ui.note` (the inline notes). Every method here is GUI-thread only.
"""

from __future__ import annotations

import dataclasses
import logging

from PySide6.QtCore import QSize, Signal, Slot
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from refiner_gui.api.client import ConfigError, RefinerClient, is_loopback_url
from refiner_gui.api.keys import clean_api_key
from refiner_gui.config import API_KEY_ENV, DEFAULT_BASE_URL
from refiner_gui.jobs.routing import SANDBOX_KEY
from refiner_gui.keystore import clear_api_key, get_api_key, keyring_available, set_api_key
from refiner_gui.settings import Settings, save_settings
from refiner_gui.ui.key_test import (
    ClientFactory,
    KeyTester,
    default_client_factory,
    format_credits,
    universal_balance,
)
from refiner_gui.ui.note import Note
from refiner_gui.ui.settings_output import OutputGroup

log = logging.getLogger(__name__)

# The real service must not be polled faster than once a second (the client refuses it);
# a loopback sandbox may be polled fast so demos and tests do not crawl.
REMOTE_MIN_POLL = 1.0
LOOPBACK_MIN_POLL = 0.05
MAX_POLL = 600.0
MIN_TIMEOUT_S = 5.0
MAX_TIMEOUT_S = 86_400.0  # results live 24 hours; waiting longer can never help
DIALOG_WIDTH = 560


def base_url_problem(url: str) -> str | None:
    """Why ``url`` cannot be the service address, or None when it is acceptable.

    The client's own constructor is the judge (https, or plain http on loopback only), so
    the dialog can never accept an address the client would later refuse.
    """
    url = url.strip()
    if not url:
        return f"Enter the service address (the default is {DEFAULT_BASE_URL})."
    try:
        client = RefinerClient("", url)
    except ConfigError as exc:
        return str(exc)
    client.close()
    return None


class SettingsDialog(QDialog):
    """Edits a copy of the settings and the API key. GUI thread only.

    Signals:
        saved(Settings): after OK wrote the settings file (and the key, if changed).
        key_stored(str): after OK stored a changed key: ``"keyring"``, ``"session"`` (no
            keyring: kept in memory until the app quits) or ``"cleared"``. The dialog has
            then closed, so a window may repeat a ``"session"`` note in its status bar.

    Args:
        settings: the current settings; not modified.
        client_factory: ``(api_key, base_url) -> RefinerClient`` for "Test key"; it is
            called on a pool thread. Defaults to :func:`default_client_factory`.
        sandbox_url: demo mode: the local sandbox jobs go to (shown read-only and tested
            with :data:`~refiner_gui.jobs.routing.SANDBOX_KEY`, never the user's key).
    """

    saved = Signal(object)
    key_stored = Signal(str)

    def __init__(
        self,
        settings: Settings,
        parent: QWidget | None = None,
        *,
        client_factory: ClientFactory | None = None,
        sandbox_url: str | None = None,
    ) -> None:
        super().__init__(parent)
        self._sandbox_url = sandbox_url
        self.setWindowTitle("Settings")
        self.setAccessibleName("Settings")
        self._original = dataclasses.replace(settings)
        self._timeout_s = float(settings.timeout)
        self._tester = KeyTester(client_factory or default_client_factory, self)
        self._tester.finished.connect(self._on_test_finished)
        self.key_storage: str | None = None  # what the last OK did with the key
        self._showing_key_problem = False  # key_note shows the typed key's problem

        lookup = get_api_key()
        self._env_key = lookup.key if lookup.source == "env" else None
        self._stored_key = "" if self._env_key else (lookup.key or "")

        layout = QVBoxLayout(self)
        layout.addWidget(self._build_key_group())
        layout.addWidget(self._build_service_group())
        layout.addWidget(self._build_output_group())
        self._save_note = Note("Save problem", self)
        layout.addWidget(self._save_note)

        self._buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok
            | QDialogButtonBox.StandardButton.Cancel
            | QDialogButtonBox.StandardButton.RestoreDefaults,
            self,
        )
        ok = self._buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setAccessibleName("Save settings")
        ok.setToolTip("Save these settings and close")
        cancel = self._buttons.button(QDialogButtonBox.StandardButton.Cancel)
        cancel.setAccessibleName("Cancel")
        cancel.setToolTip("Close without saving anything")
        restore = self._buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults)
        restore.setAccessibleName("Restore defaults")
        restore.setToolTip(
            "Put every field except the API key back to its default (nothing is saved until OK)"
        )
        self._buttons.accepted.connect(self.accept)
        self._buttons.rejected.connect(self.reject)
        restore.clicked.connect(self.restore_defaults)
        layout.addWidget(self._buttons)

        # The three groups have separate form layouts; one label width lines their fields up.
        labels = [lab for lab in self.findChildren(QLabel) if lab.buddy() is not None]
        width = max(lab.sizeHint().width() for lab in labels)
        for lab in labels:
            lab.setMinimumWidth(width)

        self._load_fields(settings)
        self.setMinimumWidth(DIALOG_WIDTH)
        for note in self.findChildren(Note):
            note.changed.connect(self._fit_height)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        # Wrapped notes are tall at the narrow natural width; size the height for the
        # width the dialog really opens at, or it keeps empty bands under the notes.
        width = max(super().sizeHint().width(), DIALOG_WIDTH)
        layout = self.layout()
        if layout is not None and layout.hasHeightForWidth():
            return QSize(width, layout.totalHeightForWidth(width))
        return QSize(width, super().sizeHint().height())

    @Slot()
    def _fit_height(self) -> None:
        """Give wrapped notes the height they need at the current width (and no more)."""
        layout = self.layout()
        if layout is None or not layout.hasHeightForWidth():
            return
        height = layout.totalHeightForWidth(self.width())
        self.setMinimumHeight(height)
        if self.isVisible() and self.height() != height:
            self.resize(self.width(), height)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        if event.size().width() != event.oldSize().width():
            self._fit_height()  # wider means fewer wrapped lines, narrower means more

    # -- construction --------------------------------------------------------------------

    def _build_key_group(self) -> QGroupBox:
        box = QGroupBox("AILabTools API key", self)
        form = QFormLayout(box)

        self.key_edit = QLineEdit(box)
        self.key_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.key_edit.setAccessibleName("API key")
        self.show_key_button = QToolButton(box)
        self.show_key_button.setText("Show")
        self.show_key_button.setCheckable(True)
        self.show_key_button.setAccessibleName("Show API key")
        self.show_key_button.setToolTip("Show or hide the characters of the key")
        self.show_key_button.toggled.connect(self._on_show_key_toggled)
        self.test_button = QPushButton("Test key", box)
        self.test_button.setAccessibleName("Test API key")
        self.test_button.setToolTip(
            "Ask the service for the account's credit balance with "
            "this key and address (costs no credits)"
        )
        self.test_button.clicked.connect(self.test_key)

        row = QHBoxLayout()
        row.addWidget(self.key_edit, 1)
        row.addWidget(self.show_key_button)
        row.addWidget(self.test_button)
        key_label = QLabel("&Key:", box)
        key_label.setBuddy(self.key_edit)
        form.addRow(key_label, row)

        self.key_note = Note("API key storage", box)
        form.addRow(self.key_note)
        self.test_note = Note("Key test result", box)
        form.addRow(self.test_note)

        if self._env_key:
            self.key_edit.setReadOnly(True)
            self.key_edit.setPlaceholderText(f"Using {API_KEY_ENV} from the environment")
            self.key_edit.setToolTip(
                f"The {API_KEY_ENV} environment variable is set and "
                "is used instead of a key saved here"
            )
            self.show_key_button.setEnabled(False)
            self.key_note.show_message(
                "info",
                f"The {API_KEY_ENV} environment variable is set: it is used and wins "
                "over any key saved here. Unset it to enter a key in this dialog.",
            )
        else:
            self.key_edit.setText(self._stored_key)
            self.key_edit.setPlaceholderText("Paste your AILabTools API key")
            where = "the system keyring" if keyring_available() else "memory for this session only"
            self.key_edit.setToolTip(
                f"Your AILabTools API key. It is kept in {where}, never in the settings file"
            )
            if not keyring_available():
                self.key_note.show_message(
                    "warning",
                    "No system keyring is available, so the key will be kept for "
                    "this session only and never written to disk in plain text. "
                    f"Enter it again next time, or set {API_KEY_ENV}.",
                )
        self.key_edit.textEdited.connect(self._on_test_inputs_changed)
        return box

    def _build_service_group(self) -> QGroupBox:
        box = QGroupBox("Service", self)
        form = QFormLayout(box)

        self.base_url_edit = QLineEdit(box)
        self.base_url_edit.setAccessibleName("Base URL")
        self.base_url_edit.setToolTip(
            "The API address. It must use https://; plain http:// "
            "is allowed only for a local sandbox on 127.0.0.1 or "
            "localhost"
        )
        self.base_url_edit.setPlaceholderText(DEFAULT_BASE_URL)
        self.base_url_edit.textChanged.connect(self._on_base_url_changed)
        self.base_url_edit.textEdited.connect(self._on_test_inputs_changed)
        url_label = QLabel("Base &URL:", box)
        url_label.setBuddy(self.base_url_edit)
        form.addRow(url_label, self.base_url_edit)
        self.url_note = Note("Base URL problem", box)
        form.addRow(self.url_note)
        if self._sandbox_url:
            self.base_url_edit.setReadOnly(True)
            self.base_url_edit.setToolTip("Demo mode: jobs go to this local sandbox")
            self.demo_note = Note("Demo mode", box)
            self.demo_note.show_message(
                "info",
                "Demo mode: jobs and Test key go to this local sandbox, with no key and no "
                f"credits. Outside demo mode the app uses {self._original.base_url}.",
            )
            form.addRow(self.demo_note)

        self.poll_spin = QDoubleSpinBox(box)
        self.poll_spin.setAccessibleName("Poll interval in seconds")
        self.poll_spin.setDecimals(2)
        self.poll_spin.setSingleStep(0.5)
        self.poll_spin.setMaximum(MAX_POLL)
        self.poll_spin.setSuffix(" s")
        self.poll_auto = QCheckBox("&Automatic", box)
        self.poll_auto.setAccessibleName("Poll automatically, learned from past jobs")
        self.poll_auto.setToolTip(
            "Poll when past jobs say the task usually ends: results show sooner, with no "
            "more status checks than polling every 5 s. Untick to poll at a fixed interval."
        )
        self.poll_auto.toggled.connect(self.poll_spin.setDisabled)
        poll_row = QHBoxLayout()
        poll_row.addWidget(self.poll_spin, 1)
        poll_row.addWidget(self.poll_auto)
        poll_label = QLabel("&Poll every:", box)
        poll_label.setBuddy(self.poll_spin)
        form.addRow(poll_label, poll_row)

        self.timeout_spin = QDoubleSpinBox(box)
        self.timeout_spin.setAccessibleName("Task timeout")
        self.timeout_spin.setToolTip(
            "How long to wait for one task before giving up on "
            "waiting (the task may still finish; resume it later)"
        )
        self.timeout_spin.valueChanged.connect(self._on_timeout_value_changed)
        self.timeout_unit = QComboBox(box)
        self.timeout_unit.addItem("seconds", 1.0)
        self.timeout_unit.addItem("minutes", 60.0)
        self.timeout_unit.setAccessibleName("Task timeout unit")
        self.timeout_unit.setToolTip("Unit of the task timeout")
        self.timeout_unit.currentIndexChanged.connect(self._on_timeout_unit_changed)
        row = QHBoxLayout()
        row.addWidget(self.timeout_spin, 1)
        row.addWidget(self.timeout_unit)
        timeout_label = QLabel("&Give up after:", box)
        timeout_label.setBuddy(self.timeout_spin)
        form.addRow(timeout_label, row)
        return box

    def _build_output_group(self) -> QGroupBox:
        box = OutputGroup(self._original.save_format, self)
        # The fields, by the names callers and tests use.
        self.output_edit, self.browse_button = box.output_edit, box.browse_button
        self.pattern_edit, self.token_buttons = box.pattern_edit, box.token_buttons
        self.preview_label, self.pattern_note = box.preview_label, box.pattern_note
        self._output_group = box
        return box

    # -- fields <-> settings -------------------------------------------------------------

    def _load_fields(self, s: Settings) -> None:
        self.base_url_edit.setText(self._sandbox_url or s.base_url)
        self._apply_poll_minimum()
        self.poll_spin.setValue(s.poll_interval)
        self.poll_auto.setChecked(s.poll_mode == "auto")
        self.poll_spin.setDisabled(s.poll_mode == "auto")
        self._timeout_s = float(s.timeout)
        minutes = self._timeout_s >= 60 and self._timeout_s % 60 == 0
        self.timeout_unit.blockSignals(True)
        self.timeout_unit.setCurrentIndex(1 if minutes else 0)
        self.timeout_unit.blockSignals(False)
        self._show_timeout()
        self.output_edit.setText(s.output_dir)
        self.pattern_edit.setText(s.filename_pattern)
        self._output_group.update_preview()
        self._validate()

    def settings(self) -> Settings:
        """The edited copy: fields the dialog does not show keep the values it was given."""
        return dataclasses.replace(
            self._original,
            base_url=self._saved_base_url(),
            poll_interval=float(self.poll_spin.value()),
            poll_mode="auto" if self.poll_auto.isChecked() else "fixed",
            timeout=float(self._timeout_s),
            output_dir=self.output_edit.text().strip(),
            filename_pattern=self.pattern_edit.text().strip(),
        )

    def api_key_text(self) -> str:
        """The key as typed in the field, without invisible characters or surrounding
        whitespace (see :func:`clean_api_key`; only stripped when it refuses the key)."""
        try:
            return clean_api_key(self.key_edit.text())
        except ConfigError:
            return self.key_edit.text().strip()

    def key_problem(self) -> str | None:
        """Why the typed key cannot be used, or None (the environment's key is not ours)."""
        if self._env_key:
            return None
        try:
            clean_api_key(self.key_edit.text())
        except ConfigError as exc:
            return str(exc)
        return None

    def _saved_base_url(self) -> str:
        # In demo mode the field shows the sandbox: the saved address stays as it was.
        url = self._original.base_url if self._sandbox_url else self.base_url_edit.text()
        return url.strip().rstrip("/")

    def _effective_key(self) -> str:
        if self._sandbox_url:
            return SANDBOX_KEY  # the user's key is for the real service only
        return self._env_key or self.api_key_text()

    @Slot()
    def restore_defaults(self) -> None:
        """Reset every shown field except the API key (a secret is never reset by a click)."""
        defaults = dataclasses.replace(
            Settings(), gender=self._original.gender, save_format=self._original.save_format
        )
        self._load_fields(defaults)
        self._on_test_inputs_changed()

    # -- key -----------------------------------------------------------------------------

    @Slot(bool)
    def _on_show_key_toggled(self, shown: bool) -> None:
        self.key_edit.setEchoMode(
            QLineEdit.EchoMode.Normal if shown else QLineEdit.EchoMode.Password
        )
        self.show_key_button.setText("Hide" if shown else "Show")
        self.show_key_button.setAccessibleName("Hide API key" if shown else "Show API key")

    @Slot()
    def test_key(self) -> None:
        """Start a credits query with the current key and address on the thread pool.

        The answer is shown in :attr:`test_note` when it arrives (GUI thread); an answer
        for an older key or address is dropped.
        """
        key, url = self._effective_key(), self.base_url_edit.text().strip()
        if not key or base_url_problem(url):
            return
        self._tester.start(key, url)
        self.test_button.setEnabled(False)
        self.test_note.show_message("info", "Checking the key…")

    @Slot(str, str)
    def _on_test_finished(self, kind: str, text: str) -> None:
        self._validate()
        self.test_note.show_message(kind, text)

    @Slot()
    def _on_test_inputs_changed(self) -> None:
        # An answer about the previous key or address would now be misleading.
        self._tester.cancel()
        self.test_note.clear()
        self._validate()

    # -- service -------------------------------------------------------------------------

    @Slot(str)
    def _on_base_url_changed(self, _text: str) -> None:
        self._apply_poll_minimum()
        self._validate()

    def _apply_poll_minimum(self) -> None:
        # In demo mode the values are saved for the real service: its minimum applies.
        loopback = is_loopback_url(self._saved_base_url())
        minimum = LOOPBACK_MIN_POLL if loopback else REMOTE_MIN_POLL
        # Hundredths matter only below a second, which only a sandbox allows.
        self.poll_spin.setDecimals(2 if loopback else 1)
        self.poll_spin.setMinimum(minimum)  # clamps a too-small value up
        self.poll_spin.setToolTip(
            f"Seconds between status checks of a running task (at least {minimum:g} s"
            + (" for a local sandbox)" if loopback else "; the service recommends 5 s)")
        )

    def _unit_factor(self) -> float:
        return float(self.timeout_unit.currentData())

    def _show_timeout(self) -> None:
        """Show ``_timeout_s`` in the current unit without feeding it back."""
        factor = self._unit_factor()
        decimals = 0 if factor == 1.0 else 1
        self.timeout_spin.blockSignals(True)
        self.timeout_spin.setDecimals(decimals)
        self.timeout_spin.setRange(MIN_TIMEOUT_S / factor, MAX_TIMEOUT_S / factor)
        self.timeout_spin.setSingleStep(10.0 if factor == 1.0 else 1.0)
        # No suffix: the unit box beside it names the unit (once).
        self.timeout_spin.setValue(self._timeout_s / factor)
        self.timeout_spin.blockSignals(False)
        shown = self.timeout_spin.value() * factor
        # Keep the exact seconds unless the range clamped the value (rounding is display only).
        if abs(shown - self._timeout_s) > 0.5 * 10**-decimals * factor + 1e-6:
            self._timeout_s = shown

    @Slot(int)
    def _on_timeout_unit_changed(self, _index: int) -> None:
        self._show_timeout()

    @Slot(float)
    def _on_timeout_value_changed(self, value: float) -> None:
        self._timeout_s = value * self._unit_factor()

    # -- output --------------------------------------------------------------------------

    @Slot()
    def browse_output_dir(self) -> None:
        """Ask for the output folder with the platform dialog (modal: GUI thread)."""
        self._output_group.browse_output_dir()

    # -- validation and saving -----------------------------------------------------------

    def _validate(self) -> bool:
        problem = base_url_problem(self.base_url_edit.text())
        if problem:
            self.url_note.show_message("error", problem)
        else:
            self.url_note.clear()
        key_problem = self.key_problem()
        if key_problem:
            self.key_note.show_message("error", key_problem)
            self._showing_key_problem = True
        elif self._showing_key_problem:
            self.key_note.clear()
            self._showing_key_problem = False
        ok = self._buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(problem is None and key_problem is None)
        ok.setToolTip(
            "Save these settings and close"
            if problem is None and key_problem is None
            else "Fix the base URL first"
            if problem
            else "Fix the API key first"
        )
        testing = self._tester.running()
        self.test_button.setEnabled(
            not testing and problem is None and not key_problem and bool(self._effective_key())
        )
        return problem is None and key_problem is None

    def accept(self) -> None:
        """Save settings and key, emit :attr:`saved`, close.

        Stays open when the settings file cannot be written, and once when the keyring
        unexpectedly refused the key (so the user reads that it is kept for this session
        only); the next OK closes.
        """
        if not self._validate():
            return
        new = self.settings()
        try:
            save_settings(new)
        except OSError as exc:
            log.warning("settings not saved: %s", type(exc).__name__)
            self._save_note.show_message(
                "error", f"The settings could not be saved: {exc.strerror or type(exc).__name__}."
            )
            return
        except ValueError as exc:  # a value that is not a finite number of seconds
            self._save_note.show_message("error", str(exc))
            return
        self._save_note.clear()
        self._original = dataclasses.replace(new)

        storage: str | None = None
        key = self.api_key_text()
        if self._env_key is None and key != self._stored_key:
            if key:
                storage = set_api_key(key)
            else:
                clear_api_key()
                storage = "cleared"
            self._stored_key = key
        self.key_storage = storage
        self.saved.emit(dataclasses.replace(new))
        if storage is not None:
            self.key_stored.emit(storage)

        if storage == "session":
            if keyring_available():
                # A keyring exists but refused the write, so nothing has warned the user
                # yet: stay open once so the note is read (the next OK closes).
                self.key_note.show_message(
                    "warning",
                    "The system keyring refused the key, so it is kept for this "
                    "session only and not written to disk. Press OK to close.",
                )
                return
            self.key_note.show_message(
                "warning",
                "Saved for this session only: the key was not written to disk. "
                f"Enter it again after a restart, or set {API_KEY_ENV}.",
            )
        super().accept()

    def done(self, result: int) -> None:
        """Close (OK or Cancel); a running key test is told to stop."""
        self._tester.cancel()
        super().done(result)


# Re-exported: these lived here before the key test and the note had modules of their own.
__all__ = ["ClientFactory", "Note", "SettingsDialog", "base_url_problem"]
__all__ += ["default_client_factory", "format_credits", "universal_balance"]
