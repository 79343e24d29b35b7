"""Reading a batch's looks from a folder or a CSV manifest. No Qt, no network.

Two sources, one result: a list of :class:`Look` rows in the source's order, each with the
problems that keep it from being sent (a bad row never stops the others).

- A **folder** laid out by convention: one subfolder per look (its name is the look's
  name), the files in it named by role (``person``, ``top``, optional ``coarse`` and
  ``bottom``) by the same rules as loading four files in the window
  (:func:`refiner_gui.roles.assign_by_name`). The gender comes from a ``gender.txt`` in
  the look's folder (``woman`` or ``man``), else from the default given by the caller.
- A **CSV manifest** with the columns ``person, top, coarse, bottom, gender, name`` (a
  header row first; ``coarse``, ``bottom`` and ``name`` may be left empty or out; paths
  relative to the manifest's folder).

A look without a coarse image is not a problem: the batch makes it with Try on Clothes
Pro or Premium, then refines it (:attr:`Look.makes_coarse`, a two-stage job).

Only what the rows say is checked here (files exist, gender known, names unique, columns
right); the images themselves are judged by :mod:`refiner_gui.batch.plan`.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from refiner_gui.roles import assign_by_name
from refiner_gui.slots import BOTTOM, COARSE, GENDERS, PERSON, TOP

__all__ = [
    "COLUMNS",
    "IMAGE_SUFFIXES",
    "Look",
    "ManifestError",
    "read_csv",
    "read_folder",
    "read_source",
    "safe_name",
]

COLUMNS = ("person", "top", "coarse", "bottom", "gender", "name")
_SLOT_OF_COLUMN = {"person": PERSON, "top": TOP, "coarse": COARSE, "bottom": BOTTOM}
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif"})
GENDER_FILE = "gender.txt"


class ManifestError(ValueError):
    """The source as a whole cannot be read (no such folder, no header, unknown columns):
    the message says what to fix. Problems of single rows are never raised."""


@dataclass(frozen=True)
class Look:
    """One look of a batch: its files by slot, its gender, and why it cannot be sent.

    ``row`` is where it came from, for messages: the CSV line number, or the position of
    its folder (from 1). ``problems`` empty means it goes to pre-flight and then the queue.
    """

    row: int
    name: str
    gender: str
    files: dict[str, Path] = field(default_factory=dict)
    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when nothing in the row itself keeps the look from being sent."""
        return not self.problems

    @property
    def makes_coarse(self) -> bool:
        """True when the look has no coarse image: the batch makes one with Try on Clothes
        Pro or Premium, then refines it (a two-stage job)."""
        return COARSE not in self.files


_UNSAFE = re.compile(r"[^\w.\- ]+")


def safe_name(name: str) -> str:
    """``name`` as a file name stem: path separators and odd characters become ``_``."""
    cleaned = _UNSAFE.sub("_", name).strip(" .")
    return cleaned[:120] or "look"


def read_source(path: Path, *, default_gender: str | None = None) -> list[Look]:
    """The looks of a folder or a ``.csv`` manifest (see the module docstring).

    Raises:
        ManifestError: the source cannot be read at all.
    """
    path = Path(path)
    if path.is_dir():
        return read_folder(path, default_gender=default_gender)
    if path.suffix.lower() == ".csv" and path.is_file():
        return read_csv(path)
    if not path.exists():
        raise ManifestError(f"{path} does not exist: give a folder of looks or a .csv manifest.")
    raise ManifestError(f"{path} is neither a folder of looks nor a .csv manifest.")


def _finish(looks: list[Look]) -> list[Look]:
    """Add the problems that need every row: duplicate names."""
    first: dict[str, int] = {}
    out: list[Look] = []
    for look in looks:
        problems = list(look.problems)
        key = safe_name(look.name).lower()  # one output file per look, on any file system
        if key in first:
            problems.append(
                f"duplicate name {look.name!r} (also used by row {first[key]}): each look "
                "names its result file, so names must be unique"
            )
        else:
            first[key] = look.row
        out.append(Look(look.row, look.name, look.gender, look.files, tuple(problems)))
    return out


def _gender_problem(gender: str) -> str | None:
    if gender in GENDERS:
        return None
    if not gender:
        return "no gender: give woman or man"
    return f"unknown gender {gender!r}: give woman or man"


