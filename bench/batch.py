"""A batch of 100 looks against the sandbox: wall time, GUI stalls and peak memory.

Three measurements, each against a baseline in the same run:

* **Wall time**: 100 looks at concurrency 5 against a sandbox whose tasks take 1 s, run
  by :class:`refiner_gui.batch.BatchQueue` (each look a stored job: inputs copied, every
  step committed, result downloaded, preview made, copied to the output folder, the
  app-wide rate limits in force). Baseline: the ideal, 100 / 5 x 1 s = 20 s. Goal <= 1.15x.
* **GUI stall**: the same batch with 4095x4095 inputs, run as the window runs it (the
  queue view over the batch controller, the batch in a process of its own); the longest
  gap of a 5 ms QTimer heartbeat. Baseline: the same heartbeat in the idle window for as
  long. Goal < 50 ms. ``--compare-thread`` also runs the batch on worker threads of the
  window's process, as before 2026-12-04 session 8, for a side-by-side ratio.
* **Peak RSS** of the window's process (VmHWM) plus the batch process's peak. Baseline:
  the bare window process. Goal <= 500 MB.

The sandbox runs in its own process (with credits enough for any batch) so its image work is not
counted against the app. Run from the repository root:

    QT_QPA_PLATFORM=offscreen python bench/batch.py [--looks 100] [--latency 1]
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

KEY = "bench-key-0123456789"
ADAPTIVE = [os.environ.get("BENCH_ADAPTIVE", "1") == "1"]  # the app's default: "auto" polling


# The sandbox stands in for a remote service, whose image work does not run on the user's
# machine: it runs at a lower CPU priority (BENCH_SANDBOX_NICE, default 10; 0 to compare)
# so that on a 2-core machine it does not take the cores the app's GUI thread needs.
SANDBOX = """
import json, os, signal, sys, threading
os.nice(int(os.environ.get("BENCH_SANDBOX_NICE", "10")))
from refiner_gui.sandbox import SandboxServer
srv = SandboxServer(latency=float(sys.argv[1]), credits=10**7)
print(json.dumps({"base_url": srv.start()}), flush=True)
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
stop.wait()
srv.stop()
"""


# The "busy" baseline: the idle window while another process keeps every core busy at
# nice 10 (as the batch's own process and the sandbox run): what the machine alone does
# to a heartbeat, the host's steal included, with no work of the app anywhere.
BURN = """
import os, sys
os.nice(10)
for _ in range(int(sys.argv[1]) - 1):
    if os.fork() == 0:
        break
while True:
    pass
