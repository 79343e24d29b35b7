"""``refiner-cli``: the same core as the window, from a terminal.

Every refinement is a durable job in the same store as the window's history
(:class:`~refiner_gui.jobs.JobStore` in the app's data folder, ``REFINER_GUI_HOME``
moves it): the inputs are copied in before anything is sent, the task id is committed
before the first poll, and the result is stored there before it is exported to ``--out``.
A killed run is finished by ``refiner-cli resume --all`` without submitting anything twice.

Exit codes (stable, for scripts):
    0   done
    1   an internal error (a bug: the details are on stderr)
    2   usage error, an input rejected before upload (nothing was sent), or a local
        problem to fix first (an unwritable folder, a full disk, a damaged job history);
        when a task was already billed, its job stays resumable (the message says how)
    3   the service rejected the request or the task failed
    4   service or network unavailable after retries (also: submission outcome unknown,
        or a job another live process is working on, left alone)
    5   timed out waiting (the task id is printed for ``refiner-cli resume``)
    130 interrupted

Progress goes to stderr (one updating line on a terminal); stdout carries only the result
(one JSON object with ``--json``), on every exit, errors included. The API key never
appears in either.
"""

from __future__ import annotations

import argparse
import logging
import os
import sqlite3
import sys
import threading
import traceback
from typing import Any, TextIO

from refiner_gui.api import (
    CancelToken,
    ConfigError,
    RefinerClient,
    RefinerError,
    RetryPolicy,
    TaskNotFound,
)
from refiner_gui.api.errors import ErrorInfo
from refiner_gui.api.keys import clean_api_key
from refiner_gui.cli_args import CliParser, build_parser
from refiner_gui.cli_batch import cmd_batch, resume_batches
from refiner_gui.cli_inputs import apply_fixes, cli_wording, cmd_check
from refiner_gui.cli_jobs import (
    check_out,
    cmd_jobs,
    default_out,
    export_result,
    open_store,
    os_reason,
    run_stored,
)
from refiner_gui.cli_output import (
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_REJECTED,
    EXIT_TIMEOUT,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
    Reporter,
    UsageError,
    error_payload,
    exit_code_for,
    job_code,
    job_dict,
    payload,
    report_settled,
    status_word,
    table_cell,
)
from refiner_gui.cli_tryon import cmd_tryon
from refiner_gui.config import (
    API_KEY_ENV,
    BASE_URL_ENV,
    DEFAULT_BASE_URL,
    DEFAULT_POLL_INTERVAL,
)
from refiner_gui.config import (
    app_paths as app_paths,  # re-exported: tests find the data folder through refiner_gui.cli
)
from refiner_gui.images import check_inputs
from refiner_gui.jobs import (
    HeldElsewhere,
    Job,
    JobHeld,
    JobState,
    JobStateError,
    JobStore,
    LocalWriteError,
    StoreError,
    recover,
)
from refiner_gui.keystore import get_api_key
from refiner_gui.outputs import export_image
from refiner_gui.sandbox import SandboxServer, named_faults
from refiner_gui.slots import BOTTOM, COARSE, PERSON, TOP

__all__ = [
    "EXIT_INTERNAL",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_REJECTED",
    "EXIT_TIMEOUT",
    "EXIT_UNAVAILABLE",
    "EXIT_USAGE",
    "COMMANDS",
    "Reporter",
    "UsageError",
    "build_parser",
    "exit_code_for",
    "main",
    "make_client",
    "run",
]

log = logging.getLogger(__name__)


def _still_waiting(job_id: int | None) -> bool:
    """Whether the job is still SUBMITTED: its task goes on, so resuming is the way on
    (e.g. after a refused key or result link while polling), never submitting again."""
    if job_id is None:
        return False
    try:
        store = JobStore.open_default()
        try:
            return store.get(job_id).state is JobState.SUBMITTED
        finally:
            store.close()
    except (KeyError, StoreError, OSError):
        return False


def _code_for(err: RefinerError) -> int:
    if isinstance(err, HeldElsewhere):
        return EXIT_UNAVAILABLE  # not ours to finish now: try again later
    if isinstance(err, LocalWriteError):
        return EXIT_USAGE  # a local problem to fix first (the job stays resumable)
    return exit_code_for(err)


