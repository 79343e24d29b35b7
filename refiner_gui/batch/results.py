"""A batch's output folder: one result file per look, named after it, and summary.csv.

No Qt. Files appear whole or not at all (:mod:`refiner_gui.atomic`); a file already in the
folder that this batch did not write is never overwritten (the result gets a numbered
name instead).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path

from refiner_gui.atomic import write_text_atomic
from refiner_gui.batch.looks import LookView
from refiner_gui.batch.manifest import safe_name
from refiner_gui.outputs import export_image
from refiner_gui.reports.tabular import guard_cell

__all__ = ["SUMMARY_COLUMNS", "SUMMARY_NAME", "export_result", "write_summary"]

SUMMARY_NAME = "summary.csv"
SUMMARY_COLUMNS = ("look", "state", "task_id", "result_file", "error", "tryon_task_id")
"""summary.csv's columns; ``task_id`` is the refinement's task, ``tryon_task_id`` the try-on
that made the coarse image of a look without one (empty otherwise). New columns go last."""


def export_result(result: Path, out_dir: Path, look_name: str) -> Path:
    """Copy the stored ``result`` to ``out_dir`` as ``<look name><suffix>``; return it.

    When that name is taken by another file, ``<look name>-2<suffix>`` (and so on).
    Raises OSError when the folder cannot be written.
    """
    suffix = result.suffix.lower() if result.suffix.lower() in (".png", ".jpg", ".jpeg") else ""
    suffix = suffix or ".png"
    stem = safe_name(look_name)
    out_dir.mkdir(parents=True, exist_ok=True)
    for n in range(1, 1000):
        dest = out_dir / (f"{stem}{suffix}" if n == 1 else f"{stem}-{n}{suffix}")
        try:
            return export_image(result, dest, overwrite=False)
        except FileExistsError:
            continue
    raise OSError(f"no free file name for {stem}{suffix} in {out_dir}")


def write_summary(out_dir: Path, views: Iterable[LookView]) -> Path:
    """Write ``summary.csv`` (look, state, task id, result file, error, try-on task id)
    atomically."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(SUMMARY_COLUMNS)
    for v in views:
        writer.writerow(
            [
                guard_cell(v.name),
                v.status.value,
                v.task_id or "",
                guard_cell(v.output.name if v.output else ""),
                guard_cell(v.error),
                guard_cell(v.tryon_task_id or ""),
            ]
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    return write_text_atomic(out_dir / SUMMARY_NAME, buf.getvalue())