"""


def start_sandbox(latency: float, home: Path) -> tuple[subprocess.Popen[str], str]:
    """The sandbox in its own process, with credits for any number of looks."""
    env = {**os.environ, "REFINER_GUI_HOME": str(home), "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", SANDBOX, str(latency)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    url = json.loads(proc.stdout.readline())["base_url"]
    return proc, url


def make_looks(folder: Path, big: bool, n: int) -> list:
    from refiner_gui.jobs.store_batches import NewLook
    from refiner_gui.slots import COARSE, PERSON, TOP

    folder.mkdir(parents=True, exist_ok=True)
    if big:
        from bench.preflight import largest_jpeg_under, noisy_picture
        from refiner_gui.images import MAX_FILE_BYTES

        files = {}
        for i, slot in enumerate((PERSON, TOP, COARSE)):
            p = folder / f"{slot}.jpg"
            if not p.exists():  # made once by the bench's own process (see main)
                p.write_bytes(largest_jpeg_under(noisy_picture(i), MAX_FILE_BYTES - 50_000))
            files[slot] = p
    else:
        from tests.helpers.images import make_image

        files = {
            PERSON: make_image(folder / "person.jpg", (320, 480)),
            TOP: make_image(folder / "top.png", (300, 300)),
            COARSE: make_image(folder / "coarse.png", (320, 480)),
        }
    return [NewLook(f"look-{i:03d}", "woman", dict(files)) for i in range(n)]


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run_batch(url: str, looks: list, out: Path, poll: float, on_event=None) -> tuple[float, dict]:
    from refiner_gui.api import RefinerClient
    from refiner_gui.batch import BatchQueue
    from refiner_gui.jobs import JobStore

    store = JobStore.open_default()
    try:
        batch = store.create_batch("bench", "bench", out, 5, looks)
        queue = BatchQueue(
            store,
            lambda: RefinerClient(KEY, url, poll_interval=poll, adaptive_polling=ADAPTIVE[0]),
            batch.id,
            on_event=on_event,
        )
        t0 = time.perf_counter()
        counts = queue.run()
        wall = time.perf_counter() - t0
        return wall, {"done": counts.done, "failed": counts.failed}
    finally:
        store.close()


def child_wall(url: str, n: int, poll: float) -> dict:
    if "BENCH_AHEAD" in os.environ:  # the baselines of bench/batch_overlap.py
        from refiner_gui.batch import queue

        queue.AHEAD = int(os.environ["BENCH_AHEAD"])
    if os.environ.get("BENCH_BURST") == "1":
        from refiner_gui.api import limits

        init = limits.AppLimits.__init__

        def one_token(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
            init(self, *args, **kwargs)  # the buckets before session 9: 9 and 18 a second
            self.submit_rate, self.submit_burst, self.poll_rate, self.poll_burst = 9, 1, 18, 1

        limits.AppLimits.__init__ = one_token  # type: ignore[method-assign]
    if os.environ.get("BENCH_SLOTS") == "memory":  # the baseline of bench/slots_overhead.py
        from refiner_gui.api import limits
        from refiner_gui.api.task_slots import MemorySlots

        opened = limits._open_buckets
        limits._open_buckets = lambda folder: (opened(folder)[0], MemorySlots())
    with tempfile.TemporaryDirectory() as tmp:
        looks = make_looks(Path(tmp) / "in", False, n)
        wall, counts = run_batch(url, looks, Path(tmp) / "out", poll)
    return {"wall": wall, **counts}


def peak_rss_of(pid: int) -> float:
    """Process ``pid``'s peak RSS so far (VmHWM), in MB; 0 once it is gone. Read from
    /proc rather than getrusage: a child's ru_maxrss also counts the parent's pages it
    shared between fork and exec."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    for line in text.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def child_window(
    url: str, n: int, poll: float, mode: str, seconds: float, inputs: Path | None = None
) -> dict:
    """The window's own queue view (BatchView + BatchController, as the Batch tab builds
    them) running the batch, or ("bare") the same window idle for ``seconds``."""
    import threading

    from PySide6.QtCore import QElapsedTimer, QTimer
    from PySide6.QtWidgets import QApplication, QLabel, QMainWindow

    if os.environ.get("BENCH_ALLOCATOR", "1") == "1":
        from refiner_gui.allocator import map_big_blocks

        map_big_blocks()  # as refiner_gui.app does first (BENCH_ALLOCATOR=0: glibc's default)
    if os.environ.get("BENCH_SWITCH"):
        sys.setswitchinterval(float(os.environ["BENCH_SWITCH"]))
    app = QApplication([])
    w = QMainWindow()
    w.resize(1280, 800)
    worst = [0.0]
    # The longest gap less the host's steal in it: /proc/stat counts steal in 10 ms ticks
    # summed over both CPUs, so this is an estimate (it may subtract the other CPU's).
    worst_net = [0.0]
    stalls: list[tuple[float, float]] = []  # (start, end) of gaps over 40 ms, perf_counter s
    gaps: list[float] = []  # every heartbeat's gap, ms: the tail beside the worst
    clock = QElapsedTimer()
    clock.start()
    last = [clock.elapsed()]

    sched = _SchedStat()
    steal = _Steal()
    # per stall over 40 ms: gap, on a core, in a run queue, stolen by the host (ms), start
    # (s into the batch)
    causes: list[tuple[float, float, float, float, float]] = []
    t0 = [0.0]

    def beat() -> None:
        now = clock.elapsed()
        if sampler:  # a C watchdog (no GIL needed) dumps every thread if the next beat is late
            # Armed first: the reads below release the GIL and may wait to get it back;
            # armed after them (as until session 7), such a wait went unseen by it.
            faulthandler.dump_traceback_later(0.06)
        gap = now - last[0]
        worst[0] = max(worst[0], gap)
        gaps.append(gap)
        ran, queued = sched.delta()
        stolen = steal.delta()
        worst_net[0] = max(worst_net[0], gap - stolen)
        beat_at[0] = time.perf_counter()
        if gap > 40:
            end = time.perf_counter()
            stalls.append((end - gap / 1000, end))
            causes.append((gap, ran, queued, stolen, end - gap / 1000 - t0[0]))
        last[0] = now

    heart = QTimer()
    heart.setInterval(5)
    heart.timeout.connect(beat)
    result: dict = {}
    beat_at = [time.perf_counter()]
    sampler = (
        _Sampler(threading.get_ident(), threading.get_native_id(), beat_at)
        if os.environ.get("BENCH_SAMPLE")
        else None
    )

    with tempfile.TemporaryDirectory() as tmp:
        if mode in ("app", "app-thread"):
            from refiner_gui.api import RefinerClient
            from refiner_gui.clients import FixedClientFactory
            from refiner_gui.controllers.batch_controller import BatchController
            from refiner_gui.jobs import JobStore
            from refiner_gui.ui.batch_view import BatchView

            looks = make_looks(inputs or Path(tmp) / "in", True, n)
            store = JobStore.open_default()
            batch = store.create_batch("bench", "bench", Path(tmp) / "out", 5, looks)
            options = {"poll_interval": poll, "adaptive_polling": ADAPTIVE[0]}
            if mode == "app":  # as the window runs it: in a process of its own
                controller = BatchController(
                    store, FixedClientFactory(KEY, url, options), own_process=True
                )
            else:  # the baseline: on worker threads of this process
                controller = BatchController(store, lambda: RefinerClient(KEY, url, **options))
            view = BatchView(controller)
            w.setCentralWidget(view)
            w.show()

            def ended(counts) -> None:
                result.update(
                    wall=time.perf_counter() - t0[0], done=counts.done, failed=counts.failed
                )

            controller.batchEnded.connect(lambda _run, counts: ended(counts))
            timeline: list[tuple[float, str]] = []  # (s into the batch, "look stage")
            result["timeline"] = timeline
            controller.lookChanged.connect(
                lambda _r, look, _c: timeline.append(
                    (time.perf_counter() - t0[0], f"{look.name} {look.status.value} {look.stage}")
                )
            )

            def child_peak(*_args: object) -> None:  # VmHWM only grows: the last read counts
                if controller.process is not None:
                    peak = peak_rss_of(controller.process.pid)
                    result["child_rss_mb"] = max(result.get("child_rss_mb", 0.0), peak)

            controller.lookChanged.connect(child_peak)
            controller.batchEnded.connect(child_peak)  # the child is still there then
            controller.runEnded.connect(lambda _run: app.quit())
            t0[0] = time.perf_counter()
            last[0] = clock.elapsed()
            heart.start()
            if sampler:
                sampler.start()
            controller.start(batch.id)
            app.exec()
            heart.stop()
            faulthandler.cancel_dump_traceback_later()  # the heartbeat has stopped
            controller.shutdown(30_000)
            store.close()
        else:
            burner = None
            if mode == "busy":  # no app work at all: every core kept busy at nice 10
                burner = subprocess.Popen(
                    [sys.executable, "-c", BURN, str(os.cpu_count())], start_new_session=True
                )
            w.setCentralWidget(QLabel("idle"))
            w.show()
            QTimer.singleShot(int(seconds * 1000), app.quit)
            heart.start()
            app.exec()
            heart.stop()
            faulthandler.cancel_dump_traceback_later()
            if burner is not None:
                os.killpg(burner.pid, signal.SIGTERM)  # the spinner and its forks
                burner.wait(10)
    if sampler:
        sampler.report(stalls)
    timeline = result.pop("timeline", [])
    for gap, ran, queued, stolen, at in sorted(causes, reverse=True)[:5]:
        print(
            f"stall {gap:.0f} ms at {at:.1f} s: GUI thread on a core {ran:.0f} ms, waiting"
            f" for a core {queued:.0f} ms, blocked (GIL, lock or I/O)"
            f" {max(gap - ran - queued, 0):.0f} ms; host steal on the machine's CPUs"
            f" meanwhile {stolen:.0f} ms",
            file=sys.stderr,
        )
        if sampler:  # what the looks were doing then
            near = [f"{t:.2f} {what}" for t, what in timeline if at - 0.3 <= t <= at + gap / 1e3]
            print(f"  looks around it: {near}", file=sys.stderr)
    return {
        "stall_ms": worst[0],
        "stall_net_of_steal_ms": worst_net[0],
        "rss_mb": peak_rss_mb() + result.get("child_rss_mb", 0.0),
        "window_rss_mb": peak_rss_mb(),
        "child_rss_mb": result.get("child_rss_mb", 0.0),
        "stalls_over_40ms": len(stalls),
        "gaps_over_20ms": sum(g > 20 for g in gaps),
        "p999_ms": sorted(gaps)[int(len(gaps) * 0.999)] if gaps else 0.0,
        "stalls": [
            {"ms": round(g), "steal_ms": round(s), "blocked_ms": round(max(g - r - q, 0))}
            for g, r, q, s, _at in sorted(causes, reverse=True)[:5]
        ],
        **result,
    }


