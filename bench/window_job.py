"""Responsiveness and memory of the window through a whole job with 4095x4095 images.

Two measurements, each against a baseline in the same run:

* Longest stall of the GUI event loop (a 5 ms QTimer heartbeat) while loading four
  4095x4095 inputs, running a job and opening the result. Baseline: the same heartbeat in
  an idle window for the same wall time. Goal: the app's longest stall < 50 ms.
* Peak RSS of the process through that job. Baseline: a bare QMainWindow process.
  Goal: <= 400 MB.

The sandbox runs in its own process (``refiner-cli sandbox``) so its image work is not
counted against the window. Run from the repository root:

    QT_QPA_PLATFORM=offscreen python bench/window_job.py
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def make_inputs(folder: Path) -> dict[str, Path]:
    from bench.preflight import largest_jpeg_under, noisy_picture
    from refiner_gui.images import MAX_FILE_BYTES

    out = {}
    for i, name in enumerate(("person", "top", "coarse", "bottom")):
        p = folder / f"{name}.jpg"
        p.write_bytes(largest_jpeg_under(noisy_picture(i), MAX_FILE_BYTES - 50_000))
        out[name] = p
    return out


def peak_rss_mb() -> float:
    """Peak RSS of this process. VmHWM, not ru_maxrss: Linux carries ru_maxrss over from
    the forking parent across exec, which would count the image generator's memory."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(mode: str, base_url: str, inputs: dict[str, str], seconds: float) -> dict:
    from PySide6.QtCore import QElapsedTimer, QTimer
    from PySide6.QtWidgets import QApplication, QMainWindow

    app = QApplication([])
    gaps: dict[str, float] = {}
    phase = ["start"]
    clock = QElapsedTimer()
    clock.start()
    last = [clock.elapsed()]

    def beat() -> None:
        now = clock.elapsed()
        gap = now - last[0]
        gaps[phase[0]] = max(gaps.get(phase[0], 0.0), gap)
        last[0] = now

    heart = QTimer()
    heart.setInterval(5)
    heart.timeout.connect(beat)
    heart.start()

    if mode == "bare":
        w = QMainWindow()
        w.resize(1400, 860)
        w.show()
        phase[0] = "idle"
        QTimer.singleShot(int(seconds * 1000), app.quit)
        app.exec()
        return {"max_stall_ms": max(gaps.values()), "gaps": gaps, "peak_rss_mb": peak_rss_mb()}

    from refiner_gui.api import RefinerClient
    from refiner_gui.settings import Settings
    from refiner_gui.slots import BOTTOM, COARSE, PERSON, TOP
    from refiner_gui.ui.main_window import MainWindow

    w = MainWindow(
        client_factory=lambda: RefinerClient("bench", base_url, poll_interval=0.2),
        settings=Settings(),
    )
    w.resize(1400, 860)
    w.show()
    slots = {PERSON: "person", TOP: "top", COARSE: "coarse", BOTTOM: "bottom"}
    t0 = time.monotonic()
    timings: dict[str, float] = {}

    def step() -> None:
        if phase[0] == "start":
            phase[0] = "loading"
            for slot, name in slots.items():
                w.inputs.set_file(slot, Path(inputs[name]))
            w.inputs.set_gender("woman")
        elif phase[0] == "loading":
            if w.inputs.readiness().ready and all(w.inputs.report(s) for s in slots):
                timings["loaded_s"] = time.monotonic() - t0
                phase[0] = "job"
                w.start_job()
        elif phase[0] == "job":
            if not w.job_running():
                timings["job_done_s"] = time.monotonic() - t0
                phase[0] = "viewing"
                w.viewer.fit()
                QTimer.singleShot(1500, lambda: phase.__setitem__(0, "done"))
        elif phase[0] == "done":
            poll.stop()
            app.quit()

    poll = QTimer()
    poll.setInterval(20)
    poll.timeout.connect(step)
    poll.start()
    profile = None
    if os.environ.get("BENCH_PROFILE"):  # where the GUI thread's time goes (to stderr)
        import cProfile

        profile = cProfile.Profile()
        profile.enable()
    app.exec()
    if profile is not None:
        import pstats

        profile.disable()
        pstats.Stats(profile, stream=sys.stderr).sort_stats("tottime").print_stats(25)
    ok = w.shown is not None
    w.shutdown()
    return {
        "ok": ok,
        "max_stall_ms": max(v for k, v in gaps.items() if k != "start"),
        "gaps": gaps,
        "peak_rss_mb": peak_rss_mb(),
        "timings": timings,
        "error": None if ok else w.error_panel.message.text(),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--child", choices=["app", "bare"])
    ap.add_argument("--base-url")
    ap.add_argument("--inputs")
    ap.add_argument("--seconds", type=float, default=5.0)
    args = ap.parse_args()
    if args.child:
        print(
            json.dumps(
                child(args.child, args.base_url, json.loads(args.inputs or "{}"), args.seconds)
            )
        )
        return

    with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryDirectory() as pyc:
        # Bytecode cached, as an installed app has it (pip and PyInstaller ship compiled
        # modules): compiling on import would add stalls no user sees. A warm-up run
        # below fills the cache.
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env.update(REFINER_GUI_HOME=tmp, PYTHONPYCACHEPREFIX=pyc)
        inputs = {k: str(v) for k, v in make_inputs(Path(tmp)).items()}
        sandbox = subprocess.Popen(
            [sys.executable, "-m", "refiner_gui.cli", "sandbox", "--port", "0", "--latency", "3"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
            cwd=ROOT,
        )
        try:
            assert sandbox.stdout is not None
            base_url = sandbox.stdout.readline().strip()
            cmd = [sys.executable, __file__, "--base-url", base_url, "--inputs", json.dumps(inputs)]
            for _ in range(2):  # the first run only warms the bytecode and file caches
                app = json.loads(
                    subprocess.run(
                        cmd + ["--child", "app"],
                        env=env,
                        cwd=ROOT,
                        capture_output=True,
                        text=True,
                        check=True,
                    ).stdout.splitlines()[-1]
                )
            seconds = app["timings"].get("job_done_s", 5.0) + 1.5
            bare = json.loads(
                subprocess.run(
                    cmd + ["--child", "bare", "--seconds", f"{seconds:.1f}"],
                    env=env,
                    cwd=ROOT,
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout.splitlines()[-1]
            )
        finally:
            sandbox.terminate()
            sandbox.wait(10)
    print(f"job finished: {app['ok']} {app.get('error') or ''}".rstrip())
    print(f"phases (s from start): {app['timings']}")
    print(
        "longest event-loop stall per phase (ms): "
        + ", ".join(f"{k} {v:.0f}" for k, v in app["gaps"].items())
    )
    print(
        f"longest stall: app {app['max_stall_ms']:.0f} ms, idle bare window "
        f"{bare['max_stall_ms']:.0f} ms, ratio {app['max_stall_ms'] / bare['max_stall_ms']:.1f}"
        " (goal: app < 50 ms)"
    )
    print(
        f"peak RSS: app {app['peak_rss_mb']:.0f} MB, bare window {bare['peak_rss_mb']:.0f} MB,"
        f" ratio {app['peak_rss_mb'] / bare['peak_rss_mb']:.2f} (goal: app <= 400 MB)"
    )


if __name__ == "__main__":
    main()
