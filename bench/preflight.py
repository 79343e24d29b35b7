"""Benchmark: pre-flight checking versus fully decoding the same four worst-case inputs.

Run from the repository root:

    python bench/preflight.py [--runs 50] [--decode-runs 5]

It writes four 4095×4095 JPEGs just under the 5 MB limit (noise over a gradient, with the
JPEG quality searched so each file lands as close under the limit as possible) into a
temporary folder, then times, in this one process and with the files in the page cache,
``check_inputs`` on them against ``Image.open(...).load()`` of each, and prints the medians
and their ratio. The goal is checking in under 10% of the decode time.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a source checkout

from refiner_gui.images import MAX_FILE_BYTES, check_inputs  # noqa: E402

SIDE = 4095


def noisy_picture(seed: int) -> Image.Image:
    """Gaussian noise per channel over a gradient: JPEG cannot compress it much, like a
    detailed photo at full resolution. ``seed`` varies the noise strengths (Pillow's noise
    generator itself is not seedable)."""
    sigmas = (30 + seed, 40 + seed, 50 + seed)
    noise = Image.merge("RGB", [Image.effect_noise((SIDE, SIDE), s) for s in sigmas])
    gradient = Image.linear_gradient("L").resize((SIDE, SIDE)).convert("RGB")
    return Image.blend(noise, gradient.rotate(90 * seed), 0.5)


def largest_jpeg_under(img: Image.Image, limit: int) -> bytes:
    """The highest-quality JPEG encoding of ``img`` that is at most ``limit`` bytes."""
    lo, hi, best = 1, 100, b""
    while lo <= hi:
        q = (lo + hi) // 2
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=q)
        if buf.tell() <= limit:
            best, lo = buf.getvalue(), q + 1
        else:
            hi = q - 1
    if not best:
        raise SystemExit("could not get the picture under the limit")
    return best


def median_ms(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def decode_all(paths: list[Path]) -> None:
    for p in paths:
        with Image.open(p) as im:
            im.load()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50, help="check_inputs repetitions")
    parser.add_argument("--decode-runs", type=int, default=5, help="full-decode repetitions")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as d:
        paths = []
        for i, name in enumerate(("person", "top", "coarse", "bottom")):
            path = Path(d) / f"{name}.jpg"
            path.write_bytes(largest_jpeg_under(noisy_picture(i), MAX_FILE_BYTES))
            paths.append(path)
        sizes = ", ".join(f"{p.stat().st_size / 2**20:.2f}" for p in paths)
        print(f"inputs: 4 × JPEG {SIDE}×{SIDE}, sizes {sizes} MB")

        reports = check_inputs(*paths)
        assert all(r.ok for r in reports.values()), [r.summary() for r in reports.values()]

        check_inputs(*paths)  # warm-up (imports, page cache)
        decode_all(paths)
        check = median_ms(lambda: check_inputs(*paths), args.runs)
        decode = median_ms(lambda: decode_all(paths), args.decode_runs)

    print(f"check_inputs (4 files): median {check:.2f} ms over {args.runs} runs")
    print(f"full decode  (4 files): median {decode:.1f} ms over {args.decode_runs} runs")
    print(f"ratio: {check / decode:.2%} of full decode (goal < 10%)")


if __name__ == "__main__":
    main()
