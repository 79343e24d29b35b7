"""The one progress throttle (refiner_gui.api.progress), alone and as run_job applies it.

The throttle takes an injected clock, so these tests neither sleep nor time anything.
"""

from __future__ import annotations

import random
from pathlib import Path

from PIL import Image

from refiner_gui.api import (
    PROGRESS_INTERVAL_S,
    ProgressEvent,
    ProgressThrottle,
    RefinerClient,
    Stage,
)
from refiner_gui.jobs import JobStore, run_job
from refiner_gui.sandbox import SandboxServer
from refiner_gui.slots import COARSE, PERSON
from tests.helpers.fast import fast_retry
from tests.helpers.jobs import slot_files

KEY = "progress-key-0123456789"


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_byte_updates_are_thinned_but_stages_and_final_counts_pass():
    clock = FakeClock()
    shown: list[ProgressEvent] = []
    throttle = ProgressThrottle(shown.append, interval=0.05, clock=clock)

    def chunk(stage: Stage, done: int | None, total: int | None = 1000) -> None:
        throttle(ProgressEvent(stage=stage, elapsed=0.0, bytes_done=done, bytes_total=total))

    chunk(Stage.UPLOADING, 0, None)  # a new stage always shows
    for done in range(100, 1000, 100):  # nine chunks within one interval: dropped
        chunk(Stage.UPLOADING, done)
    clock.now += 0.06
    chunk(Stage.UPLOADING, 950)  # the interval has passed
    chunk(Stage.UPLOADING, 960)
    chunk(Stage.UPLOADING, 1000)  # the transfer is complete: never dropped
    throttle(ProgressEvent(stage=Stage.QUEUED, elapsed=0.0, task_id="t1"))
    chunk(Stage.DOWNLOADING, None, None)  # no byte count: passes
    chunk(Stage.DOWNLOADING, 64, None)  # first count of the stage (total unknown)
    chunk(Stage.DOWNLOADING, 128, None)

    assert [(e.stage, e.bytes_done) for e in shown] == [
        (Stage.UPLOADING, 0),
        (Stage.UPLOADING, 950),
        (Stage.UPLOADING, 1000),
        (Stage.QUEUED, None),
        (Stage.DOWNLOADING, None),
        (Stage.DOWNLOADING, 64),
    ]


def noise_png(path: Path, size: tuple[int, int]) -> Path:
    """A PNG that does not compress: its upload takes many 64 KB chunks."""
    Image.frombytes("RGB", size, random.Random(7).randbytes(size[0] * size[1] * 3)).save(path)
    return path


def test_run_job_throttles_byte_updates_only_when_asked(tmp_path, job_images):
    """Same job twice: every chunk without an interval; with one (a long interval, so no
    second byte update of a stage passes) only stage changes and complete counts."""
    files = slot_files(job_images)
    files[PERSON] = noise_png(tmp_path / "person.png", (320, 480))
    files[COARSE] = noise_png(tmp_path / "coarse.png", (320, 480))
    store = JobStore(tmp_path / "data" / "jobs.sqlite3")
    every: list[ProgressEvent] = []
    thinned: list[ProgressEvent] = []
    try:
        with SandboxServer(latency=0.0) as srv:
            client = RefinerClient(KEY, srv.base_url, poll_interval=0.02, retry=fast_retry())
            try:
                for events, interval in ((every, None), (thinned, 3600.0)):
                    job = store.create_job(files, "woman")
                    run_job(store, client, job, on_event=events.append, progress_interval=interval)
            finally:
                client.close()
    finally:
        store.close()

    def uploads(events: list[ProgressEvent]) -> list[int | None]:
        return [e.bytes_done for e in events if e.stage is Stage.UPLOADING]

    assert len(uploads(every)) > 3  # 0, then one per 64 KB chunk
    *_, last = [e for e in every if e.stage is Stage.UPLOADING]
    assert uploads(thinned) == [0, last.bytes_done] and last.bytes_done == last.bytes_total
    assert [e.stage for e in thinned][-1] is Stage.DONE
    assert {e.stage for e in thinned} == {e.stage for e in every}
    assert PROGRESS_INTERVAL_S == 0.05
