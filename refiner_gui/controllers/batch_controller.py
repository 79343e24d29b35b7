"""The batch controller: runs one stored batch off the GUI thread and forwards its events
as Qt signals. No widgets: the queue view (:mod:`refiner_gui.ui.batch_view`) follows it.

:class:`BatchWorker` runs :meth:`refiner_gui.batch.BatchQueue.run` on a worker thread
(:func:`~refiner_gui.threads.start_worker`); the queue's own threads call ``on_event``,
which emits :attr:`BatchWorker.changed` (plain :class:`~refiner_gui.batch.BatchEvent`
data, delivered queued to GUI-thread slots). :class:`BatchController` starts it and passes
the view's pause / resume / cancel / retry on to the queue (its methods are thread-safe;
each is one short store write).

GUI thread only, unless a docstring says otherwise.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Signal, Slot

from refiner_gui.batch import BatchEvent, BatchQueue, Counts
from refiner_gui.clients import ClientFactory
from refiner_gui.jobs import JobStore
from refiner_gui.threads import Worker, WorkerHandle, start_worker

__all__ = ["BATCH_THREAD", "BatchController", "BatchWorker"]

log = logging.getLogger(__name__)

BATCH_THREAD = "refiner-batch"


class BatchWorker(Worker):
    """Runs one batch to its end (or its stop). Signals carry plain data.

    ``changed(BatchEvent)`` for every change; ``ended(Counts)`` once the run returned.
    """

    changed = Signal(object)
    ended = Signal(object)

    def __init__(
        self,
        store: JobStore,
        client_factory: ClientFactory,
        batch_id: int,
        concurrency: int | None = None,
    ) -> None:
        super().__init__()
        # The queue's threads emit: delivered queued to the controller on the GUI thread.
        self.queue = BatchQueue(
            store, client_factory, batch_id, concurrency=concurrency, on_event=self.changed.emit
        )

    def cancel(self) -> None:
        """Stop the batch where it is (resumable). Any thread."""
        super().cancel()
        self.queue.stop()

    def work(self) -> None:
        """Run the queue. Worker thread."""
        counts = self.queue.run()
        self.ended.emit(counts)


class BatchController(QObject):
    """Starts a stored batch and forwards its events; controls the running queue.

    Signals (GUI thread): ``changed(BatchEvent)``; ``ended(Counts)`` once the run's
    thread is gone (a new run may start at once).
    """

    changed = Signal(object)
    ended = Signal(object)

    def __init__(
        self, store: JobStore, client_factory: ClientFactory, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.store = store
        self._factory = client_factory
        self.queue: BatchQueue | None = None
        self._handle: WorkerHandle | None = None
        self._counts: Counts | None = None

    def start(
        self, batch_id: int, concurrency: int | None = None, *, retry_failed: bool = False
    ) -> None:
        """Run batch ``batch_id`` (a new one, or one a crash or quit left unfinished);
        with ``retry_failed`` its failed looks are sent again too (new jobs, billed)."""
        if self.running:
            raise RuntimeError("a batch is already running")
        worker = BatchWorker(self.store, self._factory, batch_id, concurrency)
        self.queue = worker.queue
        if retry_failed:
            worker.queue.retry_failed()
        worker.changed.connect(self._on_event)
        worker.ended.connect(self._on_ended)
        self._handle = start_worker(worker, f"{BATCH_THREAD}-{batch_id}")
        # ``ended`` once the thread is gone: a view may start the next run at once.
        self._handle.when_ended(self._thread_ended)

    @property
    def running(self) -> bool:
        """True while a batch runs."""
        return self._handle is not None and self._handle.is_running()

    def stop(self, timeout_ms: int = 30_000) -> bool:
        """Stop the running batch (resumable) and wait for its thread; True when ended."""
        return self._handle.stop(timeout_ms) if self._handle is not None else True

    @Slot(object)
    def _on_event(self, ev: BatchEvent) -> None:
        self.changed.emit(ev)

    @Slot(object)
    def _on_ended(self, counts: Counts) -> None:
        self._counts = counts

    def _thread_ended(self) -> None:
        counts = self._counts if self._counts is not None else Counts()
        self._counts = None
        self._handle = None
        self.ended.emit(counts)
