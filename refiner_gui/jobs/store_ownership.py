"""The store's side of job ownership: claim, release, holding, the heartbeat, holder_of.

:class:`OwnershipMixin` is mixed into :class:`~refiner_gui.jobs.store.JobStore`. It writes
``jobs.owner`` and the ``processes`` table; the rules (owner tokens, when a holder counts as
gone) are in :mod:`refiner_gui.jobs.ownership`. No Qt.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from refiner_gui.jobs.errors import JobHeld
from refiner_gui.jobs.ownership import Holder, Owner, holder_gone
from refiner_gui.jobs.store_base import StoreBase

__all__ = ["OwnershipMixin"]

# The store's logger: the records read as they did before the store was split up.
log = logging.getLogger("refiner_gui.jobs.store")


class OwnershipMixin(StoreBase):
    """Which jobs this store's process holds, in the file and in memory; its heartbeat.

    Uses the attributes ``JobStore.__init__`` sets (declared here and on
    :class:`~refiner_gui.jobs.store_base.StoreBase`).
    """

    stale_after: float
    heartbeat_interval: float
    owner: Owner
    # job id -> [thread ident, depth]: the jobs this store holds, and which thread.
    _held: dict[int, list[int]]
    _unreleased: set[int]
    _beat_stop: threading.Event
    _beat: threading.Thread | None

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
