"""What the inputs panel knows about one slot, and that knowledge in words.

Qt-free: :class:`SlotState` is plain data the panel keeps per slot (GUI thread only), and
:func:`slot_readiness` is the one place that decides whether a slot keeps a job from being
sent, and whether that is because work is still running (BUSY) or because the user must
act (NEEDS_USER).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from refiner_gui.images import ImageReport, Problem
from refiner_gui.readiness import InputsState, Readiness
from refiner_gui.sizes import format_bytes, format_pixels
from refiner_gui.slots import SLOT_LABELS

# What a slot is waiting for (None: nothing).
DOWNLOAD, SAVE, CHECK, FIX = "download", "save", "check", "fix"


@dataclass
class SlotState:
    """Everything the panel knows about one slot. GUI thread only."""

    original: Path | None = None
    fixed: Path | None = None
    report: ImageReport | None = None  # the verdict on upload_path(): the fixed copy if any
    busy: str | None = None  # DOWNLOAD, SAVE, CHECK, FIX or None
    error: str | None = None  # a background task failed; plain words
    content_gen: int = 0  # bumps when the slot's file changes (or it is cleared)
    verdict_gen: int = 0  # bumps when a new check or fix starts, and with content_gen
    has_thumbnail: bool = False

    def upload_path(self) -> Path | None:
        """The file to send: the fixed copy if Fix made one, else the original."""
        return self.fixed if self.fixed is not None else self.original


def slot_readiness(slot: str, state: SlotState, *, required: bool) -> InputsState | None:
    """Why ``slot`` keeps the job from being sent, or None when it does not.

    Work in progress (download, save, check, fix) is BUSY: it ends by itself. Everything
    else (a missing required file, a problem, a failed task) is NEEDS_USER.
    """
    label = SLOT_LABELS[slot]

    def busy(reason: str) -> InputsState:
        return InputsState(Readiness.BUSY, reason)

    def needs_user(reason: str) -> InputsState:
        return InputsState(Readiness.NEEDS_USER, reason)

    if state.busy == DOWNLOAD:
        return busy(f"Wait until the {label} is downloaded")
    if state.busy == SAVE:
        return busy(f"Wait until the {label} is saved")
    if state.original is None:
        return needs_user(f"Add the {label}") if required else None
    if state.busy == CHECK:
        return busy(f"Checking the {label}…")
    if state.busy == FIX:
        return busy(f"Fixing the {label}…")
    if state.error or state.report is None:
        return needs_user(f"Replace the {label}")
    if state.report.ok:
        return None
    if state.report.fixable:
        return needs_user(f"Fix the {label}")
    if shown_problem(state.report).code == "size_mismatch":
        return needs_user("Make the coarse try-on result again at the person photo's size")
    return needs_user(f"Replace the {label}")


def shown_problem(report: ImageReport) -> Problem:
    """The problem to put in words: an unfixable one first, since Fix will not help there
    and the user must act; else the first. ``report`` must have problems."""
    return next((p for p in report.problems if not p.fixable), report.problems[0])


def facts(report: ImageReport) -> list[str]:
    """["JPEG 320×480", "45 KB"]: what the report knows, in the order people read it."""
    parts: list[str] = []
    if report.size is not None:
        kind = f"{report.format} " if report.format else ""
        parts.append(f"{kind}{format_pixels(*report.size)}")
    if report.file_size:
        parts.append(format_bytes(report.file_size))
    return parts


def plain(exc: BaseException) -> str:
    """An exception in words for a user: its own message, else its type."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
