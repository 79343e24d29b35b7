"""Decoding the store's rows into :class:`~refiner_gui.jobs.models.Job` values.

:class:`RowsMixin` is mixed into :class:`~refiner_gui.jobs.store.JobStore`: it turns a
``jobs`` row (and its ``job_inputs`` rows) into a :class:`Job`, and raises
:class:`~refiner_gui.jobs.errors.BadRow` for a value the app never writes. No Qt.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Sequence
from typing import Any

from refiner_gui.jobs.errors import BadRow
from refiner_gui.jobs.models import (
    KINDS,
    PREFERENCES,
    VERDICTS,
    Job,
    JobState,
    StoredInput,
    TryOnStage,
)
from refiner_gui.jobs.store_base import StoreBase

__all__ = ["RowsMixin"]


class RowsMixin(StoreBase):
    """Row decoding for the store (uses its ``path``, connections and stored paths)."""

    def _bad_row(self, row: sqlite3.Row, column: str) -> BadRow:
        value = repr(row[column])[:60]
        return BadRow(
            f"Job {row['id']} in {self.path} has a value the app never writes in its "
            f"{column!r} column ({value}): the file was edited outside the app. Put the "
            "value back (or delete that job's row) with an SQLite tool, or move the file "
            "aside to start a new history. Nothing was sent."
        )

    def _time(self, row: sqlite3.Row, column: str, *, required: bool = False) -> float | None:
        value = row[column]
        if value is None and not required:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self._bad_row(row, column)
        if not math.isfinite(value) or value < 0:
            raise self._bad_row(row, column)
        return float(value)

    def _text(self, row: sqlite3.Row, column: str) -> str | None:
        value = row[column]
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)  # e.g. a numeric-looking id typed in by hand
        raise self._bad_row(row, column)

    def _job(self, row: sqlite3.Row, inputs: dict[str, StoredInput]) -> Job:
        """The row as a :class:`Job`; :class:`BadRow` for a value the app never writes."""
        if not isinstance(row["id"], int):
            raise self._bad_row(row, "id")
        created = self._time(row, "created_at", required=True)
        updated = self._time(row, "updated_at", required=True)
        assert created is not None and updated is not None
        submitted_at = self._time(row, "submitted_at")
        finished_at = self._time(row, "finished_at")
        reviewed_at = self._time(row, "reviewed_at")
        texts = {
            c: self._text(row, c)
            for c in ("gender", "task_id", "request_id", "log_id", "result_path", "verdict")
        }
        parent = row["parent_id"]
        if parent is not None and not isinstance(parent, int):
            raise self._bad_row(row, "parent_id")
        try:
            tags = tuple(json.loads(row["tags"] or "[]"))
        except (ValueError, TypeError):
            tags = ()
        error: Any
        try:
            error = json.loads(row["error"]) if row["error"] else None
        except (ValueError, TypeError):
            error = {"message": str(row["error"])}
        try:
            state = JobState(row["state"])
        except ValueError:
            state = JobState.FAILED
        if error is not None and not isinstance(error, dict):
            error = {"message": str(error)}
        if not isinstance(tags, tuple) or not all(isinstance(t, str) for t in tags):
            tags = ()
        note = row["note"]
        return Job(
            id=row["id"],
            state=state,
            gender=texts["gender"] or "",
            inputs=inputs,
            created_at=created,
            updated_at=updated,
            task_id=texts["task_id"] or None,
            request_id=texts["request_id"],
            log_id=texts["log_id"],
            submitted_at=submitted_at,
            finished_at=finished_at,
            error=error,
            result_path=self._abs(texts["result_path"]),
            verdict=texts["verdict"] if texts["verdict"] in VERDICTS else None,
            tags=tags,
            note=note if isinstance(note, str) else "",
            reviewed_at=reviewed_at,
            parent_id=parent,
            result_url=row["result_url"] if isinstance(row["result_url"], str) else None,
            base_url=row["base_url"] if isinstance(row["base_url"], str) else None,
            preference=row["preference"] if row["preference"] in PREFERENCES else None,
            kind=row["kind"] if row["kind"] in KINDS else "refine",
            tryon=self._tryon(row),
        )

    def _tryon(self, row: sqlite3.Row) -> TryOnStage | None:
        """The first stage of a two-stage job, or None for a plain refinement."""
        if row["kind"] not in ("tryon", "tryon_refine"):
            return None
        try:
            state = JobState(row["tryon_state"])
        except ValueError:
            raise self._bad_row(row, "tryon_state") from None
        return TryOnStage(
            model=self._text(row, "tryon_model") or "pro",
            state=state,
            task_id=self._text(row, "tryon_task_id") or None,
            request_id=self._text(row, "tryon_request_id"),
            log_id=self._text(row, "tryon_log_id"),
            submitted_at=self._time(row, "tryon_submitted_at"),
            finished_at=self._time(row, "tryon_finished_at"),
        )

    def _inputs_for(self, ids: Sequence[int]) -> dict[int, dict[str, StoredInput]]:
        out: dict[int, dict[str, StoredInput]] = {i: {} for i in ids}
        conn = self._conn()
        for start in range(0, len(ids), 500):  # stay under SQLite's variable limit
            chunk = list(ids[start : start + 500])
            marks = ",".join("?" * len(chunk))
            for r in conn.execute(f"SELECT * FROM job_inputs WHERE job_id IN ({marks})", chunk):
                path = self._abs(r["path"])
                assert path is not None
                original = r["original_name"] if isinstance(r["original_name"], str) else ""
                out[r["job_id"]][r["slot"]] = StoredInput(path, r["sha256"], r["name"], original)
        return out