class _SchedStat:
    """The calling thread's scheduler counters (Linux ``/proc/thread-self/schedstat``): the
    milliseconds it ran on a core and waited in a run queue since the last call. What is
    left of a stall is time blocked: on the GIL, a lock or I/O."""

    def __init__(self) -> None:
        try:  # one open file, read with one system call per beat
            self.fd: int | None = os.open(f"/proc/self/task/{threading_native_id()}/schedstat", 0)
        except OSError:  # not Linux, or no schedstats: report zeros
            self.fd = None
        self.last = self._read()

    def _read(self) -> tuple[int, int]:
        if self.fd is None:
            return 0, 0
        ran, queued, _ = os.pread(self.fd, 128, 0).split()
        return int(ran), int(queued)

    def delta(self) -> tuple[float, float]:
        now = self._read()
        ran, queued = (now[0] - self.last[0]) / 1e6, (now[1] - self.last[1]) / 1e6
        self.last = now
        return ran, queued


class _Steal:
    """Time the hypervisor took from this machine's virtual CPUs (Linux ``/proc/stat``,
    the ``steal`` column, summed over CPUs, in 10 ms ticks) since the last call, in ms.
    A stall with steal beside it was, at least in part, the host's and not the app's."""

    def __init__(self) -> None:
        try:
            self.fd: int | None = os.open("/proc/stat", 0)
        except OSError:
            self.fd = None
        self.last = self._read()

    def _read(self) -> int:
        if self.fd is None:
            return 0
        fields = os.pread(self.fd, 256, 0).split(b"\n", 1)[0].split()
        return int(fields[8]) if len(fields) > 8 else 0  # cpu user nice system idle ... steal

    def delta(self) -> float:
        now = self._read()
        ticks, self.last = now - self.last, now
        return ticks * 1000 / os.sysconf("SC_CLK_TCK")


