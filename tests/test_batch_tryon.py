"""Batch looks without a coarse image: the batch makes it with Try on Clothes Pro (or
Premium), then refines it, as one two-stage job per look. Asserted from the sandbox's own
per-endpoint counters: the try-on is paid once, even across a stop, a resume or credits
running out between the stages."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
from pathlib import Path

import pytest

from refiner_gui import cli
from refiner_gui.api import RefinerClient
from refiner_gui.batch import BatchEvent, BatchQueue, LookStatus, make_plan, read_source
from refiner_gui.batch.results import SUMMARY_COLUMNS, SUMMARY_NAME
from refiner_gui.jobs import JobState, JobStore
from refiner_gui.jobs.store_batches import NewLook
from refiner_gui.sandbox import Fault, SandboxServer
from refiner_gui.slots import COARSE, PERSON, TOP
from tests.helpers.fast import fast_retry
from tests.helpers.images import make_image

KEY = "batch-tryon-key-0123456789"
HEADER = "person,top,coarse,bottom,gender,name\n"


@pytest.fixture(scope="module")
def imgs(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("tryon-inputs")
    return {
        PERSON: make_image(d / "person.jpg", (320, 480)),
        TOP: make_image(d / "top.png", (300, 300), color=(20, 90, 200)),
        COARSE: make_image(d / "coarse.png", (320, 480), color=(200, 100, 90)),
    }


@pytest.fixture
def store():
    s = JobStore.open_default()
    yield s
    s.close()


def factory(srv: SandboxServer):
    return lambda: RefinerClient(KEY, srv.base_url, poll_interval=0.02, retry=fast_retry())


def two_looks(store: JobStore, imgs, tmp_path: Path, model: str = "pro") -> int:
    """Look "given" has its coarse image; look "made" has none."""
    looks = [
        NewLook("given", "woman", dict(imgs)),
        NewLook("made", "woman", {PERSON: imgs[PERSON], TOP: imgs[TOP]}),
    ]
    return store.create_batch("mixed", "inline", tmp_path / "out", 2, looks, tryon_model=model).id


def summary_rows(out: Path) -> dict[str, dict[str, str]]:
    with (out / SUMMARY_NAME).open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert tuple(rows[0]) == SUMMARY_COLUMNS
    assert SUMMARY_COLUMNS[:5] == ("look", "state", "task_id", "result_file", "error")
    return {r[0]: dict(zip(SUMMARY_COLUMNS, r, strict=True)) for r in rows[1:]}


def test_a_batch_with_and_without_coarse_images_runs_to_the_end(store, imgs, tmp_path):
    with SandboxServer(latency=0.05) as srv:
        before = srv.credits
        batch_id = two_looks(store, imgs, tmp_path)
        seen: list = []
        queue = BatchQueue(
            store, factory(srv), batch_id, on_event=lambda e: e.look and seen.append(e.look)
        )
        counts = queue.run()
        assert counts.done == 2 and counts.failed == 0
        assert srv.submissions_by_kind == {"pro": 1, "refiner": 2}
        assert before - srv.credits == 25 + 55
    given, made = store.batch_looks(batch_id)
    job = store.get(made.job_id)
    assert job.kind == "tryon_refine" and job.tryon.model == "pro"
    assert job.state is JobState.SUCCEEDED and job.tryon_task_id and job.task_id
    assert store.get(given.job_id).kind == "refine"
    # The look's result is the refined image (not the coarse one the try-on made).
    assert made.output == tmp_path / "out" / "made.png"
    assert made.output.read_bytes() == job.result_path.read_bytes()
    assert made.output.read_bytes() != job.input_path(COARSE).read_bytes()
    rows = summary_rows(tmp_path / "out")
    assert rows["made"]["state"] == "done" and rows["made"]["result_file"] == "made.png"
    assert rows["made"]["task_id"] == job.task_id
    assert rows["made"]["tryon_task_id"] == job.tryon_task_id
    assert rows["given"]["tryon_task_id"] == "" and rows["given"]["task_id"]
    # The running row shows each stage with its own task id, the try-on's kept meanwhile.
    running = [v for v in seen if v.name == "made" and v.status is LookStatus.RUNNING]
    coarse = [v for v in running if v.stage.startswith("coarse: ")]
    refine = [v for v in running if not v.stage.startswith("coarse: ")]
    assert coarse[0].stage == "coarse: uploading" and coarse and refine
    assert any(v.tryon_task_id == job.tryon_task_id and v.task_id is None for v in coarse)
    assert any(v.task_id == job.task_id for v in refine)
    assert all(v.tryon_task_id == job.tryon_task_id for v in refine)


def test_a_manifest_may_leave_coarse_empty_or_out(tmp_path, imgs):
    p, t, c = imgs[PERSON], imgs[TOP], imgs[COARSE]
    with_col = tmp_path / "a.csv"
    with_col.write_text(HEADER + f"{p},{t},{c},,woman,given\n{p},{t},,,woman,made\n")
    without_col = tmp_path / "b.csv"
    without_col.write_text(f"person,top,gender,name\n{p},{t},man,only\n")
    given, made = read_source(with_col)
    (only,) = read_source(without_col)
    assert given.ok and not given.makes_coarse
    assert made.ok and made.makes_coarse and only.ok and only.makes_coarse
    plan = make_plan([given, made])
    assert [x.sendable for x in plan.looks] == [True, True]
    assert plan.cost == 25 + 55
    assert plan.coarse_note(plan.looks[1]) == "coarse image: generated with Try on Clothes Pro"
    assert plan.coarse_note(plan.looks[0]) == ""
    assert make_plan([given, made], tryon_model="premium").cost == 25 + 75


def test_preflight_of_a_look_that_makes_its_coarse_checks_person_and_garments(tmp_path, imgs):
    tiny = make_image(tmp_path / "tiny_top.png", (100, 100))
    manifest = tmp_path / "m.csv"
    manifest.write_text(HEADER + f"{imgs[PERSON]},{tiny},,,woman,bad-top\n")
    (planned,) = make_plan(read_source(manifest)).looks
    assert not planned.sendable
    assert planned.problems and all("coarse" not in p.lower() for p in planned.problems)
    assert any(p.startswith("Top") or "top" in p.lower() for p in planned.problems)


def run_cli(srv: SandboxServer, *args: str) -> tuple[int, list[dict], str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.run(
        [*args, "--base-url", srv.base_url, "--api-key", KEY, "--poll-interval", "0.05", "--json"],
        stdout=out,
        stderr=err,
        retry=fast_retry(),
    )
    assert KEY not in out.getvalue() + err.getvalue()
    return code, [json.loads(x) for x in out.getvalue().splitlines() if x.strip()], err.getvalue()


def mixed_manifest(tmp_path: Path, imgs) -> Path:
    p, t, c = imgs[PERSON], imgs[TOP], imgs[COARSE]
    path = tmp_path / "looks.csv"
    path.write_text(HEADER + f"{p},{t},{c},,woman,given\n{p},{t},,,woman,made\n")
    return path


@pytest.mark.parametrize(
    ("model", "name", "cost"), [("pro", "Pro", 55), ("premium", "Premium", 75)]
)
def test_the_dry_run_names_the_try_on_and_counts_its_cost(tmp_path, imgs, model, name, cost):
    with SandboxServer() as srv:
        code, [plan], err = run_cli(
            srv,
            "batch",
            str(mixed_manifest(tmp_path, imgs)),
            "--out-dir",
            str(tmp_path / "out"),
            "--model",
            model,
            "--dry-run",
        )
        assert srv.submissions == 0
    assert code == cli.EXIT_OK
    assert plan["cost"] == 25 + cost and plan["tryon_model"] == model
    given, made = plan["looks"]
    assert (given["coarse"], given["cost"]) == ("given", 25)
    assert (made["coarse"], made["cost"]) == (f"generated with Try on Clothes {name}", cost)
    assert f"send  made: coarse image: generated with Try on Clothes {name}, {cost} credits" in err
    assert "send  given: 25 credits" in err
    assert f"cost up to {25 + cost} credits" in err


def test_the_balance_check_counts_the_try_on(tmp_path, imgs):
    with SandboxServer(credits=60) as srv:  # enough for two refinements, not 25 + 55
        code, _, err = run_cli(
            srv, "batch", str(mixed_manifest(tmp_path, imgs)), "--out-dir", str(tmp_path / "o")
        )
        assert code == cli.EXIT_USAGE
        assert "costs up to 80 credits and the balance is 60" in err
        assert srv.submissions == 0


def test_model_premium_uses_the_premium_endpoint_and_is_kept_with_the_batch(tmp_path, imgs):
    out = tmp_path / "out"
    with SandboxServer(latency=0.05) as srv:
        before = srv.credits
        code, lines, _ = run_cli(
            srv,
            "batch",
            str(mixed_manifest(tmp_path, imgs)),
            "--out-dir",
            str(out),
            "--model",
            "premium",
        )
        assert code == cli.EXIT_OK, lines
        assert srv.submissions_by_kind == {"premium": 1, "refiner": 2}
        assert before - srv.credits == 25 + 75
    *looks, summary = lines
    by_name = {x["look"]: x for x in looks}
    assert by_name["made"]["tryon_task_id"] and by_name["made"]["task_id"]
    assert by_name["given"]["tryon_task_id"] is None
    store = JobStore.open_default()
    try:
        batch = store.batch(summary["batch_id"])
        assert batch.tryon_model == "premium"
        made = store.batch_looks(batch.id)[1]
        assert store.get(made.job_id).tryon.model == "premium"
    finally:
        store.close()
    assert sorted(p.name for p in out.iterdir()) == ["given.png", "made.png", SUMMARY_NAME]


def stop_when(queue_box: list[BatchQueue], wanted) -> object:
    """An event handler that stops the queue (as Ctrl+C or quit would) at ``wanted``."""

    def on_event(ev: BatchEvent) -> None:
        if ev.kind == "look" and ev.look is not None and wanted(ev.look):
            queue_box[0].stop()

    return on_event


def test_a_batch_stopped_while_the_try_on_runs_resumes_without_paying_it_twice(
    store, imgs, tmp_path
):
    with SandboxServer(latency=0.3) as srv:
        batch_id = store.create_batch(
            "one",
            "inline",
            tmp_path / "out",
            1,
            [NewLook("made", "woman", {PERSON: imgs[PERSON], TOP: imgs[TOP]})],
            tryon_model="premium",
        ).id
        box: list[BatchQueue] = []
        box.append(
            BatchQueue(
                store,
                factory(srv),
                batch_id,
                on_event=stop_when(
                    box, lambda v: v.stage.startswith("coarse:") and bool(v.tryon_task_id)
                ),
            )
        )
        first = box[0].run()
        assert first.unfinished == 1 and first.done == 0
        (look,) = store.batch_looks(batch_id)
        stopped = store.get(look.job_id)
        assert stopped.state is JobState.SUBMITTED and stopped.stage == "tryon"
        assert srv.submissions_by_kind == {"premium": 1}

        again = BatchQueue(store, factory(srv), batch_id).run()  # a new start: the same store
        assert again.done == 1
        assert srv.submissions_by_kind == {"premium": 1, "refiner": 1}
    (look,) = store.batch_looks(batch_id)
    assert look.job_id == stopped.id  # the same job went on; no new one was made
    done = store.get(look.job_id)
    assert done.state is JobState.SUCCEEDED and done.tryon_task_id == stopped.tryon_task_id
    assert summary_rows(tmp_path / "out")["made"]["tryon_task_id"] == stopped.tryon_task_id


def test_a_look_whose_refinement_was_not_taken_reuses_its_coarse_image(store, imgs, tmp_path):
    """Credits run out between the stages: the try-on is paid (30), the refinement refused.
    The queue pauses; after a top-up the look is refined from the coarse image it has."""
    with SandboxServer(credits=30, latency=0.05) as srv:
        batch_id = store.create_batch(
            "one",
            "inline",
            tmp_path / "out",
            1,
            [NewLook("made", "woman", {PERSON: imgs[PERSON], TOP: imgs[TOP]})],
        ).id
        queue = BatchQueue(store, factory(srv), batch_id)
        first = queue.run(exit_when_paused=True)
        assert queue.pause_reason == "credits" and first.waiting == 1 and first.failed == 0
        assert srv.submissions_by_kind == {"pro": 1}
        (look,) = store.batch_looks(batch_id)
        paid = store.get(look.job_id)
        assert paid.tryon_done and paid.task_id is None

        srv.add_credits(25)  # only the refinement: a second try-on would pause again
        again = BatchQueue(store, factory(srv), batch_id).run(exit_when_paused=True)
        assert again.done == 1
        assert srv.submissions_by_kind == {"pro": 1, "refiner": 1}  # Pro paid once
        assert srv.credits == 0
    (look,) = store.batch_looks(batch_id)
    job = store.get(look.job_id)
    assert job.kind == "refine" and job.parent_id == paid.id
    assert job.inputs[COARSE].sha256 == paid.inputs[COARSE].sha256
    row = summary_rows(tmp_path / "out")["made"]
    assert row["state"] == "done" and row["tryon_task_id"] == paid.tryon_task_id


def test_retrying_failed_looks_refines_the_coarse_image_already_made(store, imgs, tmp_path):
    with SandboxServer(latency=0.05) as srv:
        srv.inject(Fault("submit", "task_failed", times=2))  # both refinements fail
        batch_id = two_looks(store, imgs, tmp_path, model="premium")
        queue = BatchQueue(store, factory(srv), batch_id)
        assert queue.retry_cost() == 0
        counts = queue.run()
        assert (counts.done, counts.failed) == (0, 2)
        assert srv.submissions_by_kind == {"premium": 1, "refiner": 2}
        made = store.get(store.batch_looks(batch_id)[1].job_id)
        assert made.error["stage"] == "refine" and made.tryon_done
        assert queue.retry_cost() == 25 + 75  # at most: the try-on is counted in case
        assert queue.retry_failed() == 2
        counts = queue.run()
        assert (counts.done, counts.failed) == (2, 0)
        assert srv.submissions_by_kind == {"premium": 1, "refiner": 4}  # Premium paid once
    again = store.get(store.batch_looks(batch_id)[1].job_id)
    assert again.kind == "refine" and again.parent_id == made.id
    row = summary_rows(tmp_path / "out")["made"]
    assert row["state"] == "done" and row["tryon_task_id"] == made.tryon_task_id


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_a_batch_killed_while_the_try_on_runs_resumes_at_the_right_stage(tmp_path, imgs):
    from tests.test_batch_cli import batch_jobs, start, wait_until

    p, t, c = imgs[PERSON], imgs[TOP], imgs[COARSE]
    src = tmp_path / "looks.csv"
    src.write_text(HEADER + f"{p},{t},,,woman,made\n{p},{t},{c},,woman,given\n")
    out = tmp_path / "out"

    def tryon_task_recorded() -> bool:
        store = JobStore.open_default()
        try:
            return any(
                j.tryon_task_id
                for b in store.batches()
                for j in store.get_many(store.batch_job_ids(b.id))
            )
        finally:
            store.close()

    with SandboxServer(latency=1.0) as srv:
        proc = start(
            srv,
            tmp_path / "batch.log",
            "batch",
            str(src),
            "--out-dir",
            str(out),
            "--concurrency",
            "1",
        )
        try:
            wait_until(tryon_task_recorded, "the try-on's task id in the store", proc)
            os.kill(proc.pid, signal.SIGKILL)
            assert proc.wait(20) == -signal.SIGKILL
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        assert srv.submissions_by_kind == {"pro": 1}  # killed in the first stage
        code, _, _ = run_cli(srv, "resume", "--all")
        assert code == cli.EXIT_OK, (tmp_path / "batch.log").read_text()
        assert srv.submissions_by_kind == {"pro": 1, "refiner": 2}  # the try-on paid once
    looks, jobs = batch_jobs()
    assert len(jobs) == 2 and all(j.state is JobState.SUCCEEDED for j in jobs)
    assert sorted(p.name for p in out.iterdir()) == ["given.png", "made.png", SUMMARY_NAME]


def test_a_batch_stored_before_schema_8_makes_coarse_images_with_pro(tmp_path):
    from refiner_gui.jobs.schema import MIGRATIONS
    from refiner_gui.jobs.store import DB_NAME, SCHEMA_VERSION
    from tests.helpers.jobs import raw

    path = tmp_path / DB_NAME
    with raw(path) as conn:  # a schema-7 file, as the previous release wrote it
        for migration in MIGRATIONS[:7]:
            conn.executescript(migration)
        conn.execute("PRAGMA user_version = 7")
        conn.execute(
            "INSERT INTO batches (name, source, out_dir, concurrency, state, created_at, "
            "updated_at) VALUES ('old', 'inline', ?, 3, 'active', 0, 0)",
            (str(tmp_path / "out"),),
        )
    store = JobStore(path)
    try:
        assert store.schema_version() == SCHEMA_VERSION >= 8
        (batch,) = store.batches()
        assert batch.tryon_model == "pro"
        with pytest.raises(ValueError):
            store.create_batch("x", "inline", tmp_path / "o", 1, [], tryon_model="ultra")
    finally:
        store.close()
