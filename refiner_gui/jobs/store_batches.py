"""Batches in the job store: a queue of looks, each row of its source kept in order.

:class:`BatchesMixin` is mixed into :class:`~refiner_gui.jobs.store.JobStore`. A batch is
one ``batches`` row and one ``batch_looks`` row per look of its source (a look with a
problem keeps it and is never sent). A look gets its job only when a queue takes it:
:meth:`JobStore.create_job` with ``look=`` inserts the job and attaches it to the look in
one transaction, and only if the look still has the job the caller saw (compare-and-set),
so two processes running the same batch never both send a look (the loser gets
:class:`LookTaken`, and nothing of its attempt is kept). No Qt.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

from refiner_gui.jobs.errors import StoreError
from refiner_gui.jobs.store_base import StoreBase
from refiner_gui.slots import COARSE

__all__ = [
    "BATCH_STATES",
    "BatchLook",
    "BatchRecord",
    "BatchesMixin",
    "LookRef",
    "LookTaken",
    "NewLook",
    "TRYON_MODELS",
]

# "active": runs (or will, on the next start); "paused": waits for the user; "done": every
# look settled; "cancelled": the user stopped it (looks not yet sent are never sent).
BATCH_STATES = ("active", "paused", "done", "cancelled")

TRYON_MODELS = ("pro", "premium")
"""The try-on models a batch can make missing coarse images with."""


class LookTaken(StoreError):
    """The look already has a newer job (another process or thread took it): the caller's
    attempt was not stored and nothing may be sent for it."""


@dataclass(frozen=True)
class NewLook:
    """One row of a batch's source, as :meth:`BatchesMixin.create_batch` stores it."""

    name: str
    gender: str
    files: dict[str, Path]  # slot -> original file (absolute); may be partial with a problem
    problem: str | None = None  # why this row is never sent, in plain words


@dataclass(frozen=True)
class LookRef:
    """Which look a new job is for, and the job the caller saw on it (None: no job yet)."""

    batch_id: int
    position: int
    expected_job: int | None


@dataclass(frozen=True)
class BatchLook:
    """One look of a batch as stored (its job's state lives in the job)."""

    batch_id: int
    position: int  # the row's order in the source, from 0
    name: str
    gender: str
    files: dict[str, Path] = field(default_factory=dict)
    problem: str | None = None
    job_id: int | None = None  # the look's current job (the latest attempt), if any
    output: Path | None = None  # the copy in the batch's output folder, once written
    cancelled: bool = False

    @property
    def makes_coarse(self) -> bool:
        """True when the look has no coarse image: its job makes one first (two stages)."""
        return COARSE not in self.files


@dataclass(frozen=True)
class BatchRecord:
    """One batch as stored."""

    id: int
    name: str
    source: str
    out_dir: Path
    concurrency: int
    state: str  # one of BATCH_STATES
    created_at: float
    base_url: str | None = None
    tryon_model: str = "pro"  # makes the coarse image of looks without one