def threading_native_id() -> int:
    import threading

    return threading.get_native_id()


class _Sampler:
    """BENCH_SAMPLE=1: every 5 ms, the innermost frames of every thread (to stderr, for the
    stalls only): which Python code ran while the GUI thread waited. A thread inside a C
    call that holds the GIL shows as the frame that made the call."""

    def __init__(self, gui_ident: int, gui_native: int, last_beat: list) -> None:
        import collections
        import threading

        self.gui = gui_ident
        self.gui_native = gui_native
        self.last_beat = last_beat  # [perf_counter of the last heartbeat]
        self.kernel: list[tuple[float, str]] = []  # (when, where the late GUI thread was)
        self.samples: collections.deque = collections.deque(maxlen=200_000)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _run(self) -> None:
        me = self.thread.ident
        task = f"/proc/self/task/{self.gui_native}"
        while not self.stop.wait(0.005):
            now = time.perf_counter()
            if now - self.last_beat[0] > 0.03:  # the GUI thread is late: where is it?
                try:
                    call = Path(f"{task}/syscall").read_text().split()[0]
                    wchan = Path(f"{task}/wchan").read_text()
                    stack = Path(f"{task}/stack").read_text().split()[1:8:2]
                except OSError:
                    call, wchan, stack = "?", "?", []
                self.kernel.append((now, f"syscall {call} wchan {wchan} {' < '.join(stack)}"))
            snap = []
            for ident, frame in sys._current_frames().items():
                if ident == me:
                    continue
                parts, f, depth = [], frame, 0
                while f is not None and depth < 4:  # cheap: no source lines read
                    code = f.f_code
                    parts.append(f"{Path(code.co_filename).name}:{f.f_lineno} {code.co_name}")
                    f, depth = f.f_back, depth + 1
                snap.append(("GUI " if ident == self.gui else "") + " < ".join(parts))
            self.samples.append((now, snap))

    def report(self, stalls: list[tuple[float, float]]) -> None:
        import collections

        self.stop.set()
        if self.thread.ident is not None:
            self.thread.join()
        seen: collections.Counter = collections.Counter()
        for t, snap in self.samples:
            if any(a <= t <= b for a, b in stalls):
                seen.update(snap)
        print(f"stalls over 40 ms: {len(stalls)}; frames seen during them:", file=sys.stderr)
        for where, count in seen.most_common(25):
            print(f"{count:6d}  {where}", file=sys.stderr)
        print(
            "the GUI thread in the kernel while late (syscall number, wait channel):",
            file=sys.stderr,
        )
        inside = collections.Counter(
            w for t, w in self.kernel if any(a <= t <= b for a, b in stalls)
        )
        for where, count in inside.most_common(10):
            print(f"{count:6d}  {where}", file=sys.stderr)


