"""The job store's SQLite schema, and how a :class:`JobFilter` becomes SQL. No Qt, no I/O.

Schema: versioned with ``PRAGMA user_version``; :data:`MIGRATIONS` lists every step from
an empty file, applied in order inside a transaction by
:class:`~refiner_gui.jobs.store.JobStore`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from refiner_gui.jobs.models import JobState

MIGRATIONS: tuple[str, ...] = (
    # 1: jobs and their inputs
    """
    CREATE TABLE jobs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        state TEXT NOT NULL,
        gender TEXT NOT NULL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        task_id TEXT,
        request_id TEXT,
        log_id TEXT,
        submitted_at REAL,
        finished_at REAL,
        error TEXT,
        result_path TEXT,
        verdict TEXT,
        tags TEXT NOT NULL DEFAULT '[]',
        note TEXT NOT NULL DEFAULT '',
        reviewed_at REAL,
        parent_id INTEGER
    );
    CREATE TABLE job_inputs (
        job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
        slot TEXT NOT NULL,
        path TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        name TEXT NOT NULL,
        PRIMARY KEY (job_id, slot)
    );
    CREATE INDEX jobs_by_state ON jobs(state);
    CREATE INDEX jobs_by_created ON jobs(created_at);
    CREATE INDEX jobs_by_task ON jobs(task_id);
    """,
    # 2: which process holds a job (refiner_gui.jobs.ownership), and a result link kept
    # when its download was refused (the task stays resumable while the link lives)
    """
    ALTER TABLE jobs ADD COLUMN owner TEXT;
    ALTER TABLE jobs ADD COLUMN result_url TEXT;
    CREATE TABLE processes (
        token TEXT PRIMARY KEY,
        pid INTEGER NOT NULL,
        host TEXT NOT NULL,
        started_at REAL NOT NULL,
        heartbeat REAL NOT NULL
    );
    """,
    # 3: the polls that bracketed each task's completion (the poll schedule learns from
    # them, :mod:`refiner_gui.jobs.durations`): done after the last "running" answer (or
    # the submit, when the first poll already saw it done) and by the first "done" one,
    # in seconds since the epoch like ``submitted_at``.
    """
    CREATE TABLE poll_bounds (
        job_id INTEGER PRIMARY KEY REFERENCES jobs(id) ON DELETE CASCADE,
        endpoint TEXT NOT NULL,
        submitted_at REAL NOT NULL,
        last_running_poll_at REAL,
        first_done_poll_at REAL NOT NULL
    );
    CREATE INDEX poll_bounds_by_endpoint ON poll_bounds(endpoint, first_done_poll_at);
    """,
    # 4: the service address each job was sent to (a recovered job is polled there, and a
    # sandbox job is never sent to the real service), and the blind review's answer
    # ("refined", "coarse" or "same": which image the reviewer preferred, unlabelled).
    """
    ALTER TABLE jobs ADD COLUMN base_url TEXT;
    ALTER TABLE jobs ADD COLUMN preference TEXT;
    """,
    # 5: two-stage jobs (refiner_gui.jobs.two_stage): what the job does ("refine", "tryon"
    # = make the coarse image only, "tryon_refine" = make it, then refine), the try-on
    # model ("pro" | "premium") and the first stage's own record; the poll history keeps
    # one bracket per job AND endpoint (a two-stage job waits on two endpoints).
    """
    ALTER TABLE jobs ADD COLUMN kind TEXT NOT NULL DEFAULT 'refine';
    ALTER TABLE jobs ADD COLUMN tryon_model TEXT;
    ALTER TABLE jobs ADD COLUMN tryon_state TEXT;
    ALTER TABLE jobs ADD COLUMN tryon_task_id TEXT;
    ALTER TABLE jobs ADD COLUMN tryon_request_id TEXT;
    ALTER TABLE jobs ADD COLUMN tryon_log_id TEXT;
    ALTER TABLE jobs ADD COLUMN tryon_submitted_at REAL;
    ALTER TABLE jobs ADD COLUMN tryon_finished_at REAL;
    CREATE INDEX jobs_by_tryon_task ON jobs(tryon_task_id);
    CREATE TABLE poll_bounds_5 (
        job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
        endpoint TEXT NOT NULL,
        submitted_at REAL NOT NULL,
        last_running_poll_at REAL,
        first_done_poll_at REAL NOT NULL,
        PRIMARY KEY (job_id, endpoint)
    );
    INSERT INTO poll_bounds_5 SELECT job_id, endpoint, submitted_at, last_running_poll_at,
        first_done_poll_at FROM poll_bounds;
    DROP TABLE poll_bounds;
    ALTER TABLE poll_bounds_5 RENAME TO poll_bounds;
    CREATE INDEX poll_bounds_by_endpoint ON poll_bounds(endpoint, first_done_poll_at);
    """,
    # 6: the name of the file the user gave, when what was uploaded (and stored) is a
    # copy made by Fix: provenance and file-name tokens speak of the original.
    """
    ALTER TABLE job_inputs ADD COLUMN original_name TEXT;
    """,
    # 7: batches (:mod:`refiner_gui.batch`): a queue of looks read from a folder or a CSV
    # manifest. Every row of the source is a ``batch_looks`` row, in order (a row with a
    # problem keeps it in ``problem`` and is never sent); a look gets its job only when
    # the queue takes it, and ``jobs.batch_id`` / ``jobs.look_name`` tie the job back.
    """
    CREATE TABLE batches (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL,
        source TEXT NOT NULL,
        out_dir TEXT NOT NULL,
        concurrency INTEGER NOT NULL,
        state TEXT NOT NULL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        base_url TEXT
    );
    CREATE TABLE batch_looks (
        batch_id INTEGER NOT NULL REFERENCES batches(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        name TEXT NOT NULL,
        gender TEXT NOT NULL,
        files TEXT NOT NULL,
        problem TEXT,
        job_id INTEGER,
        output TEXT,
        cancelled INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (batch_id, position)
    );
    ALTER TABLE jobs ADD COLUMN batch_id INTEGER;
    ALTER TABLE jobs ADD COLUMN look_name TEXT;
    CREATE INDEX jobs_by_batch ON jobs(batch_id);
    """,
    # 8: the try-on model ("pro" | "premium") a batch makes missing coarse images with:
    # a look without one is a two-stage job (refiner_gui.batch.queue), and a resumed
    # batch uses the model it was started with. NULL (older batches) means "pro".
    """
    ALTER TABLE batches ADD COLUMN tryon_model TEXT;
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)

