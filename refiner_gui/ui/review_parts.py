"""The review bar's parts: its buttons, and its bottom line (key hints, the auto-advance
rule, the blind question).

Views only. :class:`BlindQuestion` shows whether the sides are hidden and offers the
answers (A better, B better, Same) as buttons; the keys are the bar's window shortcuts
(:data:`~refiner_gui.ui.review_keys.PREFER_KEYS`). It reports the answer by the side's
caption; the review controller turns that into "refined", "coarse" or "same".
:class:`ReviewHints` lays the line out. GUI thread only.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QFrame, QLabel, QSizePolicy, QToolButton, QWidget

from refiner_gui.ui.drop_slot import OK, PROBLEM, status_colour
from refiner_gui.ui.flow_layout import FlowLayout
from refiner_gui.ui.review_keys import KEY_HINT, KEY_MAP, PREFER_KEYS, PREFER_LABELS

HIDDEN_TEXT = "Blind: which looks better? Answer first, then P or F."
REVEALED_TEXT = "Blind: revealed, see the captions."


def tool_button(text: str, name: str, tip: str) -> QToolButton:
    """A checkable, text-only bar button that a click leaves the focus alone with."""
    button = QToolButton()
    button.setText(text)
    button.setCheckable(True)
    button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
    button.setAccessibleName(name)
    button.setToolTip(tip)
    # A click must not take the focus from the viewer: Space (flicker) and the zoom
    # keys keep working after a mouse click; Tab still reaches every button.
    button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
    return button


def style_verdict(button: QToolButton, kind: str, palette: QPalette) -> None:
    """A checked verdict button in bold, in its status colour (``kind``: OK or ERROR)."""
    font = button.font()
    font.setBold(button.isChecked())
    button.setFont(font)
    pal = QPalette(palette)
    if button.isChecked():
        pal.setColor(QPalette.ColorRole.ButtonText, status_colour(kind, palette))
    button.setPalette(pal)


def style_toggle(button: QToolButton, palette: QPalette) -> None:
    """A checked toggle (tag, blind) in the highlight colours."""
    # Fusion shades a checked tool button only slightly darker; a reviewer scanning the
    # row must see at a glance which defects are marked, so use the highlight.
    pal = QPalette(palette)
    if button.isChecked():
        pal.setColor(QPalette.ColorRole.Button, pal.color(QPalette.ColorRole.Highlight))
        pal.setColor(QPalette.ColorRole.ButtonText, pal.color(QPalette.ColorRole.HighlightedText))
    button.setPalette(pal)


def separator() -> QFrame:
    """A sunken vertical line between groups of buttons."""
    line = QFrame()
    line.setFrameShape(QFrame.Shape.VLine)
    line.setFrameShadow(QFrame.Shadow.Sunken)
    return line


class BlindQuestion(QWidget):
    """The blind state line, with the answer buttons while the sides are hidden.

    Signals:
        answered(str): "A", "B" or "same", when an answer button is clicked (the bar
            emits its own ``preferenceChosen`` for it, and for the keys).
    """

    answered = Signal(str)

    def __init__(self, tooltip: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._hidden = True
        self._answer = ""
        row = FlowLayout(self, spacing=4)  # the answers wrap in a narrow window
        row.setContentsMargins(0, 0, 0, 0)
        self.label = QLabel()
        self.label.setAccessibleName("Blind review state")
        self.label.setToolTip(tooltip)
        self.label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.label.setMinimumWidth(80)  # clipped in a narrow window rather than widening it
        font = self.label.font()
        font.setPointSizeF(font.pointSizeF() * 0.92)
        font.setBold(True)
        self.label.setFont(font)
        row.addWidget(self.label)
        self.buttons: dict[str, QToolButton] = {}
        for answer, key in PREFER_KEYS.items():
            button = QToolButton()
            button.setText(f"{PREFER_LABELS[answer]} ({key})")
            button.setAccessibleName(PREFER_LABELS[answer])
            button.setToolTip(
                f"{PREFER_LABELS[answer]} ({key}): record which looks better while the "
                "sides are hidden; this reveals them"
            )
            button.setFocusPolicy(Qt.FocusPolicy.TabFocus)  # keep the viewer's focus
            button.clicked.connect(self._on_clicked)
            button.setProperty("answer", answer)
            self.buttons[answer] = button
            row.addWidget(button)
        self._update()

    def set_state(self, *, hidden: bool, answer: str = "") -> None:
        """Show the question (``hidden``) or the revealed state with ``answer``, a short
        description of the stored answer ("you chose A: refined"), "" for none."""
        self._hidden = hidden
        self._answer = answer
        self._update()

    def text(self) -> str:
        """The state line as shown."""
        return self.label.text()

    def set_answers_enabled(self, enabled: bool) -> None:
        """Allow or block answering (blocked while no finished look is shown)."""
        for button in self.buttons.values():
            button.setEnabled(enabled)

    @Slot()
    def _on_clicked(self) -> None:
        button = self.sender()
        if isinstance(button, QToolButton):
            self.answered.emit(str(button.property("answer")))

    def _update(self) -> None:
        for button in self.buttons.values():
            button.setVisible(self._hidden)
        if self._hidden:
            text = HIDDEN_TEXT
        else:
            text = f"{REVEALED_TEXT} {self._answer}." if self._answer else REVEALED_TEXT
        self.label.setText(text)
        # Amber while hidden (answer now), green once revealed; readable on light and dark.
        pal = QPalette(self.palette())
        kind = PROBLEM if self._hidden else OK
        pal.setColor(QPalette.ColorRole.WindowText, status_colour(kind, self.palette()))
        self.label.setPalette(pal)

    def refresh_palette(self) -> None:
        """Re-derive the label colour after a palette change."""
        self._update()


class ReviewHints(QWidget):
    """The keys on the left; the auto-advance rule (or its pause banner) and the blind
    state on the right, where a reviewer looks when the captions say "A" and "B".

    Args:
        rule_tip: the rule's tooltip (the auto-advance box's).
        blind_tip: the blind state's tooltip (the blind button's).
    """

    def __init__(self, rule_tip: str, blind_tip: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        row = FlowLayout(self, spacing=12)  # the blind question wraps under the hints
        row.setContentsMargins(0, 0, 0, 0)
        self.hint_label = QLabel(KEY_HINT)
        self.hint_label.setAccessibleName("Key hints")
        self.hint_label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.hint_label.setToolTip("\n".join(f"{k}: {v}" for k, v in KEY_MAP.items()))
        # Clipped in a narrow window rather than widening it.
        self.hint_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.hint_label.setMinimumWidth(120)
        self.rule_label = QLabel()
        self.rule_label.setAccessibleName("Auto-advance rule")
        self.rule_label.setToolTip(rule_tip)
        self.rule_label.setMinimumWidth(80)  # clipped in a narrow window, as the hints
        for small in (self.hint_label, self.rule_label):
            font = small.font()
            font.setPointSizeF(font.pointSizeF() * 0.92)
            small.setFont(font)
        self.blind = BlindQuestion(blind_tip)
        row.addWidget(self.hint_label, stretch=True)
        row.addWidget(self.rule_label)
        row.addWidget(self.blind)

    def show_rule(self, visible: bool, text: str, *, pending: bool) -> None:
        """Show the rule (muted) or the pause banner (bold amber: the look will change)."""
        label = self.rule_label
        label.setVisible(visible)
        label.setText(text)
        font = label.font()
        font.setBold(pending)
        label.setFont(font)
        pal = QPalette(self.palette())
        colour = (
            status_colour(PROBLEM, self.palette())
            if pending
            else pal.color(QPalette.ColorRole.PlaceholderText)
        )
        pal.setColor(QPalette.ColorRole.WindowText, colour)
        label.setPalette(pal)


__all__ = [
    "HIDDEN_TEXT",
    "REVEALED_TEXT",
    "BlindQuestion",
    "ReviewHints",
    "separator",
    "style_toggle",
    "style_verdict",
    "tool_button",
]