def _report_error(rep: Reporter, err: RefinerError, job_id: int | None = None) -> int:
    code = _code_for(err)
    rep.progress(f"error: {err.title}: {err.user_message}")
    for label, value in (
        ("code", err.code),
        ("http status", err.http_status),
        ("vendor message", err.vendor_message),
        ("request_id", err.request_id),
        ("log_id", err.log_id),
    ):
        if value:
            rep.progress(f"  {label}: {value}")
    if (
        err.task_id
        and not isinstance(err, HeldElsewhere)
        and (
            code in (EXIT_TIMEOUT, EXIT_UNAVAILABLE, EXIT_INTERRUPTED)
            or isinstance(err, LocalWriteError)
            or _still_waiting(job_id)
        )
    ):
        rep.progress(f"  task id: {err.task_id}  (continue with: refiner-cli resume {err.task_id})")
    if job_id is not None:
        rep.progress(f"  job: {job_id}  (see: refiner-cli jobs)")
    rep.result(error_payload(code, err, job_id), f"failed: {err.user_message}")
    return code


# -- commands ------------------------------------------------------------------------------


def _api_key(args: argparse.Namespace, base_url: str) -> str:
    if args.api_key:
        return _checked_key(str(args.api_key), "--api-key")
    found = get_api_key()
    if found.key:
        where = API_KEY_ENV if found.source == "env" else "The saved key (Settings)"
        return _checked_key(found.key, where)
    raise UsageError(
        f"No API key. Pass --api-key, set {API_KEY_ENV}, or save one in the app's "
        "Settings (it goes to the OS keyring)."
    )


def _checked_key(raw: str, where: str) -> str:
    """``raw`` cleaned (:func:`clean_api_key`); UsageError naming ``where`` if refused."""
    try:
        key = clean_api_key(raw)
    except ConfigError as exc:
        raise UsageError(f"{where}: {exc}") from None
    if not key:
        raise UsageError(f"{where}: the API key is empty.")
    return key


def make_client(args: argparse.Namespace) -> RefinerClient:
    """The client the options ask for; UsageError when the key or URL is unusable."""
    base_url = args.base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
    key = _api_key(args, base_url)
    auto = args.poll_interval is None  # --poll-interval auto, the default
    try:
        return RefinerClient(
            key,
            base_url,
            poll_interval=DEFAULT_POLL_INTERVAL if auto else args.poll_interval,
            adaptive_polling=auto,
            timeout=args.timeout,
            retry=getattr(args, "retry", None),
        )
    except ConfigError as exc:
        raise UsageError(str(exc)) from None