class BatchesMixin(StoreBase):
    """Batch rows of the store (see the module docstring). Any thread."""

    def create_batch(
        self,
        name: str,
        source: str,
        out_dir: Path,
        concurrency: int,
        looks: list[NewLook],
        *,
        base_url: str | None = None,
        tryon_model: str = "pro",
    ) -> BatchRecord:
        """Store a new active batch and all its looks (in order) in one transaction.

        ``tryon_model`` ("pro" or "premium") makes the coarse image of every look that has
        none (a two-stage job); it is kept so a resumed batch uses the same model."""
        if tryon_model not in TRYON_MODELS:
            raise ValueError(f"unknown try-on model {tryon_model!r}")
        now = time.time()
        with self._write() as c:
            cur = c.execute(
                "INSERT INTO batches (name, source, out_dir, concurrency, state, created_at, "
                "updated_at, base_url, tryon_model) VALUES (?, ?, ?, ?, 'active', ?, ?, ?, ?)",
                (
                    name,
                    source,
                    str(Path(out_dir).resolve()),
                    concurrency,
                    now,
                    now,
                    base_url,
                    tryon_model,
                ),
            )
            batch_id = int(cur.lastrowid or 0)
            c.executemany(
                "INSERT INTO batch_looks (batch_id, position, name, gender, files, problem) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (
                        batch_id,
                        i,
                        look.name,
                        look.gender,
                        json.dumps({k: str(v) for k, v in look.files.items()}),
                        look.problem,
                    )
                    for i, look in enumerate(looks)
                ],
            )
        return self.batch(batch_id)

    def batch(self, batch_id: int) -> BatchRecord:
        """The batch with ``batch_id``; KeyError when there is none."""
        row = self._conn().execute("SELECT * FROM batches WHERE id = ?", (batch_id,)).fetchone()
        if row is None:
            raise KeyError(batch_id)
        return _record(row)

    def batches(self, *, unfinished: bool = False) -> list[BatchRecord]:
        """Every batch, oldest first (only active and paused ones with ``unfinished``)."""
        where = " WHERE state IN ('active', 'paused')" if unfinished else ""
        rows = self._conn().execute(f"SELECT * FROM batches{where} ORDER BY id")
        return [_record(r) for r in rows]

    def batch_looks(self, batch_id: int) -> list[BatchLook]:
        """The looks of a batch, in the source's order."""
        rows = self._conn().execute(
            "SELECT * FROM batch_looks WHERE batch_id = ? ORDER BY position", (batch_id,)
        )
        return [_look(r) for r in rows]

    def batch_look(self, batch_id: int, position: int) -> BatchLook:
        """One look of a batch; KeyError when there is none."""
        row = (
            self._conn()
            .execute(
                "SELECT * FROM batch_looks WHERE batch_id = ? AND position = ?",
                (batch_id, position),
            )
            .fetchone()
        )
        if row is None:
            raise KeyError((batch_id, position))
        return _look(row)

    def batch_job_ids(self, batch_id: int) -> list[int]:
        """Every job ever made for the batch's looks (retries too), oldest first: what
        the review walks through for one batch."""
        rows = self._conn().execute(
            "SELECT id FROM jobs WHERE batch_id = ? ORDER BY id", (batch_id,)
        )
        return [int(r[0]) for r in rows]

    def set_batch_state(self, batch_id: int, state: str) -> None:
        """Record the batch's state (one of :data:`BATCH_STATES`)."""
        if state not in BATCH_STATES:
            raise ValueError(f"unknown batch state {state!r}")
        with self._write() as c:
            c.execute(
                "UPDATE batches SET state = ?, updated_at = ? WHERE id = ?",
                (state, time.time(), batch_id),
            )

    def set_look_output(self, batch_id: int, position: int, output: Path | None) -> None:
        """Record the look's copy in the output folder (None clears it)."""
        with self._write() as c:
            c.execute(
                "UPDATE batch_looks SET output = ? WHERE batch_id = ? AND position = ?",
                (str(output) if output else None, batch_id, position),
            )

    def set_look_cancelled(self, batch_id: int, position: int, cancelled: bool = True) -> None:
        """Mark a look cancelled by the user (never sent again) or, with False, wanted."""
        with self._write() as c:
            c.execute(
                "UPDATE batch_looks SET cancelled = ? WHERE batch_id = ? AND position = ?",
                (int(cancelled), batch_id, position),
            )

    def _attach_look(self, c: sqlite3.Connection, job_id: int, look: LookRef) -> None:
        """Inside :meth:`create_job`'s transaction: make ``job_id`` the look's job, only
        if the look still has ``look.expected_job``; else :class:`LookTaken` (rolls back)."""
        if look.expected_job is None:
            cur = c.execute(
                "UPDATE batch_looks SET job_id = ? WHERE batch_id = ? AND position = ? "
                "AND job_id IS NULL AND cancelled = 0",
                (job_id, look.batch_id, look.position),
            )
        else:
            cur = c.execute(
                "UPDATE batch_looks SET job_id = ? WHERE batch_id = ? AND position = ? "
                "AND job_id = ? AND cancelled = 0",
                (job_id, look.batch_id, look.position, look.expected_job),
            )
        if cur.rowcount != 1:
            raise LookTaken(
                f"Look {look.position} of batch {look.batch_id} was taken by another run "
                "(or cancelled); it was left alone."
            )
        row = c.execute(
            "SELECT name FROM batch_looks WHERE batch_id = ? AND position = ?",
            (look.batch_id, look.position),
        ).fetchone()
        c.execute(
            "UPDATE jobs SET batch_id = ?, look_name = ? WHERE id = ?",
            (look.batch_id, row[0], job_id),
        )


def _record(row: sqlite3.Row) -> BatchRecord:
    return BatchRecord(
        id=int(row["id"]),
        name=str(row["name"]),
        source=str(row["source"]),
        out_dir=Path(row["out_dir"]),
        concurrency=int(row["concurrency"]),
        state=str(row["state"]),
        created_at=float(row["created_at"]),
        base_url=row["base_url"],
        tryon_model=str(row["tryon_model"] or "pro"),
    )


def _look(row: sqlite3.Row) -> BatchLook:
    try:
        files = {str(k): Path(v) for k, v in json.loads(row["files"]).items()}
    except (ValueError, TypeError, AttributeError):
        files = {}
    return BatchLook(
        batch_id=int(row["batch_id"]),
        position=int(row["position"]),
        name=str(row["name"]),
        gender=str(row["gender"]),
        files=files,
        problem=row["problem"],
        job_id=row["job_id"],
        output=Path(row["output"]) if row["output"] else None,
        cancelled=bool(row["cancelled"]),
    )
