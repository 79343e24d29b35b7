"""App-wide rate limits and the shared back-off, within a process and across processes."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from pathlib import Path

from refiner_gui.api import Cancelled, CancelToken, RefinerClient, limits
from refiner_gui.api.errors import ErrorInfo, RateLimited, ServiceUnavailable, TaskFailed
from refiner_gui.api.limits import AppLimits, FileBuckets, MemoryBuckets, limits_for
from refiner_gui.config import app_paths
from refiner_gui.sandbox.counters import peak_in_window

REPO = Path(__file__).resolve().parents[1]


def test_a_full_bucket_lets_its_burst_out_then_spaces_the_rest():
    for buckets in (MemoryBuckets(), FileBuckets(app_paths().data / "buckets.sqlite")):
        assert [buckets.take("k", 10.0, 3) for _ in range(3)] == [0.0, 0.0, 0.0]
        wait = buckets.take("k", 10.0, 3)
        assert 0.0 < wait <= 0.1  # the fourth waits for the next token
        assert buckets.take("other", 10.0) == 0.0  # each bucket on its own
        wait = buckets.take("other", 10.0)
        assert 0.0 < wait <= 0.1  # a bucket of one token: evenly spaced


def test_a_wall_clock_set_back_holds_requests_no_longer_than_one_token():
    buckets = MemoryBuckets()
    buckets._next["poll"] = time.time() + 3600  # taken before the clock went back an hour
    wait = buckets.take("poll", 10.0, 3)
    assert wait <= 0.1


def test_the_bursts_and_rates_stay_within_the_service_figures_with_jitter():
    """In any window of T seconds a bucket lets out at most burst + floor(rate * T)."""
    for burst, rate, figure in (
        (limits.SUBMIT_BURST, limits.SUBMIT_RATE, limits.SUBMITS_PER_SECOND),
        (limits.POLL_BURST, limits.POLL_RATE, limits.POLLS_PER_SECOND),
    ):
        assert burst + math.floor(rate * limits.JITTER_WINDOW) <= figure
        assert burst + rate * (limits.JITTER_WINDOW + 0.01) > figure - 1  # not needlessly low


def test_a_burst_of_takes_never_exceeds_the_figure_in_any_second():
    buckets = MemoryBuckets()
    times: list[float] = []
    end = time.monotonic() + 1.6
    while time.monotonic() < end:
        wait = buckets.take("poll", limits.POLL_RATE, limits.POLL_BURST)
        if wait <= 0:
            times.append(time.time())
        else:
            time.sleep(min(wait, 0.01))
    assert peak_in_window(times, 1.0) <= limits.POLLS_PER_SECOND
    assert len(times) >= limits.POLL_BURST + limits.POLL_RATE  # the burst went at once


def test_a_429_or_503_holds_every_request_other_errors_do_not():
    limits = AppLimits("svc")
    limits.observe(TaskFailed("no"))
    limits.observe(RateLimited("credits", ErrorInfo(code="ERROR_NOT_ENOUGH_CREDITS")))
    assert limits.held_for() == 0.0
    limits.observe(RateLimited("slow down", ErrorInfo(code="EXCEEDING_LIMITS", retry_after=30)))
    assert 25 < limits.held_for() <= 30
    other = AppLimits("svc", limits.buckets)
    assert other.held_for() > 25  # every client of the service sees the hold
    cancel = CancelToken()
    cancel.cancel()
    try:
        other.before_poll(cancel)
    except Cancelled:
        pass
    else:
        raise AssertionError("a held poll must wait (and a cancel must end the wait)")
    busy = AppLimits("svc2")
    busy.observe(ServiceUnavailable("busy", ErrorInfo(http_status=503)), 1.5)
    assert 1.0 < busy.held_for() <= 1.5


def test_every_client_of_a_service_shares_one_limiter(sandbox):
    a = RefinerClient("key-0123456789abcdef", sandbox.base_url)
    b = RefinerClient("key-0123456789abcdef", sandbox.base_url)
    try:
        assert a.limits is b.limits
        assert a.limits is limits_for(sandbox.base_url, app_paths().data)
        assert isinstance(a.limits.buckets, FileBuckets)
    finally:
        a.close()
        b.close()


CHILD = """
import json, sys, time
from pathlib import Path
from refiner_gui.api.limits import AppLimits, FileBuckets
limits = AppLimits("svc", FileBuckets(Path(sys.argv[1])))
times = []
for _ in range(int(sys.argv[2])):
    limits.before_submit()
    times.append(time.time())
if sys.argv[3] == "hold":
    from refiner_gui.api.errors import ErrorInfo, RateLimited
    limits.observe(RateLimited("x", ErrorInfo(code="EXCEEDING_LIMITS", retry_after=60)))
print(json.dumps(times))
"""


def run_children(path: Path, n: int, mode: str = "", children: int = 2) -> list[float]:
    env_path = str(REPO)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(path), str(n), mode],
            stdout=subprocess.PIPE,
            text=True,
            env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"},
        )
        for _ in range(children)
    ]
    times: list[float] = []
    for p in procs:
        out, _ = p.communicate(timeout=60)
        assert p.returncode == 0
        times += json.loads(out)
    return times


def test_two_processes_share_the_submit_rate(tmp_path):
    """Two processes submitting as fast as they may stay under 10 a second together."""
    times = run_children(tmp_path / "limits.sqlite", 12)
    assert len(times) == 24
    assert peak_in_window(times, 1.0) <= 10


def test_a_hold_seen_by_one_process_holds_the_other(tmp_path):
    path = tmp_path / "limits.sqlite"
    run_children(path, 1, "hold", children=1)
    mine = AppLimits("svc", FileBuckets(path))
    assert mine.held_for() > 50
    assert time.time() < mine.buckets.held_until("svc")


def test_shared_buckets_hold_no_file_open_between_takes(tmp_path):
    # A long-lived thread (the GUI thread, a test run) meets a new data folder often; each
    # limiter it used once must not keep its SQLite files open (the suite once ran out of
    # descriptors: select() refuses a descriptor above 1024).
    fd_dir = Path("/proc/self/fd")
    if not fd_dir.is_dir():
        import pytest

        pytest.skip("needs /proc/self/fd")
    before = len(list(fd_dir.iterdir()))
    for n in range(40):
        buckets = FileBuckets(tmp_path / f"home-{n}" / "rate-limits.sqlite")
        assert buckets.take("submit", 10.0) == 0.0
        buckets.hold("svc", time.time() + 1)
        assert buckets.held_until("svc") > 0
    assert len(list(fd_dir.iterdir())) - before < 5