def cmd_refine(args: argparse.Namespace, rep: Reporter, cancel: CancelToken) -> int:
    """``refine``: check the inputs, store a job, run it, export the result."""
    if args.generate_coarse:
        if args.coarse is not None:
            raise UsageError("Give --coarse or --generate-coarse, not both.")
        return cmd_tryon(args, rep, cancel)
    if args.coarse is None:
        raise UsageError(
            "Give the coarse try-on result with --coarse, or make it first with "
            "--generate-coarse [--model pro|premium]."
        )
    check_out(args)
    files = {"person": args.person, "top": args.top, "coarse": args.coarse, "bottom": args.bottom}
    reports = check_inputs(args.person, args.top, args.coarse, args.bottom)
    bad = {slot: r for slot, r in reports.items() if not r.ok}
    if bad and args.fix:
        bad, files = apply_fixes(reports, files, rep)
    if bad:
        for slot, r in bad.items():
            for p in r.problems:
                rep.progress(f"{slot}: {r.path.name}: {cli_wording(p.message)}")
        hint = " (try --fix)" if any(r.fixable for r in bad.values()) and not args.fix else ""
        if hint:
            rep.progress(
                "Run again with --fix to upload conforming copies (the originals are not touched)."
            )
        rep.result(
            payload(
                "rejected_before_upload",
                error={
                    "http_status": None,
                    "code": "PREFLIGHT",
                    "message": "input images break the service's rules" + hint,
                    "slots": sorted(bad),
                },
            ),
            "rejected before upload: input images break the service's rules" + hint,
        )
        return EXIT_USAGE
    client = make_client(args)  # before the job exists: a missing key leaves no job behind
    store = open_store()
    try:
        # The job (with copies of exactly what is uploaded) is committed before the upload.
        try:
            job = store.create_job(
                {
                    PERSON: files["person"],
                    TOP: files["top"],
                    COARSE: files["coarse"],
                    BOTTOM: files["bottom"],
                },
                args.gender,
                # Beside a fixed copy's name, the file the user named (provenance, names).
                original_names={
                    PERSON: args.person.name,
                    TOP: args.top.name,
                    COARSE: args.coarse.name,
                    **({BOTTOM: args.bottom.name} if args.bottom is not None else {}),
                },
            )
        except OSError as exc:  # a full disk, an unwritable inputs folder
            raise StoreError(
                f"The inputs could not be copied into the job history: {os_reason(exc)}. "
                f"Free some disk space or make {store.root} writable, then run again. "
                "Nothing was sent."
            ) from None
        except sqlite3.Error as exc:
            raise StoreError(
                f"The job could not be recorded: {exc}. Free some disk space (or wait for "
                "another process using the history), then run again. Nothing was sent."
            ) from None
        rep.progress(f"job {job.id}: inputs stored in the job history")
        return run_stored(args, rep, store, client, job, cancel)
    finally:
        client.close()
        store.close()


def cmd_resume(args: argparse.Namespace, rep: Reporter, cancel: CancelToken) -> int:
    """``resume``: finish one task (by id) or every unfinished job (``--all``)."""
    if args.all:
        if args.task_id or args.out is not None:
            raise UsageError(
                "resume --all takes no task id and no --out (each result goes "
                "to the output folder)."
            )
        return _resume_all(args, rep, cancel)
    if not args.task_id:
        raise UsageError("Give a TASK_ID to resume, or --all for every unfinished job.")
    check_out(args)
    store = open_store()
    try:
        store.apply_journal()  # a task id the store could not take at submit time
        job = store.find_by_task(args.task_id)
        if args.job is not None:
            job = _adopt(store, args.job, args.task_id, job)
            rep.progress(f"job {job.id}: task {args.task_id}")
        created = job is None
        if job is None:  # submitted elsewhere (or before the store existed): record it now
            job = store.create_resumed(args.task_id)
            rep.progress(f"job {job.id}: new record for task {args.task_id}")
        else:
            rep.progress(f"job {job.id}: {job.state.label.lower()}")
        holder = store.holder_of(job.id)
        if holder is not None and holder.token != store.owner.token:
            rep.progress(f"job {job.id}: held by {holder.describe()}")
        args.job_id = job.id
        if (
            job.state is JobState.SUCCEEDED
            and job.result_path is not None
            and job.result_path.is_file()
        ):
            return export_result(args, rep, job, None, {})  # already stored: no network needed
        if job.state is not JobState.SUBMITTED:
            return report_settled(rep, job)
        client = make_client(args)
        try:
            return run_stored(args, rep, store, client, job, cancel)
        except TaskNotFound:
            if created:  # a mistyped id: the record made for it says nothing, drop it
                _forget(store, job.id, args)
                rep.progress(f"no job kept: the service does not know task {args.task_id}")
            raise
        finally:
            client.close()
    finally:
        store.close()


def _forget(store: JobStore, job_id: int, args: argparse.Namespace) -> None:
    """Delete the record ``resume`` made for a task the service does not know."""
    try:
        store.delete(job_id)
        args.job_id = None
    except (JobStateError, StoreError, sqlite3.Error, OSError) as exc:
        log.warning("could not remove job %s of an unknown task: %s", job_id, exc)


