"""The review bar's keys and tag captions, as data.

:class:`~refiner_gui.ui.review.ReviewBar` binds its window-wide shortcuts from these
constants and the keyboard help (:data:`REVIEW_KEYS`) is generated from the same ones, so
the two cannot drift. The letters avoid the viewer's keys (digits, + - Space; see
:mod:`refiner_gui.ui.viewer.keys`) and the menus' (all with Ctrl, plus Esc and F1).

Also here: :func:`is_editing_text`, the rule for when single-key shortcuts must yield to
typing. GUI thread only.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QComboBox,
    QLineEdit,
    QPlainTextEdit,
    QTextEdit,
    QWidget,
)

from refiner_gui.jobs.models import DEFECT_TAGS
from refiner_gui.ui.key_help import KeyHelp

REVIEW_SECTION = "Review (not while typing in a text field)"

PASS_KEY = "P"
FAIL_KEY = "F"
NOTE_KEY = "E"
NEXT_KEYS: tuple[str, ...] = ("N", "]")
PREVIOUS_KEYS: tuple[str, ...] = ("B", "[")
BLIND_KEY = "Ctrl+B"

# Blind mode's "which looks better?": the answer by the side's caption, with Shift so the
# plain letters stay the tags' (A is Artifacts, S Shape/fit) and B stays "previous look".
PREFER_KEYS: dict[str, str] = {"A": "Shift+A", "B": "Shift+B", "same": "Shift+S"}
PREFER_LABELS: dict[str, str] = {"A": "A better", "B": "B better", "same": "Same"}

# Short button captions for the known tags, so nine toggles fit one row of a 1200 px
# window; the full DEFECT_TAGS label is the tooltip and accessible name. Tags added to
# DEFECT_TAGS later fall back to their full label.
SHORT_TAG_LABELS: dict[str, str] = {
    "face_identity": "Face/identity",
    "hands": "Hands",
    "garment_colour": "Colour",
    "pattern_logo": "Pattern/logo",
    "garment_shape": "Shape/fit",
    "background": "Background",
    "artifacts": "Artifacts",
    "crop_framing": "Crop/framing",
    "other": "Other",
}

# One letter per defect tag (digits stay with the viewer: 0 fits, 1 shows 1:1). Chosen so
# none collides with P, F, E, N, B or the viewer's keys.
TAG_KEYS: dict[str, str] = {
    "face_identity": "I",
    "hands": "H",
    "garment_colour": "C",
    "pattern_logo": "L",
    "garment_shape": "S",
    "background": "G",
    "artifacts": "A",
    "crop_framing": "R",
    "other": "O",
}

KEY_MAP: dict[str, str] = {
    PASS_KEY: "Pass (again: clear the verdict)",
    FAIL_KEY: "Fail (again: clear the verdict)",
    " ".join(TAG_KEYS.values()): "Toggle a defect tag (the letter is on its button)",
    NOTE_KEY: "Edit the note (Enter or Esc: back to where you were)",
    " or ".join(NEXT_KEYS): "Next look",
    " or ".join(PREVIOUS_KEYS): "Previous look",
    BLIND_KEY: "Blind review on/off",
    " ".join(PREFER_KEYS.values()): "Blind: A better, B better, or the same (reveals the sides)",
}
"""What each key does in one line each (the key hints' tooltip)."""

KEY_HINT = (
    f"{PASS_KEY} pass · {FAIL_KEY} fail · letters on the tags toggle them · {NOTE_KEY} note · "
    f"{NEXT_KEYS[0]} next · {PREVIOUS_KEYS[0]} back · Ctrl+Z undo · {BLIND_KEY} blind"
)
"""The short line of key hints the bar shows."""

REVIEW_KEYS: tuple[KeyHelp, ...] = (
    KeyHelp(PASS_KEY, KEY_MAP[PASS_KEY], REVIEW_SECTION),
    KeyHelp(FAIL_KEY, KEY_MAP[FAIL_KEY], REVIEW_SECTION),
    *(
        KeyHelp(letter, f"Toggle the defect tag “{DEFECT_TAGS.get(tag, tag)}”", REVIEW_SECTION)
        for tag, letter in TAG_KEYS.items()
    ),
    KeyHelp(NOTE_KEY, KEY_MAP[NOTE_KEY], REVIEW_SECTION),
    KeyHelp(" or ".join(NEXT_KEYS), "Next look", REVIEW_SECTION),
    KeyHelp(" or ".join(PREVIOUS_KEYS), "Previous look", REVIEW_SECTION),
    KeyHelp(BLIND_KEY, KEY_MAP[BLIND_KEY], REVIEW_SECTION),
    *(
        KeyHelp(key, f"Blind: answer “{PREFER_LABELS[answer]}” (reveals the sides)", REVIEW_SECTION)
        for answer, key in PREFER_KEYS.items()
    ),
)
"""The review keys for the keyboard help: one row per key (per tag letter)."""


def review_key_strings() -> tuple[str, ...]:
    """Every key the review bar binds, one sequence each ("P", "]", "Ctrl+B"...)."""
    return (
        PASS_KEY,
        FAIL_KEY,
        *TAG_KEYS.values(),
        NOTE_KEY,
        *NEXT_KEYS,
        *PREVIOUS_KEYS,
        BLIND_KEY,
        *PREFER_KEYS.values(),
    )


def is_editing_text(widget: QWidget | None) -> bool:
    """True when ``widget`` takes typed characters, so single-key shortcuts must not fire."""
    if widget is None:
        return False
    if isinstance(widget, QLineEdit | QPlainTextEdit | QTextEdit):
        return not widget.isReadOnly()
    if isinstance(widget, QAbstractSpinBox):
        return True
    return isinstance(widget, QComboBox) and widget.isEditable()


__all__ = [
    "BLIND_KEY",
    "FAIL_KEY",
    "KEY_HINT",
    "KEY_MAP",
    "NEXT_KEYS",
    "NOTE_KEY",
    "PASS_KEY",
    "PREFER_KEYS",
    "PREFER_LABELS",
    "PREVIOUS_KEYS",
    "REVIEW_KEYS",
    "SHORT_TAG_LABELS",
    "TAG_KEYS",
    "is_editing_text",
    "review_key_strings",
]
