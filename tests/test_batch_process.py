"""A window's batch runs in a process of its own (refiner_gui.batch.child): its workers are
not threads of the window's process, its events arrive as signals on the GUI thread, its
log reaches the window's log, and a child that dies or loses the window loses nothing.
Against the sandbox on loopback; no sleeps: every wait is on a signal or a condition."""

from __future__ import annotations

import logging
import os
import random
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from refiner_gui.batch import BatchQueue, LookStatus
from refiner_gui.batch.child import ChildStart, FrameReader, encode_frame, read_frame
from refiner_gui.clients import FixedClientFactory, is_portable
from refiner_gui.controllers.batch_controller import BatchController
from refiner_gui.controllers.batch_process import child_command, live_batch_processes
from refiner_gui.jobs import JobStore
from refiner_gui.jobs.store_batches import NewLook
from refiner_gui.processes import BACKGROUND_NICE
from refiner_gui.sandbox import SandboxServer
from refiner_gui.slots import COARSE, PERSON, TOP
from tests.helpers.fast import fast_retry

KEY = "batch-process-key-5f3a9c0e17"


@pytest.fixture
def store():
    s = JobStore.open_default()
    yield s
    s.close()


@pytest.fixture
def controllers():
    """Makes batch controllers, each shut down after the test, whatever happened in it."""
    made: list[BatchController] = []

    def make(store: JobStore, factory, **kw) -> BatchController:
        ctl = BatchController(store, factory, own_process=True, **kw)
        made.append(ctl)
        return ctl

    yield make
    for ctl in made:
        ctl.shutdown(30_000)


posix_only = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")


@pytest.fixture
def files(job_images):
    return {PERSON: job_images["person"], TOP: job_images["top"], COARSE: job_images["coarse"]}


def portable(srv: SandboxServer) -> FixedClientFactory:
    return FixedClientFactory(KEY, srv.base_url, {"poll_interval": 0.05, "retry": fast_retry()})


def make_batch(store: JobStore, files, tmp_path: Path, n: int, concurrency: int = 3):
    looks = [NewLook(f"look-{i}", "woman", files) for i in range(n)]
    return store.create_batch("proc", "inline", tmp_path / "out", concurrency, looks)


def test_frames_come_out_whole_however_the_pipe_splits_them():
    objects = [("event", {"n": i}, "x" * i) for i in range(50)]
    data = b"".join(encode_frame(o) for o in objects)
    rng = random.Random(7)
    reader, out, i = FrameReader(), [], 0
    while i < len(data):
        step = rng.choice([1, 2, 3, 17, 400])
        out += reader.feed(data[i : i + step])
        i += step
    assert out == objects


def test_a_bad_frame_is_skipped_and_a_stream_of_no_frames_is_refused():
    from refiner_gui.batch.child import MAX_FRAME, FrameError

    bad = (5).to_bytes(4, "big") + b"junk!"
    reader = FrameReader()
    assert reader.feed(encode_frame("a") + bad + encode_frame("b")) == ["a", "b"]
    with pytest.raises(FrameError):
        reader.feed((MAX_FRAME + 1).to_bytes(4, "big") + b"x" * 10)
    assert reader.feed(encode_frame("c")) == ["c"]  # the stray bytes were dropped


def test_a_factory_is_portable_only_when_it_can_cross_to_another_process(sandbox):
    assert is_portable(portable(sandbox))
    assert not is_portable(lambda: None)
    assert KEY not in repr(portable(sandbox))  # the key never reaches a log through repr