def _adopt(store: JobStore, job_id: int, task_id: str, found: Job | None) -> Job:
    """Give job ``job_id`` the task id the user names (``resume TASK_ID --job N``).

    Only a job without a task id of its own (an upload whose answer was lost) takes one,
    and only while no other live process holds it (HeldElsewhere otherwise).
    """
    if found is not None:
        if found.id != job_id:
            raise UsageError(f"Task {task_id} belongs to job {found.id}, not job {job_id}.")
        return found
    try:
        job = store.get(job_id)
    except KeyError:
        raise UsageError(f"There is no job {job_id} (see: refiner-cli jobs).") from None
    if job.task_id:
        raise UsageError(f"Job {job_id} already has task {job.task_id}; resume that one instead.")
    if job.state is JobState.PENDING:
        raise UsageError(f"Job {job_id} was never sent; it has no task to resume.")
    try:
        with store.holding(job_id):
            return store.mark_submitted(job_id, task_id)
    except JobHeld as held:
        raise HeldElsewhere(str(held), ErrorInfo(task_id=task_id)) from held


def _resume_all(args: argparse.Namespace, rep: Reporter, cancel: CancelToken) -> int:
    """``resume --all``: :func:`recover` every unfinished job, export what succeeded."""
    store = open_store()
    items: list[dict[str, Any]] = []
    codes: list[int] = [EXIT_OK]

    def on_job(job: Job, err: RefinerError | None) -> None:
        item = job_dict(job)
        if isinstance(err, HeldElsewhere):  # left alone: another process works on it
            item["error"] = err.user_message
            item["held_elsewhere"] = True
            codes.append(EXIT_UNAVAILABLE)
            items.append(item)
            rep.progress(f"job {job.id}: left alone: {err.user_message}")
            return
        if job.state is JobState.SUCCEEDED and job.result_path is not None:
            out = default_out(job)
            try:
                export_image(job.result_path, out, overwrite=False)
                item["output"] = str(out)
            except (OSError, ValueError) as exc:
                rep.progress(
                    f"job {job.id}: could not write {out}: {exc}; the result is "
                    f"kept at {job.result_path}"
                )
                item["output"] = None
        codes.append(_code_for(err) if isinstance(err, LocalWriteError) else job_code(job, err))
        items.append(item)
        detail = item.get("output") or item["error"] or ""
        rep.progress(
            f"job {job.id}: {job.state.label.lower()}"
            + (f"  task {job.task_id}" if job.task_id else "")
            + (f"  {detail}" if detail else "")
        )

    try:
        recover(store, lambda: make_client(args), cancel=cancel, on_job=on_job)
    finally:
        store.close()
    codes.append(resume_batches(args, rep, cancel))  # then carry on interrupted batches
    code = max(codes)
    lines = [
        f"{i['job_id']}\t{i['state']}\t{i['task_id'] or '-'}\t"
        f"{table_cell(i.get('output') or i['result_path'] or i['error'] or '')}"
        for i in items
    ]
    rep.result(
        {"status": status_word(code), "jobs": items},
        "\n".join(lines) if lines else "nothing to resume",
    )
    return code


def cmd_credits(args: argparse.Namespace, rep: Reporter, cancel: CancelToken) -> int:
    """``credits``: show the account's credit balances."""
    client = make_client(args)
    balances = client.credits(cancel=cancel)
    text = "\n".join(
        f"{b.name or b.unique_sign}: {b.balance:g}"
        + (f" of {b.total:g}" if b.total is not None else "")
        for b in balances
    )
    rep.result(
        {"status": "ok", "credits": [b.__dict__ for b in balances]}, text or "no credit entries"
    )
    return EXIT_OK


def cmd_sandbox(args: argparse.Namespace, rep: Reporter, cancel: CancelToken) -> int:
    """``sandbox``: serve the local sandbox of the API until interrupted, with the
    ``--fault`` faults queued."""
    srv = SandboxServer(
        host=args.host,
        port=args.port,
        latency=args.latency,
        credits=args.credits,
        task_ttl=args.task_ttl,
        result_ttl=args.result_ttl,
    )
    try:
        url = srv.start()
    except OSError as exc:  # the port is taken, say
        raise UsageError(
            f"The sandbox cannot listen on {args.host}:{args.port}: {exc.strerror or exc}. "
            "Choose another --port (0 picks a free one)."
        ) from None
    for name in args.fault:
        for fault in named_faults(name):
            srv.inject(fault)
        rep.progress(f"fault queued: {name}")
    rep.progress(
        f"sandbox listening on {url} (Ctrl+C to stop); use --base-url {url} with any API key"
    )
    rep.result({"status": "running", "base_url": url}, url)
    try:
        while not cancel.wait(0.5):
            pass
    finally:
        srv.stop()
    return EXIT_OK


