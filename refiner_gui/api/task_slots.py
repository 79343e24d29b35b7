"""The service's limit on tasks running at once, kept for the whole app. No Qt.

The service lets an account run 5 tasks at once (contract, section 5); a submit over that
is answered 429 ``EXCEEDING_LIMITS``, and the app-wide back-off then holds every request
(:mod:`.limits`). A batch runs up to 5 looks, so a refinement started in the window or a
``refiner-cli`` run beside it would be the sixth. So every task the app starts holds a
*slot* from just before its submit until the poll that sees it end:

- :meth:`AppLimits.claim_task <refiner_gui.api.limits.AppLimits.claim_task>` waits for a
  free slot before the upload (cancellable, within a deadline) and takes it under a
  provisional name (the job runner claims it before it marks the job as submitting, so a
  quit while waiting leaves a job that was never sent); the submit's task id renames it;
  a submit refused or cancelled frees it.
- :meth:`RefinerClient.wait <refiner_gui.api.RefinerClient.wait>` holds its task's slot
  while it polls (taking one without waiting for a resumed task: that task already runs
  at the service, so it counts; each poll refreshes it). A wait that saw its task end
  (done, failed) frees the slot; a wait that stopped early (cancel, time limit, network)
  leaves it SUBMITTED, since the task may still run.

Slots live where the rate-limit buckets do: in this process (:class:`MemorySlots`), or in
the shared SQLite file of the data folder (:class:`FileSlots`), so the window and the
command line count each other's tasks. A slot is freed as well when its process is gone
(its pid no longer exists), when it stayed SUBMITTED for :data:`UNWAITED_AFTER` seconds
(longer than a task runs), or when it was not refreshed for :data:`STALE_AFTER` seconds
(a frozen process, a reused pid). A slot freed early errs towards a 429, which the
back-off absorbs; never towards a queue that waits forever. A slot store that fails (a
locked or broken file) lets the work through: the limit is a courtesy to the service,
never a reason to stop a job.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Protocol

from refiner_gui.processes import pid_alive

__all__ = [
    "CLAIMED",
    "RUNNING_TASKS",
    "STALE_AFTER",
    "SUBMITTED",
    "UNWAITED_AFTER",
    "WAITED",
    "FileSlots",
    "MemorySlots",
    "Slots",
]

RUNNING_TASKS = 5  # the service's figure per account
UNWAITED_AFTER = 120.0  # a task no wait follows (any more): its slot goes after this
STALE_AFTER = 3600.0  # a slot not refreshed for this long: its holder is taken for gone

# A slot's state. CLAIMED: a submit is under way (it may take minutes: a slow upload, a
# 429's pause). SUBMITTED: the task exists and nobody waits on it now (between submit and
# wait, or after a wait that stopped early: the task may still run). WAITED: a wait polls
# it, refreshing the slot. Only a SUBMITTED slot expires after UNWAITED_AFTER.
CLAIMED, SUBMITTED, WAITED = 0, 1, 2


class Slots(Protocol):
    """Where the slots of running tasks live (one process, or a shared file).

    Names are unique per app: a provisional name before the submit, the task id after.
    """

    def claim(self, service: str, name: str, limit: int) -> bool:
        """Take a CLAIMED slot ``name`` for ``service`` if fewer than ``limit`` are held."""
        ...

    def mark(self, service: str, name: str, state: int) -> None:
        """Put slot ``name`` in ``state``, refreshed; taken (whatever the limit) when it
        is not held: a task that runs at the service is counted, never refused."""
        ...

    def rename(self, service: str, name: str, new: str) -> None:
        """Slot ``name`` becomes ``new`` (its task id), SUBMITTED and refreshed."""
        ...

    def release(self, name: str) -> None:
        """Free ``name``'s slot (nothing when it holds none)."""
        ...

    def held(self, service: str) -> int:
        """How many slots of ``service`` are held now (after freeing the abandoned)."""
        ...


def _abandoned(pid: int, beat: float, state: int, now: float) -> bool:
    if now - beat > STALE_AFTER or (state == SUBMITTED and now - beat > UNWAITED_AFTER):
        return True
    return pid != os.getpid() and not pid_alive(pid)


