"""A batch's own bound on its tasks at the service, apart from its worker threads. No Qt.

A batch runs at most ``concurrency`` looks' tasks at the service at once (its setting,
1 to 5). Until 2026-12 that bound was the number of its worker threads, each taking a
look from its first local step to its last. But a look's local steps before its submit
(copying its inputs into the store, recording the job) and after its task ended
(downloading, checking and previewing the result, copying it to the output folder) need
no task at the service, and each of the ``concurrency`` lanes sat idle at the service
through them, for every look.

So the batch runs a few more worker threads than ``concurrency``, and a look holds a
*turn* of the batch's :class:`TaskTurns` only while it has a task to submit or wait on:
the worker takes a turn before the look's job is made (so a look stopped while it waits
leaves no job behind), and the wait that sees the task end gives it back
(:func:`~refiner_gui.jobs.poll_watch.wait_watched`), so the next look submits while this
one downloads and is copied out. A look of two stages takes a turn again before its
second submit (:func:`~refiner_gui.jobs.runner.claim_slot`). Turns go in the order the
queue handed the looks out (:meth:`TaskTurns.ticket`), and a paused batch takes none for
a new look.

Like :mod:`.local_steps`, the turns are the worker thread's (:func:`turns_from`): the
job path calls :func:`take_turn` and :func:`give_turn`, which do nothing on a thread
with no turns (the window's single job, the command line's). A thread holds at most one
turn: a look's stages run one after the other on the same thread.

The service's own limit (5 running tasks for the whole app) is kept apart, by
:mod:`refiner_gui.api.task_slots`; a turn is taken before that slot, never while it is
held, so a look waiting for its turn keeps no slot from the rest of the app.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from refiner_gui.api.errors import Cancelled
from refiner_gui.api.models import CancelToken

__all__ = ["TaskTurns", "give_turn", "take_turn", "turns_from"]

WAIT_SLICE = 0.1  # seconds between looks at the cancel token while waiting for a turn

_state = threading.local()


class TaskTurns:
    """``limit`` turns, shared by the worker threads of one batch, given in the order of
    the looks (a look taken from the queue earlier goes first, so looks are sent in the
    batch's order and a two-stage look's second stage before a new look). Any thread."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("a batch needs at least one turn")
        self.limit = limit
        self._cond = threading.Condition()
        self._held = 0
        self._waiting: list[int] = []  # the orders of the looks in line, sorted
        self._issued = 0  # the last ticket given

    @property
    def held(self) -> int:
        """Turns held now (looks with a task to submit or wait on)."""
        with self._cond:
            return self._held

    def ticket(self) -> int:
        """A place in line for a look just taken from the batch's queue: turns then go in
        the order tickets were given, whichever thread gets to :meth:`take` first. A
        ticket never taken must be given up (:meth:`withdraw`, as :func:`turns_from`
        does), or the looks behind it wait forever."""
        with self._cond:
            self._issued += 1
            bisect.insort(self._waiting, self._issued)
            return self._issued

    def take(
        self,
        cancel: CancelToken | None,
        on_wait: Callable[[], None] | None,
        order: int = 0,
        wanted: Callable[[], bool] | None = None,
    ) -> bool:
        """Block until a turn is free and no look of a lower ``order`` waits, then hold it
        and return True; ``on_wait`` is called once when it has to wait (on this thread,
        with no lock held). Raises :class:`Cancelled` when ``cancel`` is cancelled first;
        returns False, holding nothing, as soon as ``wanted()`` is False (a paused batch
        sends no new look; it is called under this object's lock, so it must take none).
        Both are looked at every :data:`WAIT_SLICE` seconds and before taking; either way
        the look is then out of the line."""
        said = False
        try:
            while True:
                with self._cond:
                    if order not in self._waiting:  # a second stage, or no ticket
                        bisect.insort(self._waiting, order)
                    # Looked at before taking, too: a look stopped while it waited must
                    # not take the turn a finishing look just gave back.
                    if cancel is not None and cancel.cancelled:
                        raise Cancelled("Cancelled before it was sent; nothing was sent.")
                    if wanted is not None and not wanted():
                        self._withdraw(order)
                        return False
                    if self._held < self.limit and self._waiting[0] == order:
                        self._waiting.remove(order)
                        self._held += 1
                        return True
                    if said or on_wait is None:
                        self._cond.wait(WAIT_SLICE)
                        continue
                said = True
                on_wait()  # it reports (a progress event, which takes the queue's lock)
        except BaseException:
            self.withdraw(order)
            raise

    def withdraw(self, order: int) -> None:
        """Take ``order`` out of the line (its look needs no turn, or no more)."""
        with self._cond:
            self._withdraw(order)

    def _withdraw(self, order: int) -> None:
        if order in self._waiting:
            self._waiting.remove(order)
            self._cond.notify_all()  # the next in order may go now

    def give(self) -> None:
        """Give a turn back."""
        with self._cond:
            self._held = max(0, self._held - 1)
            self._cond.notify_all()  # every waiter looks: only the first in order goes


@contextmanager
def turns_from(turns: TaskTurns, order: int = 0) -> Iterator[None]:
    """Within the block, this thread's look (with its ticket ``order``, see
    :meth:`TaskTurns.ticket`) takes turns of ``turns``; at its end a turn still held (a
    look that failed before its wait) is given back and the look leaves the line."""
    before = (
        getattr(_state, "turns", None),
        getattr(_state, "holding", False),
        getattr(_state, "order", 0),
    )
    _state.turns, _state.holding, _state.order = turns, False, order
    try:
        yield
    finally:
        give_turn()
        turns.withdraw(order)  # a look that never took its turn leaves the line
        _state.turns, _state.holding, _state.order = before


def take_turn(
    cancel: CancelToken | None = None,
    on_wait: Callable[[], None] | None = None,
    wanted: Callable[[], bool] | None = None,
) -> bool:
    """Hold a turn of this thread's :class:`TaskTurns` before a submit or a wait, waiting
    for one (see :meth:`TaskTurns.take`); True at once when the thread has no turns or
    holds one already. False: ``wanted()`` turned False first; no turn is held."""
    turns: TaskTurns | None = getattr(_state, "turns", None)
    if turns is None or getattr(_state, "holding", False):
        return True
    _state.holding = turns.take(cancel, on_wait, _state.order, wanted)
    return bool(_state.holding)


def give_turn() -> None:
    """Give this thread's turn back, if it holds one: its task ended, or it has none."""
    turns: TaskTurns | None = getattr(_state, "turns", None)
    if turns is not None and getattr(_state, "holding", False):
        _state.holding = False
        turns.give()
