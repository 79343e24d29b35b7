"""The durable job store: SQLite (WAL) in the app's data folder. No Qt.

Every step of a job is committed before the next network call that depends on it: above
all, the task id is committed before the first poll, so a crash can never lose a task the
service is billing for. Inputs are copied into the data folder by content hash, so the
history stays viewable after the originals move; paths are stored relative to the store's
folder, so the whole data folder can move too.

Threads and processes: each thread gets its own connection (SQLite connections are not
shared across threads here); WAL lets the GUI read while a worker writes, and the window
and ``refiner-cli`` may use the same file at once. All methods are thread-safe. State
changes are compare-and-set where it matters: only a PENDING job can start uploading
(:meth:`JobStore.mark_submitting`), and a finished job is never overwritten by a late
:meth:`JobStore.mark_finished`, so stale ``Job`` snapshots cannot cause a second upload.

Ownership between processes: ``jobs.owner`` and the ``processes`` table say which
process works on a job (:mod:`refiner_gui.jobs.ownership`: when a holder counts as gone;
:mod:`refiner_gui.jobs.store_ownership`: claim, release, heartbeat). The task-id journal
(:data:`JOURNAL_NAME`, beside the file; :mod:`refiner_gui.jobs.journal`) keeps the id of
a new task when the file itself cannot be written. Schema: versioned with
``PRAGMA user_version`` (:mod:`refiner_gui.jobs.schema`).

This module holds :class:`JobStore` itself (opening, migrating, files, writing, reading);
its parts live beside it: the errors (:mod:`refiner_gui.jobs.errors`), connections
(:mod:`refiner_gui.jobs.store_base`), ownership, the journal and row decoding
(:mod:`refiner_gui.jobs.rows`). Every public name is re-exported here.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from refiner_gui.atomic import atomic_path
from refiner_gui.config import app_paths
from refiner_gui.jobs.damage import check_whole, damaged_message, is_damage
from refiner_gui.jobs.errors import BadRow, JobHeld, JobStateError, StoreError
from refiner_gui.jobs.journal import JOURNAL_NAME, JournalMixin
from refiner_gui.jobs.models import (
    Job,
    JobState,
    StoredInput,
)
from refiner_gui.jobs.ownership import HEARTBEAT_INTERVAL, Owner, stale_after_from_env
from refiner_gui.jobs.previews import preview_path
from refiner_gui.jobs.rows import RowsMixin
from refiner_gui.jobs.schema import (
    MIGRATIONS,
    SCHEMA_VERSION,
    SORT_COLUMNS,
    JobFilter,
    where_clause,
)
from refiner_gui.jobs.store_batches import BatchesMixin, LookRef
from refiner_gui.jobs.store_ownership import OwnershipMixin
from refiner_gui.jobs.store_review import ReviewMixin
from refiner_gui.jobs.store_stages import StagesMixin, check_kind
from refiner_gui.slots import COARSE

__all__ = [
    "DB_NAME",
    "JOURNAL_NAME",
    "MIGRATIONS",
    "RESULT_TTL",
    "SCHEMA_VERSION",
    "BadRow",
    "JobFilter",
    "JobHeld",
    "JobStateError",
    "JobStore",
    "StoreError",
    "sha256_file",
]

log = logging.getLogger(__name__)

DB_NAME = "jobs.sqlite3"
RESULT_TTL = 24 * 3600.0  # the service keeps results (and their links) for 24 hours

_UNFINISHED = (JobState.PENDING.value, JobState.SUBMITTING.value, JobState.SUBMITTED.value)


def sha256_file(path: Path) -> str:
    """The SHA-256 of the file's content as hex, read in 1 MB pieces."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class JobStore(OwnershipMixin, JournalMixin, StagesMixin, ReviewMixin, BatchesMixin, RowsMixin):
    """Jobs on disk. ``JobStore.open_default()`` uses the app's data folder.

    Args:
        path: the SQLite file (created with its folders when missing).
        busy_timeout: seconds a statement waits for another process's write lock.
        stale_after: seconds after which a holder's heartbeat is taken for a dead process
            (:mod:`refiner_gui.jobs.ownership`); None reads ``REFINER_GUI_STALE_AFTER``,
            else 60 s.
        heartbeat_interval: seconds between this process's heartbeats while it holds jobs.
    """

    def __init__(
        self,
        path: Path,
        *,
        busy_timeout: float = 30.0,
        stale_after: float | None = None,
        heartbeat_interval: float = HEARTBEAT_INTERVAL,
    ) -> None:
        self.path = Path(path)
        self.root = self.path.parent
        self.inputs_dir = self.root / "inputs"
        self.results_dir = self.root / "results"
        self.journal_path = self.root / JOURNAL_NAME
        for d in (self.root, self.inputs_dir, self.results_dir):
            d.mkdir(parents=True, exist_ok=True)
        self.busy_timeout = busy_timeout
        self.stale_after = stale_after_from_env() if stale_after is None else stale_after
        self.heartbeat_interval = heartbeat_interval
        self.owner = Owner.new()
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        # job id -> [thread ident, depth]: the jobs this store holds, and which thread.
        self._held: dict[int, list[int]] = {}
        self._unreleased: set[int] = set()
        self._beat_stop = threading.Event()
        self._beat: threading.Thread | None = None
        self._migrate()

    @classmethod
    def open_default(cls) -> JobStore:
        """The store in the app's data folder (``REFINER_GUI_HOME`` moves it)."""
        return cls(app_paths().data / DB_NAME)

    # -- opening and closing (connections: StoreBase) -------------------------------------

    def close(self) -> None:
        """Close every thread's connection (call when no thread uses the store any more).

        Stops the heartbeat; jobs still held stay marked with this process (they are
        taken over once it is gone, see :mod:`refiner_gui.jobs.ownership`).
        """
        self._stop_heartbeat()
        self._release_leftovers()
        with self._lock:
            conns, self._all = self._all, []
        for c in conns:
            c.close()
        self._local = threading.local()

    def _migrate(self) -> None:
        # The version is read inside the write transaction: two processes opening a fresh
        # file at once (the window and refiner-cli) must not both run the same step.
        try:
            with self._write() as c:
                version = int(c.execute("PRAGMA user_version").fetchone()[0])
                if version > SCHEMA_VERSION:
                    raise StoreError(
                        f"The job history at {self.path} was written by a newer version of "
                        f"the app (schema {version}; this app knows up to {SCHEMA_VERSION}). "
                        "Update the app to open it; the file was left untouched."
                    )
                for step in range(version, SCHEMA_VERSION):
                    for statement in MIGRATIONS[step].split(";"):
                        if statement.strip():
                            c.execute(statement)
                    c.execute(f"PRAGMA user_version = {step + 1}")
            check_whole(self._conn(), self.path)  # after the commit: pages are in a file
        except sqlite3.DatabaseError as exc:
            self.close()
            if not is_damage(exc):
                raise
            raise StoreError(damaged_message(self.path, str(exc))) from exc
        except BaseException:
            self.close()
            raise

    def schema_version(self) -> int:
        """The file's schema version (``PRAGMA user_version``)."""
        return int(self._conn().execute("PRAGMA user_version").fetchone()[0])

    # -- files (_rel, _abs: StoreBase) ----------------------------------------------------

    def store_input(self, path: Path) -> StoredInput:
        """Copy ``path`` into the inputs folder under its content hash (once per content).

        The copy appears under its final name only when complete (temp file + rename).
        The file is read once and the hash and the copy come from those same bytes, so
        the recorded hash names the copy's content even if the file changes meanwhile.
        """
        path = Path(path)
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        dest = self.inputs_dir / f"{digest}{path.suffix.lower() or '.img'}"
        self._write_in(data, dest)
        return StoredInput(path=dest, sha256=digest, name=path.name)

    def _write_in(self, data: bytes, dest: Path) -> None:
        if dest.exists():
            return
        with atomic_path(dest) as tmp:
            tmp.write_bytes(data)

    def remove_partial_files(self, job_id: int | None = None) -> int:
        """Delete ``.part`` files left by a killed download (or input copy); return the count.

        With ``job_id``, only that job's partial downloads go (safe while other jobs are
        downloading in this or another process); without it, every ``.part`` file in the
        results and inputs folders goes, so call that only when nothing else runs.
        """
        if job_id is not None:
            patterns = [
                (self.results_dir, f".job-{job_id}.*.part"),
                (self.results_dir, f".job-{job_id}-coarse.*.part"),
            ]
        else:
            patterns = [(self.results_dir, "*.part"), (self.inputs_dir, "*.part")]
        removed = 0
        for folder, pattern in patterns:
            for p in folder.glob(pattern):
                p.unlink(missing_ok=True)
                removed += 1
        return removed

    def existing_result(self, job_id: int) -> Path | None:
        """A complete result file already in the results folder for ``job_id``, if any.

        Downloads land under their final name only once complete and verified, so a file
        found here is whole, even if the process died before the job was marked done.
        """
        for p in sorted(self.results_dir.glob(f"job-{job_id}.*")):
            if p.suffix != ".part" and not p.name.endswith(".preview.jpg") and p.is_file():
                return p
        return None

    def result_path_for(self, job_id: int, suffix: str = ".png") -> Path:
        """The final name of ``job_id``'s result file (not created)."""
        return self.results_dir / f"job-{job_id}{suffix}"

    # -- writing --------------------------------------------------------------------------

    def create_job(
        self,
        files: dict[str, Path],
        gender: str,
        *,
        parent_id: int | None = None,
        hold: bool = True,
        kind: str = "refine",
        tryon_model: str | None = None,
        original_names: Mapping[str, str] | None = None,
        look: LookRef | None = None,
    ) -> Job:
        """Store the inputs and a PENDING job; returns it. Nothing is sent yet.

        ``kind`` "tryon" (make the coarse image only) or "tryon_refine" (make it, then
        refine) needs ``tryon_model`` "pro" or "premium" and no coarse file
        (:mod:`refiner_gui.jobs.two_stage`); ValueError otherwise. ``original_names`` (by
        slot) names the files the user gave where ``files`` holds copies made by Fix (or
        stored copies, for a re-run); it is recorded beside the uploaded file's name
        (:attr:`StoredInput.original_name`).

        With ``look`` the job becomes that batch look's job in the same transaction, only
        if the look still has the job the caller saw; else
        :class:`~refiner_gui.jobs.store_batches.LookTaken` and nothing is stored.

        With ``hold`` (the default) the new job is held by this process from the start
        (:meth:`claim`), so another process's recovery never cancels it as abandoned
        before it runs; :func:`~refiner_gui.jobs.run_job` (on any thread) takes the hold
        over and releases it, and :meth:`close` frees a job that was never run.
        """
        two_stage = check_kind(kind, tryon_model, has_coarse=bool(files.get(COARSE)))
        stored = {slot: self.store_input(p) for slot, p in files.items() if p is not None}
        originals = {
            slot: name
            for slot, name in (original_names or {}).items()
            if slot in stored and name and name != stored[slot].name
        }
        now = time.time()
        with self._write() as c:
            # Under the write lock, so a concurrent delete() cannot remove a shared input
            # between the copy above and the insert below.
            for slot, s in list(stored.items()):
                if not s.path.exists():
                    stored[slot] = self.store_input(Path(files[slot]))
            cur = c.execute(
                "INSERT INTO jobs (state, gender, created_at, updated_at, parent_id, kind, "
                "tryon_model, tryon_state) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    JobState.PENDING.value,
                    gender,
                    now,
                    now,
                    parent_id,
                    kind,
                    tryon_model if two_stage else None,
                    JobState.PENDING.value if two_stage else None,
                ),
            )
            job_id = int(cur.lastrowid or 0)
            c.executemany(
                "INSERT INTO job_inputs (job_id, slot, path, sha256, name, original_name) "
                "VALUES (?,?,?,?,?,?)",
                [
                    (job_id, slot, self._rel(s.path), s.sha256, s.name, originals.get(slot))
                    for slot, s in stored.items()
                ],
            )
            if look is not None:
                self._attach_look(c, job_id, look)
            if hold:
                self._mark_owned(c, job_id, now)
        if hold:
            self._hold_new(job_id)
        return self.get(job_id)

    def create_resumed(self, task_id: str, gender: str = "", *, hold: bool = True) -> Job:
        """A job for a task submitted elsewhere (``refiner-cli resume`` of an unknown id);
        held by this process like :meth:`create_job`."""
        now = time.time()
        with self._write() as c:
            cur = c.execute(
                "INSERT INTO jobs (state, gender, created_at, updated_at, task_id, "
                "submitted_at) VALUES (?, ?, ?, ?, ?, ?)",
                (JobState.SUBMITTED.value, gender, now, now, task_id, now),
            )
            job_id = int(cur.lastrowid or 0)
            if hold:
                self._mark_owned(c, job_id, now)
        if hold:
            self._hold_new(job_id)
        return self.get(job_id)

    def _update(self, job_id: int, **fields: Any) -> Job:
        fields["updated_at"] = time.time()
        cols = ", ".join(f"{k} = ?" for k in fields)
        with self._write() as c:
            cur = c.execute(f"UPDATE jobs SET {cols} WHERE id = ?", (*fields.values(), job_id))
            if cur.rowcount != 1:
                raise KeyError(job_id)
        return self.get(job_id)

    def _update_if(self, job_id: int, states: Sequence[str], **fields: Any) -> bool:
        """Update only while the job is in one of ``states``; True if it was updated."""
        fields["updated_at"] = time.time()
        cols = ", ".join(f"{k} = ?" for k in fields)
        marks = ",".join("?" * len(states))
        with self._write() as c:
            cur = c.execute(
                f"UPDATE jobs SET {cols} WHERE id = ? AND state IN ({marks})",
                (*fields.values(), job_id, *states),
            )
            if cur.rowcount == 1:
                return True
            if c.execute("SELECT 1 FROM jobs WHERE id = ?", (job_id,)).fetchone() is None:
                raise KeyError(job_id)
            return False

    def mark_submitting(self, job_id: int, base_url: str | None = None) -> Job:
        """Committed before the first byte is uploaded, with the service address it goes
        to (``base_url``: the job is only ever polled there; see
        :mod:`refiner_gui.jobs.routing`).

        Atomic compare-and-set from PENDING: of two threads or processes that try to run
        the same job, exactly one gets it; the other gets :class:`JobStateError` and must
        not upload (that would bill twice).
        """
        fields: dict[str, Any] = {"state": JobState.SUBMITTING.value, "error": None}
        if base_url is not None:
            fields["base_url"] = base_url
        if not self._update_if(job_id, (JobState.PENDING.value,), **fields):
            current = self.get(job_id)
            raise JobStateError(
                f"Job {job_id} is {current.state.value}, not pending: it is not uploaded (again)."
            )
        return self.get(job_id)

    def mark_submitted(
        self, job_id: int, task_id: str, request_id: str | None = None, log_id: str | None = None
    ) -> Job:
        """Committed before the first poll: from here on the task can always be resumed.

        The task id is stored whatever the job's state (unless it already SUCCEEDED): if
        another process settled the upload as OUTCOME_UNKNOWN meanwhile, the id we now
        hold is the better truth, and losing it would lose a billed task.
        """
        if not self._update_if(
            job_id,
            [s.value for s in JobState if s is not JobState.SUCCEEDED],
            state=JobState.SUBMITTED.value,
            task_id=task_id,
            request_id=request_id,
            log_id=log_id,
            submitted_at=time.time(),
            error=None,
            finished_at=None,
        ):
            log.warning("job %d already succeeded; task id %s not recorded", job_id, task_id)
        return self.get(job_id)

    def note_result_url(self, job_id: int, url: str) -> None:
        """Keep the result link of a finished task (while the job is unfinished), so a
        refused or failed download still says where the paid result is."""
        self._update_if(job_id, _UNFINISHED, result_url=url)

    def note_error(self, job_id: int, error: dict[str, Any]) -> Job:
        """Record a passing problem (timeout, network) without changing the state.

        Ignored once the job is finished (its own error, or none, stays).
        """
        self._update_if(job_id, _UNFINISHED, error=json.dumps(error))
        return self.get(job_id)

    def mark_succeeded(
        self,
        job_id: int,
        result_path: Path,
        request_id: str | None = None,
        log_id: str | None = None,
    ) -> Job:
        """Commit SUCCEEDED with the stored result (and the poll's ids); return the job."""
        fields: dict[str, Any] = {
            "state": JobState.SUCCEEDED.value,
            "result_path": self._rel(result_path),
            "finished_at": time.time(),
            "error": None,
        }
        if request_id:
            fields["request_id"] = request_id
        if log_id:
            fields["log_id"] = log_id
        return self._update(job_id, **fields)

    def mark_finished(
        self,
        job_id: int,
        state: JobState,
        error: dict[str, Any],
        *,
        expected: Sequence[JobState] | None = None,
    ) -> Job:
        """End a job without a result: FAILED, OUTCOME_UNKNOWN, EXPIRED or CANCELLED.

        Only an unfinished job changes: a job another thread or process already finished
        (above all one that SUCCEEDED) is returned as it is. ``expected`` narrows that to
        the states the caller saw, so a decision taken on an old snapshot (recovery) cannot
        overwrite a job that has moved on meanwhile (e.g. to SUBMITTED in another process).
        """
        if not state.finished or state is JobState.SUCCEEDED:
            raise ValueError(f"mark_finished cannot set {state.value}")
        fields: dict[str, Any] = {
            "state": state.value,
            "error": json.dumps(error),
            "finished_at": time.time(),
        }
        for key in ("request_id", "log_id"):
            if error.get(key):
                fields[key] = error[key]
        states = (
            _UNFINISHED
            if expected is None
            else tuple(st.value for st in expected if st.value in _UNFINISHED)
        )
        self._update_if(job_id, states, **fields)
        return self.get(job_id)

    def delete(self, job_id: int, *, delete_files: bool = True) -> None:
        """Remove a job; its result file too, and stored inputs no other job uses.

        The "still used?" check and the unlink run under the write lock, so a job being
        created at the same time with the same input keeps its file.
        """
        job = self.get(job_id)
        if job.state in (JobState.SUBMITTING, JobState.SUBMITTED):
            # Its task may exist (and bill) at the service: the row is the only record of
            # its task id. It must finish, expire or be settled first.
            raise JobStateError(
                f"Job {job_id} is {job.state.label.lower()}: its task may still finish at the "
                "service, so it cannot be deleted yet."
            )
        with self._write() as c:
            # Re-checked under the write lock: a worker may have just started its upload.
            cur = c.execute(
                "DELETE FROM jobs WHERE id = ? AND state NOT IN (?, ?)",
                (job_id, JobState.SUBMITTING.value, JobState.SUBMITTED.value),
            )
            if cur.rowcount != 1:
                raise JobStateError(f"Job {job_id} started uploading; it cannot be deleted now.")
            if not delete_files:
                return
            if job.result_path is not None:
                job.result_path.unlink(missing_ok=True)
                preview_path(job.result_path).unlink(missing_ok=True)
            for item in job.inputs.values():
                # By stored path, not by hash: the same content can sit under two names
                # (.jpg and .jpeg copies), and each file is unused on its own terms.
                still_used = c.execute(
                    "SELECT 1 FROM job_inputs WHERE path = ? LIMIT 1", (self._rel(item.path),)
                ).fetchone()
                if not still_used:
                    item.path.unlink(missing_ok=True)

    # -- reading (row decoding: RowsMixin) ------------------------------------------------

    def get(self, job_id: int) -> Job:
        """The job with ``job_id``; KeyError when there is none."""
        row = self._conn().execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise KeyError(job_id)
        return self._job(row, self._inputs_for([job_id])[job_id])

    def get_many(self, ids: Sequence[int]) -> list[Job]:
        """Jobs in the order of ``ids`` (missing ids are skipped)."""
        if not ids:
            return []
        rows: dict[int, sqlite3.Row] = {}
        conn = self._conn()
        for start in range(0, len(ids), 500):
            chunk = list(ids[start : start + 500])
            marks = ",".join("?" * len(chunk))
            for r in conn.execute(f"SELECT * FROM jobs WHERE id IN ({marks})", chunk):
                rows[r["id"]] = r
        inputs = self._inputs_for([i for i in ids if i in rows])
        return [self._job(rows[i], inputs[i]) for i in ids if i in rows]

    def find_by_task(self, task_id: str) -> Job | None:
        """The newest job for ``task_id`` (either call's task of a two-stage job), or None."""
        row = (
            self._conn()
            .execute(
                "SELECT id FROM jobs WHERE task_id = ? OR tryon_task_id = ? "
                "ORDER BY id DESC LIMIT 1",
                (task_id, task_id),
            )
            .fetchone()
        )
        return self.get(row["id"]) if row else None

    def list_ids(
        self, f: JobFilter | None = None, *, sort: str = "created_at", descending: bool = True
    ) -> list[int]:
        """Ids of the jobs that match, sorted; cheap enough for tens of thousands."""
        if sort not in SORT_COLUMNS:
            raise ValueError(f"cannot sort by {sort!r}")
        where, args = where_clause(f)
        order = "DESC" if descending else "ASC"
        sql = f"SELECT id FROM jobs{where} ORDER BY {sort} {order}, id {order}"
        return [r[0] for r in self._conn().execute(sql, args)]

    def list_jobs(
        self,
        f: JobFilter | None = None,
        *,
        sort: str = "created_at",
        descending: bool = True,
        limit: int | None = None,
    ) -> list[Job]:
        """The jobs that match ``f``, sorted, at most ``limit`` of them."""
        ids = self.list_ids(f, sort=sort, descending=descending)
        return self.get_many(ids[:limit] if limit is not None else ids)

    def count(self, f: JobFilter | None = None) -> int:
        """How many jobs match ``f`` (all jobs without one)."""
        where, args = where_clause(f)
        return int(self._conn().execute(f"SELECT COUNT(*) FROM jobs{where}", args).fetchone()[0])

    def unfinished(self) -> list[Job]:
        """Jobs that a crash or a quit left in PENDING, SUBMITTING or SUBMITTED."""
        return self.list_jobs(
            JobFilter(states=(JobState.PENDING, JobState.SUBMITTING, JobState.SUBMITTED)),
            descending=False,
        )
