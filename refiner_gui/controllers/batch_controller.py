"""The batch controller: runs one stored batch (:class:`refiner_gui.batch.BatchQueue`) in a
process of its own or on a worker thread, and forwards what it reports as typed signals.
No widgets.

**Where it runs.** With ``own_process`` (the window) and a client factory that can cross
to another process (:func:`refiner_gui.clients.is_portable`), the queue runs in a child
process (:mod:`refiner_gui.controllers.batch_process`): its workers then never make the
GUI thread wait for the GIL. :attr:`queue` is then a
:class:`~refiner_gui.batch.mirror.BatchMirror` the child's events keep current. Otherwise
(a factory that is a closure) it runs on a worker thread of this process, and
:attr:`queue` is the queue itself. Both answer the same calls and send the same signals.

Its client is the window's queue view (:mod:`refiner_gui.ui.batch_flow`). One batch runs
at a time; each run has an id and every signal carries it, as with
:class:`~refiner_gui.controllers.job_controller.JobController`.

Order of a run's signals: ``runStarted`` · (``lookChanged`` | ``paused`` | ``notice``)* ·
``batchEnded`` (the queue's run returned: summary.csv is written) · ``runEnded`` (the
thread or process is gone; a new batch may start at once) · ``ended``. A batch process
that dies before its run returned sends no ``batchEnded``: a ``notice`` says so, and the
batch stays in the store to continue. ``changed`` carries every
queue event unkeyed, for a client that follows just the one batch.

Quitting mid-batch (:meth:`shutdown`) stops the queue the way Ctrl+C stops the command
line: in-flight looks stop where they are (a submitted task stays resumable in the job
store), nothing is marked cancelled, and the batch stays "active" or "paused" in the
store, so :meth:`unfinished` offers it at the next start and :meth:`start` carries on.

GUI thread only. On a thread, the queue's workers call :meth:`_BatchWorker.relay`; the
worker's signals reach the controller queued, on the GUI thread. A child's frames arrive
on the GUI thread from the event loop.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, Signal, Slot

from refiner_gui.batch import BatchEvent, BatchQueue, Counts, LookStatus, LookView
from refiner_gui.batch.child import ChildStart
from refiner_gui.batch.mirror import BatchMirror
from refiner_gui.clients import ClientFactory, KeyedClientFactory, is_portable
from refiner_gui.controllers.batch_process import BatchProcess
from refiner_gui.jobs import JobStore
from refiner_gui.jobs.store_batches import BatchRecord
from refiner_gui.keystore import session_key
from refiner_gui.redaction import redact
from refiner_gui.threads import Worker, WorkerHandle, start_worker

log = logging.getLogger(__name__)

BATCH_THREAD = "refiner-batch"


class _BatchWorker(Worker):
    """Runs :meth:`BatchQueue.run` on its thread; relays the queue's events as signals.

    ``batchEvent`` is emitted on whichever queue thread caused it (plain data only); Qt
    delivers it queued to the controller on the GUI thread."""

    batchEvent = Signal(object)  # BatchEvent
    ended = Signal(object)  # Counts, after the queue's run returned

    def __init__(self) -> None:
        super().__init__()
        self.queue: BatchQueue | None = None  # set before the thread starts

    def cancel(self) -> None:
        """Stop the queue as a quit does (resumable; nothing cancelled). Any thread."""
        super().cancel()
        if self.queue is not None:
            self.queue.stop()

    def work(self) -> None:
        """Worker thread: run the queue until every look is settled or it is stopped."""
        assert self.queue is not None
        self.ended.emit(self.queue.run())

    def relay(self, event: BatchEvent) -> None:
        """The queue's ``on_event``: any of its threads; emits :attr:`batchEvent`."""
        self.batchEvent.emit(event)