COMMANDS = {
    "refine": cmd_refine,
    "tryon": cmd_tryon,
    "resume": cmd_resume,
    "jobs": cmd_jobs,
    "check": cmd_check,
    "credits": cmd_credits,
    "sandbox": cmd_sandbox,
    "batch": cmd_batch,
}


def run(
    argv: list[str] | None = None,
    *,
    cancel: CancelToken | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    retry: RetryPolicy | None = None,
) -> int:
    """Run the command line; return the exit code. Used by :func:`main` and by tests.

    ``cancel`` lets a test (or a signal handler) interrupt a running command; ``retry``
    replaces the backoff policy (tests make it fast).
    """
    parser = build_parser()
    CliParser.stream = stderr
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed the usage message (or the help)
        code = int(exc.code or 0) and EXIT_USAGE
        words = sys.argv[1:] if argv is None else argv
        if code and "--json" in words:  # a script reading stdout still gets its object
            message = "the command line is not valid (see the usage on stderr)"
            Reporter(True, stdout, stderr).result(
                payload(
                    "rejected_before_upload",
                    error={"http_status": None, "code": "USAGE", "message": message},
                ),
                message,
            )
        return code
    finally:
        CliParser.stream = None
    args.retry = retry
    args.job_id = None  # set by commands once a stored job is involved (error payloads)
    # With -v, log lines go to stderr at any moment: a line rewritten in place would be torn.
    rep = Reporter(args.json, stdout, stderr, live=False if args.verbose else None)
    if args.verbose:
        logging.basicConfig(
            level=logging.INFO, stream=rep.err, format="%(levelname)s %(name)s: %(message)s"
        )
    cancel = cancel or CancelToken()
    try:
        return _dispatch(args, rep, cancel)
    finally:
        rep.clear_status()  # never leave a half-drawn status line on the terminal


def _dispatch(args: argparse.Namespace, rep: Reporter, cancel: CancelToken) -> int:
    """Run the command; every failure becomes its exit code and a result on stdout."""
    try:
        return COMMANDS[args.command](args, rep, cancel)
    except HeldElsewhere as err:  # another process works on the job: not a usage error
        return _report_error(rep, err, args.job_id)
    except (UsageError, StoreError) as exc:  # found before anything was sent
        code = "USAGE" if isinstance(exc, UsageError) else "STORE"
        rep.progress(f"error: {exc}")
        rep.result(
            payload(
                "rejected_before_upload",
                error={"http_status": None, "code": code, "message": str(exc)},
            ),
            f"error: {exc}",
        )
        return EXIT_USAGE
    except RefinerError as err:
        return _report_error(rep, err, args.job_id)
    except KeyboardInterrupt:
        cancel.cancel()
        rep.progress("interrupted")
        rep.result(payload("interrupted", job_id=args.job_id), "interrupted")
        return EXIT_INTERRUPTED
    except Exception as exc:  # a bug: still one result on stdout, the details on stderr
        rep.progress(f"internal error: {type(exc).__name__}: {exc}")
        for line in traceback.format_exc().splitlines():
            rep.progress(f"  {line}")
        message = f"internal error: {type(exc).__name__} (details on stderr)"
        rep.result(
            payload(
                status_word(EXIT_INTERNAL),
                job_id=args.job_id,
                error={"http_status": None, "code": "INTERNAL", "message": message},
            ),
            message,
        )
        return EXIT_INTERNAL


def main(argv: list[str] | None = None) -> None:
    # Ctrl+C in the main thread raises KeyboardInterrupt inside whatever blocks; the
    # handler in run() turns it into exit 130 and prints the task id when there is one.
    """The ``refiner-cli`` entry point: run the command and exit with its code."""
    assert threading.current_thread() is threading.main_thread()
    sys.exit(run(argv))


if __name__ == "__main__":
    main()
