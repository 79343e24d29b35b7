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


def test_a_factory_is_portable_only_when_it_can_cross_to_another_process(sandbox):
    assert is_portable(portable(sandbox))
    assert not is_portable(lambda: None)
    assert KEY not in repr(portable(sandbox))  # the key never reaches a log through repr


def test_the_batch_runs_in_a_process_of_its_own(qtbot, store, files, tmp_path, caplog):
    batch = make_batch(store, files, tmp_path, 3)
    caplog.set_level(logging.INFO)
    with SandboxServer(latency=0.3) as srv:
        ctl = BatchController(store, portable(srv), own_process=True)
        holders: set[int] = set()
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
    assert not live_batch_processes()
    # The child's log reaches this process's log, and never carries the key.
    texts = [r.getMessage() for r in caplog.records]
    assert any("submitted as task" in t for t in texts if t)
    assert not [t for t in texts if KEY in t]
    assert all((tmp_path / "out" / f"look-{i}.png").is_file() for i in range(3))


def test_a_closure_factory_runs_the_batch_on_a_thread(qtbot, store, files, tmp_path, sandbox):
    from refiner_gui.api import RefinerClient

    batch = make_batch(store, files, tmp_path, 2)
    url = sandbox.base_url
    ctl = BatchController(
        store, lambda: RefinerClient(KEY, url, poll_interval=0.05), own_process=True
    )
    with qtbot.waitSignal(ctl.runEnded, timeout=30_000):
        ctl.start(batch.id)
        assert ctl.process is None and ctl.is_running()
    assert ctl.counts().done == 2


def test_a_killed_batch_process_is_reported_and_the_batch_carries_on(qtbot, store, files, tmp_path):
    batch = make_batch(store, files, tmp_path, 4, concurrency=2)
    with SandboxServer(latency=1.5) as srv:
        ctl = BatchController(store, portable(srv), own_process=True)
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
        assert store.batch(batch.id).state == "active"  # offered again, nothing lost
        # Carried on: the two tasks already submitted are finished, never sent again.
        with qtbot.waitSignal(ctl.runEnded, timeout=60_000):
            ctl.start(batch.id)
        assert ctl.counts().done == 4
        assert srv.submissions == 4
    assert not live_batch_processes()


def test_a_batch_that_cannot_run_says_why_and_ends(qtbot, store, files, tmp_path, sandbox):
    batch = make_batch(store, files, tmp_path, 1)
    ctl = BatchController(store, portable(sandbox), own_process=True)
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
            frames = []
            while srv.submissions < 2:  # read until both first looks went out
                frame = read_frame(proc.stdout)
                assert frame is not None, "the child ended early"
                frames.append(frame)
            proc.stdin.close()  # the window is gone (closed, or crashed)
            while (frame := read_frame(proc.stdout)) is not None:
                frames.append(frame)
            assert proc.wait(30) == 0
        assert [f[0] for f in frames].count("ended") == 1  # stopped, summary written
        assert store.batch(batch.id).state == "active"
        assert srv.submissions == 2
        # The next run (here, in this process) finishes it without sending anything twice.
        counts = BatchQueue(store, portable(srv), batch.id).run()
        assert counts.done == 4 and srv.submissions == 4


def test_the_frozen_app_starts_itself_as_the_child(monkeypatch):
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert child_command() == [sys.executable, "--batch-process"]