# Columns the history may be sorted by: anything else is refused, never put into SQL.
SORT_COLUMNS = {"created_at", "updated_at", "state", "gender", "verdict", "id", "task_id"}


@dataclass(frozen=True)
class JobFilter:
    """What the history shows. Empty fields do not filter."""

    states: tuple[JobState, ...] = ()
    verdict: str | None = None  # "pass", "fail", or "unreviewed"
    text: str = ""
    tag: str | None = None
    batch_id: int | None = None  # only the jobs of this batch's looks


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def where_clause(f: JobFilter | None) -> tuple[str, list[Any]]:
    """The SQL ``WHERE`` clause (with a leading space, or empty) and its parameters for
    ``f``; the user's text is matched literally."""
    if f is None:
        return "", []
    clauses: list[str] = []
    args: list[Any] = []
    if f.states:
        clauses.append(f"state IN ({','.join('?' * len(f.states))})")
        args += [s.value for s in f.states]
    if f.verdict == "unreviewed":
        clauses.append("verdict IS NULL")
    elif f.verdict:
        clauses.append("verdict = ?")
        args.append(f.verdict)
    if f.batch_id is not None:
        clauses.append("batch_id = ?")
        args.append(f.batch_id)
    if f.tag:
        # An exact element of the JSON list (LIKE would treat "_" in names as a wildcard).
        clauses.append("EXISTS (SELECT 1 FROM json_each(jobs.tags) t WHERE t.value = ?)")
        args.append(f.tag)
    text = f.text.strip()
    if text:
        # The user's text is matched literally: % and _ are escaped.
        like = "%" + _escape_like(text) + "%"
        clauses.append(
            "(task_id LIKE ? ESCAPE '\\' OR tryon_task_id LIKE ? ESCAPE '\\'"
            " OR note LIKE ? ESCAPE '\\'"
            " OR gender LIKE ? ESCAPE '\\' OR error LIKE ? ESCAPE '\\'"
            " OR tags LIKE ? ESCAPE '\\' OR CAST(id AS TEXT) = ?"
            " OR EXISTS (SELECT 1 FROM job_inputs i WHERE"
            " i.job_id = jobs.id AND i.name LIKE ? ESCAPE '\\'))"
        )
        args += [like, like, like, like, like, like, text, like]
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", args
