"""App-wide rate limits on submits and polls, and the shared back-off after a 429 or 503.

No Qt. The service allows an account 10 submits and 20 polls per second (contract, section
5). Every :class:`~refiner_gui.api.RefinerClient` asks :func:`limits_for` its service's
:class:`AppLimits` before each submit and each poll, so a batch, a single refinement in
the window and a ``refiner-cli`` run together stay under those figures:

- inside one process, every client of the same service shares one :class:`AppLimits`;
- across processes, the buckets live in a small SQLite file in the app's data folder
  (:class:`FileBuckets`), so the window and a command-line run share them too. When that
  file cannot be used (a read-only folder), the process falls back to its own buckets
  (:class:`MemoryBuckets`) and says so in the log.

Each bucket holds a few tokens (:data:`SUBMIT_BURST`, :data:`POLL_BURST`) and refills at
a rate (:data:`SUBMIT_RATE`, :data:`POLL_RATE`) chosen so that the requests leaving in
any :data:`JITTER_WINDOW` seconds (a second, plus network jitter that may bunch them up
on arrival) are never more than the service's figure. The few tokens let requests that
happen to meet (five looks' polls, a submit and a poll) leave together instead of in
single file: with one token, a batch's polls waited 36 ms each on average, and every
wait there is lag between a task ending and the app seeing it.

A 429 ``EXCEEDING_LIMITS`` or a 503 seen by any client holds every submit and poll of the
service (in every process sharing the file) until its ``Retry-After`` has passed
(:data:`DEFAULT_BACKOFF` seconds when it gives none): the whole app backs off at once
instead of each request hammering on its own.

The third limit, 5 tasks running at once, is counted in slots (:mod:`.task_slots`), kept
in the same place as the buckets: :meth:`AppLimits.claim_task` and
:meth:`AppLimits.task_running`.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol, TypeVar

from refiner_gui.api.errors import (
    Cancelled,
    ErrorInfo,
    InputRejected,
    NoFreeSlot,
    RateLimited,
    RefinerError,
    ResultUnavailable,
    ServiceUnavailable,
    SubmissionOutcomeUnknown,
    TaskFailed,
    TaskNotFound,
)
from refiner_gui.api.models import CancelToken
from refiner_gui.api.task_slots import (
    RUNNING_TASKS,
    SUBMITTED,
    WAITED,
    FileSlots,
    MemorySlots,
    Slots,
)

__all__ = [
    "DEFAULT_BACKOFF",
    "JITTER_WINDOW",
    "MAX_BACKOFF",
    "POLLS_PER_SECOND",
    "POLL_BURST",
    "POLL_RATE",
    "SUBMITS_PER_SECOND",
    "SUBMIT_BURST",
    "SUBMIT_RATE",
    "AppLimits",
    "Buckets",
    "FileBuckets",
    "MemoryBuckets",
    "limits_for",
    "reset_limits",
]

log = logging.getLogger(__name__)
T = TypeVar("T")

SUBMITS_PER_SECOND = 10.0  # the service's figure per account
POLLS_PER_SECOND = 20.0
# Sustained rates and bursts (see the module docstring): in any window of T seconds a
# bucket lets out at most burst + floor(rate * T) requests, so within JITTER_WINDOW:
# 2 + 8 = 10 submits and 3 + 17 = 20 polls (tests/test_limits.py checks the sums).
JITTER_WINDOW = 1.1
SUBMIT_RATE, SUBMIT_BURST = 8.0, 2
POLL_RATE, POLL_BURST = 16.0, 3
DEFAULT_BACKOFF = 2.0  # seconds held after a 429/503 without Retry-After
MAX_BACKOFF = 120.0  # a Retry-After longer than this is capped (as the retry policy does)
SLOT_WAIT = 0.25  # seconds between looks for a free task slot
SLOT_REFRESH = 60.0  # a wait's polls refresh its task's slot at most this often
# Errors of a wait that say its task ended at the service: its slot is free at once.
TASK_ENDED = (TaskFailed, TaskNotFound, InputRejected, ResultUnavailable)
LIMITS_FILE = "rate-limits.sqlite"


class Buckets(Protocol):
    """Where token buckets and the back-off hold live (one process, or a shared file)."""

    def take(self, key: str, rate: float, burst: int = 1) -> float:
        """Take a token of bucket ``key`` (``burst`` tokens when full, refilling at
        ``rate`` per second) if one is there and return 0.0; else take nothing and return
        the seconds until one is."""
        ...

    def hold(self, key: str, until: float) -> None:
        """Hold ``key``'s requests until the wall-clock time ``until`` (never shortens)."""
        ...

    def held_until(self, key: str) -> float:
        """The wall-clock time ``key``'s requests are held until (0 when not held)."""
        ...


