"""Review exports as data: CSV (one row per job) and JSON (summary plus jobs)."""

from __future__ import annotations

import csv
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import refiner_gui
from refiner_gui.jobs.models import Job
from refiner_gui.provenance import stages_record
from refiner_gui.reports._files import atomic_output
from refiner_gui.reports.summary import (
    INPUT_SLOTS,
    error_code,
    iso_utc,
    safe_error,
    summarize,
    tag_label,
)
from refiner_gui.safe_text import strict_json

CSV_FIELDS: tuple[str, ...] = (
    "job_id",
    "created",
    "state",
    "gender",
    "task_id",
    "request_id",
    "log_id",
    "verdict",
    "tags",
    "tag_labels",
    "note",
    "error_code",
    "error_message",
    *(f"{short}_{part}" for _slot, short, _label in INPUT_SLOTS for part in ("file", "sha256")),
    "result_path",
    # A job that made its own coarse image (Try on Clothes Pro/Premium, then refine).
    "kind",
    "tryon_model",
    "tryon_task_id",
)

# Cells whose first character makes Excel, LibreOffice or Sheets evaluate a formula
# (OWASP "CSV injection"): = + - @, and tab / carriage return, which some parse past.
# Spreadsheets also skip leading spaces and line breaks before a formula, so those count.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")

CSV_CELL_MAX = 32_000
"""The longest text a CSV cell holds (Excel's cell limit is 32,767 characters); longer text
(a huge note) is cut there and ends with :data:`CUT_MARK`. It also keeps every cell far
below Python's default ``csv.field_size_limit`` (131,072), so the file reads back anywhere.
The JSON export keeps the whole text."""

CUT_MARK = " […cut: the JSON export has the whole text]"


def guard_cell(value: str) -> str:
    """``value`` made inert for spreadsheets: prefixed with ``'`` when it starts with
    ``=``, ``+``, ``-``, ``@``, a tab or a carriage return, also after leading whitespace
    (spaces, tabs, line breaks). Plain numbers (``-3``) are left alone: they are not
    formulas and a quote would turn them into text."""
    starts = value.lstrip().startswith(_FORMULA_START[:4]) or value.startswith(_FORMULA_START)
    if starts and not _NUMBER.fullmatch(value.strip()):
        return "'" + value
    return value


def cut_cell(value: str) -> str:
    """``value`` cut to :data:`CSV_CELL_MAX` characters (marked) when longer."""
    if len(value) <= CSV_CELL_MAX:
        return value
    return value[: CSV_CELL_MAX - len(CUT_MARK)] + CUT_MARK


def csv_row(job: Job) -> dict[str, str]:
    """The CSV row of ``job`` (before formula guarding)."""
    row: dict[str, str] = {
        "job_id": str(job.id),
        "created": iso_utc(job.created_at),
        "state": job.state.value,
        "gender": job.gender,
        "task_id": job.task_id or "",
        "request_id": job.request_id or "",
        "log_id": job.log_id or "",
        "verdict": job.verdict or "",
        "tags": ";".join(job.tags),
        "tag_labels": "; ".join(tag_label(t) for t in job.tags),
        "note": job.note,
        "error_code": error_code(job),
        "error_message": job.error_message,
        "result_path": str(job.result_path) if job.result_path else "",
        "kind": job.kind,
        "tryon_model": job.tryon.model if job.tryon else "",
        "tryon_task_id": (job.tryon.task_id or "") if job.tryon else "",
    }
    for slot, short, _label in INPUT_SLOTS:
        item = job.inputs.get(slot)
        row[f"{short}_file"] = item.name if item else ""
        row[f"{short}_sha256"] = item.sha256 if item else ""
    return row