def read_csv(path: Path) -> list[Look]:
    """The looks of a CSV manifest, one per data row (blank lines skipped)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"Cannot read the manifest {path}: {exc}") from None
    rows = csv.reader(text.splitlines())
    try:
        header = [h.strip().lower() for h in next(rows)]
    except StopIteration:
        raise ManifestError(f"The manifest {path} is empty: it needs a header row.") from None
    unknown = [h for h in header if h not in COLUMNS]
    missing = [c for c in ("person", "top", "gender") if c not in header]
    if unknown or missing or len(set(header)) != len(header):
        raise ManifestError(
            f"The manifest {path} needs a header row with the columns "
            f"{', '.join(COLUMNS)} (coarse, bottom and name may be left out)"
            + (f"; unknown: {', '.join(unknown)}" if unknown else "")
            + (f"; missing: {', '.join(missing)}" if missing else "")
            + ("; a column is named twice" if len(set(header)) != len(header) else "")
            + "."
        )
    base = path.parent
    looks: list[Look] = []
    for line_no, values in enumerate(rows, start=2):
        if not any(v.strip() for v in values):
            continue
        looks.append(_csv_look(line_no, header, values, base))
    return _finish(looks)


def _csv_look(line_no: int, header: list[str], values: list[str], base: Path) -> Look:
    problems: list[str] = []
    if len(values) > len(header):
        extra = [v for v in values[len(header) :] if v.strip()]
        problems.append(
            f"line {line_no} has {len(values)} values but the header names {len(header)} "
            f"columns (extra: {', '.join(repr(v) for v in extra) or 'empty values'}): "
            "check for an unquoted comma in a path"
        )
    cells = {h: (values[i].strip() if i < len(values) else "") for i, h in enumerate(header)}
    name = cells.get("name") or f"line-{line_no}"
    gender = cells.get("gender", "").lower()
    problem = _gender_problem(gender)
    if problem:
        problems.append(problem)
    files: dict[str, Path] = {}
    for column, slot in _SLOT_OF_COLUMN.items():
        raw = cells.get(column, "")
        if not raw:
            if column in ("person", "top"):
                problems.append(f"no {column} file given")
            continue
        p = Path(raw).expanduser()
        p = p if p.is_absolute() else base / p
        files[slot] = p
        if not p.is_file():
            problems.append(f"{column}: file not found: {raw}")
    return Look(line_no, name, gender, files, tuple(problems))


def read_folder(path: Path, *, default_gender: str | None = None) -> list[Look]:
    """The looks of a folder: one per subfolder, in name order (hidden ones skipped)."""
    try:
        subs = sorted(
            (p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")),
            key=lambda p: p.name.lower(),
        )
    except OSError as exc:
        raise ManifestError(f"Cannot read the folder {path}: {exc}") from None
    if not subs:
        raise ManifestError(
            f"{path} has no look folders: put each look's files (person, top, optional coarse "
            "and bottom) in a subfolder named after the look."
        )
    return _finish([_folder_look(i, sub, default_gender) for i, sub in enumerate(subs, 1)])


def _folder_look(row: int, folder: Path, default_gender: str | None) -> Look:
    problems: list[str] = []
    try:
        names = sorted(
            p.name
            for p in folder.iterdir()
            if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
        )
    except OSError as exc:
        return Look(row, folder.name, "", {}, (f"cannot read the folder: {exc}",))
    assigned, unassigned = assign_by_name(names)
    files = {slot: folder / name for slot, name in assigned.items()}
    for name in unassigned:
        problems.append(
            f"{name}: its name does not say one role (person, top, coarse or bottom); "
            "rename it so that it does"
        )
    for slot, word in ((PERSON, "person"), (TOP, "top")):
        if slot not in files:
            problems.append(f"no {word} image (a file with {word!r} in its name)")
    gender = _folder_gender(folder, default_gender, problems.append)
    problem = _gender_problem(gender)
    if problem:
        problems.append(
            f"{problem} (in {GENDER_FILE} in the look's folder, or as the default)"
            if not gender
            else problem
        )
    return Look(row, folder.name, gender, files, tuple(problems))


def _folder_gender(folder: Path, default_gender: str | None, problem: Callable[[str], None]) -> str:
    marker = folder / GENDER_FILE
    if marker.is_file():
        try:
            return marker.read_text(encoding="utf-8-sig").strip().lower()
        except (OSError, UnicodeDecodeError) as exc:
            problem(f"cannot read {GENDER_FILE}: {exc}")
            return ""
    return (default_gender or "").strip().lower()
