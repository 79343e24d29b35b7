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
* "Test key" runs query-credits on the global thread pool (:mod:`refiner_gui.workers`);
  the GUI thread never waits on the network.

Every method here is GUI-thread only; the only code that runs elsewhere is the test-key
function handed to :class:`~refiner_gui.workers.BackgroundTask`, which touches no widget.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSize, Qt, Signal, Slot
from PySide6.QtGui import QIcon, QResizeEvent
from PySide6.QtWidgets import (
    QAbstractButton,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from refiner_gui.api.client import ConfigError, RefinerClient, RetryPolicy, is_loopback_url
from refiner_gui.api.errors import RefinerError, redact
from refiner_gui.api.models import CancelToken, CreditBalance
from refiner_gui.config import API_KEY_ENV, DEFAULT_BASE_URL, app_paths
from refiner_gui.keystore import clear_api_key, get_api_key, keyring_available, set_api_key
from refiner_gui.outputs import TOKENS, render_name
from refiner_gui.settings import Settings, save_settings
from refiner_gui.workers import BackgroundTask, submit_task

log = logging.getLogger(__name__)

ClientFactory = Callable[[str, str], RefinerClient]

# The real service must not be polled faster than once a second (the client refuses it);
# a loopback sandbox may be polled fast so demos and tests do not crawl.
REMOTE_MIN_POLL = 1.0
LOOPBACK_MIN_POLL = 0.05
MAX_POLL = 600.0
MIN_TIMEOUT_S = 5.0
MAX_TIMEOUT_S = 86_400.0  # results live 24 hours; waiting longer can never help
PREVIEW_TASK_ID = "T123"
PREVIEW_GENDER = "woman"
DIALOG_WIDTH = 560

_TOKEN_RE = re.compile(r"\{(\w+)\}")
_TOKEN_HELP = {
    "date": "the day the result was saved (2025-01-31)",
    "time": "the time it was saved (142501)",
    "task_id": "the service's task id",
    "gender": "the gender chosen for the job",
}


def default_client_factory(api_key: str, base_url: str) -> RefinerClient:
    """The client "Test key" uses: two tries only, so a dead network answers in seconds.

    Called on a pool thread.
    """
    return RefinerClient(api_key, base_url, retry=RetryPolicy(attempts=2))


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


def universal_balance(balances: list[CreditBalance]) -> CreditBalance | None:
    """The universal-credits entry (``unique_sign`` ``common``), else the first one."""
    for b in balances:
        if b.unique_sign == "common":
            return b
    return balances[0] if balances else None


def format_credits(value: float) -> str:
    """``1000.0`` -> ``"1,000"``; fractions keep two decimals."""
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


class Note(QWidget):
    """An inline message: a standard icon plus word-wrapped text in the palette's colours.

    The icon carries the kind (info, warning, error, ok), so meaning never rests on a
    colour alone and light and dark themes both read.
    """

    _ICONS = {
        "info": QStyle.StandardPixmap.SP_MessageBoxInformation,
        "warning": QStyle.StandardPixmap.SP_MessageBoxWarning,
        "error": QStyle.StandardPixmap.SP_MessageBoxCritical,
        "ok": QStyle.StandardPixmap.SP_DialogApplyButton,
    }

    changed = Signal()  # shown, hidden or new text: the window may need another height

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind = ""
        self._icon = QLabel(self)
        self._icon.setAlignment(Qt.AlignmentFlag.AlignTop)
        self._text = QLabel(self)
        self._text.setWordWrap(True)
        self._text.setTextFormat(Qt.TextFormat.PlainText)
        self._text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._text.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self._icon)
        row.addWidget(self._text, 1)
        self.setAccessibleName(name)
        self._text.setAccessibleName(name)
        self.hide()

    def text(self) -> str:
        return self._text.text()

    def show_message(self, kind: str, text: str) -> None:
        """Show ``text`` with the icon for ``kind`` (``info``/``warning``/``error``/``ok``)."""
        self.kind = kind
        size = self.style().pixelMetric(QStyle.PixelMetric.PM_SmallIconSize)
        icon: QIcon = self.style().standardIcon(self._ICONS[kind])
        self._icon.setPixmap(icon.pixmap(size, size))
        self._text.setText(text)
        self.setAccessibleDescription(text)
        self.setToolTip(text if len(text) > 120 else "")
        self.show()
        self.changed.emit()

    def clear(self) -> None:
        self.kind = ""
        self._text.setText("")
        self.setAccessibleDescription("")
        self.hide()
        self.changed.emit()


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
    """

    saved = Signal(object)
    key_stored = Signal(str)

    def __init__(
        self,
        settings: Settings,
        parent: QWidget | None = None,
        *,
        client_factory: ClientFactory | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setAccessibleName("Settings")
        self._original = dataclasses.replace(settings)
        self._client_factory = client_factory or default_client_factory
        self._timeout_s = float(settings.timeout)
        self._test_generation = 0
        self._test_cancel: CancelToken | None = None
        self._test_task: BackgroundTask | None = None
        self.key_storage: str | None = None  # what the last OK did with the key

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

        self.poll_spin = QDoubleSpinBox(box)
        self.poll_spin.setAccessibleName("Poll interval in seconds")
        self.poll_spin.setDecimals(2)
        self.poll_spin.setSingleStep(0.5)
        self.poll_spin.setMaximum(MAX_POLL)
        self.poll_spin.setSuffix(" s")
        poll_label = QLabel("&Poll every:", box)
        poll_label.setBuddy(self.poll_spin)
        form.addRow(poll_label, self.poll_spin)

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
        box = QGroupBox("Saved results", self)
        form = QFormLayout(box)

        self.output_edit = QLineEdit(box)
        self.output_edit.setAccessibleName("Output folder")
        self.output_edit.setToolTip(
            "Where refined images are saved; empty means the default folder shown in grey"
        )
        self.output_edit.setPlaceholderText(_display_path(app_paths().outputs))
        self.browse_button = QPushButton("&Browse…", box)
        self.browse_button.setAccessibleName("Browse for output folder")
        self.browse_button.setToolTip("Choose the output folder")
        self.browse_button.clicked.connect(self.browse_output_dir)
        row = QHBoxLayout()
        row.addWidget(self.output_edit, 1)
        row.addWidget(self.browse_button)
        folder_label = QLabel("&Folder:", box)
        folder_label.setBuddy(self.output_edit)
        form.addRow(folder_label, row)

        self.pattern_edit = QLineEdit(box)
        self.pattern_edit.setAccessibleName("File name pattern")
        self.pattern_edit.setToolTip(
            "File name of a saved result, without extension. "
            "Tokens: " + " ".join(_token(t) for t in TOKENS)
        )
        self.pattern_edit.textChanged.connect(self._update_preview)
        pattern_label = QLabel("File &name:", box)
        pattern_label.setBuddy(self.pattern_edit)
        form.addRow(pattern_label, self.pattern_edit)

        tokens = QHBoxLayout()
        tokens.addWidget(QLabel("Insert:", box))
        self.token_buttons: dict[str, QToolButton] = {}
        for token in TOKENS:
            button = QToolButton(box)
            button.setText(_token(token))
            button.setAccessibleName(f"Insert {token.replace('_', ' ')} token")
            button.setToolTip(f"Insert {{{token}}} at the cursor: {_TOKEN_HELP[token]}")
            button.clicked.connect(self._on_token_clicked)
            button.setProperty("token", token)
            tokens.addWidget(button)
            self.token_buttons[token] = button
        tokens.addStretch(1)
        form.addRow("", tokens)

        self.preview_label = QLabel(box)
        self.preview_label.setTextFormat(Qt.TextFormat.PlainText)
        self.preview_label.setAccessibleName("File name preview")
        self.preview_label.setToolTip("What a result's file name would look like now")
        self.preview_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        preview_caption = QLabel("Preview:", box)
        preview_caption.setBuddy(self.preview_label)
        form.addRow(preview_caption, self.preview_label)
        self.pattern_note = Note("File name pattern problem", box)
        form.addRow(self.pattern_note)
        return box

    # -- fields <-> settings -------------------------------------------------------------

    def _load_fields(self, s: Settings) -> None:
        self.base_url_edit.setText(s.base_url)
        self._apply_poll_minimum()
        self.poll_spin.setValue(s.poll_interval)
        self._timeout_s = float(s.timeout)
        minutes = self._timeout_s >= 60 and self._timeout_s % 60 == 0
        self.timeout_unit.blockSignals(True)
        self.timeout_unit.setCurrentIndex(1 if minutes else 0)
        self.timeout_unit.blockSignals(False)
        self._show_timeout()
        self.output_edit.setText(s.output_dir)
        self.pattern_edit.setText(s.filename_pattern)
        self._update_preview()
        self._validate()

    def settings(self) -> Settings:
        """The edited copy: fields the dialog does not show keep the values it was given."""
        return dataclasses.replace(
            self._original,
            base_url=self.base_url_edit.text().strip().rstrip("/"),
            poll_interval=float(self.poll_spin.value()),
            timeout=float(self._timeout_s),
            output_dir=self.output_edit.text().strip(),
            filename_pattern=self.pattern_edit.text().strip(),
        )

    def api_key_text(self) -> str:
        """The key as typed in the field, stripped ("" while the environment variable wins)."""
        return self.key_edit.text().strip()

    def _effective_key(self) -> str:
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

        The result arrives in :meth:`_on_test_done` / :meth:`_on_test_error` on the GUI
        thread; a result for an older key or address is ignored.
        """
        key, url = self._effective_key(), self.base_url_edit.text().strip()
        if not key or base_url_problem(url):
            return
        self._cancel_test()
        self._test_generation += 1
        cancel = CancelToken()
        factory = self._client_factory

        def query() -> list[CreditBalance]:  # pool thread: no widgets here
            client = factory(key, url)
            try:
                return client.credits(cancel=cancel)
            finally:
                client.close()

        task = BackgroundTask(self._test_generation, query)
        task.signals.done.connect(self._on_test_done)
        task.signals.error.connect(self._on_test_error)
        self._test_cancel, self._test_task = cancel, task
        self.test_button.setEnabled(False)
        self.test_note.show_message("info", "Checking the key…")
        submit_task(task)

    @Slot(object, object)
    def _on_test_done(self, tag: Any, balances: list[CreditBalance]) -> None:
        if tag != self._test_generation:
            return
        self._test_finished()
        best = universal_balance(balances)
        if best is None:
            self.test_note.show_message("ok", "Key works · no credit balance reported")
        else:
            self.test_note.show_message("ok", f"Key works · {format_credits(best.balance)} credits")

    @Slot(object, object)
    def _on_test_error(self, tag: Any, exc: BaseException) -> None:
        if tag != self._test_generation:
            return
        self._test_finished()
        if isinstance(exc, RefinerError):
            text = f"{exc.title}: {exc.user_message}"
        elif isinstance(exc, ConfigError):
            text = redact(str(exc))
        else:  # a bug, not a key problem: say so and keep the details in the log
            log.error("key test failed: %s: %s", type(exc).__name__, redact(str(exc)))
            text = f"The key test failed unexpectedly ({type(exc).__name__}). See the log."
        self.test_note.show_message("error", text)

    def _test_finished(self) -> None:
        self._test_cancel = None
        self._test_task = None
        self._validate()

    def _cancel_test(self) -> None:
        if self._test_cancel is not None:
            self._test_cancel.cancel()
        self._test_cancel = None
        self._test_task = None

    @Slot()
    def _on_test_inputs_changed(self) -> None:
        # An answer about the previous key or address would now be misleading.
        self._cancel_test()
        self._test_generation += 1
        self.test_note.clear()
        self._validate()

    # -- service -------------------------------------------------------------------------

    @Slot(str)
    def _on_base_url_changed(self, _text: str) -> None:
        self._apply_poll_minimum()
        self._validate()

    def _apply_poll_minimum(self) -> None:
        loopback = is_loopback_url(self.base_url_edit.text().strip())
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
        self.timeout_spin.setSuffix(" s" if factor == 1.0 else " min")
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
        """Ask for a folder with the platform dialog (modal: GUI thread)."""
        start = self.output_edit.text().strip() or str(app_paths().outputs)
        # Looked up on the class at call time so a test can replace it.
        chosen = QFileDialog.getExistingDirectory(
            self, "Choose the output folder", os.path.expanduser(start)
        )
        if chosen:
            self.output_edit.setText(chosen)

    @Slot()
    def _on_token_clicked(self) -> None:
        button = self.sender()
        if isinstance(button, QAbstractButton):
            self.pattern_edit.insert(_token(str(button.property("token"))))
            self.pattern_edit.setFocus()

    @Slot()
    def _update_preview(self) -> None:
        pattern = self.pattern_edit.text().strip()
        ext = "jpg" if self._original.save_format == "jpg" else "png"
        stem = render_name(pattern, task_id=PREVIEW_TASK_ID, gender=PREVIEW_GENDER)
        self.preview_label.setText(f"{stem}.{ext}")
        unknown = sorted({t for t in _TOKEN_RE.findall(pattern) if t not in TOKENS})
        if unknown:
            names = ", ".join(_token(t) for t in unknown)
            self.pattern_note.show_message(
                "warning",
                f"Unknown token {names} will be left out. Use "
                + " ".join(_token(t) for t in TOKENS)
                + ".",
            )
        elif not pattern:
            self.pattern_note.show_message("info", "An empty pattern saves files as {task_id}.")
        else:
            self.pattern_note.clear()

    # -- validation and saving -----------------------------------------------------------

    def _validate(self) -> bool:
        problem = base_url_problem(self.base_url_edit.text())
        if problem:
            self.url_note.show_message("error", problem)
        else:
            self.url_note.clear()
        ok = self._buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(problem is None)
        ok.setToolTip(
            "Save these settings and close" if problem is None else "Fix the base URL first"
        )
        testing = self._test_task is not None
        self.test_button.setEnabled(not testing and problem is None and bool(self._effective_key()))
        return problem is None

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
        self._cancel_test()
        self._test_generation += 1
        super().done(result)


def _token(name: str) -> str:
    return "{" + name + "}"


def _display_path(path: Path) -> str:
    """``path`` with the home folder shown as ``~`` (shorter, and no user name on screen)."""
    try:
        return "~" + os.sep + str(path.relative_to(Path.home()))
    except ValueError:
        return str(path)
