"""``refiner-cli batch``: refine many looks from a folder or a CSV manifest. No Qt.

``refiner-cli batch SOURCE --out-dir DIR [--concurrency N] [--model pro|premium] [--dry-run]
[--yes] [--json]``

1. reads the looks (:mod:`refiner_gui.batch.manifest`) and dry-runs them
   (:mod:`refiner_gui.batch.plan`): every look with what is wrong with it, the cost, and
   the balance from ``query-credits``. A look without a coarse image makes it first with
   ``--model`` (Try on Clothes Pro, the default, or Premium; kept with the batch, so a
   resumed batch uses the same) and costs the try-on plus the refinement;
2. with ``--dry-run`` stops there; a batch whose cost exceeds the balance (or whose
   balance is unknown) starts only with ``--yes`` or a "y" typed at the prompt;
3. stores the batch and runs it (:class:`refiner_gui.batch.BatchQueue`): a progress bar on
   a terminal, else a line per look; with ``--json`` one JSON object per look as it
   settles, then a summary object.

Exit codes: 0 every look succeeded; 3 some failed (or were invalid); 4 the service was
unavailable, credits ran out or looks are unfinished (resumable); 2 a usage problem;
130 interrupted: the batch stays in the store and ``refiner-cli resume --all`` (or
``batch --resume ID``) carries on, never re-sending an upload.
"""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from refiner_gui.api import AuthError, CancelToken, RefinerError
from refiner_gui.batch import (
    DEFAULT_CONCURRENCY,
    MAX_CONCURRENCY,
    BatchEvent,
    BatchQueue,
    Counts,
    LookView,
    ManifestError,
    Plan,
    check_balance,
    make_plan,
    read_source,
)
from refiner_gui.cli_output import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_REJECTED,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
    Reporter,
    UsageError,
)
from refiner_gui.cli_tryon import add_model_option
from refiner_gui.config import app_paths
from refiner_gui.jobs import JobStore
from refiner_gui.jobs.store_batches import NewLook
from refiner_gui.safe_text import strict_json

__all__ = ["add_batch_parser", "cmd_batch", "resume_batches"]


