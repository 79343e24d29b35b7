"""``refiner-cli tryon`` and ``refiner-cli refine --generate-coarse``: jobs that make their
own coarse image with Try on Clothes Pro or Premium (:mod:`refiner_gui.jobs.two_stage`).

Both store a two-stage job before anything is sent and run it like every job
(:func:`~refiner_gui.cli_jobs.run_stored`), so ``resume --all`` finishes one a crash
interrupted, at the right stage. What the job will cost is said before it starts.
"""

from __future__ import annotations

import argparse
import sqlite3
from pathlib import Path
from typing import Any

from refiner_gui.api import CancelToken
from refiner_gui.cli_inputs import apply_fixes
from refiner_gui.cli_jobs import check_out, open_store, os_reason, run_stored
from refiner_gui.cli_output import EXIT_USAGE, Reporter, payload
from refiner_gui.images import check_image
from refiner_gui.jobs import StoreError
from refiner_gui.jobs.two_stage import COSTS, MODEL_NAMES, job_cost
from refiner_gui.slots import BOTTOM, PERSON, TOP

__all__ = ["add_tryon_parser", "cmd_tryon", "cost_text"]


def cost_text(kind: str, model: str) -> str:
    """What the job costs, said before it starts: "costs 55 credits (Try on Clothes Pro
    30 + Refiner 25) when both calls succeed; failed calls are not billed"."""
    parts = [f"{MODEL_NAMES[model]} {COSTS[model]}"]
    if kind == "tryon_refine":
        parts.append(f"Refiner {COSTS['refiner']}")
    both = "both calls succeed" if kind == "tryon_refine" else "the call succeeds"
    return (
        f"costs {job_cost(kind, model)} credits ({' + '.join(parts)}) when {both}; "
        "failed calls are not billed"
    )


def add_tryon_parser(sub: Any) -> None:
    """The ``tryon`` sub-command (its common options are added by the caller)."""
    p = sub.add_parser(
        "tryon",
        help="make the coarse image with Try on Clothes Pro or Premium and save it",
    )
    p.add_argument("--person", required=True, type=Path, help="the person photo")
    p.add_argument("--top", required=True, type=Path, help="the top garment (or dress)")
    p.add_argument("--bottom", type=Path, default=None, help="the bottom garment (optional)")
    add_model_option(p)
    p.add_argument(
        "--out", type=Path, default=None, help="where to save the coarse image (.png or .jpg)"
    )
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.add_argument(
        "--fix",
        action="store_true",
        help="upload conforming copies of images that break the rules (originals untouched)",
    )


def add_model_option(p: argparse.ArgumentParser) -> None:
    """``--model pro|premium``: which try-on makes the coarse image."""
    p.add_argument(
        "--model",
        choices=["pro", "premium"],
        default="pro",
        help="Try on Clothes Pro (about 40 s, 30 credits; the default) or Premium "
        "(about 80 s, 50 credits)",
    )


def cmd_tryon(args: argparse.Namespace, rep: Reporter, cancel: CancelToken) -> int:
    """``tryon``, and ``refine --generate-coarse``: check the person and garments, store a
    two-stage job, say its cost, run it, export the result (the coarse image for
    ``tryon``, the refined one for ``refine``)."""
    from refiner_gui.cli import make_client

    kind = "tryon" if args.command == "tryon" else "tryon_refine"
    check_out(args)
    files = {"person": args.person, "top": args.top, "bottom": args.bottom}
    reports = {PERSON: check_image(args.person, PERSON), TOP: check_image(args.top, TOP)}
    if args.bottom is not None:
        reports[BOTTOM] = check_image(args.bottom, BOTTOM)
    bad = {slot: r for slot, r in reports.items() if not r.ok}
    if bad and args.fix:
        bad, files = apply_fixes(reports, files, rep)
    if bad:
        for slot, r in bad.items():
            for problem in r.problems:
                rep.progress(f"{slot}: {r.path.name}: {problem.message}")
        rep.result(
            payload(
                "rejected_before_upload",
                error={
                    "http_status": None,
                    "code": "PREFLIGHT",
                    "message": "input images break the service's rules",
                    "slots": sorted(bad),
                },
            ),
            "rejected before upload: input images break the service's rules",
        )
        return EXIT_USAGE
    client = make_client(args)
    store = open_store()
    try:
        try:
            job = store.create_job(
                {PERSON: files["person"], TOP: files["top"], BOTTOM: files["bottom"]},
                getattr(args, "gender", None) or "",
                kind=kind,
                tryon_model=args.model,
            )
        except OSError as exc:
            raise StoreError(
                f"The inputs could not be copied into the job history: {os_reason(exc)}. "
                f"Free some disk space or make {store.root} writable, then run again. "
                "Nothing was sent."
            ) from None
        except sqlite3.Error as exc:
            raise StoreError(f"The job could not be recorded: {exc}. Nothing was sent.") from None
        rep.progress(f"job {job.id}: {cost_text(kind, args.model)}")
        rep.progress(f"job {job.id}: generating the coarse image ({MODEL_NAMES[args.model]})")
        return run_stored(args, rep, store, client, job, cancel)
    finally:
        client.close()
        store.close()
