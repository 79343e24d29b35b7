"""Which process holds a job: owner tokens, heartbeats and the "is the holder gone?" rule.

No Qt, no SQL (the store does the writing). The design, in one place:

- Each open :class:`~refiner_gui.jobs.JobStore` (one per process in practice: the window,
  each ``refiner-cli`` run) has an :class:`Owner`: its pid, its host name and a random
  token. The ``processes`` table holds one row per owner that holds jobs now, with a
  ``heartbeat`` time the owner refreshes every :data:`HEARTBEAT_INTERVAL` seconds from a
  small background thread while it holds any job (also while an upload blocks).
- ``jobs.owner`` names the token of the process working on the job, or is NULL.
  :func:`~refiner_gui.jobs.run_job` claims the job (compare-and-set, in one write
  transaction) before anything else and releases it when it returns or raises;
  :func:`~refiner_gui.jobs.recover` claims each job before settling or resuming it, and
  leaves a job held by a live owner alone.
- A holder is gone (its jobs may be taken over) when its process row is missing, when it
  ran on this host and its pid no longer exists, or when its heartbeat is older than
  :data:`STALE_AFTER` seconds (a holder on another host, a pid reused, a process frozen).
  The limit is a store parameter (``REFINER_GUI_STALE_AFTER`` for a whole process), so
  tests need not wait a minute.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass

from refiner_gui.processes import pid_alive

__all__ = [
    "HEARTBEAT_INTERVAL",
    "STALE_AFTER",
    "STALE_AFTER_ENV",
    "Holder",
    "Owner",
    "holder_gone",
    "pid_alive",
    "stale_after_from_env",
]

HEARTBEAT_INTERVAL = 5.0  # seconds between heartbeats of a process holding jobs
STALE_AFTER = 60.0  # a heartbeat older than this: the holder is taken for gone
STALE_AFTER_ENV = "REFINER_GUI_STALE_AFTER"


@dataclass(frozen=True)
class Owner:
    """One process's identity in the store: pid, host and a random per-store token."""

    token: str
    pid: int
    host: str

    @classmethod
    def new(cls) -> Owner:
        """A fresh identity for this process (a new random token every call)."""
        return cls(token=uuid.uuid4().hex, pid=os.getpid(), host=socket.gethostname())


@dataclass(frozen=True)
class Holder:
    """The process row of a job's current holder, as read from the store."""

    token: str
    pid: int
    host: str
    heartbeat: float

    def describe(self) -> str:
        """The holder in words, for messages ("process 123 on host-a")."""
        return f"process {self.pid} on {self.host}"


def holder_gone(holder: Holder | None, *, now: float, stale_after: float) -> bool:
    """Whether a job held by ``holder`` may be taken over (see the module docstring)."""
    if holder is None:
        return True
    if holder.host == socket.gethostname() and not pid_alive(holder.pid):
        return True
    return now - holder.heartbeat > stale_after


def stale_after_from_env(default: float = STALE_AFTER) -> float:
    """The staleness limit: ``REFINER_GUI_STALE_AFTER`` seconds when set and valid."""
    raw = os.environ.get(STALE_AFTER_ENV, "")
    try:
        value = float(raw)
    except ValueError:
        return default
    return value if value > 0 and value != float("inf") else default