def concurrency(text: str) -> int:
    """``--concurrency``: 1 to :data:`MAX_CONCURRENCY` (argparse ``type``)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a whole number") from None
    if not 1 <= value <= MAX_CONCURRENCY:
        raise argparse.ArgumentTypeError(
            f"must be 1 to {MAX_CONCURRENCY} (the service runs at most {MAX_CONCURRENCY} "
            "tasks at once)"
        )
    return value


def add_batch_parser(
    sub: Any, common: Callable[[argparse.ArgumentParser], None]
) -> argparse.ArgumentParser:
    """Add the ``batch`` command to ``sub`` (argparse sub-parsers); ``common`` adds the
    options every command that talks to the service takes."""
    p: argparse.ArgumentParser = sub.add_parser(
        "batch", help="refine many looks from a folder or a CSV manifest"
    )
    p.add_argument(
        "source",
        nargs="?",
        type=Path,
        help="a folder with one subfolder per look, or a .csv manifest "
        "(columns person, top, coarse, bottom, gender, name)",
    )
    p.add_argument("--out-dir", type=Path, default=None, help="where results and summary.csv go")
    p.add_argument(
        "--concurrency",
        type=concurrency,
        default=DEFAULT_CONCURRENCY,
        metavar="N",
        help=f"looks at once, 1 to {MAX_CONCURRENCY} (default {DEFAULT_CONCURRENCY})",
    )
    add_model_option(p)  # for the looks without a coarse image
    p.add_argument("--dry-run", action="store_true", help="list what would be sent; send nothing")
    p.add_argument("--yes", action="store_true", help="start even if the balance looks short")
    p.add_argument("--gender", choices=["woman", "man"], help="for look folders without gender.txt")
    p.add_argument(
        "--fix", action="store_true", help="send conforming copies of images Fix can cure"
    )
    p.add_argument(
        "--resume", type=int, default=None, metavar="BATCH_ID", help="carry on a stored batch"
    )
    common(p)
    return p


class _Printer:
    """Batch events as a progress bar (a terminal) or lines, and JSON lines with --json.

    Called on worker threads: one lock keeps lines whole."""

    def __init__(self, rep: Reporter) -> None:
        self.rep = rep
        self.lock = threading.Lock()
        self.bar = not rep.as_json and rep.err.isatty()
        self.settled: set[int] = set()

    def __call__(self, ev: BatchEvent) -> None:
        with self.lock:
            if ev.kind == "notice":
                self._line(ev.message)
            elif (
                ev.kind == "look"
                and ev.look is not None
                and ev.look.status.settled
                and ev.look.position not in self.settled
            ):
                self.settled.add(ev.look.position)
                self._look(ev.look)
            if self.bar:
                self._bar(ev.counts)

    def _line(self, text: str) -> None:
        if self.bar:
            self.rep.err.write("\r\033[K")
        self.rep.progress(text)

    def _look(self, v: LookView) -> None:
        if self.rep.as_json:
            print(strict_json(look_dict(v), sort_keys=True), file=self.rep.out, flush=True)
        detail = v.output.name if v.output else v.error
        self._line(f"{v.name}: {v.status.value}" + (f": {detail}" if detail else ""))

    def _bar(self, c: Counts) -> None:
        total = c.done + c.failed + c.running + c.waiting + c.unfinished + c.held
        settled = c.done + c.failed
        width = 30
        filled = width * settled // max(total, 1)
        bar = "#" * filled + "." * (width - filled)
        self.rep.err.write(f"\r\033[K[{bar}] {settled}/{total}  {c.line()}")
        self.rep.err.flush()


def look_dict(v: LookView) -> dict[str, Any]:
    """One look as the JSON object ``--json`` prints."""
    return {
        "look": v.name,
        "state": v.status.value,
        "job_id": v.job_id,
        "task_id": v.task_id,
        "tryon_task_id": v.tryon_task_id,
        "output": str(v.output) if v.output else None,
        "error": v.error or None,
    }


def _print_plan(rep: Reporter, plan: Plan) -> None:
    for p in plan.looks:
        if p.sendable:
            note = plan.coarse_note(p)
            cost = f"{plan.cost_of(p)} credits"
            rep.progress(f"send  {p.look.name}: " + (f"{note}, {cost}" if note else cost))
        else:
            fix = "  (Fix can cure these: run with --fix)" if p.fixable else ""
            rep.progress(f"skip  {p.look.name}: {'; '.join(p.problems)}{fix}")
    rep.progress(plan.balance_line())


def _plan_json(plan: Plan) -> dict[str, Any]:
    return {
        "status": "dry_run",
        "looks": [
            {
                "look": p.look.name,
                "row": p.look.row,
                "send": p.sendable,
                "problems": list(p.problems),
                "fixable": p.fixable,
                "coarse": plan.coarse_note(p).removeprefix("coarse image: ") or "given",
                "cost": plan.cost_of(p) if p.sendable else 0,
            }
            for p in plan.looks
        ],
        "to_send": len(plan.sendable),
        "tryon_model": plan.tryon_model,
        "cost": plan.cost,
        "balance": plan.balance,
        "balance_error": plan.balance_error,
        "affordable": plan.affordable,
    }


def _confirmed(args: argparse.Namespace, rep: Reporter, plan: Plan) -> bool:
    if plan.affordable or args.yes:
        return True
    if rep.as_json or not sys.stdin.isatty():
        return False
    rep.err.write("The balance may not cover this batch. Start anyway? [y/N] ")
    rep.err.flush()
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def cmd_batch(args: argparse.Namespace, rep: Reporter, cancel: CancelToken) -> int:
    """``batch``: dry-run, confirm the cost, store and run a batch (module docstring)."""
    from refiner_gui.cli import make_client  # the command line's client rules

    if args.resume is not None:
        store = JobStore.open_default()
        try:
            return _run(args, rep, store, args.resume)
        finally:
            store.close()
    if args.source is None or args.out_dir is None:
        raise UsageError("Give a folder or a .csv manifest, and --out-dir (or --resume ID).")
    try:
        looks = read_source(args.source, default_gender=args.gender)
    except ManifestError as exc:
        raise UsageError(str(exc)) from None
    plan = make_plan(
        looks, fix=args.fix, fixed_dir=app_paths().data / "fixed", tryon_model=args.model
    )
    client = make_client(args)
    try:
        check_balance(
            plan, lambda: [(b.unique_sign, b.balance) for b in client.credits(cancel=cancel)]
        )
    finally:
        client.close()
    _print_plan(rep, plan)
    if args.dry_run:
        rep.result(_plan_json(plan), plan.balance_line())
        return EXIT_OK if all(p.sendable for p in plan.looks) else EXIT_REJECTED
    if not plan.sendable:
        rep.result(_plan_json(plan), "nothing to send: every look has a problem")
        return EXIT_REJECTED
    if not _confirmed(args, rep, plan):
        raise UsageError(
            f"The batch costs up to {plan.cost} credits and the balance "
            + (
                f"is {plan.balance:g}"
                if plan.balance is not None
                else f"is unknown ({plan.balance_error})"
            )
            + ". Nothing was sent. Add credits, or pass --yes to start anyway."
        )
    store = JobStore.open_default()
    try:
        record = store.create_batch(
            name=args.source.name,
            source=str(args.source.resolve()),
            out_dir=args.out_dir,
            concurrency=args.concurrency,
            looks=[
                NewLook(p.look.name, p.look.gender, p.look.files, "; ".join(p.problems) or None)
                for p in plan.looks
            ],
            base_url=client.base_url,
            tryon_model=args.model,
        )
        rep.progress(f"batch {record.id}: {len(plan.sendable)} looks to send")
        return _run(args, rep, store, record.id)
    finally:
        store.close()


def _run(args: argparse.Namespace, rep: Reporter, store: JobStore, batch_id: int) -> int:
    """Run a stored batch on this thread; print and return its exit code."""
    from refiner_gui.cli import make_client

    try:
        store.batch(batch_id)
    except KeyError:
        raise UsageError(f"There is no batch {batch_id} (see the window's history).") from None
    printer = _Printer(rep)
    queue = BatchQueue(
        store,
        lambda: make_client(args),
        batch_id,
        concurrency=getattr(args, "concurrency", None),
        on_event=printer,
    )
    for view in queue.views():  # settled before this run (invalid rows, done earlier)
        if view.status.settled:
            printer(BatchEvent("look", queue.counts(), look=view))
    try:
        counts = queue.run(exit_when_paused=True)
    except KeyboardInterrupt:
        rep.progress(
            f"interrupted: batch {batch_id} is kept; carry on with: refiner-cli resume --all"
        )
        rep.result(
            {"status": "interrupted", "batch_id": batch_id, **_counts_dict(queue.counts())},
            "interrupted",
        )
        return EXIT_INTERRUPTED
    if printer.bar:
        rep.err.write("\n")
    code = batch_code(counts, queue.stop_reason, queue.pause_reason)
    summary = {
        "status": {EXIT_OK: "done", EXIT_REJECTED: "failed"}.get(code, "unavailable"),
        "batch_id": batch_id,
        "out_dir": str(queue.batch.out_dir),
        "summary": str(queue.batch.out_dir / "summary.csv"),
        "stopped": queue.stop_reason,
        "paused": queue.pause_reason,
        **_counts_dict(counts),
    }
    if code != EXIT_OK and (counts.waiting or counts.unfinished):
        rep.progress(f"batch {batch_id} is kept; carry on with: refiner-cli resume --all")
    rep.result(summary, f"batch {batch_id}: {counts.line()}")
    return code


def _counts_dict(c: Counts) -> dict[str, Any]:
    return {
        "done": c.done,
        "failed": c.failed,
        "invalid": c.invalid,
        "waiting": c.waiting,
        "unfinished": c.unfinished,
        "held_elsewhere": c.held,
        "cancelled": c.cancelled,
    }


def batch_code(counts: Counts, stop_reason: str | None, pause_reason: str | None) -> int:
    """The exit code of a batch run (see the module docstring)."""
    if stop_reason == "auth":
        return EXIT_USAGE
    if pause_reason or counts.waiting or counts.unfinished or counts.held:
        return EXIT_UNAVAILABLE
    if counts.failed or counts.invalid:
        return EXIT_REJECTED
    return EXIT_OK


def resume_batches(args: argparse.Namespace, rep: Reporter, cancel: CancelToken) -> int:
    """Carry on every unfinished batch (``refiner-cli resume --all``); the worst code."""
    store = JobStore.open_default()
    codes = [EXIT_OK]
    try:
        for record in store.batches(unfinished=True):
            if cancel.cancelled:
                break
            args.concurrency = None  # each batch keeps its own setting
            try:
                codes.append(_run(args, rep, store, record.id))
            except AuthError as err:
                rep.progress(f"batch {record.id}: {err.user_message}")
                codes.append(EXIT_USAGE)
            except RefinerError as err:
                rep.progress(f"batch {record.id}: {err.user_message}")
                codes.append(EXIT_UNAVAILABLE)
    finally:
        store.close()
    return max(codes)