class MemorySlots:
    """Slots for this process only. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._slots: dict[str, tuple[str, float, int]] = {}  # name -> service, beat, state

    def _count(self, service: str, now: float) -> int:
        for name, (_service, beat, state) in list(self._slots.items()):
            if _abandoned(os.getpid(), beat, state, now):
                del self._slots[name]
        return sum(1 for s, _b, _st in self._slots.values() if s == service)

    def claim(self, service: str, name: str, limit: int) -> bool:
        """See :meth:`Slots.claim`."""
        now = time.time()
        with self._lock:
            if self._count(service, now) >= limit:
                return False
            self._slots[name] = (service, now, CLAIMED)
            return True

    def mark(self, service: str, name: str, state: int) -> None:
        """See :meth:`Slots.mark`."""
        with self._lock:
            self._slots[name] = (service, time.time(), state)

    def rename(self, service: str, name: str, new: str) -> None:
        """See :meth:`Slots.rename`."""
        with self._lock:
            self._slots.pop(name, None)
            self._slots[new] = (service, time.time(), SUBMITTED)

    def release(self, name: str) -> None:
        """See :meth:`Slots.release`."""
        with self._lock:
            self._slots.pop(name, None)

    def held(self, service: str) -> int:
        """See :meth:`Slots.held`."""
        with self._lock:
            return self._count(service, time.time())


class FileSlots:
    """Slots in the SQLite file every process of the app shares (:mod:`.limits` opens it).

    ``connect`` gives a connection for one transaction (committed on success, closed
    after): :class:`~refiner_gui.api.limits.FileBuckets` lends its own. Thread-safe.
    """

    def __init__(self, connect: Callable[[], AbstractContextManager[sqlite3.Connection]]) -> None:
        self._connect = connect
        with connect() as c:
            c.execute(
                "CREATE TABLE IF NOT EXISTS running_tasks (name TEXT PRIMARY KEY, "
                "service TEXT NOT NULL, pid INTEGER NOT NULL, beat REAL NOT NULL, "
                "state INTEGER NOT NULL)"
            )

    @staticmethod
    def _count(c: sqlite3.Connection, service: str, now: float) -> int:
        """Free the abandoned slots of ``service``; return how many are left."""
        rows = c.execute(
            "SELECT name, pid, beat, state FROM running_tasks WHERE service = ?", (service,)
        ).fetchall()
        gone = [(n,) for n, pid, beat, state in rows if _abandoned(pid, beat, state, now)]
        c.executemany("DELETE FROM running_tasks WHERE name = ?", gone)
        return len(rows) - len(gone)

    @staticmethod
    def _put(c: sqlite3.Connection, service: str, name: str, state: int) -> None:
        c.execute(
            "INSERT OR REPLACE INTO running_tasks (name, service, pid, beat, state) "
            "VALUES (?, ?, ?, ?, ?)",
            (name, service, os.getpid(), time.time(), state),
        )

    def claim(self, service: str, name: str, limit: int) -> bool:
        """See :meth:`Slots.claim`."""
        with self._connect() as c:
            c.execute("BEGIN IMMEDIATE")  # count and take in one write transaction
            if self._count(c, service, time.time()) >= limit:
                return False
            self._put(c, service, name, CLAIMED)
            return True

    def mark(self, service: str, name: str, state: int) -> None:
        """See :meth:`Slots.mark`."""
        with self._connect() as c:
            self._put(c, service, name, state)

    def rename(self, service: str, name: str, new: str) -> None:
        """See :meth:`Slots.rename`."""
        with self._connect() as c:
            c.execute("DELETE FROM running_tasks WHERE name = ?", (name,))
            self._put(c, service, new, SUBMITTED)

    def release(self, name: str) -> None:
        """See :meth:`Slots.release`."""
        with self._connect() as c:
            c.execute("DELETE FROM running_tasks WHERE name = ?", (name,))

    def held(self, service: str) -> int:
        """See :meth:`Slots.held`."""
        with self._connect() as c:
            c.execute("BEGIN IMMEDIATE")
            return self._count(c, service, time.time())
