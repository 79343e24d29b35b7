"""Helpers for job-store tests: input sets, bulk rows, raw access to the SQLite file."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from refiner_gui.api import RefineInputs, RefinerClient
from refiner_gui.jobs import Job, JobState, JobStore, run_job
from refiner_gui.slots import BOTTOM, COARSE, PERSON, TOP


def slot_files(images: dict[str, Path], *, bottom: bool = False) -> dict[str, Path]:
    """The ``job_images`` fixture keyed by slot name, as ``JobStore.create_job`` takes them."""
    files = {PERSON: images["person"], TOP: images["top"], COARSE: images["coarse"]}
    if bottom:
        files[BOTTOM] = images["bottom"]
    return files


def refine(client: RefinerClient, store: JobStore, inputs: RefineInputs, **kw) -> Job:
    """One whole refinement the way the app and the CLI run it: a job in ``store``, then
    :func:`run_job` (``kw`` goes to it). Returns the SUCCEEDED job; raises what it raises."""
    job = store.create_job(dict(inputs.files()), inputs.gender)
    return run_job(store, client, job, **kw)


@contextmanager
def raw(path: Path) -> Iterator[sqlite3.Connection]:
    """A plain connection to the store's file (autocommit), closed afterwards."""
    with closing(sqlite3.connect(path, isolation_level=None, timeout=30)) as conn:
        conn.row_factory = sqlite3.Row
        yield conn


STATES = list(JobState)
TAG_CYCLE = ([], ["hands"], ["hands", "artifacts"], ["face_identity"], ["garment_colour"])


def bulk_insert(store: JobStore, n: int, *, start_time: float = 1_700_000_000.0) -> list[int]:
    """Insert ``n`` jobs straight into the tables in one transaction; return their ids.

    Deterministic variety: state, verdict, tags and gender cycle with the row number;
    created_at grows by one second per row; every row gets the same two inputs (the
    paths need not exist for listing). Far faster than ``create_job`` (no file copies).
    """
    rows = []
    for i in range(n):
        state = STATES[i % len(STATES)]
        verdict = (None, "pass", "fail")[i % 3] if state is JobState.SUCCEEDED else None
        rows.append(
            (
                state.value,
                ("woman", "man")[i % 2],
                start_time + i,
                start_time + i,
                f"task-{i:06d}" if state is not JobState.PENDING else None,
                verdict,
                json.dumps(TAG_CYCLE[i % len(TAG_CYCLE)]),
                f"note {i}" if i % 10 == 0 else "",
            )
        )
    with raw(store.path) as conn:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "INSERT INTO jobs (state, gender, created_at, updated_at, task_id, verdict, tags,"
            " note) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        ids = [r[0] for r in conn.execute("SELECT id FROM jobs ORDER BY id DESC LIMIT ?", (n,))][
            ::-1
        ]
        conn.executemany(
            "INSERT INTO job_inputs (job_id, slot, path, sha256, name) VALUES (?,?,?,?,?)",
            [
                (j, slot, f"inputs/{slot}.png", "0" * 64, f"{slot}-{j}.png")
                for j in ids
                for slot in (PERSON, TOP)
            ],
        )
        conn.execute("COMMIT")
    return ids
