"""The batch controller runs a stored batch off the GUI thread and delivers its events as
signals on the GUI thread; stopping it leaves the batch resumable."""

from __future__ import annotations

import threading

from refiner_gui.api import RefinerClient
from refiner_gui.batch import LookStatus
from refiner_gui.controllers.batch_controller import BatchController
from refiner_gui.jobs import JobStore
from refiner_gui.jobs.store_batches import NewLook
from refiner_gui.sandbox import SandboxServer
from refiner_gui.slots import COARSE, PERSON, TOP
from tests.helpers.fast import fast_retry

KEY = "batch-ctl-key-0123456789"


def test_events_arrive_on_the_gui_thread_and_the_batch_finishes(qtbot, job_images, tmp_path):
    store = JobStore.open_default()
    files = {PERSON: job_images["person"], TOP: job_images["top"], COARSE: job_images["coarse"]}
    try:
        looks = [NewLook(f"look-{i}", "woman", files) for i in range(3)]
        batch = store.create_batch("ui", "inline", tmp_path / "out", 2, looks)
        with SandboxServer(latency=0.2) as srv:
            ctl = BatchController(
                store,
                lambda: RefinerClient(KEY, srv.base_url, poll_interval=0.05, retry=fast_retry()),
            )
            threads, events = set(), []

            def seen(ev):
                threads.add(threading.get_ident())
                events.append(ev)

            ctl.changed.connect(seen)
            with qtbot.waitSignal(ctl.ended, timeout=30_000) as ended:
                ctl.start(batch.id)
            assert ended.args[0].done == 3
            assert threads == {threading.get_ident()}  # delivered on the GUI thread
            done = [e.look for e in events if e.look and e.look.status is LookStatus.DONE]
            assert sorted(v.name for v in done) == ["look-0", "look-1", "look-2"]
            qtbot.waitUntil(lambda: not ctl.running, timeout=10_000)
    finally:
        store.close()


def test_stopping_leaves_the_batch_resumable(qtbot, job_images, tmp_path):
    store = JobStore.open_default()
    files = {PERSON: job_images["person"], TOP: job_images["top"], COARSE: job_images["coarse"]}
    try:
        looks = [NewLook(f"look-{i}", "woman", files) for i in range(4)]
        batch = store.create_batch("ui", "inline", tmp_path / "out", 1, looks)
        with SandboxServer(latency=2.0) as srv:
            ctl = BatchController(
                store,
                lambda: RefinerClient(KEY, srv.base_url, poll_interval=0.05, retry=fast_retry()),
            )
            with qtbot.waitSignal(ctl.changed, timeout=10_000):
                ctl.start(batch.id)
            qtbot.waitUntil(lambda: srv.submissions == 1, timeout=10_000)
            assert ctl.stop(30_000)
            assert srv.submissions == 1
        assert store.batch(batch.id).state == "active"  # kept for the next start
        assert [x.job_id is not None for x in store.batch_looks(batch.id)] == [
            True,
            False,
            False,
            False,
        ]
    finally:
        store.close()


def test_the_queue_view_shows_each_look_and_offers_the_retry_with_its_cost(
    qtbot, job_images, tmp_path
):
    from refiner_gui.sandbox import Fault
    from refiner_gui.ui.batch_view import BatchView

    store = JobStore.open_default()
    files = {PERSON: job_images["person"], TOP: job_images["top"], COARSE: job_images["coarse"]}
    try:
        looks = [NewLook(f"look-{i}", "woman", files) for i in range(4)]
        looks.append(NewLook("bad-row", "woman", {}, "person: file not found: p.jpg"))
        batch = store.create_batch("ui", "inline", tmp_path / "out", 2, looks)
        with SandboxServer(latency=0.2) as srv:
            srv.inject(Fault("submit", "task_failed"))
            ctl = BatchController(
                store,
                lambda: RefinerClient(KEY, srv.base_url, poll_interval=0.05, retry=fast_retry()),
            )
            view = BatchView(ctl)
            qtbot.addWidget(view)
            view.resize(720, 360)
            view.show()
            with qtbot.waitSignal(ctl.ended, timeout=30_000):
                ctl.start(batch.id)
            assert not ctl.running
            view.show_views(ctl.queue.views())
            states = sorted(view.table.item(r, 1).text() for r in range(view.table.rowCount()))
            assert states == ["done", "done", "done", "failed", "invalid"]
            assert "3 done, 1 failed" in view.summary.text()
            assert view.retry.isEnabled() and "(25 credits)" in view.retry.text()
            view.grab().save(str(tmp_path / "batch_view.png"))
            with qtbot.waitSignal(ctl.ended, timeout=30_000):
                ctl.start(batch.id, retry_failed=True)
            qtbot.waitUntil(lambda: not ctl.running, timeout=10_000)
            assert ctl.queue.counts().done == 4 and srv.submissions == 5
    finally:
        store.close()
