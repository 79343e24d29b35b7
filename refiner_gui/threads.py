"""The one way this app runs work off the GUI thread.

Two shapes, both here and nowhere else:

* **Workers** (:class:`Worker` + :func:`start_worker`): long work with signals along the
  way (a job, recovery, the difference map). The canonical wiring of ``STYLE.md``::

      thread.started  -> worker.run
      worker.finished -> thread.quit, worker.deleteLater
      thread.finished -> the registry lets go of the handle, thread.deleteLater

  Every started worker is in one registry until its thread has finished;
  :func:`stop_workers` (cancel, quit, wait; never terminate) is what shutdown calls, and
  :func:`live_workers` is what tests check.
* **Tasks** (:func:`run_task`): one function on the global thread pool whose typed result
  (or exception) reaches a callback on the GUI thread; the callbacks are dropped if their
  ``owner`` is gone first.

Lifetimes, and why (a job thread used to crash the app now and then as it ended):

* The QThread is a child of the registry, a QObject on the GUI thread, so dropping a Python
  reference never destroys a thread: Qt deletes it with ``deleteLater`` from the event
  loop, where ``~QThread`` may wait for a thread still in its last steps without holding
  the GIL that thread may need.
* At the end of ``run`` the worker moves itself back to the GUI thread (only its own thread
  may do that), so it is deleted there, never while its thread winds down.

GUI thread only, unless a docstring says otherwise. Worker threads must not be the first
to touch a Qt class (PySide6 builds a class's Python type on first touch, and two threads
doing that at once can crash): a worker uses only classes the GUI thread has loaded.
"""

from __future__ import annotations

import itertools
import logging
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

import shiboken6
from PySide6.QtCore import (
    QCoreApplication,
    QObject,
    QRunnable,
    QThread,
    QThreadPool,
    Signal,
    Slot,
)

log = logging.getLogger(__name__)

T = TypeVar("T")


class Worker(QObject):
    """Base class of work that runs on a QThread of its own: subclass and implement
    :meth:`work`, emitting plain data (never widgets) from it.

    Create on the GUI thread and hand to :func:`start_worker`. :attr:`finished` is always
    the last signal, emitted on the worker thread after :meth:`work` returned or raised.
    """

    finished = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.cancel_event = threading.Event()

    def cancel(self) -> None:
        """Ask the work to stop. Any thread; seen at the work's next check of
        :attr:`cancel_event` (a busy worker never sees a queued signal)."""
        self.cancel_event.set()

    def work(self) -> None:
        """The work itself, linearly. Worker thread. An exception is logged and ends it."""
        raise NotImplementedError

    @Slot()
    def run(self) -> None:
        """Run :meth:`work`, then hand the worker back and emit :attr:`finished`.

        Worker thread (``thread.started``)."""
        try:
            self.work()
        except Exception:  # a bug must end the work visibly in the log, never hang it
            log.exception("%s crashed", type(self).__name__)
        finally:
            app = QCoreApplication.instance()
            if app is not None:
                self.moveToThread(app.thread())
            self.finished.emit()


class WorkerHandle:
    """A started worker and its thread, held until the thread has finished.

    Attributes:
        worker: the worker (valid until ``finished`` was delivered).
        name: the thread's name (for logs and tests).
    """

    def __init__(self, worker: Worker, thread: QThread, name: str) -> None:
        self.worker = worker
        self.thread = thread
        self.name = name
        self._on_ended: list[Callable[[], object]] = []

    def __repr__(self) -> str:
        return f"<WorkerHandle {self.name} running={self.is_running()}>"

    def is_running(self) -> bool:
        """True until the thread has finished."""
        return shiboken6.isValid(self.thread) and not self.thread.isFinished()

    def cancel(self) -> None:
        """Ask the worker to stop (returns at once)."""
        self.worker.cancel()

    def when_ended(self, fn: Callable[[], object]) -> None:
        """Call ``fn`` on the GUI thread once the thread has finished and the registry let
        go of it (then a new worker may start at once). Connect before it can end: right
        after :func:`start_worker` returns, in the same turn of the event loop."""
        self._on_ended.append(fn)

    def stop(self, timeout_ms: int) -> bool:
        """Cancel, quit and wait up to ``timeout_ms`` for the thread; never terminate.

        True when the thread has ended. The GIL is released while waiting."""
        self.cancel()
        if not shiboken6.isValid(self.thread):
            return True
        self.thread.quit()
        return bool(self.thread.wait(timeout_ms))


class _Registry(QObject):
    """Every live worker of the process; lives on the GUI thread, parent of their threads."""

    def __init__(self) -> None:
        super().__init__()
        self.handles: list[WorkerHandle] = []

    @Slot()
    def reap(self) -> None:
        """``thread.finished``: forget the handle, then tell whoever waits for it."""
        thread = self.sender()
        for handle in [h for h in self.handles if h.thread is thread]:
            self.handles.remove(handle)
            callbacks, handle._on_ended = handle._on_ended, []
            for fn in callbacks:
                fn()


_registry: _Registry | None = None


def _the_registry() -> _Registry:
    global _registry
    if _registry is None or not shiboken6.isValid(_registry):
        _registry = _Registry()
    return _registry


