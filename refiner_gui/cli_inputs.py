"""``refiner-cli``'s input checks: ``check`` and ``refine --fix``. No upload happens here.

Pre-flight (:func:`refiner_gui.images.check_inputs`) judges the files; Fix makes conforming
copies in the data folder's ``fixed`` folder and never touches the originals.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from refiner_gui.api import CancelToken
from refiner_gui.cli_output import EXIT_OK, EXIT_USAGE, Reporter
from refiner_gui.config import app_paths
from refiner_gui.images import ImageFixError, ImageReport, check_image, check_inputs, fix_image
from refiner_gui.images.formats import open_untrusted
from refiner_gui.slots import BOTTOM, COARSE, PERSON, TOP


def cli_wording(message: str) -> str:
    """A pre-flight message worded for the terminal: the window's Fix button becomes the
    ``--fix`` option of ``refine`` ("Use Fix to convert it" → "Run refine with --fix to
    convert it")."""
    message = re.sub(r"\bUse Fix to\b", "Run refine with --fix to", message)
    return re.sub(r"\bFix\b", "--fix", message)


def apply_fixes(
    reports: dict[str, ImageReport], files: dict[str, Path | None], rep: Reporter
) -> tuple[dict[str, ImageReport], dict[str, Path | None]]:
    """Replace fixable inputs with conforming copies; return the remaining problems."""
    slot_arg = {PERSON: "person", TOP: "top", COARSE: "coarse", BOTTOM: "bottom"}
    fixed_dir = app_paths().data / "fixed"
    fixed_dir.mkdir(parents=True, exist_ok=True)
    files = dict(files)
    for slot, r in reports.items():
        if r.ok or not r.fixable or slot == COARSE:
            continue
        try:
            fixed = fix_image(r.path, fixed_dir, slot=slot)
            files[slot_arg[slot]] = fixed
            rep.progress(f"{slot}: fixed copy {fixed.name}")
        except ImageFixError as exc:
            rep.progress(f"{slot}: cannot fix: {cli_wording(str(exc))}")
    # The coarse image must match the (possibly fixed) person photo's size exactly.
    coarse = reports.get(COARSE)
    if coarse is not None and not coarse.ok and coarse.fixable:
        person = files["person"]
        assert person is not None  # a required option
        with open_untrusted(person) as im:
            target = im.size
        try:
            fixed = fix_image(coarse.path, fixed_dir, slot=COARSE, target_size=target)
            files["coarse"] = fixed
            rep.progress(f"{COARSE}: fixed copy {fixed.name}")
        except ImageFixError as exc:
            rep.progress(f"{COARSE}: cannot fix: {cli_wording(str(exc))}")
    again = check_inputs(files["person"], files["top"], files["coarse"], files["bottom"])
    return {slot: r for slot, r in again.items() if not r.ok}, files


def cmd_check(args: argparse.Namespace, rep: Reporter, cancel: CancelToken) -> int:
    """``check``: report every file's problems against the service's rules (no upload)."""
    reports = [check_image(p) for p in args.files]
    ok = all(r.ok for r in reports)
    items = [
        {
            "path": str(r.path),
            "ok": r.ok,
            "format": r.format,
            "width": r.width,
            "height": r.height,
            "file_size": r.file_size,
            "fixable": r.fixable,
            "problems": [
                {"code": p.code, "message": cli_wording(p.message), "fixable": p.fixable}
                for p in r.problems
            ],
        }
        for r in reports
    ]
    text = "\n".join(f"{r.path}: {cli_wording(r.summary())}" for r in reports)
    if rep.as_json:
        rep.result({"status": "ok" if ok else "problems", "files": items}, text)
    else:
        rep.result({}, text)
    return EXIT_OK if ok else EXIT_USAGE
