"""Which slot each of several files is for, from their names and, where names say nothing,
from the pictures. No Qt; reads image headers and a thumbnail with Pillow.

The rules, in order (each only places a file the earlier ones left, and only into a free
slot):

1. **Names** (:func:`refiner_gui.roles.role_from_name`): "person.jpg", "pantalón.png",
   "try-on.png"… Two files naming one slot are both left to the user.
2. **Same pixel size** (the coarse try-on must have the person photo's size): of two files
   of one size, if one is named person (or coarse), the other takes the remaining role.
   Two such files with no name clue stay undecided (person or coarse).
3. **A plain border** (product shots on white or a flat colour) marks a garment, once the
   person photo and the coarse are accounted for (a studio photo of the model on a white
   backdrop has a plain border too). One garment file with only one garment slot free
   takes it; a lone garment with both free takes the top when it is the only file left
   (the top is required, the bottom is not).
   Top against bottom is otherwise not decided from the picture: the shape only *hints*
   (trousers are tall), shown to the user, never used alone.
4. **Elimination**: one file left and one slot left, with no picture clue against it.

Anything else is left for the user to assign (:attr:`RoleGuess.complete` is False, with
the candidate roles of each file). Nothing is ever assigned by order or alphabetically.
"""

from __future__ import annotations

import logging
import statistics
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from refiner_gui.images.formats import open_untrusted
from refiner_gui.roles import role_from_name
from refiner_gui.slots import BOTTOM, COARSE, PERSON, SLOTS, TOP

log = logging.getLogger(__name__)

GARMENT_SLOTS = (TOP, BOTTOM)
"""The slots a plain-bordered picture can be for."""

BORDER_STD_LIMIT = 12.0
"""Largest standard deviation (0–255 grey levels) of a picture's border pixels that still
counts as a plain background. A product shot on white measures 0–3 (JPEG noise); a photo
taken in a room or outdoors measures 30 and more."""

TALL_RATIO = 1.6
"""Height / width from which a garment shot looks like trousers or a long skirt (a hint)."""

_SAMPLE_SIDE = 96  # the border is judged on a small thumbnail: cheap and JPEG-noise free


@dataclass(frozen=True)
class PictureFacts:
    """What the picture rules need to know about one file (None when it is unreadable)."""

    size: tuple[int, int] | None
    plain_border: bool = False


@dataclass(frozen=True)
class RoleGuess:
    """The outcome of :func:`guess_roles`.

    Attributes:
        roles: the files the rules placed, slot → file.
        reasons: for each placed file, why, in words ("its name says so", "same size
            as the person photo"…).
        candidates: for each file left unplaced, the slots it could be for, most likely
            first (empty when nothing is known); shown to the user as a hint.
        files: every file, in the order given.
    """

    roles: dict[str, Path]
    reasons: dict[Path, str]
    candidates: dict[Path, tuple[str, ...]]
    files: tuple[Path, ...] = field(default=())

    @property
    def complete(self) -> bool:
        """True when every file has a slot (and no slot has two)."""
        return not self.candidates

    def role_of(self, path: Path) -> str | None:
        """The slot ``path`` was placed in, or None."""
        return next((slot for slot, p in self.roles.items() if p == path), None)