def test_the_batch_runs_in_a_process_of_its_own(qtbot, store, files, tmp_path, caplog, controllers):
    batch = make_batch(store, files, tmp_path, 3)
    caplog.set_level(logging.INFO)
    with SandboxServer(latency=0.3) as srv:
        ctl = controllers(store, portable(srv))
        holders: set[int] = set()
        nices: set[int] = set()
        worker_threads: list[str] = []
        gui = threading.get_ident()
        delivered_on: set[int] = set()

        def seen(_run, view, _counts):
            delivered_on.add(threading.get_ident())
            worker_threads.extend(
                t.name for t in threading.enumerate() if t.name.startswith("batch-")
            )
            if view.job_id is not None and view.status is LookStatus.RUNNING:
                holder = store.holder_of(view.job_id)
                if holder is not None:
                    holders.add(holder.pid)
                    if hasattr(os, "getpriority"):
                        nices.add(os.getpriority(os.PRIO_PROCESS, holder.pid))

        ctl.lookChanged.connect(seen)
        with qtbot.waitSignal(ctl.runEnded, timeout=60_000):
            assert ctl.start(batch.id) is not None
            assert ctl.process is not None and ctl.process.pid not in (0, os.getpid())
            child = ctl.process.pid
        assert ctl.counts().done == 3 and srv.submissions == 3
    assert [v.status for v in ctl.views()] == [LookStatus.DONE] * 3
    assert delivered_on == {gui}
    assert not worker_threads  # no batch worker ever ran in this process
    assert holders == {child}  # the store saw the child hold each look's job
    if hasattr(os, "getpriority"):  # it yields the cores to the window
        assert nices == {min(19, os.getpriority(os.PRIO_PROCESS, 0) + BACKGROUND_NICE)}
    assert not live_batch_processes()
    # The child's log reaches this process's log, and never carries the key.
    texts = [r.getMessage() for r in caplog.records]
    assert any("submitted as task" in t for t in texts if t)
    assert not [t for t in texts if KEY in t]
    assert all((tmp_path / "out" / f"look-{i}.png").is_file() for i in range(3))


def test_a_closure_factory_runs_the_batch_on_a_thread(
    qtbot, store, files, tmp_path, sandbox, controllers
):
    from refiner_gui.api import RefinerClient

    batch = make_batch(store, files, tmp_path, 2)
    url = sandbox.base_url
    ctl = controllers(store, lambda: RefinerClient(KEY, url, poll_interval=0.05))
    with qtbot.waitSignal(ctl.runEnded, timeout=30_000):
        ctl.start(batch.id)
        assert ctl.process is None and ctl.is_running()
    assert ctl.counts().done == 2


@posix_only
def test_a_killed_batch_process_is_reported_and_the_batch_carries_on(
    qtbot, store, files, tmp_path, controllers
):
    batch = make_batch(store, files, tmp_path, 4, concurrency=2)
    with SandboxServer(latency=1.5) as srv:
        ctl = controllers(store, portable(srv))
        notices: list[str] = []
        ctl.notice.connect(lambda _run, text: notices.append(text))
        ctl.start(batch.id)
        assert ctl.process is not None
        # Killed once both tasks are stored (killed between the upload and storing its
        # task id, a look would rightly end "outcome unknown": never sent again).
        qtbot.waitUntil(lambda: sum(bool(v.task_id) for v in ctl.views()) == 2, timeout=20_000)
        with qtbot.waitSignal(ctl.runEnded, timeout=20_000):
            os.kill(ctl.process.pid, signal.SIGKILL)
        assert notices and "crashed" in notices[-1] and "kept" in notices[-1]
        assert ctl.last_error == "The batch process crashed."
        # The rows are read again from the store: the two submitted looks are unfinished
        # (resumable), the others waiting; none shows as running in a dead process.
        assert sorted(v.status.value for v in ctl.views()) == [
            "unfinished",
            "unfinished",
            "waiting",
            "waiting",
        ]
        assert store.batch(batch.id).state == "active"  # offered again, nothing lost
        # Carried on: the two tasks already submitted are finished, never sent again.
        with qtbot.waitSignal(ctl.runEnded, timeout=60_000):
            ctl.start(batch.id)
        assert ctl.counts().done == 4
        assert srv.submissions == 4
    assert not live_batch_processes()


