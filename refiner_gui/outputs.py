"""Names and places for saved results. No Qt.

File names come from a user pattern with ``{date}``, ``{time}``, ``{task_id}``,
``{gender}`` and the input files' names (``{person_name}``, ``{top_name}``,
``{bottom_name}``, ``{coarse_name}``: the stems of the files the user gave, not of the
fixed copies); anything a file system dislikes is replaced, so a pattern can never escape
the output folder. Saved files get the permissions of every other export
(:func:`refiner_gui.atomic.shared_path`: the user's umask decides).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path, PurePath

from PIL import PngImagePlugin

from refiner_gui.atomic import shared_path
from refiner_gui.images.formats import open_untrusted
from refiner_gui.slots import BOTTOM, COARSE, PERSON, TOP

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")

NAME_TOKENS: dict[str, str] = {
    "person_name": PERSON,
    "top_name": TOP,
    "bottom_name": BOTTOM,
    "coarse_name": COARSE,
}
"""The file-name tokens and the input slot whose file name (stem) each stands for."""

TOKENS = ("date", "time", "task_id", "gender", *NAME_TOKENS)

NAME_TOKEN_MAX = 40
"""The longest an input's stem gets in a name (a long camera name must not crowd out the
rest of the pattern)."""


def file_token(name: str) -> str:
    """An input file's name as a name token: its stem, made safe, at most
    :data:`NAME_TOKEN_MAX` characters ("" for no file)."""
    stem = PurePath(name.replace("\\", "/")).stem if name else ""
    return _UNSAFE.sub("_", stem).strip("._")[:NAME_TOKEN_MAX].strip("._")


def render_name(
    pattern: str,
    *,
    task_id: str,
    when: datetime | None = None,
    gender: str | None = None,
    names: Mapping[str, str] | None = None,
) -> str:
    """The file stem for ``pattern`` (no extension). Unknown tokens are left out.

    ``names`` maps input slots (:mod:`refiner_gui.slots`) to the input files' names (the
    originals the user gave); a slot without a file makes its token empty.
    """
    when = when or datetime.now()
    values = {
        "date": when.strftime("%Y-%m-%d"),
        "time": when.strftime("%H%M%S"),
        "task_id": task_id,
        "gender": gender or "",
    }
    for token, slot in NAME_TOKENS.items():
        values[token] = file_token((names or {}).get(slot, ""))

    def sub(m: re.Match[str]) -> str:
        return values.get(m.group(1), "")

    stem = re.sub(r"\{(\w+)\}", sub, pattern or "{task_id}")
    stem = _UNSAFE.sub("_", stem).strip("._") or "refined"
    return stem[:150]


def suffix_from_url(url: str) -> str:
    """The file suffix a result link names (query string ignored); ``.png`` by default."""
    path = url.split("?", 1)[0].lower()
    for ext in (".png", ".jpg", ".jpeg", ".webp", ".bmp"):
        if path.endswith(ext):
            return ".jpg" if ext == ".jpeg" else ext
    return ".png"


_FORMAT_BY_SUFFIX = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".bmp": "BMP", ".webp": "WEBP"}


def export_image(
    src: Path, dest: Path, *, overwrite: bool = False, pnginfo: dict[str, str] | None = None
) -> Path:
    """Write ``src`` to ``dest`` in the format ``dest``'s suffix names, atomically.

    Bytes are copied untouched when the formats already agree and there is no metadata to
    add; otherwise the image is re-encoded (JPEG at quality 95). ``pnginfo`` becomes PNG
    text chunks. Raises FileExistsError rather than overwrite unless ``overwrite``. The
    file gets the permissions of every export (``0o666`` less the umask).
    """
    src, dest = Path(src), Path(dest)
    if dest.exists() and not overwrite:
        raise FileExistsError(f"{dest} already exists")
    target = _FORMAT_BY_SUFFIX.get(dest.suffix.lower())
    if target is None:
        raise ValueError(f"Unsupported output type {dest.suffix!r}: use .png or .jpg")
    dest.parent.mkdir(parents=True, exist_ok=True)
    with shared_path(dest) as tmp, open_untrusted(src) as im:
        same = (im.format or "").upper() == target
        if same and not (pnginfo and target == "PNG"):
            shutil.copyfile(src, tmp)
        else:
            img = im.convert("RGB") if target == "JPEG" and im.mode != "RGB" else im
            kwargs: dict[str, object] = {}
            if target == "JPEG":
                kwargs["quality"] = 95
            if target == "PNG" and pnginfo:
                info = PngImagePlugin.PngInfo()
                for k, v in pnginfo.items():
                    info.add_itxt(k, v)
                kwargs["pnginfo"] = info
            img.save(tmp, format=target, **kwargs)
    return dest
