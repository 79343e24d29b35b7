"""The bound on jobs' heavy local steps (download, check, preview): a worker thread with a
gate takes one of its slots per step, a thread without one is not bounded, and a batch of
two-stage looks downloads each coarse image and each result inside the gate."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from refiner_gui.api import RefinerClient
from refiner_gui.api.errors import Cancelled, TimedOut
from refiner_gui.api.models import CancelToken
from refiner_gui.batch import BatchQueue
from refiner_gui.jobs import JobStore
from refiner_gui.jobs.local_steps import bounded_by, local_step
from refiner_gui.jobs.store_batches import NewLook
from refiner_gui.sandbox import SandboxServer
from refiner_gui.slots import PERSON, TOP
from tests.helpers.fast import fast_retry
from tests.helpers.images import make_image

KEY = "local-steps-key-0123456789"


class RecordingGate:
    """A one-slot gate that counts its steps and the most held at once."""

    def __init__(self) -> None:
        self._sem = threading.Semaphore(1)
        self._lock = threading.Lock()
        self.held = 0
        self.most_held = 0
        self.steps = 0

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if not self._sem.acquire(blocking, None if timeout < 0 else timeout):
            return False
        with self._lock:
            self.held += 1
            self.steps += 1
            self.most_held = max(self.most_held, self.held)
        return True

    def release(self) -> None:
        with self._lock:
            self.held -= 1
        self._sem.release()


def test_a_step_takes_a_slot_of_the_threads_gate_and_gives_it_back() -> None:
    gate = threading.BoundedSemaphore(1)
    with local_step():  # no gate on this thread: nothing to take
        pass
    with bounded_by(gate):
        with local_step():
            assert not gate.acquire(blocking=False)  # the one slot is taken
        assert gate.acquire(blocking=False)  # and back after the step
        gate.release()
        with pytest.raises(RuntimeError), local_step():
            raise RuntimeError("a failed download")
        assert gate.acquire(blocking=False)  # given back after a failure too
        gate.release()


def test_gates_are_per_thread_and_nest() -> None:
    outer, inner = threading.BoundedSemaphore(1), threading.BoundedSemaphore(1)
    seen: list[bool] = []
    with bounded_by(outer):
        with bounded_by(inner), local_step():
            seen.append(outer.acquire(blocking=False))  # the inner gate was taken
            outer.release()

        def other_thread() -> None:
            with local_step():  # another thread has no gate: it never waits
                seen.append(True)

        with local_step():  # the outer slot is held here...
            t = threading.Thread(target=other_thread)
            t.start()
            t.join(10)
        assert not t.is_alive()
    assert seen == [True, True]


def test_two_stage_looks_download_both_images_inside_the_gate(tmp_path: Path) -> None:
    person = make_image(tmp_path / "person.jpg", (320, 480))
    top = make_image(tmp_path / "top.png", (300, 300), color=(20, 90, 200))
    looks = [NewLook(f"look-{i}", "woman", {PERSON: person, TOP: top}) for i in range(3)]
    store = JobStore.open_default()
    try:
        batch = store.create_batch("gate", "inline", tmp_path / "out", 3, looks, tryon_model="pro")
        with SandboxServer(latency=0.05) as srv:
            queue = BatchQueue(
                store,
                lambda: RefinerClient(KEY, srv.base_url, poll_interval=0.02, retry=fast_retry()),
                batch.id,
            )
            gate = RecordingGate()
            queue._local = gate  # type: ignore[assignment]  # the batch's own gate, recorded
            counts = queue.run()
            assert srv.submissions_by_kind == {"pro": 3, "refiner": 3}
        assert counts.done == 3
        assert gate.steps == 6  # each look: its coarse image, then its result
    finally:
        store.close()


def test_a_cancelled_job_stops_waiting_for_a_slot() -> None:
    gate = threading.BoundedSemaphore(1)
    assert gate.acquire()  # another look is downloading
    token = CancelToken()
    token.cancel()
    with bounded_by(gate), pytest.raises(Cancelled) as caught, local_step(token, "task-7"):
        pytest.fail("the step ran without a slot")
    assert caught.value.task_id == "task-7"
    gate.release()


def test_a_waiting_step_runs_once_the_slot_is_free() -> None:
    gate = threading.BoundedSemaphore(1)
    assert gate.acquire()
    ran = threading.Event()

    def worker() -> None:
        with bounded_by(gate), local_step(CancelToken()):
            ran.set()

    t = threading.Thread(target=worker)
    t.start()
    assert not ran.wait(0.3)  # still waiting: the slot is taken
    gate.release()
    t.join(10)
    assert not t.is_alive() and ran.is_set()


def test_a_job_past_its_deadline_stops_waiting_for_a_slot() -> None:
    """The deadline holds while a result waits for its turn to download: TimedOut naming
    the task (resumable), never a wait past the job's time limit."""
    gate = threading.BoundedSemaphore(1)
    assert gate.acquire()  # another look is downloading
    with (
        bounded_by(gate),
        pytest.raises(TimedOut, match="resume the job") as caught,
        local_step(CancelToken(), "task-8", time.monotonic() + 0.2),
    ):
        pytest.fail("the step ran without a slot")
    assert caught.value.task_id == "task-8"
    gate.release()
