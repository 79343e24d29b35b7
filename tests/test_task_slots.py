"""The service's 5 running tasks, counted for the whole app (refiner_gui.api.task_slots):
the slot stores, the wait for a free slot, and the sandbox's own counters when a batch, a
single job and a command-line run share the service."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from refiner_gui.api import (
    AuthError,
    Cancelled,
    NoFreeSlot,
    RefinerClient,
    RefinerError,
    RetryPolicy,
)
from refiner_gui.api.errors import InputRejected, NetworkError, TaskFailed
from refiner_gui.api.limits import LIMITS_FILE, AppLimits, FileBuckets
from refiner_gui.api.models import CancelToken, RefineInputs, TaskState
from refiner_gui.api.task_slots import (
    STALE_AFTER,
    UNWAITED_AFTER,
    WAITED,
    FileSlots,
    MemorySlots,
)
from refiner_gui.batch import BatchQueue
from refiner_gui.config import app_paths
from refiner_gui.jobs import JobStore
from refiner_gui.sandbox import SandboxServer
from refiner_gui.slots import COARSE
from tests.test_batch_cli import start, wait_until
from tests.test_batch_queue import KEY, factory, make_batch

SERVICE = "http://127.0.0.1:1"


@pytest.fixture(params=["memory", "file"])
def slots(request, tmp_path):
    if request.param == "memory":
        return MemorySlots()
    return FileSlots(FileBuckets(tmp_path / LIMITS_FILE).transaction)


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_sixth_task_gets_no_slot_until_one_is_freed(slots):
    assert all(slots.claim(SERVICE, f"s{i}", 5) for i in range(5))
    assert not slots.claim(SERVICE, "s5", 5)
    assert slots.claim("http://other", "o1", 5)  # another service counts apart
    slots.rename(SERVICE, "s0", "task-a")  # the submit's task id: still held
    assert slots.held(SERVICE) == 5 and not slots.claim(SERVICE, "s5", 5)
    slots.release("task-a")
    assert slots.claim(SERVICE, "s5", 5)
    assert slots.held(SERVICE) == 5


def test_a_resumed_task_is_counted_without_waiting(slots):
    for i in range(5):
        slots.claim(SERVICE, f"s{i}", 5)
    slots.mark(SERVICE, "resumed", WAITED)  # already runs at the service: never refused
    assert slots.held(SERVICE) == 6
    slots.release("s0")
    assert not slots.claim(SERVICE, "s6", 5)  # still 5 with the resumed one
    slots.release("resumed")
    assert slots.claim(SERVICE, "s6", 5)


def test_a_rename_keeps_the_slot_even_if_it_was_taken_away(slots):
    slots.rename(SERVICE, "gone", "task-b")  # e.g. freed meanwhile by another process
    assert slots.held(SERVICE) == 1


def test_only_a_task_nobody_waits_on_expires(tmp_path):
    """A slow submit (CLAIMED) and a long wait (WAITED) keep their slots; a task left
    SUBMITTED (no wait took it up, or its wait stopped early) is freed after a while."""
    buckets = FileBuckets(tmp_path / LIMITS_FILE)
    slots = FileSlots(buckets.transaction)
    slots.claim(SERVICE, "uploading", 5)
    slots.mark(SERVICE, "polled", WAITED)
    slots.rename(SERVICE, "x", "left")
    assert slots.held(SERVICE) == 3
    with buckets.transaction() as c:
        c.execute("UPDATE running_tasks SET beat = ?", (time.time() - UNWAITED_AFTER - 1,))
    assert slots.held(SERVICE) == 2  # "left" went
    with buckets.transaction() as c:
        c.execute("UPDATE running_tasks SET beat = ?", (time.time() - STALE_AFTER - 1,))
    assert slots.held(SERVICE) == 0  # a holder silent for an hour is taken for gone


def test_the_slots_of_a_process_that_is_gone_are_freed(tmp_path):
    buckets = FileBuckets(tmp_path / LIMITS_FILE)
    slots = FileSlots(buckets.transaction)
    for i in range(5):
        slots.mark(SERVICE, f"t{i}", WAITED)
    with buckets.transaction() as c:
        c.execute("UPDATE running_tasks SET pid = ? WHERE name IN ('t0', 't1')", (dead_pid(),))
    assert slots.held(SERVICE) == 3
    assert slots.claim(SERVICE, "a", 5) and slots.claim(SERVICE, "b", 5)
    assert not slots.claim(SERVICE, "c", 5)


class BrokenSlots(MemorySlots):
    """A slot store whose file fails (locked, corrupt)."""

    def claim(self, service: str, name: str, limit: int) -> bool:
        raise sqlite3.OperationalError("database is locked")

    def mark(self, service: str, name: str, state: int) -> None:
        raise sqlite3.OperationalError("database is locked")

    def release(self, name: str) -> None:
        raise sqlite3.OperationalError("database is locked")


def test_a_failing_slot_store_lets_the_work_through(caplog):
    limits = AppLimits(SERVICE, slots=BrokenSlots())
    name = limits.claim_task(None, time.monotonic() + 1)  # no wait, no error
    limits.task_not_sent(name)
    with limits.task_running("task-c"):
        pass
    assert "running-task count is unavailable" in caplog.text


def test_a_wait_frees_its_slot_when_the_task_ended_and_keeps_it_when_it_may_run():
    limits = AppLimits(SERVICE)
    for error, kept in ((TaskFailed("no face"), 0), (NetworkError("down"), 1)):
        limits.slots = MemorySlots()
        with pytest.raises(type(error)), limits.task_running("task-d"):
            raise error
        assert limits.slots.held(SERVICE) == kept, error


def test_polls_refresh_the_slot_of_a_long_wait(tmp_path, monkeypatch):
    from refiner_gui.api import limits as limits_module

    monkeypatch.setattr(limits_module, "SLOT_REFRESH", 0.0)
    buckets = FileBuckets(tmp_path / LIMITS_FILE)
    limits = AppLimits(SERVICE, buckets, slots=FileSlots(buckets.transaction))
    with limits.task_running("task-e"):
        with buckets.transaction() as c:
            c.execute("UPDATE running_tasks SET beat = 0")
        limits.before_poll(None, "task-e")
        with buckets.transaction() as c:
            (beat,) = c.execute("SELECT beat FROM running_tasks").fetchone()
        assert beat > time.time() - 60


class RefusalSignal(MemorySlots):
    """Memory slots that say when a claim was refused (the claimer is now waiting)."""

    def __init__(self) -> None:
        super().__init__()
        self.refused = threading.Event()

    def claim(self, service: str, name: str, limit: int) -> bool:
        ok = super().claim(service, name, limit)
        if not ok:
            self.refused.set()
        return ok


def test_claim_task_waits_for_a_slot_then_takes_it():
    slots = RefusalSignal()
    limits = AppLimits(SERVICE, slots=slots, running_tasks=1)
    limits.task_submitted(limits.claim_task(None, None), "task-a")
    got: list[str] = []
    waiter = threading.Thread(target=lambda: got.append(limits.claim_task(None, None)))
    waiter.start()
    assert slots.refused.wait(5)  # it is waiting, not through
    assert got == []
    with limits.task_running("task-a"):
        pass  # the wait on task-a ended: its slot is free
    waiter.join(5)
    assert not waiter.is_alive() and len(got) == 1 and slots.held(SERVICE) == 1


def test_claim_task_stops_on_cancel_and_at_the_deadline():
    limits = AppLimits(SERVICE, running_tasks=1)
    limits.claim_task(None, None)
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(Cancelled, match="nothing was sent"):
        limits.claim_task(cancel, None)
    with pytest.raises(NoFreeSlot, match="Nothing was sent") as caught:
        limits.claim_task(None, time.monotonic() + 0.05)
    assert "batch" in str(caught.value) and caught.value.title == "Five tasks already running"


def test_a_failed_submit_frees_its_slot(job_images):
    with SandboxServer(api_keys={KEY}) as srv:
        client = RefinerClient("bad-key-0000000000", srv.base_url, retry=no_resubmit())
        inputs = RefineInputs(
            job_images["person"], job_images["top"], job_images["coarse"], "woman"
        )
        with pytest.raises(AuthError):
            client.submit(inputs)
        assert client.limits.slots.held(srv.base_url) == 0
        good = RefinerClient(KEY, srv.base_url)
        sub = good.submit(inputs)
        assert good.limits.slots.held(srv.base_url) == 1  # held by the new task...
        good.wait(sub.task_id)
        assert good.limits.slots.held(srv.base_url) == 0  # ...until its wait ended


def test_seven_jobs_at_once_never_run_more_than_five_tasks(job_images):
    """Seven threads submit and wait at once; a sixth running task would be answered 429
    (no retries here: it would fail the job). The sandbox counts what it ran."""
    inputs = RefineInputs(job_images["person"], job_images["top"], job_images["coarse"], "woman")
    errors: list[BaseException] = []
    with SandboxServer(latency=1.5) as srv:  # longer than the 7 submits take to leave
        srv.running_limit = 5

        def one() -> None:
            client = RefinerClient(KEY, srv.base_url, poll_interval=0.05, retry=no_resubmit())
            try:
                client.wait(client.submit(inputs).task_id)
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=one) for _ in range(7)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert not any(t.is_alive() for t in threads)
        assert errors == []
        assert srv.submissions == 7
        assert srv.counters.max_running <= 5 and srv.counters.refused_running == 0


def no_resubmit() -> RetryPolicy:
    return RetryPolicy(base=0.01, cap=0.05, jitter=0.0, submit_attempts=1)


def test_a_batch_a_single_job_and_a_cli_run_share_the_five(job_images, tmp_path):
    """The issue's case, across processes. While 5 slots are held (here by this process,
    as by another window's batch), a ``refiner-cli refine`` (another process, same data
    folder) says it waits and sends nothing; then a batch at concurrency 5 and a single
    refinement (the window's path) join in. Once the 5 are given back, all 8 tasks run,
    never more than 5 at once, and the service refuses none."""
    store = JobStore.open_default()
    with SandboxServer(latency=1.0) as srv:
        srv.running_limit = 5
        slots = RefinerClient(KEY, srv.base_url).limits.slots  # the app-wide ones
        held = [f"elsewhere-{i}" for i in range(5)]
        for name in held:
            slots.mark(srv.base_url, name, WAITED)
        log = tmp_path / "cli.log"
        cli = start(srv, log, "refine", *_refine_args(job_images, tmp_path / "cli.png"))
        batch_id = make_batch(store, _slot_images(job_images), tmp_path, 6, concurrency=5)
        queue = BatchQueue(store, factory(srv, retry=no_resubmit()), batch_id)
        single = RefinerClient(KEY, srv.base_url, poll_interval=0.05, retry=no_resubmit())
        inputs = RefineInputs(
            job_images["person"], job_images["top"], job_images["coarse"], "woman"
        )
        done: list[object] = []
        threads = [
            threading.Thread(target=lambda: done.append(queue.run().done)),
            threading.Thread(
                target=lambda: done.append(single.wait(single.submit(inputs).task_id).state.name)
            ),
        ]
        try:
            wait_until(lambda: "waiting for a free slot" in log.read_text(), "the CLI waiting", cli)
            for t in threads:
                t.start()
            assert srv.submissions == 0  # nobody sent anything while the 5 were held
            for name in held:
                slots.release(name)
            assert cli.wait(60) == 0, log.read_text()
        finally:
            if cli.poll() is None:
                cli.kill()
                cli.wait()
            for t in threads:
                t.join(60)
            if threads[0].is_alive():
                queue.stop()
                threads[0].join(60)
            store.close()
        assert sorted(map(str, done)) == ["6", TaskState.SUCCEEDED.name]
        assert srv.submissions == 8
        assert srv.counters.max_running <= 5 and srv.counters.refused_running == 0
        assert (tmp_path / "cli.png").is_file()
    # Every slot was given back: nothing holds one once the work is done.
    left = sqlite3.connect(app_paths().data / LIMITS_FILE)
    try:
        assert left.execute("SELECT COUNT(*) FROM running_tasks").fetchone()[0] == 0
    finally:
        left.close()


def _refine_args(job_images, out: Path) -> list[str]:
    args = []
    for role in ("person", "top", "coarse"):
        args += [f"--{role}", str(job_images[role])]
    return [*args, "--gender", "woman", "--out", str(out)]


def _slot_images(job_images) -> dict[str, Path]:
    from refiner_gui.slots import COARSE, PERSON, TOP

    return {PERSON: job_images["person"], TOP: job_images["top"], COARSE: job_images["coarse"]}


def test_a_job_waiting_for_a_slot_says_so_then_goes_on(job_images, tmp_path):
    """A refinement started while the app's other work holds all 5 slots reports
    WAITING_SLOT (the window and the CLI say why nothing moves), then uploads once one
    is freed."""
    from refiner_gui.api import Stage
    from refiner_gui.api.limits import limits_for
    from refiner_gui.cli_output import change_line, status_line
    from refiner_gui.jobs import run_job
    from refiner_gui.ui.job_status import STAGE_TEXT

    store = JobStore.open_default()
    stages: list[Stage] = []
    waiting = threading.Event()

    def seen(ev) -> None:
        stages.append(ev.stage)
        if ev.stage is Stage.WAITING_SLOT:
            waiting.set()

    with SandboxServer(latency=0.1) as srv:
        slots = limits_for(srv.base_url, app_paths().data).slots
        for i in range(5):
            slots.mark(srv.base_url, f"other-{i}", WAITED)  # a batch elsewhere fills it
        client = RefinerClient(KEY, srv.base_url, poll_interval=0.05)
        job = store.create_job(_slot_images(job_images), "woman")
        done: list[object] = []
        worker = threading.Thread(
            target=lambda: done.append(run_job(store, client, job, on_event=seen))
        )
        worker.start()
        try:
            assert waiting.wait(10)
            assert srv.submissions == 0  # nothing sent while it waits
            slots.release("other-0")
        finally:
            for i in range(5):
                slots.release(f"other-{i}")
            worker.join(30)
            store.close()
        assert not worker.is_alive() and len(done) == 1 and srv.submissions == 1
    at = stages.index(Stage.WAITING_SLOT)
    assert Stage.UPLOADING in stages[at:] and stages[-1] is Stage.DONE
    assert "5 tasks" in STAGE_TEXT[Stage.WAITING_SLOT]
    assert "free slot" in status_line(_event(Stage.WAITING_SLOT))
    assert "free slot" in change_line(_event(Stage.WAITING_SLOT))


def _event(stage):
    from refiner_gui.api import ProgressEvent

    return ProgressEvent(stage=stage, elapsed=1.0)


def test_a_job_waiting_for_a_slot_was_never_sent_and_cancels_cleanly(job_images):
    """While it waits the job is still PENDING (a quit or a crash then leaves a job that
    was plainly never sent, not one of unknown outcome); a cancel makes it CANCELLED with
    nothing sent and no slot kept."""
    from refiner_gui.api import Stage
    from refiner_gui.api.limits import limits_for
    from refiner_gui.jobs import JobState, run_job

    store = JobStore.open_default()
    waiting = threading.Event()
    cancel = CancelToken()
    errors: list[BaseException] = []
    with SandboxServer(latency=0.1) as srv:
        slots = limits_for(srv.base_url, app_paths().data).slots
        for i in range(5):
            slots.mark(srv.base_url, f"other-{i}", WAITED)
        client = RefinerClient(KEY, srv.base_url, poll_interval=0.05)
        job = store.create_job(_slot_images(job_images), "woman")

        def work() -> None:
            try:
                run_job(
                    store,
                    client,
                    job,
                    cancel=cancel,
                    on_event=lambda ev: ev.stage is Stage.WAITING_SLOT and waiting.set(),
                )
            except BaseException as exc:  # checked below
                errors.append(exc)

        worker = threading.Thread(target=work)
        worker.start()
        try:
            assert waiting.wait(10)
            assert store.get(job.id).state is JobState.PENDING
            cancel.cancel()
            worker.join(10)
            assert not worker.is_alive()
            assert [type(e) for e in errors] == [Cancelled]
            assert store.get(job.id).state is JobState.CANCELLED
            assert srv.submissions == 0 and slots.held(srv.base_url) == 5
        finally:
            cancel.cancel()
            worker.join(10)
            for i in range(5):
                slots.release(f"other-{i}")
            store.close()


def test_a_submit_that_fails_before_sending_gives_its_slot_back(job_images, tmp_path):
    """A slot handed to ``submit`` is freed when the submit fails before any byte goes
    out (here a stored input whose bytes no longer match its recorded hash)."""
    with SandboxServer() as srv:
        client = RefinerClient(KEY, srv.base_url, retry=no_resubmit())
        slot = client.limits.claim_task(None, None)
        inputs = RefineInputs(
            *(job_images[r] for r in ("person", "top", "coarse")),
            "woman",
            sha256={COARSE: "0" * 64},
        )
        with pytest.raises(InputRejected):
            client.submit(inputs, slot=slot)
        assert client.limits.slots.held(srv.base_url) == 0 and srv.submissions == 0


def test_a_look_that_never_got_a_place_is_sent_again_not_failed(job_images):
    """NoFreeSlot (the time limit passed while the app's other work held all 5 places)
    leaves a job that was never sent: a batch sends the look again."""
    from refiner_gui.api.limits import limits_for
    from refiner_gui.batch.looks import not_taken
    from refiner_gui.jobs import JobState, run_job

    store = JobStore.open_default()
    with SandboxServer() as srv:
        slots = limits_for(srv.base_url, app_paths().data).slots
        for i in range(5):
            slots.mark(srv.base_url, f"other-{i}", WAITED)
        try:
            client = RefinerClient(KEY, srv.base_url, timeout=0.3)
            job = store.create_job(_slot_images(job_images), "woman")
            with pytest.raises(NoFreeSlot):
                run_job(store, client, job)
            done = store.get(job.id)
            assert done.state is JobState.FAILED and not_taken(done)
            assert srv.submissions == 0
        finally:
            for i in range(5):
                slots.release(f"other-{i}")
            store.close()


@pytest.mark.parametrize("code", ["PROCESSING_FAILURE", "ERROR_NOT_ENOUGH_CREDITS"])
def test_a_task_that_failed_at_the_service_frees_its_place_at_once(job_images, code):
    """A poll that says the task failed (status 3) ends it, whatever its error code is
    classed as (a credits code here becomes a CreditsError): its place is free at once,
    not after the 120 s a task that may still run keeps it."""
    from refiner_gui.sandbox import Fault

    with SandboxServer(latency=0.05) as srv:
        srv.inject(Fault("submit", "task_failed", code=code))
        client = RefinerClient(KEY, srv.base_url, poll_interval=0.05, retry=no_resubmit())
        inputs = RefineInputs(*(job_images[r] for r in ("person", "top", "coarse")), "woman")
        sub = client.submit(inputs)
        with pytest.raises(RefinerError) as caught:
            client.wait(sub.task_id)
        assert caught.value.task_ended
        assert client.limits.slots.held(srv.base_url) == 0
