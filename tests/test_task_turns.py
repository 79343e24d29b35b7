"""A batch's turns at the service (refiner_gui.jobs.task_turns): the bound, the order, cancels."""

from __future__ import annotations

import threading

import pytest

from refiner_gui.api.errors import Cancelled
from refiner_gui.api.models import CancelToken
from refiner_gui.jobs.task_turns import TaskTurns, give_turn, take_turn, turns_from


def _waiter(turns: TaskTurns, order: int, got: list[int], waiting: threading.Semaphore):
    def run() -> None:
        with turns_from(turns, order):
            take_turn(None, waiting.release)
            got.append(order)
        # leaving the block gave the turn back

    return threading.Thread(target=run, name=f"turn-{order}")


def test_turns_go_in_the_looks_order_not_the_threads():
    turns = TaskTurns(1)
    turns.take(None, None)  # the first look's task runs
    got: list[int] = []
    waiting = threading.Semaphore(0)
    threads = [_waiter(turns, order, got, waiting) for order in (7, 3, 5)]
    for t in threads:
        t.start()
    for _ in threads:
        assert waiting.acquire(timeout=10)  # all three wait
    assert turns.held == 1 and got == []
    turns.give()
    for t in threads:
        t.join(10)
        assert not t.is_alive()
    assert got == [3, 5, 7]
    assert turns.held == 0


def test_never_more_turns_than_the_limit():
    turns = TaskTurns(2)
    held_at_once: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(6)

    def run(order: int) -> None:
        start.wait(10)
        for _ in range(20):
            with turns_from(turns, order):
                take_turn()
                with lock:
                    held_at_once.append(turns.held)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
        assert not t.is_alive()
    assert len(held_at_once) == 120 and max(held_at_once) <= 2
    assert turns.held == 0


def test_a_cancel_ends_the_wait_and_lets_the_next_in_line_go():
    turns = TaskTurns(1)
    turns.take(None, None)
    token = CancelToken()
    waiting = threading.Semaphore(0)
    errors: list[BaseException] = []

    def first() -> None:
        try:
            turns.take(token, waiting.release, order=1)
        except Cancelled as exc:
            errors.append(exc)

    got: list[int] = []
    a = threading.Thread(target=first)
    b = _waiter(turns, 2, got, waiting)
    a.start()
    b.start()
    assert waiting.acquire(timeout=10) and waiting.acquire(timeout=10)
    token.cancel()
    a.join(10)
    assert not a.is_alive() and len(errors) == 1
    assert "nothing was sent" in str(errors[0])
    turns.give()  # order 2 was behind the cancelled 1: it goes now
    b.join(10)
    assert not b.is_alive() and got == [2]


def test_a_stopped_look_never_takes_a_free_turn():
    turns = TaskTurns(1)
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        turns.take(token, None)
    assert turns.held == 0


def test_a_thread_holds_one_turn_and_gives_it_back_once():
    turns = TaskTurns(2)
    take_turn()  # no turns on this thread: nothing taken, nothing waits
    give_turn()
    assert turns.held == 0
    with turns_from(turns, 0):
        take_turn()
        take_turn()  # a two-stage look's second submit while it still holds its turn
        assert turns.held == 1
        give_turn()  # its wait ended
        give_turn()  # again (the worker's own give at the end): nothing more
        assert turns.held == 0
        take_turn()  # the second stage
        assert turns.held == 1
    assert turns.held == 0  # the block gave back what a failed look still held
    take_turn()  # outside the block: no turns again
    assert turns.held == 0


def test_a_batch_has_at_least_one_turn():
    with pytest.raises(ValueError):
        TaskTurns(0)


def test_a_ticket_keeps_its_place_before_its_thread_arrives():
    """The queue gives tickets as it hands out looks; the thread of a later look that gets
    to take() first still waits for the earlier one."""
    turns = TaskTurns(1)
    early, late = turns.ticket(), turns.ticket()
    waiting = threading.Semaphore(0)
    got: list[int] = []
    t = _waiter(turns, late, got, waiting)
    t.start()
    assert waiting.acquire(timeout=10)  # the late look waits, although a turn is free
    assert got == [] and turns.held == 0
    with turns_from(turns, early):
        take_turn()
        got.append(early)
    t.join(10)
    assert not t.is_alive() and got == [early, late]


def test_a_ticket_whose_look_needs_no_turn_leaves_the_line():
    turns = TaskTurns(1)
    unused, late = turns.ticket(), turns.ticket()
    with turns_from(turns, unused):
        pass  # e.g. a look already done: only its copy to the output folder was left
    with turns_from(turns, late):
        take_turn()  # does not wait for the unused ticket
        assert turns.held == 1
