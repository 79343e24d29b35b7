"""Benchmark: the HTML review export of 1,000 reviewed jobs against plain Pillow thumbnails.

Run from the repository root:

    python bench/export.py [--jobs 1000] [--input-sets 4] [--runs 3] [--result-format jpg]

Set-up (not timed): a real :class:`JobStore` in a temporary folder with ``--jobs`` reviewed,
succeeded jobs. Inputs are 1024×1536 photo-like JPEGs (blurred noise over a gradient, about
the size a camera JPEG of that resolution has), ``--input-sets`` sets of person, top,
coarse (and a bottom for every other set) shared across the jobs the way a stylist reuses a
model photo; every job has its **own** refined result file (1024×1536, ``--result-format``),
so per-file caching only helps with the shared inputs. The script prints how many distinct
files the export has to decode.

Timed, in this one process, files in the page cache, median of ``--runs``:

* baseline: the simplest way to get the same thumbnails — one thread, for each distinct
  file ``Image.open`` → ``thumbnail((240, 240))`` → JPEG into memory (Pillow's own
  ``thumbnail`` already uses ``draft`` for JPEGs);
* ``export_html`` of all jobs (240 px thumbnails), the thing under test;
* for scale, ``export_csv`` and ``export_json`` of the same jobs, and one
  ``export_contact_sheet`` PDF.

Goal: the HTML of 1,000 jobs in under 10 s.
"""

from __future__ import annotations

import argparse
import io
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a source checkout

from refiner_gui.jobs.models import DEFECT_TAGS, Job  # noqa: E402
from refiner_gui.jobs.previews import write_preview  # noqa: E402
from refiner_gui.jobs.store import JobStore  # noqa: E402
from refiner_gui.reports import (  # noqa: E402
    export_contact_sheet,
    export_csv,
    export_html,
    export_json,
)
from refiner_gui.reports._thumbs import default_workers  # noqa: E402
from refiner_gui.slots import BOTTOM, COARSE, PERSON, TOP  # noqa: E402

W, H = 1024, 1536
THUMB = 240


def photo_field(seed: int, size: tuple[int, int]) -> Image.Image:
    """Blurred noise over a gradient: compresses like a detailed photo (~0.3-0.5 MB as a
    1024×1536 JPEG at quality 90), unlike flat test shapes that JPEG squeezes to nothing."""
    sigmas = (22 + seed % 7, 28 + seed % 5, 34 + seed % 3)
    noise = Image.merge("RGB", [Image.effect_noise(size, s) for s in sigmas])
    noise = noise.filter(ImageFilter.GaussianBlur(0.8))
    gradient = Image.linear_gradient("L").resize(size).convert("RGB")
    return Image.blend(noise, gradient.rotate(90 * (seed % 4), expand=False), 0.45)


def make_dataset(
    root: Path, jobs: int, input_sets: int, result_format: str
) -> tuple[JobStore, list[Job]]:
    src = root / "src"
    src.mkdir()
    store = JobStore(root / "data" / "jobs.sqlite3")
    sets: list[dict[str, Path]] = []
    for k in range(input_sets):
        files: dict[str, Path] = {}
        slots = (PERSON, TOP, COARSE, BOTTOM) if k % 2 else (PERSON, TOP, COARSE)
        for n, slot in enumerate(slots):
            path = src / f"set{k}-{slot}.jpg"
            photo_field(k * 4 + n, (W, H)).save(path, "JPEG", quality=90)
            files[slot] = path
        sets.append(files)

    # One large field; each result is a different window of it, so every file is distinct
    # (different bytes and content) without generating 1,000 noise images.
    field = photo_field(99, (W + 300, H + 300))
    tags = list(DEFECT_TAGS)
    fmt = {"jpg": "JPEG", "png": "PNG"}[result_format]
    for i in range(jobs):
        job = store.create_job(sets[i % input_sets], "woman" if i % 3 else "man")
        store.mark_submitting(job.id)
        store.mark_submitted(job.id, f"task-{i:05d}", f"req-{i}", f"log-{i}")
        result = store.result_path_for(job.id, f".{result_format}")
        x, y = (i * 7) % 300, (i * 13) % 300
        field.crop((x, y, x + W, y + H)).save(
            result, fmt, **({"quality": 90} if fmt == "JPEG" else {})
        )
        write_preview(result)  # as the job runner does when it stores a result
        store.mark_succeeded(job.id, result)
        verdict = None if i % 10 == 9 else ("fail" if i % 4 == 0 else "pass")
        store.set_review(
            job.id,
            verdict,
            [tags[i % len(tags)]] if verdict == "fail" else [],
            f"look {i}: sleeve length, ok? <check> ünï" if i % 5 == 0 else "",
        )
    return store, store.list_jobs(descending=False)


def distinct_files(jobs: list[Job]) -> list[Path]:
    seen: dict[Path, None] = {}
    for j in jobs:
        for item in j.inputs.values():
            seen.setdefault(item.path, None)
        if j.result_path is not None:
            seen.setdefault(j.result_path, None)
    return list(seen)


def baseline(paths: list[Path]) -> None:
    for p in paths:
        with Image.open(p) as im:
            im.thumbnail((THUMB, THUMB))
            im.convert("RGB").save(io.BytesIO(), "JPEG", quality=82)


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=1000)
    ap.add_argument("--input-sets", type=int, default=4)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--result-format", choices=("jpg", "png"), default="jpg")
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="refiner-bench-export-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        store, jobs = make_dataset(root, args.jobs, args.input_sets, args.result_format)
        files = distinct_files(jobs)
        sizes = [p.stat().st_size for p in files]
        print(
            f"set-up {time.perf_counter() - t0:.1f} s: {len(jobs)} jobs, {len(files)} distinct "
            f"files to decode ({len(jobs)} results .{args.result_format}, "
            f"{len(files) - len(jobs)} shared inputs), {W}x{H}, median "
            f"{statistics.median(sizes) / 1e6:.2f} MB each"
        )
        out = root / "out"
        out.mkdir()

        base_t, html_t = [], []
        for _ in range(args.runs):  # alternate, so drift hits both alike
            base_t.append(timed(lambda: baseline(files)))
            html_t.append(timed(lambda: export_html(jobs, out / "review.html")))
        csv_t = timed(lambda: export_csv(jobs, out / "review.csv"))
        json_t = timed(lambda: export_json(jobs, out / "review.json"))
        pdf_t = timed(lambda: export_contact_sheet(jobs, out / "lookbook.pdf"))
        store.close()

        b, h = statistics.median(base_t), statistics.median(html_t)
        size = (out / "review.html").stat().st_size
        print(
            f"baseline (plain Pillow thumbnails of the {len(files)} files, 1 thread): "
            f"{b:.2f} s (median of {args.runs})"
        )
        print(
            f"export_html of {len(jobs)} jobs ({default_workers()} decode threads): "
            f"{h:.2f} s (median of {args.runs}), {size / 1e6:.1f} MB"
        )
        print(
            f"ratio html / baseline: {h / b:.2f}   goal: html < 10 s -> "
            f"{'OK' if h < 10 else 'MISSED'}"
        )
        print(
            f"export_csv {csv_t * 1000:.0f} ms, export_json {json_t * 1000:.0f} ms, "
            f"export_contact_sheet PDF {pdf_t:.2f} s "
            f"({(out / 'lookbook.pdf').stat().st_size / 1e6:.1f} MB)"
        )
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS of the process: {peak:.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
