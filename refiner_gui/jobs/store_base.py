"""What every part of the job store shares: the file, per-thread connections, paths.

:class:`StoreBase` is the base of :class:`~refiner_gui.jobs.store.JobStore` and of its
mixins (:mod:`refiner_gui.jobs.store_ownership`, :mod:`refiner_gui.jobs.rows`): it declares
the attributes ``JobStore.__init__`` sets and holds the SQLite plumbing they all use. Each
thread gets its own connection (SQLite connections are not shared across threads here);
writes go through ``BEGIN IMMEDIATE`` transactions. No Qt.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["StoreBase"]


class StoreBase:
    """The store's file, its folder, per-thread connections and stored-path conversion.

    Set up by :class:`~refiner_gui.jobs.store.JobStore` (``__init__``); not used alone.
    """

    path: Path
    root: Path
    busy_timeout: float
    _local: threading.local
    _all: list[sqlite3.Connection]
    _lock: threading.Lock

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