def test_a_batch_that_cannot_run_says_why_and_ends(
    qtbot, store, files, tmp_path, sandbox, controllers
):
    batch = make_batch(store, files, tmp_path, 1)
    ctl = controllers(store, portable(sandbox))
    notices: list[str] = []
    ctl.notice.connect(lambda _run, text: notices.append(text))
    damaged = tmp_path / "damaged.sqlite"
    damaged.write_bytes(b"this is not a database" * 100)
    real = store.path
    store.path = damaged  # what the child is told to open; this process keeps its connection
    try:
        with qtbot.waitSignal(ctl.runEnded, timeout=30_000):
            ctl.start(batch.id)
    finally:
        store.path = real
    assert notices and notices[-1].startswith("The batch could not run:")
    assert "kept" in notices[-1] and not ctl.is_running()
    assert sandbox.submissions == 0


def test_a_batch_process_that_cannot_start_says_why_and_ends(
    qtbot, store, files, tmp_path, sandbox, controllers, monkeypatch
):
    from refiner_gui.controllers import batch_process

    batch = make_batch(store, files, tmp_path, 1)
    monkeypatch.setattr(batch_process, "child_command", lambda: [str(tmp_path / "missing")])
    ctl = controllers(store, portable(sandbox))
    notices: list[str] = []
    order: list[str] = []
    ctl.notice.connect(lambda _run, text: notices.append(text))
    ctl.runStarted.connect(lambda *_: order.append("started"))
    ctl.runEnded.connect(lambda *_: order.append("ended"))
    with qtbot.waitSignal(ctl.runEnded, timeout=10_000):
        assert ctl.start(batch.id) is not None
    assert order == ["started", "ended"]  # never ended before it was said to start
    assert notices and notices[-1].startswith("The batch process could not start")
    assert not ctl.is_running() and ctl.last_error and sandbox.submissions == 0
    assert store.batch(batch.id).state == "active"  # kept, to continue


def test_a_key_kept_for_this_session_only_is_handed_to_the_batch_process(
    qtbot, store, files, tmp_path, sandbox, controllers
):
    from refiner_gui.clients import ConnectionSettings, KeyedClientFactory
    from refiner_gui.keystore import get_api_key, use_session_key

    batch = make_batch(store, files, tmp_path, 1)
    use_session_key(KEY)  # as Settings does when no keyring can store it
    try:
        assert get_api_key().source == "session"
        factory = KeyedClientFactory(ConnectionSettings(sandbox.base_url, 0.05, 30.0))
        ctl = controllers(store, factory)
        with qtbot.waitSignal(ctl.runEnded, timeout=30_000):
            ctl.start(batch.id)
            assert ctl.process is not None  # the stored-key factory crosses to the child
    finally:
        use_session_key(None)
    assert ctl.counts().done == 1 and sandbox.submissions == 1


@posix_only
def test_the_child_stops_resumable_when_the_window_is_gone(store, files, tmp_path):
    batch = make_batch(store, files, tmp_path, 4, concurrency=2)
    with SandboxServer(latency=1.5) as srv:
        start = ChildStart(store.path, batch.id, portable(srv))
        env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent))
        with subprocess.Popen(
            child_command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env
        ) as proc:
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write(encode_frame(start))
            proc.stdin.flush()
            # Never wait forever on a pipe: a child that hangs is killed (and fails below).
            watchdog = threading.Timer(60, proc.kill)
            watchdog.start()
            try:
                frames, tasks = [], set()
                while len(tasks) < 2:  # until both first looks' task ids are stored
                    frame = read_frame(proc.stdout)
                    assert frame is not None, "the child ended early"
                    frames.append(frame)
                    if frame[0] == "event" and frame[1].look and frame[1].look.task_id:
                        tasks.add(frame[1].look.task_id)
                proc.stdin.close()  # the window is gone (closed, or crashed)
                while (frame := read_frame(proc.stdout)) is not None:
                    frames.append(frame)
                assert proc.wait(30) == 0
            finally:
                watchdog.cancel()
                watchdog.join()
        assert [f[0] for f in frames].count("ended") == 1  # stopped, summary written
        assert store.batch(batch.id).state == "active"
        assert srv.submissions == 2
        # The next run (here, in this process) finishes it without sending anything twice.
        counts = BatchQueue(store, portable(srv), batch.id).run()
        assert counts.done == 4 and srv.submissions == 4


def test_the_frozen_app_starts_itself_as_the_child(monkeypatch):
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert child_command() == [sys.executable, "--batch-process"]
