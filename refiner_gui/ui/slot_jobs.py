"""The slow work behind an input slot: pre-flight checks and Fix.

Plain functions of plain data (paths and reports), run on pool threads by
:class:`~refiner_gui.ui.inputs_panel.InputsPanel`; they touch no widget and import no Qt.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from refiner_gui.images import ImageReport, check_image, check_inputs, fix_image, planned_size
from refiner_gui.slots import COARSE, PERSON


@dataclass(frozen=True)
class CheckResult:
    """The verdicts on a slot's original file and, if Fix made one, its fixed copy."""

    original: ImageReport
    fixed: ImageReport | None


def check_one(path: Path, slot: str, person: Path | None) -> ImageReport:
    """Pre-flight of one file; the coarse image is also compared with the person photo."""
    if slot == COARSE and person is not None:
        # check_inputs holds the size-mismatch rule (and whether Fix can cure it); the
        # other slots' reports it builds are ignored. Only headers are read: cheap.
        return check_inputs(person, None, path)[COARSE]
    return check_image(path, slot)


def check_job(slot: str, original: Path, fixed: Path | None, person: Path | None) -> CheckResult:
    """Worker thread: the verdicts on the original and, if there is one, the fixed copy."""
    fixed_report = check_one(fixed, slot, person) if fixed is not None else None
    return CheckResult(check_one(original, slot, person), fixed_report)


def fix_job(slot: str, original: Path, dest: Path, person: Path | None) -> tuple[Path, ImageReport]:
    """Worker thread: Fix ``original`` into ``dest``; return the copy and its verdict.

    The coarse image is resized to the person photo's planned size (what the person photo
    is, or will be once fixed) when their sizes differ, as check_inputs prescribes.

    Raises:
        ImageFixError: the file cannot be fixed (its message is for the user).
    """
    target: tuple[int, int] | None = None
    if slot == COARSE and person is not None:
        coarse_report = check_inputs(person, None, original)[COARSE]
        if any(p.code == "size_mismatch" for p in coarse_report.problems):
            target = planned_size(check_image(person, PERSON))
    fixed = fix_image(original, dest, slot=slot, target_size=target)
    return fixed, check_one(fixed, slot, person)