def read_facts(path: Path) -> PictureFacts:
    """Worker thread: the upright pixel size and whether the border is plain.

    Never raises for a bad file: an unreadable, refused or oversized one has no facts.
    JPEGs are decoded at a reduced scale (``draft``): a 4000 px photo costs milliseconds.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with open_untrusted(path) as im:
                w, h = im.size
                size = (h, w) if _rotated(im) else (w, h)
                im.draft("RGB", (2 * _SAMPLE_SIDE, 2 * _SAMPLE_SIDE))
                sample = im.convert("L")
                sample.thumbnail((_SAMPLE_SIDE, _SAMPLE_SIDE))
                # The ring of border pixels is the same ring whichever way is up.
                return PictureFacts(size=size, plain_border=_plain_border(sample))
    except (
        OSError,
        ValueError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as exc:
        log.info("no picture facts for %s: %s", path.name, exc)
        return PictureFacts(size=None)


def _rotated(im: Image.Image) -> bool:
    """Whether the EXIF orientation turns the picture a quarter (width and height swap)."""
    try:
        return im.getexif().get(0x0112, 1) in (5, 6, 7, 8)
    except (OSError, ValueError):  # a damaged EXIF block: take the stored size
        return False


def _plain_border(grey: Image.Image) -> bool:
    """Whether the outermost two-pixel ring of ``grey`` is close to one flat colour."""
    w, h = grey.size
    if w < 8 or h < 8:
        return False
    pixels = grey.load()
    assert pixels is not None
    ring: list[float] = []
    for x in range(w):
        for y in (0, 1, h - 2, h - 1):
            ring.append(float(pixels[x, y]))  # type: ignore[arg-type]
    for y in range(2, h - 2):
        for x in (0, 1, w - 2, w - 1):
            ring.append(float(pixels[x, y]))  # type: ignore[arg-type]
    return statistics.pstdev(ring) <= BORDER_STD_LIMIT


def guess_roles(files: Sequence[Path], facts: Mapping[Path, PictureFacts]) -> RoleGuess:
    """Place ``files`` in slots by the rules in the module docstring. Pure: no I/O.

    ``facts`` holds :func:`read_facts` for the files (a missing entry means "unknown").
    More than four files always leave some to the user.
    """
    files = tuple(dict.fromkeys(Path(f) for f in files))  # the same file twice counts once
    roles: dict[str, Path] = {}
    reasons: dict[Path, str] = {}

    # 1. Names; a slot named by two files is given to neither.
    named: dict[str, list[Path]] = {}
    for path in files:
        slot = role_from_name(path.name)
        if slot is not None:
            named.setdefault(slot, []).append(path)
    for slot, paths in named.items():
        if len(paths) == 1:
            roles[slot] = paths[0]
            reasons[paths[0]] = "its name says so"
    clashing = {p for paths in named.values() if len(paths) > 1 for p in paths}

    def left() -> list[Path]:
        return [f for f in files if f not in reasons and f not in clashing]

    def free() -> list[str]:
        return [s for s in SLOTS if s not in roles]

    def size(path: Path) -> tuple[int, int] | None:
        known = facts.get(path)
        return known.size if known else None

    def place(slot: str, path: Path, why: str) -> None:
        roles[slot] = path
        reasons[path] = why

    # 2. Same size: the coarse result is made at the person photo's size.
    pairs: dict[Path, Path] = {}  # unplaced file -> the one file sharing its size
    for path in files:
        mine = size(path)
        twins = [o for o in files if o != path and mine is not None and size(o) == mine]
        if len(twins) == 1:
            pairs[path] = twins[0]
    for path in left():
        twin = pairs.get(path)
        if twin is None:
            continue
        if roles.get(PERSON) == twin and COARSE not in roles:
            place(COARSE, path, "same size as the person photo")
        elif roles.get(COARSE) == twin and PERSON not in roles:
            place(PERSON, path, "same size as the coarse try-on")

    # 3. A plain border: a garment, once the person photo and the coarse are accounted for
    # (placed, or an undecided same-size pair): a studio photo of the model on a white
    # backdrop has a plain border too.
    undecided_pair = [p for p in left() if p in pairs and pairs[p] in left()]
    accounted = sum(s in roles for s in (PERSON, COARSE)) + len(undecided_pair) >= 2
    garments = [p for p in left() if _plain(facts.get(p)) and p not in pairs]
    free_garments = [s for s in GARMENT_SLOTS if s in free()] if accounted else []
    if len(garments) == 1 and len(free_garments) == 1:
        place(free_garments[0], garments[0], "plain background, like a product shot")
    elif len(garments) == 1 and len(free_garments) == 2 and len(left()) == 1:
        place(TOP, garments[0], "plain background, and the top is missing")

    # 4. Elimination: the last file for the last slot, unless its picture says otherwise.
    if len(left()) == 1 and len(free()) == 1 and not clashing:
        path, slot = left()[0], free()[0]
        if _fits(slot, path, facts, pairs, roles):
            place(slot, path, "the only file and the only slot left")

    candidates = {p: _candidates(p, facts.get(p), pairs, free()) for p in left()}
    for path in clashing:  # named for a slot another file names too: that slot first
        slot = role_from_name(path.name)
        candidates[path] = tuple(dict.fromkeys(s for s in (slot, *free()) if s is not None))
    ordered = {p: candidates[p] for p in files if p in candidates}
    return RoleGuess(roles=roles, reasons=reasons, candidates=ordered, files=files)


def _plain(known: PictureFacts | None) -> bool:
    return known is not None and known.plain_border


def _fits(
    slot: str,
    path: Path,
    facts: Mapping[Path, PictureFacts],
    pairs: Mapping[Path, Path],
    roles: Mapping[str, Path],
) -> bool:
    """Whether no picture clue speaks against ``path`` being for ``slot``."""
    known = facts.get(path)
    if slot in GARMENT_SLOTS:
        # A photo sharing its size with another input looks like the person or the coarse.
        return path not in pairs or _plain(known)
    other = roles.get(COARSE if slot == PERSON else PERSON)
    if other is not None:
        mine, theirs = facts.get(path), facts.get(other)
        if mine and theirs and mine.size and theirs.size and mine.size != theirs.size:
            return False  # the person photo and the coarse result must share a size
    return not _plain(known) or path in pairs


def _candidates(
    path: Path, known: PictureFacts | None, pairs: Mapping[Path, Path], free: list[str]
) -> tuple[str, ...]:
    """The free slots ``path`` could be for, most likely first (a hint for the user)."""
    if path in pairs:
        likely = [s for s in (PERSON, COARSE) if s in free]
    elif _plain(known):
        order = list(GARMENT_SLOTS)
        if known is not None and known.size is not None:
            w, h = known.size
            if h >= TALL_RATIO * w:  # tall: trousers or a long skirt, more likely
                order = [BOTTOM, TOP]
        likely = [s for s in order if s in free]
    else:
        likely = []
    return tuple(likely)


def guess_from_files(files: Sequence[Path]) -> tuple[RoleGuess, dict[Path, PictureFacts]]:
    """Worker thread: read each file's facts, then :func:`guess_roles`."""
    facts = {Path(f): read_facts(Path(f)) for f in dict.fromkeys(files)}
    return guess_roles(files, facts), facts