def spawn(args: list[str], home: Path) -> dict:
    env = {**os.environ, "REFINER_GUI_HOME": str(home), "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, __file__, *args],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--looks", type=int, default=100)
    p.add_argument("--latency", type=float, default=1.0)
    p.add_argument("--poll", type=float, default=0.5, help="poll period on loopback (auto polling)")
    p.add_argument("--child", choices=["wall", "app", "app-thread", "bare", "busy"])
    p.add_argument("--url")
    p.add_argument("--seconds", type=float, default=0.0)
    p.add_argument("--inputs", type=Path, help="the 4095 px inputs, made by the bench")
    p.add_argument("--skip-wall", action="store_true", help="only the window measurements")
    p.add_argument(
        "--compare-thread",
        action="store_true",
        help="also run the window's batch on threads of its process (the old way)",
    )
    p.add_argument(
        "--busy-baseline",
        action="store_true",
        help="also the idle window with every core kept busy by another process",
    )
    a = p.parse_args()
    if a.child == "wall":
        print(json.dumps(child_wall(a.url, a.looks, a.poll)))
        return
    if a.child in ("app", "app-thread", "bare", "busy"):
        print(json.dumps(child_window(a.url, a.looks, a.poll, a.child, a.seconds, a.inputs)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        sandbox, url = start_sandbox(a.latency, home / "sandbox")
        try:
            common = ["--url", url, "--looks", str(a.looks), "--poll", str(a.poll)]
            ideal = a.looks / 5 * a.latency
            wall = {"wall": 0.0, "done": 0, "failed": 0}
            if not a.skip_wall:
                wall = spawn(["--child", "wall", *common], home / "wall")
            print(
                f"wall: {wall['wall']:.1f} s for {wall['done']} done / {wall['failed']} failed; "
                f"ideal {ideal:.1f} s; ratio {wall['wall'] / ideal:.3f} (goal <= 1.15)"
            )
            # The 4095 px inputs are made here, once: encoding them takes ~300 MB, which
            # until session 8 was counted in the window's peak RSS.
            make_looks(home / "inputs", True, 0)
            big = ["--inputs", str(home / "inputs")]
            app = spawn(["--child", "app", *common, *big], home / "app")
            bare = spawn(["--child", "bare", *common, "--seconds", str(app["wall"])], home / "b")
            print(
                f"window: longest stall {app['stall_ms']:.0f} ms (idle {bare['stall_ms']:.0f} ms;"
                f" goal < 50), peak RSS {app['rss_mb']:.0f} MB (bare window "
                f"{bare['rss_mb']:.0f} MB; goal <= 500); 4095 px batch {app['wall']:.1f} s, "
                f"{app['done']} done / {app['failed']} failed"
            )
            worst = ", ".join(
                f"{x['ms']} ms ({x['steal_ms']} ms host steal meanwhile)" for x in app["stalls"]
            )
            print(
                f"stalls over 40 ms: {app['stalls_over_40ms']}; longest: {worst or 'none'}; "
                f"gaps over 20 ms: {app['gaps_over_20ms']} (idle {bare['gaps_over_20ms']}); "
                f"99.9th percentile gap {app['p999_ms']:.0f} ms (idle {bare['p999_ms']:.0f} ms)"
            )
            print(
                f"longest stall less the host's steal in it: {app['stall_net_of_steal_ms']:.0f}"
                f" ms (idle {bare['stall_net_of_steal_ms']:.0f} ms); peak RSS: the window's "
                f"process {app['window_rss_mb']:.0f} MB, the batch's {app['child_rss_mb']:.0f} MB"
            )
            if a.busy_baseline:
                busy = spawn(
                    ["--child", "busy", *common, "--seconds", str(app["wall"])], home / "c"
                )
                print(
                    f"baseline, the idle window with every core busy (no app work): longest "
                    f"stall {busy['stall_ms']:.0f} ms ({busy['stalls_over_40ms']} over 40 ms, "
                    f"{busy['gaps_over_20ms']} over 20 ms, 99.9th percentile "
                    f"{busy['p999_ms']:.0f} ms; less steal {busy['stall_net_of_steal_ms']:.0f} ms)"
                )
            if a.compare_thread:
                old = spawn(["--child", "app-thread", *common, *big], home / "thread")
                print(
                    f"baseline, the batch on threads of the window's process: longest stall "
                    f"{old['stall_ms']:.0f} ms ({old['stalls_over_40ms']} over 40 ms, "
                    f"{old['gaps_over_20ms']} over 20 ms, 99.9th percentile "
                    f"{old['p999_ms']:.0f} ms; less steal {old['stall_net_of_steal_ms']:.0f}"
                    f" ms), peak RSS {old['rss_mb']:.0f} MB, batch {old['wall']:.1f} s;"
                    " ratio own process / "
                    f"threads: stall {app['stall_ms'] / old['stall_ms']:.2f}, batch wall "
                    f"{app['wall'] / old['wall']:.2f}"
                )
        finally:
            sandbox.terminate()
            sandbox.wait(10)


if __name__ == "__main__":
    main()
