"""Auto-advance with a visible pause: the rule that keeps review keys on the look judged.

Pressing P or F with auto-advance on does not move on at once. The look stays on screen for
a short pause (:data:`ADVANCE_PAUSE_MS`) announced on the review bar ("Moving on in 1.5 s ·
keys still apply to job 14"); tag keys pressed meanwhile apply to the look still shown,
which is the look just judged. Then the bar asks for the next look. Whatever happens, a
key only ever changes the look the reviewer sees: the view changes only when the pause
ends (or N is pressed), never between a key and the look it was meant for.

:class:`AdvancePause` is the timer and the words; the bar owns one and decides when to
start or cancel it. GUI thread only.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal, Slot

ADVANCE_PAUSE_MS = 1500
"""How long a judged look stays on screen before auto-advance moves on."""


def _seconds(ms: int) -> str:
    return f"{ms / 1000:.1f}".rstrip("0").rstrip(".") + " s"


class AdvancePause(QObject):
    """A single-shot pause before auto-advance moves on, with the text the bar shows.

    Signals:
        elapsed(): the pause ended without being cancelled (GUI thread): move on now.
        changed(): :meth:`pending` or :meth:`text` changed.

    Args:
        delay_ms: the pause; 0 means "move on at once" (:meth:`start` emits ``elapsed``
            before it returns, and nothing is ever pending).
    """

    elapsed = Signal()
    changed = Signal()

    def __init__(self, delay_ms: int = ADVANCE_PAUSE_MS, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._on_timeout)
        self._look = ""
        self.set_delay(delay_ms)

    def delay(self) -> int:
        """The pause in milliseconds."""
        return self._timer.interval()

    def set_delay(self, ms: int) -> None:
        """Change the pause (a running one keeps its length).

        Raises:
            ValueError: ``ms`` is negative.
        """
        if ms < 0:
            raise ValueError("the auto-advance pause cannot be negative")
        self._timer.setInterval(ms)

    def pending(self) -> bool:
        """True while a judged look waits to be left."""
        return self._timer.isActive()

    def start(self, look: str) -> None:
        """Begin (or restart) the pause for ``look`` (e.g. "job 14"), the look on screen."""
        self._look = look
        if self.delay() == 0:
            self.cancel()
            self.elapsed.emit()
            return
        self._timer.start()
        self.changed.emit()

    def cancel(self) -> None:
        """Stay on the look: the pause ends without ``elapsed`` (no-op when none runs)."""
        if self._timer.isActive():
            self._timer.stop()
            self.changed.emit()

    def rule_text(self) -> str:
        """The rule, for the bar while no pause runs."""
        if self.delay() == 0:
            return "Auto-advance: P or F moves on at once (tag first)"
        return f"Auto-advance: after P or F, {_seconds(self.delay())} to tag the same look"

    def text(self) -> str:
        """What the bar shows now: the pause banner, or the rule."""
        if not self.pending():
            return self.rule_text()
        look = self._look or "this look"
        return (
            f"Moving on in {_seconds(self.delay())} · keys still apply to {look} · "
            "N: go now · Ctrl+Z: undo"
        )

    @Slot()
    def _on_timeout(self) -> None:
        self.changed.emit()
        self.elapsed.emit()


__all__ = ["ADVANCE_PAUSE_MS", "AdvancePause"]
