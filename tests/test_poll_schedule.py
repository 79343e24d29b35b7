"""The learned poll schedule: never faster than 1 s to a remote service, never over the
poll budget it claims, fixed 5 s polling when the history is missing or bad, an estimate
that survives the store being reopened, and one that follows a service that slows down."""

from __future__ import annotations

import math
import random

import pytest

from refiner_gui.api import RefinerClient
from refiner_gui.api.models import ProgressEvent, Stage, TaskState, TaskStatus
from refiner_gui.jobs import JobStore, job_inputs, run_job
from refiner_gui.jobs.durations import (
    PRIORS,
    PRO,
    REFINER,
    Bracket,
    DurationEstimate,
    Lognormal,
    load_brackets,
    load_estimate,
    record_bounds,
)
from refiner_gui.jobs.poll_schedule import (
    BUDGET_MARGIN,
    FALLBACK_GAP,
    PollSchedule,
    evaluate,
    fixed,
    plan,
)
from refiner_gui.sandbox import SandboxServer
from tests.helpers.fast import fast_retry
from tests.helpers.jobs import raw, slot_files

KEY = "poll-key-0123456789"


def brackets_from(durations, gap=5.0):
    """What fixed polling every ``gap`` seconds records for these durations (newest first)."""
    return [Bracket(math.floor(d / gap) * gap, math.floor(d / gap) * gap + gap) for d in durations]


def estimates():
    rnd = random.Random(7)
    yield DurationEstimate.from_brackets([], PRIORS[REFINER])
    yield DurationEstimate.from_brackets([], PRIORS[PRO])
    narrow = [rnd.gauss(12.0, 0.3) for _ in range(50)]
    yield DurationEstimate.from_brackets(brackets_from(narrow, gap=1.0), None)
    yield DurationEstimate.from_brackets([Bracket(0.0, 0.5)] * 30, None)  # tiny tasks
    bimodal = [rnd.choice((8.0, 45.0)) * rnd.uniform(0.9, 1.1) for _ in range(80)]
    yield DurationEstimate.from_brackets(brackets_from(bimodal), PRIORS[REFINER])


def poll_ages(schedule: PollSchedule, duration: float) -> list[float]:
    """The ages at which a fresh task of ``duration`` s is polled."""
    ages = [schedule.first_delay(0.0)]
    while ages[-1] < duration:
        ages.append(ages[-1] + schedule.next_delay(ages[-1]))
    return ages


# -- never faster than 1 s --------------------------------------------------------------


@pytest.mark.parametrize("est", list(estimates()))
def test_a_remote_schedule_never_polls_closer_than_one_second(est):
    schedule = plan(est)
    gaps = [b - a for a, b in zip((0.0, *schedule.times), schedule.times, strict=False)]
    assert all(g >= 1.0 - 1e-9 for g in gaps)
    for age in [i * 0.37 for i in range(400)]:
        assert schedule.next_delay(age) >= 1.0


def test_the_client_floors_a_hook_at_one_second_for_a_remote_service():
    sleeps: list[float] = []

    class Offline(RefinerClient):  # answers "running" twice, then "done"; never sleeps
        answers = [TaskState.PROCESSING, TaskState.PROCESSING, TaskState.SUCCEEDED]

        def _retrying(self, op, fn, **kw):
            state = self.answers.pop(0)
            url = "https://cdn.example/r.png" if state is TaskState.SUCCEEDED else None
            return TaskStatus("t", state, image_url=url)

        def _sleep(self, seconds, cancel, task_id):
            sleeps.append(seconds)

    client = Offline(KEY, "https://api.example", poll_interval=5.0)
    try:
        client.wait("t", next_interval=lambda elapsed: 0.0)  # 0 before the first: at once
        assert sleeps == [1.0, 1.0]
        sleeps.clear()
        Offline.answers = [TaskState.PROCESSING, TaskState.SUCCEEDED]
        delays = iter([12.0, 0.3])
        client.wait("t", next_interval=lambda elapsed: next(delays))
        assert sleeps == [12.0, 1.0]  # the first poll waits for the plan; then the floor
    finally:
        client.close()


# -- never over the budget it claims ----------------------------------------------------


@pytest.mark.parametrize("est", list(estimates()))
def test_the_schedule_stays_within_the_budget_it_claims(est):
    schedule = plan(est)
    assert schedule.adaptive
    fixed_polls, fixed_lag = evaluate((), FALLBACK_GAP, est)
    assert schedule.budget == pytest.approx(fixed_polls * BUDGET_MARGIN)
    assert schedule.expected_polls <= schedule.budget + 1e-9
    assert schedule.expected_lag < fixed_lag


def test_on_tasks_drawn_from_its_estimate_it_polls_no_more_than_fixed_5s():
    truth = PRIORS[REFINER]
    rnd = random.Random(3)
    durations = [rnd.lognormvariate(math.log(truth.median), truth.sigma) for _ in range(3000)]
    learned = DurationEstimate.from_brackets(brackets_from(durations[:100]), truth)
    for schedule in (plan(DurationEstimate.from_brackets([], truth)), plan(learned)):
        ours = [poll_ages(schedule, d) for d in durations]
        base = [poll_ages(fixed(5.0), d) for d in durations]
        mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
        assert mean([len(a) for a in ours]) <= mean([len(a) for a in base]) * 1.02
        lag = mean([a[-1] - d for a, d in zip(ours, durations, strict=True)])
        assert lag < mean([a[-1] - d for a, d in zip(base, durations, strict=True)])


