"""Whether the inputs can be sent, as data: a :class:`Readiness` plus the words for it.

Qt-free, so the rule "what counts as still working" lives in one place that the window
(and tests) can branch on, instead of matching words in the reason text.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Readiness(Enum):
    """How far the inputs are from a job that can be sent.

    READY: everything is present and checked OK, a gender is chosen.
    BUSY: something is still in progress (downloading, saving, checking, fixing); the
        state will change by itself, so a caller may simply wait for the next change.
    NEEDS_USER: nothing will change until the user acts (add, replace or fix a file,
        choose a gender).
    """

    READY = "ready"
    BUSY = "busy"
    NEEDS_USER = "needs_user"


@dataclass(frozen=True)
class InputsState:
    """The inputs' :class:`Readiness` and, unless READY, what is happening or what to do
    next, in plain words for the status bar (e.g. "Checking the person photo…")."""

    readiness: Readiness
    reason: str = ""

    @property
    def ready(self) -> bool:
        """True when a job can be sent now."""
        return self.readiness is Readiness.READY

    @property
    def busy(self) -> bool:
        """True while something is in progress and the state will change by itself."""
        return self.readiness is Readiness.BUSY


READY_STATE = InputsState(Readiness.READY)
"""The one READY state (no reason)."""

__all__ = ["READY_STATE", "InputsState", "Readiness"]
