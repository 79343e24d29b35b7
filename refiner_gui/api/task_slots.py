"""The service's limit on tasks running at once, kept for the whole app. No Qt.

The service lets an account run 5 tasks at once (contract, section 5); a submit over that
is answered 429 ``EXCEEDING_LIMITS``, and the app-wide back-off then holds every request
(:mod:`.limits`). A batch runs up to 5 looks, so a refinement started in the window or a
``refiner-cli`` run beside it would be the sixth. So every task the app starts holds a
*slot* from just before its submit until the poll that sees it end:

- :meth:`AppLimits.claim_task <refiner_gui.api.limits.AppLimits.claim_task>` waits for a
  free slot before the upload (cancellable, within the job's deadline) and takes it under
  a provisional name; the submit's task id renames it; a submit that fails frees it.
- :meth:`RefinerClient.wait <refiner_gui.api.RefinerClient.wait>` holds its task's slot
  while it polls (taking one without waiting for a resumed task: that task already runs
  at the service, so it counts) and frees it when the wait ends, however it ends.

Slots live where the rate-limit buckets do: in this process (:class:`MemorySlots`), or in
the shared SQLite file of the data folder (:class:`FileSlots`), so the window and the
command line count each other's tasks. A slot is freed as well when its process is gone
(its pid no longer exists), when its task was submitted but no wait took it up within
:data:`UNWAITED_AFTER` seconds (a job that stopped between submit and poll), or when it
was not refreshed for :data:`STALE_AFTER` seconds (a frozen process, a reused pid). A
slot freed early errs towards a 429, which the back-off absorbs; never towards a queue
that waits forever.
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
    "RUNNING_TASKS",
    "STALE_AFTER",
    "UNWAITED_AFTER",
    "FileSlots",
    "MemorySlots",
    "Slots",
]

RUNNING_TASKS = 5  # the service's figure per account
UNWAITED_AFTER = 120.0  # a submitted task no wait took up: its slot goes after this
STALE_AFTER = 3600.0  # a slot not refreshed for this long: its holder is taken for gone


class Slots(Protocol):
    """Where the slots of running tasks live (one process, or a shared file).

    Names are unique per app: a provisional name before the submit, the task id after.
    """

    def claim(self, service: str, name: str, limit: int) -> bool:
        """Take a slot named ``name`` for ``service`` if fewer than ``limit`` are held."""
        ...

    def hold(self, service: str, name: str) -> None:
        """Take or refresh ``name``'s slot without looking at the limit, marked waited."""
        ...

    def rename(self, name: str, new: str) -> None:
        """Give ``name``'s slot the name ``new`` (its task id), refreshed."""
        ...

    def release(self, name: str) -> None:
        """Free ``name``'s slot (nothing when it holds none)."""
        ...

    def held(self, service: str) -> int:
        """How many slots of ``service`` are held now (after freeing the abandoned)."""
        ...


def _abandoned(pid: int, beat: float, waited: bool, now: float) -> bool:
    if now - beat > STALE_AFTER or (not waited and now - beat > UNWAITED_AFTER):
        return True
    return pid != os.getpid() and not pid_alive(pid)


class MemorySlots:
    """Slots for this process only. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._slots: dict[str, tuple[str, float, bool]] = {}  # name -> service, beat, waited

    def _prune(self, now: float) -> None:
        for name, (_service, beat, waited) in list(self._slots.items()):
            if _abandoned(os.getpid(), beat, waited, now):
                del self._slots[name]

    def claim(self, service: str, name: str, limit: int) -> bool:
        """See :meth:`Slots.claim`."""
        now = time.time()
        with self._lock:
            self._prune(now)
            if sum(1 for s, _b, _w in self._slots.values() if s == service) >= limit:
                return False
            self._slots[name] = (service, now, False)
            return True

    def hold(self, service: str, name: str) -> None:
        """See :meth:`Slots.hold`."""
        with self._lock:
            self._slots[name] = (service, time.time(), True)

    def rename(self, name: str, new: str) -> None:
        """See :meth:`Slots.rename`."""
        with self._lock:
            found = self._slots.pop(name, None)
            if found is not None:
                self._slots[new] = (found[0], time.time(), found[2])

    def release(self, name: str) -> None:
        """See :meth:`Slots.release`."""
        with self._lock:
            self._slots.pop(name, None)

    def held(self, service: str) -> int:
        """See :meth:`Slots.held`."""
        with self._lock:
            self._prune(time.time())
            return sum(1 for s, _b, _w in self._slots.values() if s == service)


class FileSlots:
    """Slots in the SQLite file every process of the app shares (:mod:`.limits` opens it).

    ``connect`` gives a connection for one transaction (committed on success, closed
    after): :class:`~refiner_gui.api.limits.FileBuckets` lends its own. Thread-safe.
    """

    def __init__(self, connect: Callable[[], AbstractContextManager[sqlite3.Connection]]) -> None:
        self._connect = connect
        with connect() as c:
            c.execute(
                "CREATE TABLE IF NOT EXISTS task_slots (name TEXT PRIMARY KEY, "
                "service TEXT NOT NULL, pid INTEGER NOT NULL, beat REAL NOT NULL, "
                "waited INTEGER NOT NULL DEFAULT 0)"
            )

    @staticmethod
    def _prune(c: sqlite3.Connection, service: str, now: float) -> int:
        """Free the abandoned slots of ``service``; return how many are left."""
        rows = c.execute(
            "SELECT name, pid, beat, waited FROM task_slots WHERE service = ?", (service,)
        ).fetchall()
        gone = [(n,) for n, pid, beat, waited in rows if _abandoned(pid, beat, bool(waited), now)]
        c.executemany("DELETE FROM task_slots WHERE name = ?", gone)
        return len(rows) - len(gone)

    def claim(self, service: str, name: str, limit: int) -> bool:
        """See :meth:`Slots.claim`."""
        with self._connect() as c:
            c.execute("BEGIN IMMEDIATE")  # count and take in one write transaction
            now = time.time()
            if self._prune(c, service, now) >= limit:
                return False
            c.execute(
                "INSERT OR REPLACE INTO task_slots (name, service, pid, beat, waited) "
                "VALUES (?, ?, ?, ?, 0)",
                (name, service, os.getpid(), now),
            )
            return True

    def hold(self, service: str, name: str) -> None:
        """See :meth:`Slots.hold`."""
        with self._connect() as c:
            c.execute(
                "INSERT OR REPLACE INTO task_slots (name, service, pid, beat, waited) "
                "VALUES (?, ?, ?, ?, 1)",
                (name, service, os.getpid(), time.time()),
            )

    def rename(self, name: str, new: str) -> None:
        """See :meth:`Slots.rename`."""
        with self._connect() as c:
            c.execute("DELETE FROM task_slots WHERE name = ?", (new,))
            c.execute(
                "UPDATE task_slots SET name = ?, beat = ? WHERE name = ?",
                (new, time.time(), name),
            )

    def release(self, name: str) -> None:
        """See :meth:`Slots.release`."""
        with self._connect() as c:
            c.execute("DELETE FROM task_slots WHERE name = ?", (name,))

    def held(self, service: str) -> int:
        """See :meth:`Slots.held`."""
        with self._connect() as c:
            c.execute("BEGIN IMMEDIATE")
            return self._prune(c, service, time.time())
