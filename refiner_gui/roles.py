"""Which input slot a file is for, from its name: the role rules shared by the window's
"load four files", batch folders and the command line. No Qt, no I/O.

The rules match whole words of the file name (its stem split at anything that is not a
letter or digit, and at camelCase humps), in the languages our users name files in. A name
with words of two roles, or none, has no role: callers then look at the pictures or ask.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from pathlib import PurePath

from refiner_gui.slots import BOTTOM, COARSE, PERSON, TOP

# Whole words (lower case, accents removed) that name a role. English first, then the
# languages of the fashion trade our users work in: French, Italian, Spanish, German,
# Portuguese, Dutch, and romanised Chinese and Japanese.
ROLE_WORDS: dict[str, frozenset[str]] = {
    PERSON: frozenset(
        [
            "person",
            "people",
            "model",
            "models",
            "human",
            "body",
            "portrait",
            "selfie",
            "subject",
            "persona",
            "personne",
            "mannequin",
            "modele",
            "modelo",
            "modella",
            "modello",
            "figura",
            "ritratto",
            "retrato",
            "persoon",
            "mensch",
            "ren",
            "renwu",
            "moderu",
            "jinbutsu",
        ]
    ),
    TOP: frozenset(
        [
            "top",
            "tops",
            "shirt",
            "shirts",
            "tshirt",
            "tee",
            "blouse",
            "jacket",
            "coat",
            "hoodie",
            "sweater",
            "jumper",
            "cardigan",
            "upper",
            "dress",
            "garment",
            "clothes",
            "haut",
            "chemise",
            "veste",
            "manteau",
            "robe",
            "pull",
            "camicia",
            "giacca",
            "maglia",
            "maglietta",
            "sopra",
            "camisa",
            "camiseta",
            "chaqueta",
            "blusa",
            "vestido",
            "oberteil",
            "hemd",
            "jacke",
            "bluse",
            "kleid",
            "oberteil",
            "bovenkant",
            "overhemd",
            "jas",
            "trui",
            "shangyi",
            "yifu",
            "fuku",
            "uwagi",
        ]
    ),
    BOTTOM: frozenset(
        [
            "bottom",
            "bottoms",
            "pants",
            "pant",
            "trousers",
            "jeans",
            "skirt",
            "shorts",
            "leggings",
            "lower",
            "bas",
            "pantalon",
            "jupe",
            "pantaloni",
            "gonna",
            "pantalones",
            "falda",
            "hose",
            "rock",
            "unterteil",
            "calca",
            "saia",
            "broek",
            "rok",
            "kuzi",
            "xiazhuang",
            "zubon",
            "sukato",
            "shita",
        ]
    ),
    COARSE: frozenset(
        [
            "coarse",
            "tryon",
            "try",
            "vto",
            "result",
            "output",
            "rough",
            "draft",
            "preview",
            "composite",
            "fitting",
            "essayage",
            "prova",
            "prueba",
            "anprobe",
            "provador",
            "paskamer",
            "shichaku",
        ]
    ),
}

_WORD = re.compile(r"[a-z]+|[0-9]+")
_HUMP = re.compile(r"(?<=[a-z])(?=[A-Z])")


def name_words(name: str) -> list[str]:
    """The lower-case, accent-free words of a file name's stem (``"TopShirt_02.jpg"`` →
    ``["top", "shirt", "02"]``); "try-on" and "t-shirt" are joined into one word."""
    stem = PurePath(name).stem
    stem = _HUMP.sub(" ", stem)
    plain = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode().lower()
    plain = re.sub(r"try[\s_.-]*on", "tryon", plain)
    plain = re.sub(r"\bt[\s_.-]*shirt", "tshirt", plain)
    return _WORD.findall(plain)


def roles_in_name(name: str) -> set[str]:
    """Every slot whose words appear in ``name`` (empty when none does)."""
    words = set(name_words(name))
    return {slot for slot, vocab in ROLE_WORDS.items() if words & vocab}


def role_from_name(name: str) -> str | None:
    """The one slot ``name`` names, or None when it names none or more than one.

    A coarse word wins over the others ("person_tryon.png" is a try-on of the person, and
    "top_result.jpg" the result of trying the top on): the coarse image is named after what
    it shows."""
    roles = roles_in_name(name)
    if COARSE in roles:
        return COARSE
    return roles.pop() if len(roles) == 1 else None


def assign_by_name(names: Iterable[str]) -> tuple[dict[str, str], list[str]]:
    """Assign names to slots by :func:`role_from_name`: ``(slot → name, unassigned names)``.

    A slot named by two files gets neither (both go to the unassigned list): the caller asks
    rather than guesses. Never assigns by order.
    """
    by_slot: dict[str, list[str]] = {}
    unassigned: list[str] = []
    for name in names:
        slot = role_from_name(name)
        if slot is None:
            unassigned.append(name)
        else:
            by_slot.setdefault(slot, []).append(name)
    assigned: dict[str, str] = {}
    for slot, found in by_slot.items():
        if len(found) == 1:
            assigned[slot] = found[0]
        else:
            unassigned.extend(found)
    return assigned, unassigned