class BatchController(QObject):
    """Starts, pauses, resumes and cancels the looks of one batch at a time. GUI thread.

    Args:
        store: the job store holding the batches.
        client_factory: builds each queue thread's client (on that thread); or, with
            ``factory_source``, ignored.
        own_process: run each batch in a process of its own when the factory allows it
            (see the module docstring).
        factory_source: gives the factory to use, read at each start (the window's, as
            its settings are when the batch starts or is retried).
    """

    runStarted = Signal(int, int)  # run id, batch id
    lookChanged = Signal(int, object, object)  # run id, LookView, Counts
    paused = Signal(int, str, str)  # run id, reason ("user" | "credits" | "backoff"), words
    notice = Signal(int, str)  # run id, a message for the user (a back-off, a stop)
    batchEnded = Signal(int, object)  # run id, Counts: summary.csv is written
    runEnded = Signal(int)  # run id: the thread (or process) is gone
    # Unkeyed, for a client that follows the one batch: every BatchEvent as the queue sent
    # it, and the run's Counts once its thread is gone (after runEnded).
    changed = Signal(object)  # BatchEvent
    ended = Signal(object)  # Counts

    def __init__(
        self,
        store: JobStore,
        client_factory: ClientFactory,
        parent: QObject | None = None,
        *,
        own_process: bool = False,
        factory_source: Callable[[], ClientFactory] | None = None,
    ) -> None:
        super().__init__(parent)
        self.store = store
        self._factory = client_factory
        self._factory_source = factory_source
        self._own_process = own_process
        self._ids = itertools.count(1)
        self.run_id: int | None = None
        self.queue: BatchQueue | BatchMirror | None = None
        self._handle: WorkerHandle | None = None
        self._worker: _BatchWorker | None = None
        self._process: BatchProcess | None = None
        self._returned = False  # the current or last run's queue returned
        self.last_error = ""  # why the last run's process ended early, for the user
        self._closed = False
        self._counts: Counts | None = None

    def is_running(self) -> bool:
        """Whether a batch's thread or process is live."""
        return self._handle is not None or self._process is not None

    @property
    def running(self) -> bool:
        """Same as :meth:`is_running`."""
        return self.is_running()

    @property
    def process(self) -> BatchProcess | None:
        """The running batch's own process, if it runs in one."""
        return self._process

    def has_work_left(self) -> bool:
        """Whether a batch is live and its run has not returned yet: False once
        ``batchEnded`` came, while its thread is only winding down (quitting then loses
        nothing, so there is nothing to ask)."""
        return self.is_running() and self._counts is None

    def last_run_returned(self) -> bool:
        """Whether the last run's queue returned (``batchEnded`` came); False for a run
        stopped by its process dying. Meaningful once ``runEnded`` came."""
        return self._returned

    def is_closed(self) -> bool:
        """Whether :meth:`shutdown` began (nothing starts any more)."""
        return self._closed

    def unfinished(self) -> list[BatchRecord]:
        """Batches a quit or a crash left with looks to do ("active" or "paused")."""
        return self.store.batches(unfinished=True)

    # -- commands ---------------------------------------------------------------------

    def start(
        self, batch_id: int, concurrency: int | None = None, *, retry_failed: bool = False
    ) -> int | None:
        """Run (or carry on) stored batch ``batch_id`` (``concurrency`` looks at once, the
        batch's own setting by default); the run id. With ``retry_failed`` its failed
        looks are queued again first. None when a batch already runs or after
        :meth:`shutdown`. Raises ``KeyError`` for an unknown batch."""
        if self._closed or self.is_running():
            return None
        if self._factory_source is not None:
            self._factory = self._factory_source()
        self.last_error = ""
        if self._own_process and is_portable(self._factory):
            return self._start_process(batch_id, concurrency, retry_failed)
        worker = _BatchWorker()
        worker.queue = queue = BatchQueue(
            self.store, self._factory, batch_id, concurrency=concurrency, on_event=worker.relay
        )
        if retry_failed:
            queue.retry_failed()  # before its threads start: none may see an empty queue
        run_id = next(self._ids)
        worker.batchEvent.connect(self._on_event)
        worker.ended.connect(self._on_ended)
        self.run_id, self.queue, self._worker = run_id, queue, worker
        self._returned = False
        self._handle = start_worker(worker, BATCH_THREAD)
        self._handle.when_ended(self._thread_ended)
        self.runStarted.emit(run_id, batch_id)
        return run_id

    def _start_process(self, batch_id: int, concurrency: int | None, retry: bool) -> int:
        mirror = BatchMirror(self.store, batch_id, concurrency)  # KeyError: unknown batch
        if retry:
            mirror.retry_failed()
        # A key kept for this session only lives in this process: the child is handed it.
        key = session_key() if isinstance(self._factory, KeyedClientFactory) else None
        start = ChildStart(self.store.path, batch_id, self._factory, concurrency, retry, key)
        process = BatchProcess(start, self)
        run_id = next(self._ids)
        process.frame.connect(self._on_frame)
        process.ended.connect(self._process_ended)
        mirror.send = process.send  # from here its commands go to the child
        self.run_id, self.queue, self._process = run_id, mirror, process
        self._returned = False
        process.start()  # a child that cannot start ends from the event loop, after this
        self.runStarted.emit(run_id, batch_id)
        return run_id

    def views(self) -> list[LookView]:
        """Every look's row of the running (or last) batch, in order."""
        return self.queue.views() if self.queue is not None else []

    def counts(self) -> Counts:
        """The running (or last) batch at a glance."""
        return self.queue.counts() if self.queue is not None else Counts()

    def pause(self) -> None:
        """Send no new looks (those in flight finish)."""
        if self.queue is not None and self.is_running():
            self.queue.pause("user")
            self.paused.emit(self.run_id or 0, "user", "Paused: no new look is sent.")

    def resume(self) -> None:
        """Send looks again after a pause (the user's, or for credits)."""
        if self.queue is not None and self.is_running():
            self.queue.resume()

    def cancel_look(self, position: int) -> None:
        """Cancel one look (never sent if waiting; stopped if in flight)."""
        if self.queue is not None and self.is_running():
            self.queue.cancel_look(position)

    def cancel_all(self) -> None:
        """Cancel every look not done; the batch ends (a submitted task stays resumable
        in the history)."""
        if self.queue is not None and self.is_running():
            self.queue.cancel_all()

    def failed_count(self) -> int:
        """How many looks :meth:`retry_failed` would send again."""
        return self.queue.failed_count() if self.queue is not None else 0

    def retry_cost(self) -> int:
        """Credits :meth:`retry_failed` may bill (a look that makes its coarse image
        costs the try-on too)."""
        return self.queue.retry_cost() if self.queue is not None else 0

    def retry_failed(self) -> int:
        """Send every failed look again (a new job each); how many. While the batch runs
        they join its queue; after it ended the batch is started again with them."""
        queue = self.queue
        if queue is None or self._closed:
            return 0
        if self.is_running():
            if not self.has_work_left():  # the run returned: nothing would take them now
                return 0
            return queue.retry_failed()  # a mirror shows them waiting; the child sends them
        n = queue.failed_count()
        if n and self.start(queue.batch.id, retry_failed=True) is not None:
            return n
        return 0

    def stop(self, timeout_ms: int = 30_000) -> bool:
        """Stop the running batch, resumable, and wait for its thread (new batches may
        still start); True when it ended."""
        if self._process is not None:
            return self._process.stop(timeout_ms)
        return self._handle.stop(timeout_ms) if self._handle is not None else True

    def shutdown(self, timeout_ms: int) -> bool:
        """Stop the running batch, resumable (see the module docstring); wait up to
        ``timeout_ms`` (never terminate). Nothing starts afterwards; True when the
        thread ended."""
        self._closed = True
        return self.stop(timeout_ms)

    # -- from the worker (GUI thread, queued) or the process (GUI thread) ---------------

    @Slot(object)
    def _on_frame(self, frame: tuple[Any, ...]) -> None:
        kind = frame[0]
        if kind == "event":
            _, event, pause_reason = frame
            if isinstance(self.queue, BatchMirror):
                # Only a notice says why the child paused; a row sent before it read the
                # user's pause would undo the pause shown here.
                reason = pause_reason if event.kind == "notice" else self.queue.pause_reason
                self.queue.apply(event.look, event.counts, reason)
            self._on_event(event)
        elif kind == "ended":
            self._on_ended(frame[1])
        elif kind == "log":
            _, level, name, text = frame
            pid = self._process.pid if self._process is not None else 0
            # Redacted by the child, and again by the log file's filter (refiner_gui.logs).
            logging.getLogger(name).log(level, "[batch process %d] %s", pid, text)
        elif kind == "error" and self._process is not None:
            text = redact(str(frame[1])).rstrip(".")
            self._process.error = f"The batch could not run: {text}."  # told as it ends

    @Slot(bool)
    def _process_ended(self, normal: bool) -> None:
        process = self._process
        if process is not None and not normal and self._counts is None:
            self.last_error = process.error
            mirror = self.queue
            if isinstance(mirror, BatchMirror):  # its rows were the dead child's last word
                self.queue = BatchMirror(self.store, mirror.batch.id)
            self.notice.emit(
                self.run_id or 0,
                f"{process.error} The batch is kept: continue it, and nothing is sent twice.",
            )
        self._thread_ended()

    @Slot(object)
    def _on_event(self, event: BatchEvent) -> None:
        run_id = self.run_id or 0
        self.changed.emit(event)
        if event.kind == "look" and event.look is not None:
            self.lookChanged.emit(run_id, event.look, event.counts)
        elif event.kind == "notice":
            queue = self.queue
            reason = queue.pause_reason if queue is not None else None
            if reason == "credits":
                self.paused.emit(run_id, "credits", event.message)
            elif event.message.startswith("The service is busy"):
                self.paused.emit(run_id, "backoff", event.message)
            else:
                self.notice.emit(run_id, event.message)

    @Slot(object)
    def _on_ended(self, counts: Counts) -> None:
        self._counts = counts
        self._returned = True
        self.batchEnded.emit(self.run_id or 0, counts)

    def _thread_ended(self) -> None:
        if not shiboken6.isValid(self):
            return
        run_id = self.run_id or 0
        self._handle = None
        self._worker = None
        if self._process is not None:
            self._process.deleteLater()
            self._process = None
        counts, self._counts = self._counts or self.counts(), None
        self.runEnded.emit(run_id)
        self.ended.emit(counts)


def counts_words(c: Counts) -> str:
    """The overall line of the queue view: done / failed / running / waiting, and the
    time left once a look finished in this run."""
    words = f"{c.done} done · {c.failed} failed · {c.running} running · {c.waiting} waiting"
    extra = [
        f"{n} {w}"
        for n, w in (
            (c.unfinished, "unfinished"),
            (c.invalid, "invalid"),
            (c.cancelled, "cancelled"),
        )
        if n
    ]
    if extra:
        words += " · " + " · ".join(extra)
    if c.eta is not None and (c.running or c.waiting):
        minutes, seconds = divmod(int(c.eta + 0.5), 60)
        words += (
            f" · about {minutes} min {seconds:02d} s left"
            if minutes
            else f" · about {seconds} s left"
        )
    return words


__all__ = ["BATCH_THREAD", "BatchController", "LookStatus", "counts_words"]
