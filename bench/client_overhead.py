"""How much the app's client costs over the plainest possible requests script.

One full job (submit, poll every 0.05 s, download) against the sandbox with zero latency,
done the way the app and the CLI run it (a durable job in a :class:`JobStore` in a temp
folder, then :func:`run_job`: inputs copied in, every step committed, the result verified
and given a preview) and by a bare script making the same three calls, in alternation in
the same process so machine noise hits both alike. Prints the medians of 20 runs each and
their ratio (goal: <= 1.15).

    python bench/client_overhead.py [--runs 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from refiner_gui.api import RefinerClient  # noqa: E402
from refiner_gui.jobs import JobStore, run_job  # noqa: E402
from refiner_gui.sandbox import SandboxServer  # noqa: E402
from tests.helpers.images import make_image  # noqa: E402

KEY = "bench-key"


def raw_job(base: str, files: dict[str, Path], out: Path) -> None:
    """The shortest script that does the job: no checks, no retries, no atomic writes."""
    s = requests.Session()
    h = {"ailabapi-api-key": KEY}
    r = s.post(
        base + "/api/portrait/enhance/try-on-clothes-refiner",
        headers=h,
        data={"task_type": "async", "gender": "woman"},
        files={k: (p.name, p.read_bytes()) for k, p in files.items()},
        timeout=30,
    )
    task = r.json()["task_id"]
    while True:
        d = s.get(
            base + "/api/common/query-async-task-result",
            params={"task_id": task},
            headers=h,
            timeout=30,
        ).json()
        if d["task_status"] == 2:
            break
        time.sleep(0.05)
    out.write_bytes(s.get(d["output"]["image_url"], timeout=30).content)
    s.close()


def app_job(base: str, store: JobStore, files: dict[str, Path]) -> None:
    """One job as users run it: stored first, then submitted, polled and downloaded."""
    c = RefinerClient(KEY, base, poll_interval=0.05)
    try:
        run_job(store, c, store.create_job(files, "woman"))
    finally:
        c.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp, SandboxServer(latency=0.0, credits=10**9) as srv:
        d = Path(tmp)
        person = make_image(d / "person.jpg", (1024, 1536), quality=92)
        top = make_image(d / "top.png", (800, 800))
        coarse = make_image(d / "coarse.png", (1024, 1536))
        files = {"person_image": person, "top_garment": top, "coarse_image": coarse}
        store = JobStore(d / "data" / "jobs.sqlite3")
        raw_t, app_t = [], []
        try:
            for i in range(args.runs + 2):
                jobs = (
                    (lambda: raw_job(srv.base_url, files, d / f"r{i}.png"), raw_t),  # noqa: B023
                    (lambda: app_job(srv.base_url, store, files), app_t),
                )
                for fn, bucket in jobs:
                    t0 = time.perf_counter()
                    fn()
                    if i >= 2:  # two warm-up rounds
                        bucket.append(time.perf_counter() - t0)
        finally:
            store.close()
        raw_m, app_m = statistics.median(raw_t), statistics.median(app_t)
    print(f"raw requests script: median {raw_m * 1000:.1f} ms over {len(raw_t)} runs")
    print(f"run_job (stored job): median {app_m * 1000:.1f} ms over {len(app_t)} runs")
    print(f"ratio app/raw: {app_m / raw_m:.3f} (goal <= 1.15)")


if __name__ == "__main__":
    main()
