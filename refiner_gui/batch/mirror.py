"""What the window knows of a batch that runs in another process. No Qt.

The batch's own process (:mod:`refiner_gui.batch.child`) holds the real
:class:`~refiner_gui.batch.queue.BatchQueue`; the window keeps this mirror of its rows,
filled from the store when the run starts and kept current by the events the child sends.
It answers what the queue view asks (:meth:`views`, :meth:`counts`, the retry's cost)
without a round trip to the child, and takes the queue's commands (pause, resume,
cancel, retry), passing them on to the child through :attr:`BatchMirror.send`. GUI
thread only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import NoReturn

from refiner_gui.batch.looks import Counts, LookStatus, LookView
from refiner_gui.batch.plan import look_cost
from refiner_gui.jobs.store import JobStore
from refiner_gui.jobs.store_batches import BatchRecord

__all__ = ["BatchMirror", "retry_cost"]


def retry_cost(store: JobStore, batch: BatchRecord, views: list[LookView]) -> int:
    """Credits sending ``views``' failed looks again bills at most: 25 per look, plus the
    try-on for a look without a coarse image (less when the one already made is reused)."""
    failed = {v.position for v in views if v.status is LookStatus.FAILED}
    return sum(
        look_cost(x.makes_coarse, batch.tryon_model)
        for x in store.batch_looks(batch.id)
        if x.position in failed
    )


class BatchMirror:
    """The rows and counts of batch ``batch_id``, as its own process last reported them.

    Args:
        store: the job store (read here: the rows as they stand before the run).
        batch_id: which batch.
        concurrency: looks at once, as the child is told (for :attr:`concurrency`).
    """

    def __init__(self, store: JobStore, batch_id: int, concurrency: int | None = None) -> None:
        from refiner_gui.batch.queue import BatchQueue  # its loading is the one rule

        def no_client() -> NoReturn:  # never called: nothing runs here
            raise AssertionError("a mirror sends nothing")

        queue = BatchQueue(store, no_client, batch_id, concurrency=concurrency)
        self.store = store
        self.batch = queue.batch
        self.concurrency = queue.concurrency
        self._views = {v.position: v for v in queue.views()}
        self._counts: Counts | None = None
        self.pause_reason: str | None = None  # "user", "credits", or None
        # Sends a command frame to the child (refiner_gui.batch.child); set once it runs.
        self.send: Callable[[tuple[object, ...]], None] = lambda _command: None

    def apply(self, look: LookView | None, counts: Counts, pause_reason: str | None) -> None:
        """An event from the child: a row (if any) and the counts at that moment."""
        if look is not None:
            self._views[look.position] = look
        self._counts = counts
        self.pause_reason = pause_reason

    def views(self) -> list[LookView]:
        """Every look's row, in the source's order."""
        return [self._views[p] for p in sorted(self._views)]

    def counts(self) -> Counts:
        """The batch at a glance (with the child's time left, once it sent one)."""
        return self._counts or Counts.of(self.views())

    def failed_count(self) -> int:
        """How many looks failed (what a retry would send)."""
        return sum(v.status is LookStatus.FAILED for v in self._views.values())

    def retry_cost(self) -> int:
        """See :func:`retry_cost`."""
        return retry_cost(self.store, self.batch, self.views())

    # -- the queue's commands, for the child ----------------------------------------

    def pause(self, reason: str = "user") -> None:
        """Shown paused at once; the child takes no new looks."""
        self.pause_reason = reason
        self.send(("pause",))

    def resume(self) -> None:
        """The child takes looks again."""
        self.pause_reason = None
        self.send(("resume",))

    def cancel_look(self, position: int) -> None:
        """The child cancels one look (its event shows it)."""
        self.send(("cancel_look", position))

    def cancel_all(self) -> None:
        """The child cancels every look not done (its events show them)."""
        self.send(("cancel_all",))

    def retry_failed(self) -> int:
        """Show the failed looks as waiting, as the child's queue does when told to send
        them again (it sends no event for that), and tell it; how many."""
        failed = [v for v in self._views.values() if v.status is LookStatus.FAILED]
        for v in failed:
            self._views[v.position] = replace(v, status=LookStatus.WAITING, error="")
        self._counts = Counts.of(self.views())
        self.send(("retry_failed",))
        return len(failed)
