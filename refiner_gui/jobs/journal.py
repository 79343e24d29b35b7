"""The task-id journal: task ids the store itself could not take, one JSON line each.

:class:`JournalMixin` is mixed into :class:`~refiner_gui.jobs.store.JobStore`. The journal
(:data:`JOURNAL_NAME`, beside the store's file) keeps the id of a new task when the file
cannot be written (locked by another process, failing); recovery applies it before
anything else. It never holds the key. No Qt.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any, Protocol

from refiner_gui.jobs.models import Job, JobState

__all__ = ["JOURNAL_NAME", "JournalMixin"]

# The store's logger: the records read as they did before the store was split up.
log = logging.getLogger("refiner_gui.jobs.store")

# Task ids that could not be written to the store (it was locked or failing) land here,
# one JSON line each; recovery applies them before anything else. Never holds the key.
JOURNAL_NAME = "task-ids.journal.jsonl"


class _JournalledStore(Protocol):
    """What :meth:`JournalMixin.apply_journal` needs of the store it is mixed into."""

    def journal_entries(self) -> list[dict[str, Any]]: ...

    def get(self, job_id: int) -> Job: ...

    def mark_submitted(
        self, job_id: int, task_id: str, request_id: str | None = None, log_id: str | None = None
    ) -> Job: ...

    def mark_tryon_submitted(
        self, job_id: int, task_id: str, request_id: str | None = None, log_id: str | None = None
    ) -> Job: ...


class JournalMixin:
    """Writing, reading and applying the journal at ``journal_path`` (in ``root``)."""

    root: Path
    journal_path: Path

    def journal_task(
        self,
        job_id: int,
        task_id: str,
        request_id: str | None = None,
        log_id: str | None = None,
        *,
        stage: str | None = None,
    ) -> Path:
        """Append ``task_id`` for ``job_id`` to the journal beside the store, fsync'd.

        For when the store itself cannot be written (locked by another process, failing):
        the id of a billed task must never be lost. One JSON line per task; no key, no
        secret. :meth:`apply_journal` moves the ids into the store later. Raises OSError
        when even the journal cannot be written. ``stage`` "tryon" marks the try-on task
        of a two-stage job (:mod:`refiner_gui.jobs.two_stage`); None, the refinement's.
        """
        entry: dict[str, Any] = {
            "job_id": job_id,
            "task_id": task_id,
            "request_id": request_id,
            "log_id": log_id,
            "time": time.time(),
        }
        if stage is not None:
            entry["stage"] = stage
        line = json.dumps(entry, sort_keys=True)
        existed = self.journal_path.exists()
        fd = os.open(self.journal_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, (line + "\n").encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        if not existed and hasattr(os, "O_DIRECTORY"):
            dfd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(dfd)  # the new file's name is durable too
            finally:
                os.close(dfd)
        return self.journal_path

    def journal_entries(self) -> list[dict[str, Any]]:
        """The journal's entries (each with ``job_id`` and ``task_id``); bad lines skipped."""
        try:
            text = self.journal_path.read_text("utf-8", errors="replace")
        except FileNotFoundError:
            return []
        out: list[dict[str, Any]] = []
        for line in text.splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # a torn last line (killed while appending)
            if (
                isinstance(entry, dict)
                and isinstance(entry.get("job_id"), int)
                and isinstance(entry.get("task_id"), str)
                and entry["task_id"]
            ):
                out.append(entry)
        return out

    def journal_entry_for(self, task_id: str) -> dict[str, Any] | None:
        """The journal's entry for ``task_id``, or None."""
        for entry in self.journal_entries():
            if entry["task_id"] == task_id:
                return entry
        return None

    def apply_journal(self: _JournalledStore) -> list[Job]:
        """Record every journalled task id whose job does not have one yet; return those jobs.

        Idempotent: an entry whose job already has a task id (or is gone) changes nothing,
        so the journal is kept as it is (a short audit trail of rare events). A job that
        recovery had settled as OUTCOME_UNKNOWN becomes SUBMITTED again: resumable.
        """
        applied: list[Job] = []
        for entry in self.journal_entries():
            try:
                job = self.get(entry["job_id"])
            except KeyError:
                continue
            if entry.get("stage") == "tryon":  # a two-stage job's first task
                if job.tryon is None or job.tryon.task_id or job.state is JobState.SUCCEEDED:
                    continue
                log.info("job %d: try-on task %s taken from the journal", job.id, entry["task_id"])
                applied.append(
                    self.mark_tryon_submitted(
                        job.id, entry["task_id"], entry.get("request_id"), entry.get("log_id")
                    )
                )
                continue
            if job.task_id or job.state is JobState.SUCCEEDED:
                continue
            log.info("job %d: task id %s taken from the journal", job.id, entry["task_id"])
            applied.append(
                self.mark_submitted(
                    job.id, entry["task_id"], entry.get("request_id"), entry.get("log_id")
                )
            )
        return applied