def _take(full: float, now: float, rate: float, burst: int) -> tuple[float, float]:
    """One take from a bucket that is full again at wall time ``full`` (the one number a
    bucket needs: each token taken pushes it ``1 / rate`` later): (0.0, the new ``full``)
    when a token is there, else (seconds until one is, ``full`` unchanged)."""
    # Never later than a bucket emptied just now can be: a wall clock set back must not
    # hold every request for as long as it jumped.
    full = min(full, now + burst / rate)
    wait = full - (burst - 1) / rate - now
    if wait > 0:
        return wait, full
    return 0.0, max(full, now) + 1.0 / rate


class MemoryBuckets:
    """Buckets for this process only. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next: dict[str, float] = {}  # key -> wall time it is full again
        self._hold: dict[str, float] = {}

    def take(self, key: str, rate: float, burst: int = 1) -> float:
        """See :meth:`Buckets.take`."""
        now = time.time()
        with self._lock:
            wait, self._next[key] = _take(self._next.get(key, 0.0), now, rate, burst)
            return wait

    def hold(self, key: str, until: float) -> None:
        """See :meth:`Buckets.hold`."""
        with self._lock:
            self._hold[key] = max(self._hold.get(key, 0.0), until)

    def held_until(self, key: str) -> float:
        """See :meth:`Buckets.held_until`."""
        with self._lock:
            return self._hold.get(key, 0.0)


class FileBuckets:
    """Buckets in a SQLite file shared by every process of the app on this computer.

    One row per bucket: the wall time it is full again (``ready``), and the back-off hold. Each
    take is one short write transaction (WAL, no fsync: the rows only matter while the
    processes run) on a connection opened for it and closed after: a cached connection
    per thread would keep three file descriptors open for every limiter a long-lived
    thread ever used (the GUI thread, a test run's thousand data folders). Opening costs
    well under a millisecond, against at most 20 polls and 10 submits a second.
    Thread-safe.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._set_wal()
        with self.transaction() as c:
            c.execute(
                "CREATE TABLE IF NOT EXISTS buckets (key TEXT PRIMARY KEY, "
                "ready REAL NOT NULL DEFAULT 0, held REAL NOT NULL DEFAULT 0)"
            )

    def _set_wal(self) -> None:
        """Put the file in WAL mode, once (the mode stays with the file). Switching needs
        the file to itself and SQLite does not wait for that, so two processes opening a
        new file at once retry here rather than fail ("database is locked")."""
        for attempt in range(100):
            conn = sqlite3.connect(self.path, timeout=10.0)
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError:
                if attempt == 99:
                    raise
            finally:
                conn.close()
            time.sleep(0.01)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A connection for one transaction (committed on success), always closed; the
        task slots (:class:`~refiner_gui.api.task_slots.FileSlots`) use it too."""
        conn = sqlite3.connect(self.path, timeout=10.0)
        try:
            conn.execute("PRAGMA synchronous=OFF")
            with conn:
                yield conn
        finally:
            conn.close()

    def take(self, key: str, rate: float, burst: int = 1) -> float:
        """See :meth:`Buckets.take`."""
        with self.transaction() as c:
            c.execute("BEGIN IMMEDIATE")
            c.execute("INSERT OR IGNORE INTO buckets (key) VALUES (?)", (key,))
            full = float(c.execute("SELECT ready FROM buckets WHERE key = ?", (key,)).fetchone()[0])
            wait, full = _take(full, time.time(), rate, burst)
            if wait <= 0:
                c.execute("UPDATE buckets SET ready = ? WHERE key = ?", (full, key))
            return wait

    def hold(self, key: str, until: float) -> None:
        """See :meth:`Buckets.hold`."""
        with self.transaction() as c:
            c.execute("INSERT OR IGNORE INTO buckets (key) VALUES (?)", (key,))
            c.execute("UPDATE buckets SET held = MAX(held, ?) WHERE key = ?", (until, key))

    def held_until(self, key: str) -> float:
        """See :meth:`Buckets.held_until`."""
        with self.transaction() as c:
            row = c.execute("SELECT held FROM buckets WHERE key = ?", (key,)).fetchone()
        return float(row[0]) if row else 0.0


class AppLimits:
    """The submit and poll limits and the back-off hold of one service, for every client.

    Args:
        service: names the service (its base URL): each service has its own limits.
        buckets: where the buckets live (:class:`FileBuckets` to share across processes).
        submit_rate, submit_burst, poll_rate, poll_burst: each bucket's sustained rate
            per second and its tokens when full (within the service's figures, see
            :data:`JITTER_WINDOW`).
        slots, running_tasks: where the slots of running tasks live, and how many the
            service allows at once (:mod:`.task_slots`).

    Thread: any; the waits block the calling (worker) thread, cancellable.
    """

    def __init__(
        self,
        service: str,
        buckets: Buckets | None = None,
        *,
        submit_rate: float = SUBMIT_RATE,
        submit_burst: int = SUBMIT_BURST,
        poll_rate: float = POLL_RATE,
        poll_burst: int = POLL_BURST,
        slots: Slots | None = None,
        running_tasks: int = RUNNING_TASKS,
    ) -> None:
        self.service = service
        self.buckets: Buckets = buckets or MemoryBuckets()
        self.slots: Slots = slots or MemorySlots()
        self.running_tasks = running_tasks
        self._lock = threading.Lock()
        self._waited: dict[str, float] = {}  # task id -> when a wait last refreshed its slot
        self.submit_rate, self.submit_burst = submit_rate, submit_burst
        self.poll_rate, self.poll_burst = poll_rate, poll_burst
        self.backoffs = 0  # how many 429/503 answers put the service on hold (for views)

    def before_submit(self, cancel: CancelToken | None = None) -> None:
        """Block until a submit may leave (the hold is over and a token is free)."""
        self._wait("submit", self.submit_rate, self.submit_burst, cancel)

    def before_poll(self, cancel: CancelToken | None = None, task_id: str | None = None) -> None:
        """Block until a poll may leave (the hold is over and a token is free)."""
        self._wait("poll", self.poll_rate, self.poll_burst, cancel, task_id)
        if task_id is not None:
            self._refresh(task_id)

    def claim_task(
        self,
        cancel: CancelToken | None,
        deadline: float | None,
        on_wait: Callable[[], None] | None = None,
    ) -> str:
        """Block until fewer than ``running_tasks`` of the app's tasks run at the service,
        then take a slot for the task about to be submitted; return its provisional name
        (:meth:`task_submitted` renames it, :meth:`task_not_sent` frees it). ``on_wait``
        is called once when it has to wait.

        Raises :class:`Cancelled` or :class:`NoFreeSlot` (at ``deadline``, a
        :func:`time.monotonic` time); nothing was sent then."""
        name = f"submit-{uuid.uuid4().hex}"
        said = False
        while not self._slot_op(self.slots.claim, self.service, name, self.running_tasks):
            if not said:
                log.info("%d tasks run at the service: waiting for one to end", self.running_tasks)
                said = True
                if on_wait is not None:
                    on_wait()
            pause = SLOT_WAIT
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise NoFreeSlot(
                        f"The service runs at most {self.running_tasks} tasks at once, and "
                        "this app's other work (a batch, another window or a command-line "
                        "run) still had that many running when the time limit came. Nothing "
                        "was sent: start this one again once they have finished.",
                    )
                pause = min(pause, left)
            if cancel is None:
                time.sleep(pause)
            elif cancel.wait(pause):
                raise Cancelled("Cancelled before the upload; nothing was sent.")
        return name

    @contextmanager
    def submitting(self, name: str) -> Iterator[Callable[[str], None]]:
        """The block is a submit under slot ``name``; it calls the function it is given
        with the new task's id, and the slot takes that name. A block that raises frees
        the slot, except when a task may exist (:class:`SubmissionOutcomeUnknown`, or an
        interrupt that may have come mid-upload): then it stays SUBMITTED and expires."""
        made: list[str] = []
        try:
            yield made.append
        except SubmissionOutcomeUnknown:
            self.task_unknown(name)
            raise
        except Exception:
            self.task_not_sent(name)
            raise
        except BaseException:
            self.task_unknown(name)
            raise
        if made:
            self.task_submitted(name, made[0])
        else:
            self.task_not_sent(name)

    def task_submitted(self, name: str, task_id: str) -> None:
        """The submit under slot ``name`` made task ``task_id``: the slot takes its name."""
        self._slot_op(self.slots.rename, self.service, name, task_id)

    def task_not_sent(self, name: str) -> None:
        """The submit under slot ``name`` made no task (refused, cancelled): free it."""
        self._slot_op(self.slots.release, name)

    def task_unknown(self, name: str) -> None:
        """The submit under slot ``name`` may have made a task (its answer never came):
        the slot stays until it expires (:data:`~.task_slots.UNWAITED_AFTER`)."""
        self._slot_op(self.slots.mark, self.service, name, SUBMITTED)

    @contextmanager
    def task_running(self, task_id: str) -> Iterator[None]:
        """Within the block (a wait on ``task_id``), its slot is held, taken without
        waiting when it has none (a resumed task already runs) and refreshed by every
        poll (:meth:`before_poll`). Freed at the end when the task ended at the service
        (the block returned, or raised an error of a finished task: one of
        :data:`TASK_ENDED`, or any error a poll marked ``task_ended``); otherwise (cancel,
        time limit, network) the task may still run: SUBMITTED, it expires on its own."""
        self._slot_op(self.slots.mark, self.service, task_id, WAITED)
        with self._lock:
            self._waited[task_id] = time.monotonic()
        ended = False
        try:
            yield
            ended = True
        except RefinerError as exc:
            ended = exc.task_ended or isinstance(exc, TASK_ENDED)
            raise
        finally:
            with self._lock:
                self._waited.pop(task_id, None)
            if ended:
                self._slot_op(self.slots.release, task_id)
            else:
                self._slot_op(self.slots.mark, self.service, task_id, SUBMITTED)

    def _refresh(self, task_id: str) -> None:
        """A poll of ``task_id``: refresh its slot now and then, if a wait holds it."""
        now = time.monotonic()
        with self._lock:
            since = self._waited.get(task_id)
            if since is None or now - since < SLOT_REFRESH:
                return
            self._waited[task_id] = now
        self._slot_op(self.slots.mark, self.service, task_id, WAITED)

    def _slot_op(self, op: Callable[..., T], *args: object) -> T | bool:
        """One slot store call; a store that fails lets the work through (logged)."""
        try:
            return op(*args)
        except (sqlite3.Error, OSError) as exc:
            log.warning("the running-task count is unavailable (%s); not waiting on it", exc)
            return True

    def held_for(self) -> float:
        """Seconds the service's requests are still held for (0 when not held)."""
        return max(0.0, self.buckets.held_until(self.service) - time.time())

    def observe(self, err: RefinerError, seconds: float | None = None) -> None:
        """Hold every request to the service after a 429 ``EXCEEDING_LIMITS`` or a 503.

        For ``seconds`` (the client passes its retry policy's delay, which honours
        ``Retry-After``), else the ``Retry-After`` or :data:`DEFAULT_BACKOFF`; at most
        :data:`MAX_BACKOFF`. Other errors are ignored. Any thread."""
        limited = isinstance(err, RateLimited) and err.code == "EXCEEDING_LIMITS"
        busy = isinstance(err, ServiceUnavailable) and err.http_status == 503
        if not (limited or busy):
            return
        if seconds is None:
            wait = err.info.retry_after
            seconds = wait if wait is not None and wait > 0 else DEFAULT_BACKOFF
        seconds = min(MAX_BACKOFF, seconds)
        self.backoffs += 1
        log.info("service busy (%s): every request holds %.1fs", err.code or 503, seconds)
        self.buckets.hold(self.service, time.time() + seconds)

    def _wait(
        self,
        kind: str,
        rate: float,
        burst: int,
        cancel: CancelToken | None,
        task_id: str | None = None,
    ) -> None:
        key = f"{kind} {self.service}"
        while True:
            pause = self.held_for()
            if pause <= 0:
                pause = self.buckets.take(key, rate, burst)
                if pause <= 0:
                    return
            if cancel is None:
                time.sleep(pause)
            elif cancel.wait(pause):
                raise Cancelled("Cancelled.", ErrorInfo(task_id=task_id))


_lock = threading.Lock()
_limits: dict[tuple[str, Path | None], AppLimits] = {}
_buckets: dict[Path | None, tuple[Buckets, Slots]] = {}


def limits_for(service: str, folder: Path | None = None) -> AppLimits:
    """The process-wide :class:`AppLimits` of ``service`` (made on first use).

    With ``folder`` (the app's data folder) the buckets are shared with other processes
    through :data:`LIMITS_FILE` there; without it, or if that file cannot be opened, they
    are this process's own. Any thread.
    """
    with _lock:
        found = _limits.get((service, folder))
        if found is not None:
            return found
        shared = _buckets.get(folder)
        if shared is None:
            shared = _buckets[folder] = _open_buckets(folder)
        made = _limits[(service, folder)] = AppLimits(service, shared[0], slots=shared[1])
        return made


def _open_buckets(folder: Path | None) -> tuple[Buckets, Slots]:
    if folder is None:
        return MemoryBuckets(), MemorySlots()
    try:
        buckets = FileBuckets(folder / LIMITS_FILE)
        return buckets, FileSlots(buckets.transaction)
    except (OSError, sqlite3.Error) as exc:
        log.warning(
            "rate limits shared with other processes are unavailable (%s); "
            "this process keeps its own",
            exc,
        )
        return MemoryBuckets(), MemorySlots()


def reset_limits() -> None:
    """Forget every service's limits (tests; a new data folder). Any thread."""
    with _lock:
        _limits.clear()
        _buckets.clear()