# -- falls back on bad or missing history -----------------------------------------------


def test_no_history_and_no_timings_polls_every_5s():
    assert DurationEstimate.from_brackets([], None) is None
    assert plan(None) == fixed(5.0)
    too_few = DurationEstimate.from_brackets([Bracket(10, 11), Bracket(12, 13)], None)
    assert plan(too_few) == fixed(5.0)


def test_bad_rows_are_skipped_and_leave_the_contracts_timings(tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite3")
    try:
        ids = [store.create_resumed(f"t{i}").id for i in range(5)]
        rows = [(0, float("nan"), 20), (100, 130, 110), (100, 90, 120), (0, 5, 10**6)]
        for job_id, (sub, lo, hi) in zip(ids, rows, strict=False):
            record_bounds(store.path, job_id, REFINER, sub, lo, hi)
        with raw(store.path) as conn:  # a hand-edited row that is not even a number
            conn.execute("INSERT INTO poll_bounds VALUES (?, ?, 'x', 1.0, 2.0)", (ids[4], REFINER))
        # SQLite stores NaN as NULL (no bracket); the three others load, then fail valid().
        assert len(load_brackets(store.path, REFINER)) == 3
        est = load_estimate(store.path, REFINER)
        assert est is not None and est.samples == 0
        prior_only = DurationEstimate.from_brackets([], PRIORS[REFINER])
        assert plan(est) == plan(prior_only)
        assert load_estimate(store.path, "no-such-endpoint") is None
    finally:
        store.close()


# -- the estimate survives the store being reopened -------------------------------------


def test_the_estimate_survives_reopening_the_store(tmp_path):
    path = tmp_path / "data" / "jobs.sqlite3"
    store = JobStore(path)
    rnd = random.Random(5)
    try:
        for i in range(30):
            job = store.create_resumed(f"task-{i}")
            d = rnd.gauss(30.0, 2.0)
            record_bounds(
                store.path, job.id, REFINER, 1000.0 * i, 1000.0 * i + d - 1, 1000.0 * i + d
            )
        before = plan(load_estimate(store.path, REFINER))
    finally:
        store.close()
    reopened = JobStore(path)
    try:
        est = load_estimate(reopened.path, REFINER)
        assert est is not None and est.samples == 30
        assert plan(est) == before and before.adaptive
        assert 27 < (est.quantile(0.5) or 0) < 33
    finally:
        reopened.close()


def test_run_job_records_its_bracket_and_plans_from_it(job_images):
    store = JobStore.open_default()
    events: list[ProgressEvent] = []
    with SandboxServer(latency=0.3) as srv:
        # 0.05 s stands for the service's 5 s: the sandbox runs 100 times faster.
        client = RefinerClient(
            KEY, srv.base_url, poll_interval=0.05, retry=fast_retry(), adaptive_polling=True
        )
        try:
            for _ in range(3):
                job = store.create_job(slot_files(job_images), "woman")
                run_job(store, client, job, on_event=events.append)
        finally:
            client.close()
    path = store.path
    store.close()
    [lo, *_] = load_brackets(path, REFINER, scale=0.01)
    assert len(load_brackets(path, REFINER)) == 3
    # 0.3 s in the sandbox = 30 s at the service (ages count from the commit of the task
    # id, a few ms after the service started the task).
    assert 0 < lo.lo < lo.hi and 25 < lo.hi < 60
    waiting = [e for e in events if e.stage in (Stage.QUEUED, Stage.PROCESSING)]
    assert any(e.expected_left for e in waiting)  # said while it waited


# -- adapting ---------------------------------------------------------------------------


def test_a_run_of_slow_jobs_moves_the_dense_polling_to_where_they_now_end():
    rnd = random.Random(11)
    fast = [rnd.gauss(20.0, 1.5) for _ in range(60)]
    history = brackets_from(fast, gap=1.0)
    prior = PRIORS[REFINER]
    before = plan(DurationEstimate.from_brackets(history, prior))
    slow = [3 * d for d in (rnd.gauss(20.0, 1.5) for _ in range(25))]
    for d in slow:  # each slow job polled by the schedule of its day, newest first
        sched = plan(DurationEstimate.from_brackets(history, prior))
        ages = poll_ages(sched, d)
        history = [Bracket(ages[-2], ages[-1]), *history]
    after = plan(DurationEstimate.from_brackets(history, prior))

    def gaps_near(s: PollSchedule, t: float) -> float:
        ages = poll_ages(s, t + 5)
        return max(b - a for a, b in zip(ages, ages[1:], strict=False) if t - 2 <= a <= t + 3)

    assert gaps_near(before, 20.0) <= 2.0
    assert gaps_near(after, 60.0) <= 2.5  # dense around the new completion time
    est = DurationEstimate.from_brackets(history, prior)
    assert 50 < (est.quantile(0.5) or 0) < 70


def test_lognormal_between_covers_the_range():
    d = Lognormal.between(10.0, 60.0)
    assert d.cdf(10.0) == pytest.approx(0.05, abs=1e-3)
    assert d.cdf(60.0) == pytest.approx(0.95, abs=1e-3)


# -- where it shows and how it is chosen ------------------------------------------------


def test_expected_left_reads_plainly():
    from refiner_gui.api.progress import expected_left_text

    assert expected_left_text(None) == ""
    assert expected_left_text(0.4) == "usually done any moment now"
    assert expected_left_text(6.4) == "usually done in ~6 s"
    assert expected_left_text(21.0) == "usually done in ~20 s"


def test_the_window_stage_line_says_the_time_left(qtbot):
    from PySide6.QtWidgets import QLabel, QProgressBar, QWidget

    from refiner_gui.ui.job_status import JobStatus

    host = QWidget()
    qtbot.addWidget(host)
    label, bar = QLabel(host), QProgressBar(host)
    status = JobStatus(bar, label, host)
    status.start("Uploading")
    status.progress(ProgressEvent(Stage.PROCESSING, 3.0, task_id="t1", expected_left=21.0))
    assert "Refining" in label.text() and "usually done in ~20 s" in label.text()
    status.progress(ProgressEvent(Stage.DOWNLOADING, 9.0, task_id="t1"))
    assert "usually" not in label.text()
    status.finish("t1")
    status.ended()


def test_poll_interval_is_auto_by_default_and_a_number_forces_it():
    from refiner_gui.cli import make_client
    from refiner_gui.cli_args import build_parser

    parser = build_parser()
    for argv, adaptive, interval in (
        ([], True, 5.0),
        (["--poll-interval", "auto"], True, 5.0),
        (["--poll-interval", "2"], False, 2.0),
    ):
        args = parser.parse_args(["resume", "task-1", "--api-key", KEY, *argv])
        client = make_client(args)
        try:
            assert (client.adaptive_polling, client.poll_interval) == (adaptive, interval)
        finally:
            client.close()


def test_old_settings_files_keep_a_chosen_interval_and_default_to_auto(tmp_path):
    import json

    from refiner_gui.clients import ConnectionSettings
    from refiner_gui.settings import load_settings, save_settings

    path = tmp_path / "settings.json"
    for old, mode in (({"poll_interval": 5.0}, "auto"), ({"poll_interval": 2.0}, "fixed")):
        path.write_text(json.dumps({"schema": 1, **old}), "utf-8")
        assert load_settings(path).poll_mode == mode
    assert load_settings(tmp_path / "none.json").poll_mode == "auto"
    s = load_settings(path)
    save_settings(s, path)
    assert load_settings(path) == s  # round trip, mode included
    remote = ConnectionSettings.of(s)
    assert (remote.adaptive_polling, remote.poll_interval) == (False, 2.0)
    s.poll_mode = "auto"
    assert (
        ConnectionSettings.of(s).poll_interval == 5.0 and ConnectionSettings.of(s).adaptive_polling
    )


def test_a_service_that_speeds_up_is_polled_earlier_within_a_few_jobs():
    rnd = random.Random(13)
    prior = PRIORS["premium"]
    history = brackets_from([rnd.gauss(80.0, 8.0) for _ in range(60)], gap=1.0)
    first = plan(DurationEstimate.from_brackets(history, prior)).first_delay(0.0)
    assert first > 30  # a slow endpoint is not polled needlessly early
    for _ in range(6):  # now every task takes 20 s
        sched = plan(DurationEstimate.from_brackets(history, prior))
        ages = poll_ages(sched, 20.0)
        history = [Bracket(ages[-2] if len(ages) > 1 else 0.0, ages[-1]), *history]
    sched = plan(DurationEstimate.from_brackets(history, prior))
    assert sched.first_delay(0.0) <= 15.0
    assert poll_ages(sched, 20.0)[-1] - 20.0 < 5.0


def test_a_task_done_by_its_first_poll_is_bracketed_by_its_submit_unless_resumed(job_images):
    store = JobStore.open_default()
    with SandboxServer(latency=0.0) as srv:
        client = RefinerClient(
            KEY, srv.base_url, poll_interval=0.05, retry=fast_retry(), adaptive_polling=True
        )
        try:
            fresh = run_job(store, client, store.create_job(slot_files(job_images), "woman"))
            # The same kind of task, resumed (as if the app had restarted after the submit).
            job = store.create_job(slot_files(job_images), "woman")
            store.mark_submitting(job.id)
            task = client.submit(job_inputs(job))
            run_job(store, client, store.mark_submitted(job.id, task.task_id))
        finally:
            client.close()
    path = store.path
    store.close()
    [only] = load_brackets(path, REFINER)
    assert only.lo == 0.0 and only.hi > 0  # the fresh one, from its submit
    assert fresh.state.value == "succeeded"
