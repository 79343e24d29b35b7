"""Run a stored batch: a bounded pool of worker threads, each look a durable job. No Qt.

:class:`BatchQueue` takes the looks of one batch from the store (in order) and runs each
through :func:`~refiner_gui.jobs.run_job` on a few worker threads, with at most
``concurrency`` of them (never more than :data:`MAX_CONCURRENCY`, the service's
running-task limit) having a task at the service at once: the batch's turns
(:mod:`refiner_gui.jobs.task_turns`), so one look's download overlaps the next one's
task. What it promises:

- **Nothing sent twice.** A look gets its job only when a worker takes it, in the same
  transaction that checks nobody else did (:class:`~refiner_gui.jobs.store_batches.LookTaken`);
  a look whose job is unfinished is finished by :func:`~refiner_gui.jobs.recover`, which
  never submits (an upload of unknown outcome stays "outcome unknown"). Only a look the
  service certainly did not take (:func:`~refiner_gui.batch.looks.not_taken`) is sent again.
- **Rate limits and back-off** are the clients' (:mod:`refiner_gui.api.limits`): every
  submit and poll of the app shares them, and a 429/503 holds every request; a look whose
  submit still ended "rate limited" waits its turn again, nothing lost.
- **No credits pauses** the queue (:attr:`pause_reason` ``"credits"``) instead of failing
  every remaining look; **a bad key stops** it; in-flight looks finish either way.
- **Crash or quit**: the batch stays in the store; a new :class:`BatchQueue` on it carries
  on where it was (``refiner-cli resume --all`` or ``batch --resume``, or the window).
- **A look without a coarse image** is a two-stage job (``kind`` "tryon_refine" with the
  batch's try-on model, :mod:`refiner_gui.jobs.two_stage`): the try-on is paid once. A
  crash in or between its stages is finished by :func:`~refiner_gui.jobs.recover` at the
  right stage; a look sent again after its refinement was not taken (no credits, a busy
  service) or failed reuses the coarse image already made (a plain refinement, 25
  credits), unless that image is what was wrong.

Events (:class:`BatchEvent`) go to ``on_event`` on whichever worker thread caused them: a
Qt adapter forwards them as a queued signal; the command line prints them under a lock.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from refiner_gui.api.errors import AuthError, Cancelled, CreditsError, RateLimited, RefinerError
from refiner_gui.api.models import CancelToken, ProgressEvent
from refiner_gui.batch.looks import Counts, LookStatus, LookView, classify
from refiner_gui.batch.mirror import retry_cost
from refiner_gui.batch.results import export_result, write_summary
from refiner_gui.batch.workers import join_workers
from refiner_gui.jobs.local_steps import bounded_by
from refiner_gui.jobs.models import Job, JobState
from refiner_gui.jobs.recovery import recover
from refiner_gui.jobs.runner import HeldElsewhere, run_job
from refiner_gui.jobs.store import JobStore
from refiner_gui.jobs.store_batches import BatchLook, LookRef, LookTaken
from refiner_gui.jobs.task_turns import TaskTurns, take_turn, turns_from
from refiner_gui.jobs.two_stage import reusable_coarse
from refiner_gui.slots import COARSE

if TYPE_CHECKING:
    from refiner_gui.api.client import RefinerClient

__all__ = ["DEFAULT_CONCURRENCY", "MAX_CONCURRENCY", "BatchEvent", "BatchQueue"]

log = logging.getLogger(__name__)

DEFAULT_CONCURRENCY = 3
MAX_CONCURRENCY = 5  # the service runs at most 5 tasks of an account at once
# Looks downloading and checking a result (and making its preview) at once, the coarse
# image of a two-stage look included (refiner_gui.jobs.local_steps): a 4095 px result
# decoded is ~50 MB, so this bounds the batch's memory; the service's tasks never wait
# for it, only this process's CPU and memory are spared.
LOCAL_STEPS = 2
# Worker threads beyond ``concurrency``: a look downloads and is copied out while the next
# one's task already runs at the service; the bound there is the batch's turns
# (refiner_gui.jobs.task_turns), never its threads.
AHEAD = 2


@dataclass(frozen=True)
class BatchEvent:
    """Something happened: ``kind`` is ``"look"`` (a look's row changed: ``look``),
    ``"notice"`` (``message`` for the user: a back-off, a pause, a stop) or
    ``"finished"`` (the run ended). ``counts`` is the batch at that moment."""

    kind: str
    counts: Counts
    look: LookView | None = None
    message: str = ""


@dataclass
class _Item:
    position: int
    order: int  # its ticket for the batch's turns (TaskTurns.ticket)
    token: CancelToken = field(default_factory=CancelToken)


class BatchQueue:
    """The queue of one stored batch (see the module docstring).

    Args:
        store: the job store holding the batch.
        client_factory: makes a client; called once per worker thread (and per resumed
            job), on that thread.
        batch_id: which batch.
        concurrency: looks at once; the batch's own setting by default; 1..5.
        on_event: called with every :class:`BatchEvent`, on a worker thread.

    :meth:`run` blocks (a worker thread, or the command line's main thread); the other
    methods are for any thread.
    """

    def __init__(
        self,
        store: JobStore,
        client_factory: Callable[[], RefinerClient],
        batch_id: int,
        *,
        concurrency: int | None = None,
        on_event: Callable[[BatchEvent], None] | None = None,
    ) -> None:
        self.store = store
        self.batch = store.batch(batch_id)
        wanted = self.batch.concurrency if concurrency is None else concurrency
        self.concurrency = max(1, min(MAX_CONCURRENCY, int(wanted)))
        self._factory = client_factory
        self._on_event = on_event
        self._cond = threading.Condition()
        self._todo: deque[int] = deque()
        self._running: dict[int, _Item] = {}
        self._views: dict[int, LookView] = {}
        self._durations: list[float] = []
        self._retry: set[int] = set()  # failed looks the user asked to send again
        self._tryon_ids: dict[int, str | None] = {}  # job id -> try-on task of its coarse
        self._local = threading.BoundedSemaphore(LOCAL_STEPS)
        self._turns = TaskTurns(self.concurrency)
        self._stopped = False
        self.pause_reason: str | None = None  # "user", "credits", or None
        self.stop_reason: str | None = None  # "auth", "stopped", "cancelled", or None
        self._exit_when_paused = False
        self._load()

    # -- state ----------------------------------------------------------------------------

    def _load(self) -> None:
        looks = self.store.batch_looks(self.batch.id)
        jobs = {j.id: j for j in self.store.get_many([x.job_id for x in looks if x.job_id])}
        for look in looks:
            job = jobs.get(look.job_id) if look.job_id else None
            status = classify(look, job)
            self._views[look.position] = self._view(look, job, status)
            if status in (LookStatus.WAITING, LookStatus.UNFINISHED) or (
                status is LookStatus.DONE and look.output is None
            ):
                self._todo.append(look.position)

    def _view(
        self, look: BatchLook, job: Job | None, status: LookStatus, stage: str = ""
    ) -> LookView:
        error = look.problem or ""
        if job is not None and status in (LookStatus.FAILED, LookStatus.UNFINISHED):
            error = job.error_message
        return LookView(
            position=look.position,
            name=look.name,
            status=status,
            stage=stage,
            job_id=job.id if job else None,
            task_id=job.task_id if job else None,
            output=look.output,
            error=error,
            thumbnail=look.files.get("person_image"),
            tryon_task_id=self._tryon_task_id(job) if look.makes_coarse else None,
        )

    def _tryon_task_id(self, job: Job | None) -> str | None:
        """The try-on task that made the coarse image ``job`` refines: its own first stage,
        or (a refinement reusing an earlier job's coarse image) that job's, found through
        ``parent_id``. Refinements' answers are cached: their chain never changes."""
        chain: list[int] = []
        found: str | None = None
        while job is not None and len(chain) < 20:  # chains are short; never loop forever
            if job.tryon is not None:
                found = job.tryon_task_id
                break
            with self._cond:
                if job.id in self._tryon_ids:
                    found = self._tryon_ids[job.id]
                    break
            chain.append(job.id)
            try:
                job = self.store.get(job.parent_id) if job.parent_id is not None else None
            except KeyError:
                job = None
        with self._cond:
            self._tryon_ids.update(dict.fromkeys(chain, found))
        return found

    def views(self) -> list[LookView]:
        """Every look's row, in the source's order. Any thread."""
        with self._cond:
            return [self._views[p] for p in sorted(self._views)]

    def counts(self) -> Counts:
        """The batch at a glance, with an ETA from this run's finished looks. Any thread."""
        with self._cond:
            views = list(self._views.values())
            eta = None
            if self._durations:
                mean = sum(self._durations) / len(self._durations)
                left = sum(
                    (v.status is LookStatus.WAITING) + 0.5 * (v.status is LookStatus.RUNNING)
                    for v in views
                )
                eta = mean * left / self.concurrency
        return Counts.of(views, eta)

    def _set(self, view: LookView) -> None:
        with self._cond:
            unchanged = self._views.get(view.position) == view
            self._views[view.position] = view
        # Progress comes many times a second (upload bytes, polls); a row changes a few
        # times a look. Repeats only kept the window's GUI thread waiting for the GIL.
        if not unchanged:
            self._emit(BatchEvent("look", self.counts(), look=view))

    def _emit(self, event: BatchEvent) -> None:
        if self._on_event is not None:
            try:
                self._on_event(event)
            except Exception:  # a view's bug must not stop the queue
                log.exception("batch event handler failed")

    def _notice(self, message: str) -> None:
        self._emit(BatchEvent("notice", self.counts(), message=message))

    # -- control (any thread) -------------------------------------------------------------

    def pause(self, reason: str = "user") -> None:
        """Take no new looks (those in flight finish). :meth:`resume` goes on."""
        with self._cond:
            self.pause_reason = reason
            self._cond.notify_all()
        self.store.set_batch_state(self.batch.id, "paused")

    def resume(self) -> None:
        """Take looks again after :meth:`pause` (or a pause for credits)."""
        with self._cond:
            self.pause_reason = None
            self._cond.notify_all()
        self.store.set_batch_state(self.batch.id, "active")

    def stop(self) -> None:
        """Interrupt (Ctrl+C, quit): in-flight looks stop where they are, the batch stays
        resumable; nothing is marked cancelled."""
        self._halt("stopped")

    def cancel_all(self) -> None:
        """Cancel the batch: no look not yet sent will be; in-flight ones stop (a task
        already submitted goes on at the service and stays resumable in the history)."""
        for look in self.store.batch_looks(self.batch.id):
            view = self._views.get(look.position)
            if view is not None and view.status in (LookStatus.WAITING, LookStatus.RUNNING):
                self.store.set_look_cancelled(self.batch.id, look.position)
        self.store.set_batch_state(self.batch.id, "cancelled")
        self._halt("cancelled")
        with self._cond:  # looks never taken: no worker will settle them
            waiting = [self._views[p] for p in self._todo if p in self._views]
            self._todo.clear()
        for view in waiting:
            self._set(replace(view, status=LookStatus.CANCELLED))

    def cancel_look(self, position: int) -> None:
        """Cancel one look: never sent if it was waiting; stopped if in flight."""
        self.store.set_look_cancelled(self.batch.id, position)
        with self._cond:
            if position in self._todo:
                self._todo.remove(position)
            item = self._running.get(position)
            view = self._views.get(position)
        if item is not None:
            item.token.cancel()
        elif view is not None and view.status is LookStatus.WAITING:
            self._set(replace(view, status=LookStatus.CANCELLED))

    def retry_failed(self) -> int:
        """Queue every failed look again (a new job each, billed if it succeeds); returns
        how many. :meth:`retry_cost` is what it may bill (show it before asking)."""
        failed = [v for v in self.views() if v.status is LookStatus.FAILED]
        with self._cond:
            for v in failed:
                self._views[v.position] = replace(v, status=LookStatus.WAITING, error="")
                self._retry.add(v.position)
                self._todo.append(v.position)
            self._cond.notify_all()
        return len(failed)

    def retry_cost(self) -> int:
        """Credits :meth:`retry_failed` bills at most: 25 per look, plus the try-on for a
        look without a coarse image (less when the one already made is reused)."""
        return retry_cost(self.store, self.batch, self.views())

    def failed_count(self) -> int:
        """How many looks failed (what :meth:`retry_failed` would send)."""
        return sum(v.status is LookStatus.FAILED for v in self.views())

    def _halt(self, reason: str) -> None:
        with self._cond:
            self._stopped = True
            self.stop_reason = self.stop_reason or reason
            items = list(self._running.values())
            self._cond.notify_all()
        for item in items:
            item.token.cancel()

    # -- running --------------------------------------------------------------------------

    def run(self, *, exit_when_paused: bool = False) -> Counts:
        """Run until every look is settled, or the queue is stopped (or paused, with
        ``exit_when_paused``: the command line); write summary.csv; return the counts.

        Blocks the calling thread; workers are joined before it returns.
        """
        self._exit_when_paused = exit_when_paused
        if self.store.batch(self.batch.id).state == "paused" and self.pause_reason is None:
            self.store.set_batch_state(self.batch.id, "active")
        workers: list[tuple[threading.Thread, threading.Event]] = []
        for n in range(self.concurrency + AHEAD):
            done = threading.Event()
            name = f"batch-{self.batch.id}-{n}"
            workers.append((threading.Thread(target=self._worker, args=(done,), name=name), done))
        try:
            for w, _ in workers:
                w.start()
            join_workers(workers)
        except BaseException:  # Ctrl+C on the main thread: stop the workers, then re-raise
            self.stop()
            join_workers(workers)
            raise
        finally:
            self._finish_run()
        return self.counts()

    def _finish_run(self) -> None:
        for view in self.views():  # another process may have finished what it held
            if view.status is LookStatus.HELD:
                self._refresh(view.position)
        counts = self.counts()
        try:
            write_summary(self.batch.out_dir, self.views())
        except OSError as exc:
            self._notice(f"summary.csv could not be written in {self.batch.out_dir}: {exc}")
        busy = counts.waiting or counts.running or counts.unfinished or self._stopped
        if not busy and self.pause_reason is None:
            self.store.set_batch_state(self.batch.id, "done")
        self._emit(BatchEvent("finished", counts))

    def _next(self) -> _Item | None:
        with self._cond:
            while True:
                if self._stopped:
                    return None
                if self.pause_reason is None and self._todo:
                    # In line for a turn now, under this lock: turns go in the queue's order.
                    item = _Item(self._todo.popleft(), self._turns.ticket())
                    self._running[item.position] = item
                    return item
                if not self._running and (not self._todo or self._exit_when_paused):
                    self._cond.notify_all()
                    return None
                self._cond.wait(0.5)

    def _worker(self, done: threading.Event) -> None:
        client: RefinerClient | None = None
        try:
            while True:
                item = self._next()
                if item is None:
                    return
                try:
                    # Its task takes a turn; its downloads (one or two) a local slot. Its
                    # place in the turns' line is given up however this ends.
                    with turns_from(self._turns, item.order), bounded_by(self._local):
                        if client is None:
                            client = self._factory()
                        self._process(item, client)
                except AuthError as err:
                    self._requeue(item.position)
                    self._refresh(item.position)
                    self._stop_for_key(err)
                except Exception:  # one broken look must not stop the others
                    log.exception("batch look %d failed unexpectedly", item.position)
                    self._settle_unexpected(item.position)
                finally:
                    with self._cond:
                        self._running.pop(item.position, None)
                        self._cond.notify_all()
        finally:
            try:
                if client is not None:
                    client.close()
            finally:
                done.set()  # the last thing it does: see join_workers

    def _look(self, position: int) -> BatchLook:
        return self.store.batch_look(self.batch.id, position)

    def _process(self, item: _Item, client: RefinerClient) -> None:
        look = self._look(item.position)
        job = self.store.get(look.job_id) if look.job_id else None
        status = classify(look, job)
        if status is LookStatus.FAILED and item.position in self._retry:
            status = LookStatus.WAITING  # the user asked: a new job (billed if it succeeds)
        with self._cond:
            self._retry.discard(item.position)
        if status in (LookStatus.WAITING, LookStatus.UNFINISHED):
            # Held until its task ends (the wait gives it back), or the look does. A look
            # not sent yet gives its place up when the batch is paused meanwhile; one
            # whose task runs already is finished, paused or not.
            new = status is LookStatus.WAITING
            try:
                if not take_turn(item.token, wanted=lambda: not new or self.pause_reason is None):
                    self._requeue(item.position, front=True)
                    return
            except Cancelled:  # stopped, or cancelled, before its turn came
                self._settle(look, job, status)
                return
        else:
            self._turns.withdraw(item.order)  # no task: the looks behind need not wait
        if job is not None and status is LookStatus.UNFINISHED:
            job = self._resume(item, look, job)
            status = classify(look, job)
        if status is LookStatus.WAITING:
            job = self._send(item, client, look, job)
            if job is None:
                return
            status = classify(look, job)
        self._settle(look, job, status)

    def _resume(self, item: _Item, look: BatchLook, job: Job) -> Job:
        """Finish an unfinished job without ever submitting (:func:`recover`)."""
        self._set(self._view(look, job, LookStatus.RUNNING, "resuming"))
        held: list[RefinerError] = []

        def on_job(_job: Job, err: RefinerError | None) -> None:
            if isinstance(err, (HeldElsewhere, AuthError)):
                held.append(err)

        recover(self.store, self._factory, cancel=item.token, only={job.id}, on_job=on_job)
        if held and isinstance(held[0], AuthError):
            raise held[0]
        if held:
            self._set(self._view(look, job, LookStatus.HELD))
        return self.store.get(job.id)

    def _send(
        self, item: _Item, client: RefinerClient, look: BatchLook, old: Job | None
    ) -> Job | None:
        """Make the look's new job (if nobody else did) and run it; None if taken."""
        files, kind = dict(look.files), "refine"
        if look.makes_coarse:
            coarse = reusable_coarse(old)
            if coarse is not None:
                files[COARSE] = coarse  # made (and paid) already: only refine it again
            else:
                kind = "tryon_refine"
        try:
            job = self.store.create_job(
                files,
                look.gender,
                parent_id=old.id if old else None,
                look=LookRef(self.batch.id, look.position, old.id if old else None),
                kind=kind,
                tryon_model=self.batch.tryon_model if kind != "refine" else None,
            )
        except LookTaken:
            self._set(self._view(look, old, LookStatus.HELD))
            return None
        except OSError as exc:  # an input vanished since the dry run
            self._set(
                replace(
                    self._view(look, None, LookStatus.FAILED),
                    error=f"cannot read the look's files: {exc}",
                )
            )
            return None
        started = time.monotonic()
        first = "coarse: uploading" if kind != "refine" else "uploading"
        self._set(self._view(look, job, LookStatus.RUNNING, first))
        tryon_ids: list[str] = []  # the try-on's task id, once seen (the job row is older)

        def on_progress(ev: ProgressEvent) -> None:
            if ev.step == "tryon":  # a two-stage job's first stage, with its own task id
                if ev.task_id and not tryon_ids:
                    tryon_ids.append(ev.task_id)
                view = self._view(look, job, LookStatus.RUNNING, f"coarse: {ev.stage.value}")
            else:
                view = self._view(look, job, LookStatus.RUNNING, ev.stage.value)
                view = replace(view, task_id=ev.task_id or view.task_id)
            if tryon_ids:
                view = replace(view, tryon_task_id=tryon_ids[0])
            self._set(view)

        try:
            run_job(
                self.store,
                client,
                job,
                cancel=item.token,
                on_event=on_progress,
                progress_interval=0.5,
            )
        except AuthError:
            raise
        except RefinerError as err:
            log.info("look %r: %s", look.name, err.user_message)
            self._after_error(look, err, client)
        done = self.store.get(job.id)
        if done.state is JobState.SUCCEEDED:
            with self._cond:
                self._durations.append(time.monotonic() - started)
        return done

    def _after_error(self, look: BatchLook, err: RefinerError, client: RefinerClient) -> None:
        if isinstance(err, CreditsError):
            self._requeue(look.position, front=True)
            self.pause("credits")
            self._notice(
                "Out of credits: the batch is paused (looks in flight finish). Add credits "
                "to your AILabTools account, then resume the batch."
            )
        elif isinstance(err, RateLimited) or err.retryable:
            client.limits.observe(err)  # the look gave up on a 429/503: the app holds
            held = client.limits.held_for()
            if held:
                self._notice(f"The service is busy: every request waits {held:.0f}s, then goes on.")

    def _settle(self, look: BatchLook, job: Job | None, status: LookStatus) -> None:
        look = self._look(look.position)  # cancelled meanwhile?
        if look.cancelled:
            status = LookStatus.CANCELLED
        elif status is LookStatus.WAITING and not self._stopped:
            self._requeue(look.position)  # not taken by the service: its turn comes again
        if status is LookStatus.DONE and job is not None and look.output is None:
            assert job.result_path is not None
            try:
                out = export_result(job.result_path, self.batch.out_dir, look.name)
                self.store.set_look_output(self.batch.id, look.position, out)
                look = self._look(look.position)
            except OSError as exc:
                self._set(
                    replace(
                        self._view(look, job, status),
                        error=f"the result is stored at {job.result_path} but could not be "
                        f"copied to {self.batch.out_dir}: {exc}",
                    )
                )
                return
        self._set(self._view(look, job, status))

    def _requeue(self, position: int, *, front: bool = False) -> None:
        """Put a look back in the queue: at the end, or at the front among the looks that
        went back there before it in the batch's order (a pause returns several)."""
        with self._cond:
            if position not in self._todo:
                if front:
                    at = 0
                    while at < len(self._todo) and self._todo[at] < position:
                        at += 1
                    self._todo.insert(at, position)
                else:
                    self._todo.append(position)
            self._cond.notify_all()

    def _stop_for_key(self, err: AuthError) -> None:
        with self._cond:
            self.stop_reason = "auth"
        self._halt("auth")
        self.store.set_batch_state(self.batch.id, "paused")
        self._notice(f"Stopped: {err.user_message} Fix the key, then resume the batch.")

    def _refresh(self, position: int) -> None:
        """Show the look as the store has it (after a stop, nothing more happens to it)."""
        look = self._look(position)
        job = self.store.get(look.job_id) if look.job_id else None
        self._set(self._view(look, job, classify(look, job)))

    def _settle_unexpected(self, position: int) -> None:
        look = self._look(position)
        job = self.store.get(look.job_id) if look.job_id else None
        status = classify(look, job)
        if status is LookStatus.WAITING:
            status = LookStatus.FAILED
        self._set(replace(self._view(look, job, status), error="unexpected error (see the log)"))
