"""Two-stage jobs against the sandbox: Try on Clothes Pro/Premium makes the coarse image,
the Refiner refines it; each stage durable, named in errors and in progress."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

import pytest
from PIL import Image

from refiner_gui.api import InputRejected, RefinerClient, SubmissionOutcomeUnknown, TaskFailed
from refiner_gui.api.models import ProgressEvent, Stage
from refiner_gui.jobs import JobState, JobStore, recover, run_job
from refiner_gui.jobs.two_stage import job_cost
from refiner_gui.sandbox import Fault, SandboxServer
from refiner_gui.slots import BOTTOM, COARSE, PERSON, TOP
from tests.helpers.fast import fast_retry
from tests.helpers.images import make_image
from tests.helpers.jobs import raw

KEY = "two-stage-key-0123456789"


def client_for(srv: SandboxServer, **kw) -> RefinerClient:
    kw.setdefault("poll_interval", 0.02)
    kw.setdefault("retry", fast_retry())
    return RefinerClient(KEY, srv.base_url, **kw)


@pytest.fixture
def store():
    s = JobStore.open_default()
    yield s
    s.close()


@pytest.fixture
def files(job_images) -> dict[str, Path]:
    return {PERSON: job_images["person"], TOP: job_images["top"], BOTTOM: job_images["bottom"]}


@pytest.mark.parametrize(("model", "cost"), [("pro", 30), ("premium", 50)])
def test_generate_then_refine_runs_both_stages_once(store, files, model, cost):
    job = store.create_job(files, "woman", kind="tryon_refine", tryon_model=model)
    events: list[ProgressEvent] = []
    submitted: list[str] = []
    with SandboxServer(latency=0.05) as srv, closing(client_for(srv)) as client:
        before = srv.credits
        done = run_job(
            store,
            client,
            job,
            on_event=events.append,
            on_submitted=lambda s: submitted.append(s.task_id),
        )
        assert srv.submissions_by_kind == {model: 1, "refiner": 1}
        assert before - srv.credits == cost + 25 == job_cost("tryon_refine", model)
        tasks = srv.tasks
    assert done.state is JobState.SUCCEEDED
    assert done.tryon is not None and done.tryon.done
    tryon_id, refine_id = done.tryon.task_id, done.task_id
    assert tryon_id and refine_id and tryon_id != refine_id
    assert submitted == [tryon_id, refine_id]
    # The vendor's requirement for a later refinement.
    assert tasks[tryon_id]["resolution"] == -1 and tasks[tryon_id]["restore_face"] is True
    assert tasks[tryon_id]["has_bottom"] and tasks[refine_id]["has_bottom"]
    # The coarse image is a first-class input: stored, hashed, the person photo's size.
    coarse = done.inputs[COARSE]
    assert coarse.path.is_file() and coarse.path.parent == store.inputs_dir
    assert "coarse image" in coarse.name
    with Image.open(coarse.path) as c, Image.open(files[PERSON]) as p:
        assert c.size == p.size
    # The same person and garments went to both stages.
    assert done.inputs[PERSON].sha256 == store.store_input(files[PERSON]).sha256
    # Progress names each stage with its own task id, in order.
    steps = [(e.step, e.stage) for e in events]
    assert steps[0] == ("tryon", Stage.UPLOADING)
    assert ("tryon", Stage.DONE) in steps and steps[-1] == ("refine", Stage.DONE)
    assert steps.index(("tryon", Stage.DONE)) < steps.index(("refine", Stage.UPLOADING))
    assert {e.task_id for e in events if e.step == "tryon" and e.task_id} == {tryon_id}
    assert {e.task_id for e in events if e.step == "refine" and e.task_id} == {refine_id}
    # Each endpoint's duration is learned apart.
    with raw(store.path) as c:
        endpoints = {
            r[0] for r in c.execute("SELECT endpoint FROM poll_bounds WHERE job_id=?", (job.id,))
        }
    assert endpoints == {model, "refiner"}


def test_generate_only_makes_the_coarse_image_the_result(store, files):
    job = store.create_job(files, "man", kind="tryon", tryon_model="pro")
    with SandboxServer() as srv, closing(client_for(srv)) as client:
        done = run_job(store, client, job)
        assert srv.submissions_by_kind == {"pro": 1}
    assert done.state is JobState.SUCCEEDED and done.task_id is None
    assert done.result_path is not None and done.result_path.is_file()
    assert done.inputs[COARSE].sha256 == store.store_input(done.result_path).sha256
    assert store.existing_result(job.id) is None  # never taken for a refinement's result


def test_the_try_on_task_id_is_committed_before_its_first_poll(store, files):
    job = store.create_job(files, "woman", kind="tryon_refine", tryon_model="premium")
    seen: list = []

    class Spy(RefinerClient):
        def wait(self, task_id, **kw):
            seen.append(store.get(job.id))
            return super().wait(task_id, **kw)

    with (
        SandboxServer() as srv,
        closing(Spy(KEY, srv.base_url, poll_interval=0.02, retry=fast_retry())) as client,
    ):
        run_job(store, client, job)
    first, second = seen
    assert first.state is JobState.SUBMITTED and first.tryon.task_id and first.task_id is None
    assert second.state is JobState.SUBMITTED and second.task_id and second.tryon.done


def test_a_failed_try_on_is_reported_against_its_stage(store, files):
    job = store.create_job(files, "woman", kind="tryon_refine", tryon_model="pro")
    with SandboxServer() as srv, closing(client_for(srv)) as client:
        srv.inject(Fault("tryon", "task_failed"))
        with pytest.raises(TaskFailed) as caught:
            run_job(store, client, job)
        assert srv.submissions_by_kind == {"pro": 1}  # the refinement was never sent
    assert str(caught.value).startswith("Generating the coarse image failed: ")
    stored = store.get(job.id)
    assert stored.state is JobState.FAILED and stored.stage == "tryon"
    assert stored.error["stage"] == "tryon"
    assert stored.error["message"].startswith("Generating the coarse image failed: ")
    assert stored.error["task_id"] == stored.tryon.task_id


def test_a_failed_refinement_keeps_the_coarse_image(store, files):
    job = store.create_job(files, "woman", kind="tryon_refine", tryon_model="pro")
    with SandboxServer() as srv, closing(client_for(srv)) as client:
        srv.inject(Fault("submit", "task_failed"))
        with pytest.raises(TaskFailed) as caught:
            run_job(store, client, job)
        assert srv.submissions_by_kind == {"pro": 1, "refiner": 1}
    assert str(caught.value).startswith("Refining failed: ")
    stored = store.get(job.id)
    assert stored.state is JobState.FAILED and stored.stage == "refine"
    assert stored.error["stage"] == "refine" and stored.error["task_id"] == stored.task_id
    assert stored.tryon.done and stored.inputs[COARSE].path.is_file()


def test_an_unknown_try_on_upload_is_never_sent_again(store, files):
    job = store.create_job(files, "woman", kind="tryon_refine", tryon_model="pro")
    with SandboxServer() as srv, closing(client_for(srv, upload_read_timeout=0.3)) as client:
        srv.inject(Fault("tryon", "hang"))
        with pytest.raises(SubmissionOutcomeUnknown):
            run_job(store, client, job)
        assert store.get(job.id).state is JobState.OUTCOME_UNKNOWN
        assert recover(store, lambda: client_for(srv)) == []
        with pytest.raises(ValueError):
            run_job(store, client, store.get(job.id))
        assert srv.submissions_by_kind == {"pro": 1}


class Killed(BaseException):
    """Stands for the process dying at that point (nothing after it runs)."""


def test_resume_between_the_stages_sends_only_the_refinement(store, files):
    job = store.create_job(files, "woman", kind="tryon_refine", tryon_model="pro")

    def die_after_the_first_stage(event: ProgressEvent) -> None:
        if event.step == "tryon" and event.stage is Stage.DONE:
            raise Killed

    with SandboxServer() as srv:
        client = client_for(srv)
        try:
            with pytest.raises(Killed):
                run_job(store, client, job, on_event=die_after_the_first_stage)
            between = store.get(job.id)
            assert between.state is JobState.PENDING and between.tryon_done
            out = recover(store, lambda: client_for(srv))
        finally:
            client.close()
        assert srv.submissions_by_kind == {"pro": 1, "refiner": 1}
    assert [j.state for j in out] == [JobState.SUCCEEDED]
    assert out[0].tryon.task_id == between.tryon.task_id


def test_a_pending_try_on_never_sent_is_cancelled_by_recovery(store, files):
    job = store.create_job(files, "woman", kind="tryon_refine", tryon_model="pro", hold=False)
    with SandboxServer() as srv:
        out = recover(store, lambda: client_for(srv))
        assert srv.submissions == 0
    assert [j.state for j in out] == [JobState.CANCELLED] and out[0].id == job.id


def test_a_coarse_image_of_the_wrong_size_fails_the_refinement_plainly(store, files, tmp_path):
    job = store.create_job(files, "woman", kind="tryon_refine", tryon_model="pro")

    class WrongSize(RefinerClient):
        def download(self, url, dest, **kw):
            make_image(tmp_path / "small.png", (200, 200))
            dest.write_bytes((tmp_path / "small.png").read_bytes())
            return dest

    with (
        SandboxServer() as srv,
        closing(WrongSize(KEY, srv.base_url, poll_interval=0.02, retry=fast_retry())) as client,
    ):
        with pytest.raises(InputRejected) as caught:
            run_job(store, client, job)
        assert srv.submissions_by_kind == {"pro": 1}
    assert str(caught.value).startswith("Refining failed: ")
    assert "person photo" in str(caught.value)
    assert store.get(job.id).state is JobState.FAILED


def test_a_try_on_job_needs_a_model_and_no_coarse(store, files, job_images):
    with pytest.raises(ValueError):
        store.create_job(files, "woman", kind="tryon_refine")
    with pytest.raises(ValueError):
        store.create_job(
            {**files, COARSE: job_images["coarse"]}, "woman", kind="tryon", tryon_model="pro"
        )


def test_history_exports_show_both_stages(store, files, tmp_path):
    from refiner_gui.reports.html_report import export_html
    from refiner_gui.reports.tabular import csv_row, job_record

    job = store.create_job(files, "woman", kind="tryon_refine", tryon_model="premium")
    with SandboxServer() as srv, closing(client_for(srv)) as client:
        srv.inject(Fault("submit", "task_failed"))
        with pytest.raises(TaskFailed):
            run_job(store, client, job)
    failed = store.get(job.id)
    row = csv_row(failed)
    assert (row["kind"], row["tryon_model"]) == ("tryon_refine", "premium")
    assert row["tryon_task_id"] == failed.tryon.task_id and row["task_id"] == failed.task_id
    record = job_record(failed)
    assert [s["stage"] for s in record["stages"]] == ["tryon", "refine"]
    assert record["error"]["stage"] == "refine"
    html = export_html([failed], tmp_path / "report.html").read_text("utf-8")
    assert "Try on Clothes Premium" in html and failed.tryon.task_id in html
    assert "Refining failed: " in html


def test_a_try_on_cancelled_while_waiting_resumes_by_either_task_id(store, files):
    from refiner_gui.api import CancelToken
    from refiner_gui.api.errors import Cancelled
    from refiner_gui.jobs import JobFilter
    from refiner_gui.ui.history.model import state_text

    job = store.create_job(files, "woman", kind="tryon_refine", tryon_model="pro")
    token = CancelToken()

    def cancel_once_queued(event: ProgressEvent) -> None:
        if event.step == "tryon" and event.stage is Stage.QUEUED:
            token.cancel()

    with SandboxServer(latency=0.5) as srv, closing(client_for(srv)) as client:
        with pytest.raises(Cancelled) as caught:
            run_job(store, client, job, cancel=token, on_event=cancel_once_queued)
        waiting = store.get(job.id)
        assert waiting.state is JobState.SUBMITTED and waiting.stage == "tryon"
        assert state_text(waiting) == "Waiting · coarse image"
        # The error names the try-on task: it finds the job, in the store and the history.
        assert caught.value.task_id == waiting.tryon.task_id
        assert store.find_by_task(waiting.tryon.task_id).id == job.id
        assert store.list_ids(JobFilter(text=waiting.tryon.task_id[:12])) == [job.id]
        done = run_job(store, client, store.get(job.id))
        assert srv.submissions_by_kind == {"pro": 1, "refiner": 1}
    assert done.state is JobState.SUCCEEDED and state_text(done) == "Done · refinement"


def test_a_locked_store_at_the_try_on_keeps_its_task_id_in_the_journal(store, files, monkeypatch):
    import refiner_gui.jobs.two_stage as two_stage_module
    from refiner_gui.jobs import LocalWriteError

    monkeypatch.setattr(two_stage_module, "RECORD_PAUSES", (0.01,))
    fast = JobStore(store.path, busy_timeout=0.2)
    job = fast.create_job(files, "woman", kind="tryon_refine", tryon_model="pro")
    try:
        with SandboxServer() as srv, raw(fast.path) as other:
            other.execute("PRAGMA busy_timeout = 0")

            def lock_once(event) -> None:  # after SUBMITTING is committed
                if not other.in_transaction:
                    other.execute("BEGIN EXCLUSIVE")

            try:
                with pytest.raises(LocalWriteError) as caught, closing(client_for(srv)) as client:
                    run_job(fast, client, job, on_event=lock_once)
            finally:
                other.execute("ROLLBACK")
            [task_id] = list(srv.tasks)
            assert task_id in str(caught.value) and "journal" in str(caught.value)
            assert str(caught.value).startswith("Generating the coarse image failed: ")
            assert fast.get(job.id).state is JobState.SUBMITTING
            [entry] = fast.journal_entries()
            assert entry["stage"] == "tryon" and entry["task_id"] == task_id
            # Recovery takes the id from the journal and finishes both stages; the try-on
            # is never sent again.
            out = recover(fast, lambda: client_for(srv))
            assert srv.submissions_by_kind == {"pro": 1, "refiner": 1}
        [done] = out
        assert done.state is JobState.SUCCEEDED and done.tryon.task_id == task_id
        assert fast.apply_journal() == []
    finally:
        fast.close()


def test_a_try_on_task_id_is_kept_whatever_the_job_became_meanwhile(store, files):
    # Another process settled the upload (e.g. OUTCOME_UNKNOWN after a crash check, or a
    # cancel) while the answer was on its way: the task id we hold is the better truth.
    for settled in (JobState.CANCELLED, JobState.OUTCOME_UNKNOWN, JobState.FAILED):
        job = store.create_job(files, "woman", kind="tryon", tryon_model="pro", hold=False)
        store.mark_tryon_submitting(job.id)
        store.mark_finished(job.id, settled, {"type": "X", "message": "settled elsewhere"})
        got = store.mark_tryon_submitted(job.id, f"task-{settled.value}")
        assert got.state is JobState.SUBMITTED and got.tryon.task_id == f"task-{settled.value}"


def test_a_try_on_task_id_for_a_job_that_succeeded_meanwhile_is_logged(store, files, caplog):
    job = store.create_job(files, "woman", kind="tryon", tryon_model="pro")

    class FinishedElsewhere(RefinerClient):
        """Another process finishes the job while this upload's answer is on its way."""

        def submit(self, inputs, **kw):
            sub = super().submit(inputs, **kw)
            result = store.results_dir / f"job-{job.id}.png"
            make_image(result, (64, 64))
            store.mark_succeeded(job.id, result)
            return sub

    with (
        SandboxServer() as srv,
        closing(FinishedElsewhere(KEY, srv.base_url, retry=fast_retry())) as client,
        caplog.at_level("WARNING"),
    ):
        done = run_job(store, client, job)  # no ValueError: the job is returned as it is
        (task_id,) = srv.tasks
    assert done.state is JobState.SUCCEEDED and done.tryon.task_id is None
    assert any(
        task_id in r.getMessage() and "not recorded" in r.getMessage() for r in caplog.records
    )