def export_csv(jobs: Sequence[Job], dest: Path, *, excel_bom: bool = False) -> Path:
    """Write one row per job, in the given order, to ``dest`` (atomically); return ``dest``.

    Columns are :data:`CSV_FIELDS`. UTF-8, RFC 4180 quoting (``csv`` module, so notes with
    commas, quotes, newlines and any script round-trip through ``csv.DictReader`` opened
    with ``newline=""``). ``created`` is ISO 8601 UTC; ``tags`` are tag ids joined by ``;``
    and ``tag_labels`` their labels joined by ``"; "``; input files are their original
    names and sha256; ``result_path`` is the stored result's absolute path (or empty).

    **Formula injection guard:** every free-text cell (note, tags, names, ids, error text,
    paths) that begins with ``=``, ``+``, ``-``, ``@``, tab or CR, also after leading
    spaces or line breaks, gets a leading single quote (``'=cmd|...``), so a spreadsheet
    shows it as text instead of running it. A reader that wants the original text strips
    that one quote. A cell longer than :data:`CSV_CELL_MAX` characters is cut (marked).

    ``excel_bom`` writes a UTF-8 byte-order mark, which Excel needs to read non-ASCII
    correctly when the file is double-clicked; readers then open it with ``utf-8-sig``.
    """
    dest = Path(dest)
    raw_cells = {"job_id", "created", "state", "verdict"}  # made here, never user text
    with atomic_output(dest, encoding="utf-8-sig" if excel_bom else "utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_FIELDS, lineterminator="\r\n")
        writer.writeheader()
        for job in jobs:
            row = csv_row(job)
            writer.writerow(
                {k: v if k in raw_cells else guard_cell(cut_cell(v)) for k, v in row.items()}
            )
    return dest


def job_record(job: Job) -> dict[str, Any]:
    """The JSON object of one job. Paths are the job's own stored files, absolute. Each
    input has the name of the file uploaded and ``original_name``, the file the user gave
    (they differ when Fix made a conforming copy)."""
    return {
        "id": job.id,
        "state": job.state.value,
        "state_label": job.state.label,
        "gender": job.gender,
        "created": iso_utc(job.created_at),
        "updated": iso_utc(job.updated_at),
        "submitted": iso_utc(job.submitted_at) or None,
        "finished": iso_utc(job.finished_at) or None,
        "task_id": job.task_id,
        "request_id": job.request_id,
        "log_id": job.log_id,
        "parent_id": job.parent_id,
        "verdict": job.verdict,
        "tags": list(job.tags),
        "tag_labels": [tag_label(t) for t in job.tags],
        "note": job.note,
        "reviewed": iso_utc(job.reviewed_at) or None,
        "error": safe_error(job),
        "inputs": {
            short: {
                "name": item.name,
                "original_name": item.given_name,
                "sha256": item.sha256,
                "path": str(item.path),
            }
            for slot, short, _label in INPUT_SLOTS
            if (item := job.inputs.get(slot)) is not None
        },
        "result_path": str(job.result_path) if job.result_path else None,
        "kind": job.kind,
        "stages": stages_record(job),  # both calls of a two-stage job; empty otherwise
    }


def export_json(jobs: Sequence[Job], dest: Path) -> Path:
    """Write ``{"generated_at", "app_version", "summary", "jobs"}`` to ``dest`` (atomically).

    ``summary`` is :func:`~refiner_gui.reports.summary.summarize` (the HTML header's
    numbers); ``jobs`` are :func:`job_record` in the given order. UTF-8, non-ASCII kept
    as is, times ISO 8601 UTC. Nothing from the environment (no key, user or host name).
    """
    dest = Path(dest)
    doc = {
        "generated_at": iso_utc(time.time()),
        "app_version": refiner_gui.__version__,
        "summary": summarize(jobs),
        "jobs": [job_record(j) for j in jobs],
    }
    with atomic_output(dest, encoding="utf-8") as fh:
        fh.write(strict_json(doc, ensure_ascii=False, indent=2))  # NaN is not JSON
        fh.write("\n")
    return dest
