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
process works on a job (:mod:`refiner_gui.jobs.ownership`: claim, release, heartbeat,
when a holder counts as gone). The task-id journal (:data:`JOURNAL_NAME`, beside the
file) keeps the id of a new task when the file itself cannot be written.

Schema: versioned with ``PRAGMA user_version`` (:mod:`refiner_gui.jobs.schema`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from refiner_gui.atomic import atomic_path
from refiner_gui.config import app_paths
from refiner_gui.jobs.damage import check_whole, damaged_message, is_damage
from refiner_gui.jobs.models import DEFECT_TAGS, VERDICTS, Job, JobState, StoredInput
from refiner_gui.jobs.ownership import (
    HEARTBEAT_INTERVAL,
    Holder,
    Owner,
    holder_gone,
    stale_after_from_env,
)
from refiner_gui.jobs.previews import preview_path
from refiner_gui.jobs.schema import (
    MIGRATIONS,
    SCHEMA_VERSION,
    SORT_COLUMNS,
    JobFilter,
    where_clause,
)

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
# Task ids that could not be written to the store (it was locked or failing) land here,
# one JSON line each; recovery applies them before anything else. Never holds the key.
JOURNAL_NAME = "task-ids.journal.jsonl"
RESULT_TTL = 24 * 3600.0  # the service keeps results (and their links) for 24 hours


class StoreError(RuntimeError):
    """The store cannot be used (newer schema, unwritable folder)."""


class JobStateError(StoreError):
    """A state change was refused because the job is no longer in a state that allows it.

    Raised above all by :meth:`JobStore.mark_submitting` when the job is not PENDING any
    more: another thread or process took it (or settled it), so uploading it again could
    bill twice.
    """


class JobHeld(JobStateError):
    """Another live process (or another thread of this one) is working on the job.

    Nothing was done to the job; it is that process's to finish. ``holder`` describes it
    (None for another thread of this process).
    """

    def __init__(self, job_id: int, holder: Holder | None) -> None:
        self.job_id = job_id
        self.holder = holder
        who = holder.describe() if holder is not None else "another task of this app"
        super().__init__(
            f"Job {job_id}: another process is working on it ({who}), so it was left "
            "alone. It finishes there; if that process stops, resume again later (nothing "
            "is sent twice)."
        )


class BadRow(StoreError):
    """A row of the store holds a value the app never writes (edited outside the app)."""


_UNFINISHED = (JobState.PENDING.value, JobState.SUBMITTING.value, JobState.SUBMITTED.value)


def sha256_file(path: Path) -> str:
    """The SHA-256 of the file's content as hex, read in 1 MB pieces."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class JobStore:
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

    # -- connections ----------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                self.path,
                timeout=self.busy_timeout,
                isolation_level=None,
                check_same_thread=False,
            )
            conn.row_factory = sqlite3.Row
            self._enable_wal(conn)
            # NORMAL is durable against a killed process in WAL mode (only power loss can
            # cost the last transactions), and much faster than FULL.
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    @staticmethod
    def _enable_wal(conn: sqlite3.Connection) -> None:
        # The switch to WAL (first open of a fresh file) takes an exclusive lock and does
        # not wait on the busy handler: two openers at once (the window and refiner-cli,
        # or two threads) get "database is locked" at once. Retry for a while instead.
        deadline = time.monotonic() + 30.0
        pause = 0.005
        while True:
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(pause)
                pause = min(pause * 2, 0.1)

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

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

    # -- ownership (refiner_gui.jobs.ownership) -------------------------------------------

    def _holder(self, c: sqlite3.Connection, token: str) -> Holder | None:
        row = c.execute(
            "SELECT token, pid, host, heartbeat FROM processes WHERE token = ?", (token,)
        ).fetchone()
        if row is None:
            return None
        try:
            return Holder(str(row[0]), int(row[1]), str(row[2]), float(row[3]))
        except (TypeError, ValueError):
            return None  # a row edited outside the app: no holder to respect

    def holder_of(self, job_id: int) -> Holder | None:
        """The process holding ``job_id`` now (live or not), or None when nobody does."""
        c = self._conn()
        row = c.execute("SELECT owner FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None or not row[0]:
            return None
        return self._holder(c, str(row[0]))

    def claim(self, job_id: int) -> None:
        """Take ``job_id`` for this process: atomically, in one write transaction.

        Re-entrant for the thread that holds it (a nested :meth:`holding`). Takes over a
        job whose holder is gone (:func:`~refiner_gui.jobs.ownership.holder_gone`).

        Raises:
            JobHeld: a live process, or another thread of this one, holds it.
            KeyError: no such job.
        """
        me = threading.get_ident()
        with self._lock:
            held = self._held.get(job_id)
            if held is not None:
                if held[0] == 0:  # created here, not run yet: this thread runs it
                    held[0] = me
                elif held[0] != me:
                    raise JobHeld(job_id, None)
                held[1] += 1
                return
        now = time.time()
        with self._write() as c:
            row = c.execute("SELECT owner FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                raise KeyError(job_id)
            current = row[0]
            if current and current != self.owner.token:
                holder = self._holder(c, str(current))
                if not holder_gone(holder, now=now, stale_after=self.stale_after):
                    raise JobHeld(job_id, holder)
                log.info("job %d: its holder %s is gone; taking it over", job_id, holder)
                still = c.execute(
                    "SELECT 1 FROM jobs WHERE owner = ? AND id != ? LIMIT 1", (current, job_id)
                ).fetchone()
                if still is None:
                    c.execute("DELETE FROM processes WHERE token = ?", (current,))
            self._mark_owned(c, job_id, now)
        with self._lock:
            self._held[job_id] = [me, 1]
        self._start_heartbeat()

    def _mark_owned(self, c: sqlite3.Connection, job_id: int, now: float) -> None:
        """Inside a write transaction: ``job_id`` is ours; our process row is fresh."""
        c.execute("UPDATE jobs SET owner = ? WHERE id = ?", (self.owner.token, job_id))
        c.execute(
            "INSERT INTO processes (token, pid, host, started_at, heartbeat) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT(token) DO UPDATE SET heartbeat = ?",
            (self.owner.token, self.owner.pid, self.owner.host, now, now, now),
        )

    def _hold_new(self, job_id: int) -> None:
        # Held by the process, not yet by a thread (thread 0, depth 0): the first claim,
        # from whichever thread runs the job, takes it over.
        with self._lock:
            self._held[job_id] = [0, 0]
        self._start_heartbeat()

    def release(self, job_id: int) -> None:
        """Let go of ``job_id`` (the last of nested claims does). Never raises for a busy
        or failing store: the job then stays marked, and the heartbeat thread tries again
        at each beat (and :meth:`close` once more); if all fail, it is taken over once
        this process is gone."""
        with self._lock:
            held = self._held.get(job_id)
            if held is None:
                return
            held[1] -= 1
            if held[1] > 0:
                return
            del self._held[job_id]
            none_left = not self._held
        try:
            with self._write() as c:
                c.execute(
                    "UPDATE jobs SET owner = NULL WHERE id = ? AND owner = ?",
                    (job_id, self.owner.token),
                )
                if none_left:
                    c.execute(
                        "DELETE FROM processes WHERE token = ? AND NOT EXISTS "
                        "(SELECT 1 FROM jobs WHERE owner = ?)",
                        (self.owner.token, self.owner.token),
                    )
        except sqlite3.Error as exc:
            log.warning("job %d: could not release it yet (%s)", job_id, exc)
            with self._lock:
                self._unreleased.add(job_id)  # tried again by the heartbeat and close()
            none_left = False  # the heartbeat goes on until the release goes through
        if none_left:
            self._stop_heartbeat()

    @contextmanager
    def holding(self, job_id: int) -> Iterator[None]:
        """:meth:`claim` ``job_id`` for the ``with`` block, then :meth:`release` it."""
        self.claim(job_id)
        try:
            yield
        finally:
            self.release(job_id)

    def _release_leftovers(self) -> None:
        """Free the jobs whose release failed (a busy store), and this process's row."""
        with self._lock:
            never_run = [j for j, (thread, _) in self._held.items() if thread == 0]
            for job_id in never_run:
                del self._held[job_id]
            stuck = sorted(self._unreleased | set(never_run))
            self._unreleased = set()
            running = bool(self._held)  # close() while a job runs: leave its mark
        if not stuck:
            return  # every release went through: nothing marked with this process
        marks = ",".join("?" * len(stuck))
        try:
            with self._write() as c:
                c.execute(
                    f"UPDATE jobs SET owner = NULL WHERE owner = ? AND id IN ({marks})",
                    (self.owner.token, *stuck),
                )
                if not running:
                    c.execute("DELETE FROM processes WHERE token = ?", (self.owner.token,))
        except sqlite3.Error as exc:  # the marks stay; taken over once we are gone
            log.warning("could not release this process's jobs (%s)", exc)

    def _start_heartbeat(self) -> None:
        with self._lock:
            if self._beat is not None and self._beat.is_alive():
                return
            self._beat_stop = threading.Event()
            self._beat = threading.Thread(
                target=self._heartbeat_loop,
                args=(self._beat_stop,),
                name="refiner-store-heartbeat",
                daemon=True,  # never keeps the process alive; stopped by release()/close()
            )
            self._beat.start()

    def _stop_heartbeat(self) -> None:
        with self._lock:
            beat, self._beat = self._beat, None
            self._beat_stop.set()
        if beat is not None and beat is not threading.current_thread():
            beat.join()

    def _heartbeat_loop(self, stop: threading.Event) -> None:
        # Its own connection (with a short busy wait: a missed beat is retried next time),
        # closed when the loop ends.
        conn: sqlite3.Connection | None = None
        try:
            while not stop.wait(self.heartbeat_interval):
                try:
                    if conn is None:
                        conn = sqlite3.connect(
                            self.path, timeout=min(self.busy_timeout, 2.0), isolation_level=None
                        )
                    conn.execute(
                        "UPDATE processes SET heartbeat = ? WHERE token = ?",
                        (time.time(), self.owner.token),
                    )
                    if self._retry_releases(conn):
                        return  # nothing held or stuck any more: the beat is not needed
                except sqlite3.Error as exc:
                    log.warning("heartbeat missed: %s", exc)
        finally:
            if conn is not None:
                conn.close()

    def _retry_releases(self, conn: sqlite3.Connection) -> bool:
        """Heartbeat thread: free the jobs whose release met a busy store. True when this
        process holds nothing any more (its row is gone and the heartbeat may end)."""
        with self._lock:
            stuck = sorted(self._unreleased)
        if not stuck:
            return False
        marks = ",".join("?" * len(stuck))
        conn.execute(
            f"UPDATE jobs SET owner = NULL WHERE owner = ? AND id IN ({marks})",
            (self.owner.token, *stuck),
        )
        with self._lock:
            self._unreleased.difference_update(stuck)
            if self._held or self._unreleased:
                return False
            self._beat = None  # ending on its own; a later claim starts a new one
        conn.execute(
            "DELETE FROM processes WHERE token = ? AND NOT EXISTS "
            "(SELECT 1 FROM jobs WHERE owner = ?)",
            (self.owner.token, self.owner.token),
        )
        return True

    # -- the task-id journal ----------------------------------------------------------------

    def journal_task(
        self,
        job_id: int,
        task_id: str,
        request_id: str | None = None,
        log_id: str | None = None,
    ) -> Path:
        """Append ``task_id`` for ``job_id`` to the journal beside the store, fsync'd.

        For when the store itself cannot be written (locked by another process, failing):
        the id of a billed task must never be lost. One JSON line per task; no key, no
        secret. :meth:`apply_journal` moves the ids into the store later. Raises OSError
        when even the journal cannot be written.
        """
        line = json.dumps(
            {
                "job_id": job_id,
                "task_id": task_id,
                "request_id": request_id,
                "log_id": log_id,
                "time": time.time(),
            },
            sort_keys=True,
        )
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

    def apply_journal(self) -> list[Job]:
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
            if job.task_id or job.state is JobState.SUCCEEDED:
                continue
            log.info("job %d: task id %s taken from the journal", job.id, entry["task_id"])
            applied.append(
                self.mark_submitted(
                    job.id, entry["task_id"], entry.get("request_id"), entry.get("log_id")
                )
            )
        return applied

    # -- files ----------------------------------------------------------------------------

    def _rel(self, path: Path) -> str:
        try:
            return str(Path(path).resolve().relative_to(self.root.resolve()))
        except ValueError:
            return str(Path(path).resolve())

    def _abs(self, stored: str | None) -> Path | None:
        if not stored:
            return None
        p = Path(stored)
        return p if p.is_absolute() else self.root / p

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
            patterns = [(self.results_dir, f".job-{job_id}.*.part")]
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
    ) -> Job:
        """Store the inputs and a PENDING job; returns it. Nothing is sent yet.

        With ``hold`` (the default) the new job is held by this process from the start
        (:meth:`claim`), so another process's recovery never cancels it as abandoned
        before it runs; :func:`~refiner_gui.jobs.run_job` (on any thread) takes the hold
        over and releases it, and :meth:`close` frees a job that was never run.
        """
        stored = {slot: self.store_input(p) for slot, p in files.items() if p is not None}
        now = time.time()
        with self._write() as c:
            # Under the write lock, so a concurrent delete() cannot remove a shared input
            # between the copy above and the insert below.
            for slot, s in list(stored.items()):
                if not s.path.exists():
                    stored[slot] = self.store_input(Path(files[slot]))
            cur = c.execute(
                "INSERT INTO jobs (state, gender, created_at, updated_at, parent_id) "
                "VALUES (?, ?, ?, ?, ?)",
                (JobState.PENDING.value, gender, now, now, parent_id),
            )
            job_id = int(cur.lastrowid or 0)
            c.executemany(
                "INSERT INTO job_inputs (job_id, slot, path, sha256, name) VALUES (?,?,?,?,?)",
                [(job_id, slot, self._rel(s.path), s.sha256, s.name) for slot, s in stored.items()],
            )
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

    def mark_submitting(self, job_id: int) -> Job:
        """Committed before the first byte is uploaded.

        Atomic compare-and-set from PENDING: of two threads or processes that try to run
        the same job, exactly one gets it; the other gets :class:`JobStateError` and must
        not upload (that would bill twice).
        """
        if not self._update_if(
            job_id, (JobState.PENDING.value,), state=JobState.SUBMITTING.value, error=None
        ):
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

    def set_review(
        self, job_id: int, verdict: str | None, tags: Iterable[str] = (), note: str = ""
    ) -> Job:
        """Set the review (replacing the previous one).

        Raises ValueError for a verdict not in :data:`VERDICTS` (or None), a tag not in
        :data:`DEFECT_TAGS`, or a note that is not a string; KeyError for an unknown job.
        """
        if verdict is not None and verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS} or None, not {verdict!r}")
        if isinstance(tags, str):  # a bare string would be split into letters
            raise ValueError("tags must be a collection of tag names, not one string")
        tag_set = set(tags)
        unknown = sorted(str(t) for t in tag_set if t not in DEFECT_TAGS)
        if unknown:
            raise ValueError(f"unknown defect tags {unknown}; known: {sorted(DEFECT_TAGS)}")
        if not isinstance(note, str):
            raise ValueError("note must be a string")
        return self._update(
            job_id,
            verdict=verdict,
            tags=json.dumps(sorted(tag_set)),
            note=note,
            reviewed_at=time.time() if verdict else None,
        )

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

    # -- reading --------------------------------------------------------------------------

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
                out[r["job_id"]][r["slot"]] = StoredInput(path, r["sha256"], r["name"])
        return out

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
        """The newest job for ``task_id``, or None."""
        row = (
            self._conn()
            .execute("SELECT id FROM jobs WHERE task_id = ? ORDER BY id DESC LIMIT 1", (task_id,))
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