def start_worker(
    worker: Worker, name: str, priority: QThread.Priority = QThread.Priority.InheritPriority
) -> WorkerHandle:
    """Move ``worker`` to a new thread named ``name`` and start it.

    Connect the worker's own signals before calling this (a short job could otherwise
    finish first); they are delivered queued to GUI-thread ``@Slot`` methods. The handle
    stays in the registry until the thread has finished."""
    registry = _the_registry()
    thread = QThread(registry)
    thread.setObjectName(name)
    worker.moveToThread(thread)
    thread.started.connect(worker.run)
    worker.finished.connect(thread.quit)
    worker.finished.connect(worker.deleteLater)
    # Reap before deleteLater: queued calls run in connection order, so the registry
    # lets go of the handle while the thread object still exists.
    thread.finished.connect(registry.reap)
    thread.finished.connect(thread.deleteLater)
    handle = WorkerHandle(worker, thread, name)
    registry.handles.append(handle)
    thread.start(priority)
    return handle


def live_workers() -> list[WorkerHandle]:
    """Workers whose thread has not been reaped yet (running, or just finished)."""
    return [h for h in _the_registry().handles if h.is_running()]


def stop_workers(timeout_ms: int = 30_000, name_prefix: str = "") -> bool:
    """Cancel every live worker (whose name starts with ``name_prefix``), then quit and
    wait for each thread (never terminate). True when all ended. Every worker is told to
    cancel before the first wait, so none goes on working while another is waited for.
    Finished threads are reaped when the event loop next runs."""
    handles = [h for h in _the_registry().handles if h.name.startswith(name_prefix)]
    return stop_all(handles, timeout_ms)


def stop_all(handles: list[WorkerHandle], timeout_ms: int) -> bool:
    """Cancel all ``handles`` at once, then quit and wait for each (up to ``timeout_ms``
    each; never terminate). True when every thread ended."""
    for handle in handles:
        handle.cancel()
    stopped = True
    for handle in handles:
        stopped = handle.stop(timeout_ms) and stopped
    return stopped


# -- tasks on the thread pool ----------------------------------------------------------


@dataclass
class _Pending(Generic[T]):
    """A task's callbacks, waiting on the GUI thread for its result."""

    owner: weakref.ref[QObject]
    on_done: Callable[[T], object]
    on_error: Callable[[Exception], object] | None


class _Dispatcher(QObject):
    """Brings every task's result to the GUI thread. One for the process, created on the
    GUI thread and never deleted.

    Why one long-lived object and no QObject per task: a per-task QObject is released by
    whichever thread drops the last reference, and a pool thread destroying one while the
    GUI thread destroyed its peer (their connection between them) crashed the app (~1 run
    in 10 of the bad-input suite). Pool threads here touch only this object's signal.
    """

    finished = Signal(int, bool, object)  # task number, succeeded, result or exception

    def __init__(self) -> None:
        super().__init__()
        self.pending: dict[int, _Pending[Any]] = {}
        self.numbers = itertools.count(1)
        self.finished.connect(self.deliver)

    @Slot(int, bool, object)
    def deliver(self, number: int, succeeded: bool, value: object) -> None:
        """A task ended (GUI thread): call its callback unless its owner is gone."""
        pending = self.pending.pop(number, None)
        if pending is None:
            return
        owner = pending.owner()
        if owner is None or not shiboken6.isValid(owner):
            return
        if succeeded:
            pending.on_done(value)
        elif pending.on_error is None:
            log.error("background task failed", exc_info=cast(Exception, value))
        else:
            pending.on_error(cast(Exception, value))


_dispatcher: _Dispatcher | None = None


def _the_dispatcher() -> _Dispatcher:
    global _dispatcher
    if _dispatcher is None or not shiboken6.isValid(_dispatcher):
        _dispatcher = _Dispatcher()
    return _dispatcher


class Task(QRunnable):
    """One function on the global thread pool; see :func:`run_task`. Holds no Qt object
    but the process's dispatcher, so it may be deleted on the pool thread."""

    def __init__(self, fn: Callable[[], object], number: int, dispatcher: _Dispatcher) -> None:
        super().__init__()
        self._fn = fn
        self._number = number
        self._dispatcher = dispatcher
        self.setAutoDelete(True)

    def run(self) -> None:
        """Pool thread: call the function, report its result or exception as data."""
        try:
            result = self._fn()
        except Exception as exc:  # reported as data, never swallowed
            self._dispatcher.finished.emit(self._number, False, exc)
            return
        self._dispatcher.finished.emit(self._number, True, result)


def run_task(
    fn: Callable[[], T],
    on_done: Callable[[T], object],
    on_error: Callable[[Exception], object] | None = None,
    *,
    owner: QObject,
) -> None:
    """Run ``fn()`` on the global thread pool; then ``on_done(result)`` or
    ``on_error(exception)`` on the GUI thread (a missing ``on_error`` logs it).

    Call on the GUI thread. Neither callback runs if ``owner`` was destroyed first (it is
    only weakly referenced; callbacks that are its bound methods keep its Python wrapper,
    harmlessly). ``fn`` must follow the worker rules (no widgets; only Qt classes the GUI
    thread has loaded)."""
    dispatcher = _the_dispatcher()
    number = next(dispatcher.numbers)
    dispatcher.pending[number] = _Pending(weakref.ref(owner), on_done, on_error)
    QThreadPool.globalInstance().start(Task(fn, number, dispatcher))


def wait_for_tasks(timeout_ms: int = 10_000) -> bool:
    """Block until the pool is idle (shutdown and tests); True if it is."""
    return bool(QThreadPool.globalInstance().waitForDone(timeout_ms))
