"""The durable job store: fields, files, schema, queries, deletion, threads."""

from __future__ import annotations

import json
import shutil
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from refiner_gui.jobs import (
    DEFECT_TAGS,
    SCHEMA_VERSION,
    JobFilter,
    JobState,
    JobStateError,
    JobStore,
    StoreError,
)
from refiner_gui.jobs.store import DB_NAME
from refiner_gui.slots import BOTTOM, COARSE, PERSON, TOP
from tests.helpers.images import make_image
from tests.helpers.jobs import bulk_insert, raw, slot_files


@pytest.fixture
def store(tmp_path):
    s = JobStore(tmp_path / "data" / DB_NAME)
    yield s
    s.close()


@pytest.fixture
def own_images(tmp_path):
    """Inputs in a folder the test may delete (job_images is shared by the session)."""
    d = tmp_path / "originals"
    return {
        "person": make_image(d / "me.jpg", (320, 480)),
        "top": make_image(d / "shirt.png", (300, 300), color=(1, 2, 3)),
        "coarse": make_image(d / "coarse.png", (320, 480), color=(9, 9, 9)),
        "bottom": make_image(d / "jeans.jpg", (300, 300), color=(5, 5, 90)),
    }


# -- fields -----------------------------------------------------------------------------


def test_every_field_round_trips_through_a_reopen(store, job_images):
    parent = store.create_job(slot_files(job_images), "woman")
    job = store.create_job(slot_files(job_images, bottom=True), "man", parent_id=parent.id)
    assert job.state is JobState.PENDING and job.gender == "man" and job.parent_id == parent.id
    assert set(job.inputs) == {PERSON, TOP, COARSE, BOTTOM}
    assert job.inputs[PERSON].name == "person.jpg"
    assert job.created_at == job.updated_at and job.task_id is None

    store.mark_submitting(job.id)
    store.mark_submitted(job.id, "task-1", "req-1", "log-1")
    store.note_error(job.id, {"message": "network hiccup", "type": "NetworkError"})
    mid = store.get(job.id)
    assert mid.state is JobState.SUBMITTED and mid.error_message == "network hiccup"
    assert mid.submitted_at is not None and mid.finished_at is None
    result = store.result_path_for(job.id)
    make_image(result, (320, 480))
    store.mark_succeeded(job.id, result, "req-2", "log-2")
    store.set_review(job.id, "fail", ["hands", "artifacts", "hands"], "left hand melted")

    reopened = JobStore(store.path)
    try:
        got = reopened.get(job.id)
    finally:
        reopened.close()
    assert got.id == job.id and got.parent_id == parent.id
    assert got.state is JobState.SUCCEEDED and got.gender == "man"
    assert got.task_id == "task-1"
    assert (got.request_id, got.log_id) == ("req-2", "log-2")  # the final answer's ids
    assert got.error is None  # a success clears passing problems
    assert got.result_path == result and got.result_path.is_file()
    assert got.verdict == "fail" and got.tags == ("artifacts", "hands")  # sorted, unique
    assert got.note == "left hand melted" and got.reviewed_at is not None
    assert got.created_at <= got.submitted_at <= got.finished_at <= got.updated_at
    assert got.inputs == store.get(job.id).inputs
    for slot, item in got.inputs.items():
        assert (
            item.path.read_bytes() == Path(slot_files(job_images, bottom=True)[slot]).read_bytes()
        )


def test_finished_errors_keep_their_ids(store, job_images):
    job = store.create_job(slot_files(job_images), "woman")
    store.mark_submitting(job.id)
    err = {
        "type": "InputRejected",
        "message": "no face",
        "request_id": "r9",
        "log_id": "l9",
        "code": "ERROR_NO_FACE_IN_FILE",
        "slot": PERSON,
    }
    got = store.mark_finished(job.id, JobState.FAILED, err)
    assert got.state is JobState.FAILED and got.error == err and got.error_message == "no face"
    assert (got.request_id, got.log_id) == ("r9", "l9") and got.finished_at is not None


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    note=st.text(max_size=200),
    tags=st.sets(st.sampled_from(sorted(DEFECT_TAGS))),
    verdict=st.sampled_from([None, "pass", "fail"]),
)
def test_any_review_round_trips(store, note, tags, verdict):
    job = store.create_resumed("t")
    got = store.set_review(job.id, verdict, tags, note)
    assert (got.verdict, set(got.tags), got.note) == (verdict, tags, note)
    assert (got.reviewed_at is not None) == (verdict is not None)


def test_set_review_validation(store):
    job = store.create_resumed("t")
    with pytest.raises(ValueError, match="verdict"):
        store.set_review(job.id, "maybe")
    with pytest.raises(ValueError, match="unknown defect tags"):
        store.set_review(job.id, "fail", ["hands", "wings"])
    with pytest.raises(ValueError, match="collection"):
        store.set_review(job.id, "fail", "hands")
    with pytest.raises(ValueError, match="note"):
        store.set_review(job.id, "pass", (), None)  # type: ignore[arg-type]
    with pytest.raises(KeyError):
        store.set_review(job.id + 100, "pass")
    assert store.get(job.id).verdict is None  # nothing was half-written
    store.set_review(job.id, "pass", ["other"], "ok")
    cleared = store.set_review(job.id, None)
    assert cleared.verdict is None and cleared.tags == () and cleared.reviewed_at is None


# -- state changes ----------------------------------------------------------------------


def test_a_job_is_taken_for_upload_only_once(store, job_images):
    job = store.create_job(slot_files(job_images), "woman")
    store.mark_submitting(job.id)
    with pytest.raises(JobStateError, match="submitting"):
        store.mark_submitting(job.id)


def test_exactly_one_of_many_threads_gets_to_upload(store, job_images):
    job = store.create_job(slot_files(job_images), "woman")
    barrier = threading.Barrier(6)
    won: list[int] = []
    lost: list[int] = []

    def take(i: int) -> None:
        barrier.wait()
        try:
            store.mark_submitting(job.id)
            won.append(i)
        except JobStateError:
            lost.append(i)

    threads = [threading.Thread(target=take, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(won) == 1 and len(lost) == 5


def test_finished_jobs_are_not_overwritten(store, job_images):
    job = store.create_job(slot_files(job_images), "woman")
    store.mark_submitting(job.id)
    store.mark_submitted(job.id, "t1")
    result = make_image(store.result_path_for(job.id))
    store.mark_succeeded(job.id, result)
    # A late recover() elsewhere must not turn a success into EXPIRED, nor add errors.
    assert (
        store.mark_finished(job.id, JobState.EXPIRED, {"message": "x"}).state is JobState.SUCCEEDED
    )
    assert store.note_error(job.id, {"message": "late"}).error is None
    with pytest.raises(ValueError):
        store.mark_finished(job.id, JobState.SUCCEEDED, {})
    with pytest.raises(ValueError):
        store.mark_finished(job.id, JobState.SUBMITTED, {})
    with pytest.raises(KeyError):
        store.mark_finished(job.id + 1, JobState.FAILED, {})


def test_a_task_id_is_kept_even_after_the_upload_was_given_up(store, job_images):
    """Another process settled the upload as OUTCOME_UNKNOWN; the answer then arrived."""
    job = store.create_job(slot_files(job_images), "woman")
    store.mark_submitting(job.id)
    store.mark_finished(job.id, JobState.OUTCOME_UNKNOWN, {"message": "stopped"})
    got = store.mark_submitted(job.id, "late-task")
    assert got.state is JobState.SUBMITTED and got.task_id == "late-task"
    assert got.error is None and got.finished_at is None


def test_unfinished_find_by_task_and_create_resumed(store, job_images):
    a = store.create_job(slot_files(job_images), "woman")
    b = store.create_resumed("abc", "man")
    assert b.state is JobState.SUBMITTED and b.task_id == "abc" and b.inputs == {}
    c = store.create_job(slot_files(job_images), "man")
    store.mark_submitting(c.id)
    store.mark_finished(c.id, JobState.OUTCOME_UNKNOWN, {"message": "?"})
    assert [j.id for j in store.unfinished()] == [a.id, b.id]  # oldest first
    assert store.find_by_task("abc").id == b.id
    assert store.find_by_task("nope") is None


# -- files ------------------------------------------------------------------------------


def test_inputs_are_stored_once_by_content_and_outlive_the_originals(store, own_images, tmp_path):
    twin = tmp_path / "elsewhere" / "same-person.jpg"
    twin.parent.mkdir()
    shutil.copyfile(own_images["person"], twin)
    a = store.create_job(slot_files(own_images), "woman")
    b = store.create_job({**slot_files(own_images), PERSON: twin}, "woman")
    assert a.inputs[PERSON].path == b.inputs[PERSON].path  # same content, one file
    assert a.inputs[PERSON].sha256 == b.inputs[PERSON].sha256
    assert b.inputs[PERSON].name == "same-person.jpg"  # the name shown stays the user's
    assert len([p for p in store.inputs_dir.iterdir() if not p.name.startswith(".")]) == 3
    assert a.inputs[PERSON].path.parent == store.inputs_dir
    shutil.rmtree(own_images["person"].parent)
    twin.unlink()
    again = store.get(a.id)
    for item in again.inputs.values():
        assert item.path.is_file()
    from refiner_gui.jobs import job_inputs

    assert job_inputs(again).person.is_file()


def test_paths_are_relative_so_the_data_folder_can_move(store, job_images, tmp_path):
    job = store.create_job(slot_files(job_images), "woman")
    store.mark_submitting(job.id)
    store.mark_submitted(job.id, "t")
    store.mark_succeeded(job.id, make_image(store.result_path_for(job.id)))
    with raw(store.path) as conn:
        stored = [r[0] for r in conn.execute("SELECT path FROM job_inputs")]
        stored.append(conn.execute("SELECT result_path FROM jobs").fetchone()[0])
    assert all(not Path(p).is_absolute() for p in stored), stored
    store.close()
    moved = tmp_path / "moved" / "data"
    moved.parent.mkdir()
    shutil.move(str(store.root), str(moved))
    again = JobStore(moved / DB_NAME)
    try:
        got = again.get(job.id)
        assert got.result_path.is_file() and got.result_path.is_relative_to(moved)
        assert all(i.path.is_file() and i.path.is_relative_to(moved) for i in got.inputs.values())
    finally:
        again.close()


def test_delete_removes_the_result_and_unshared_inputs_only(store, own_images):
    keep = store.create_job(slot_files(own_images), "woman")
    other_top = make_image(
        own_images["top"].parent / "other-top.png", (300, 300), color=(200, 0, 0)
    )
    gone = store.create_job({**slot_files(own_images, bottom=True), TOP: other_top}, "man")
    result = make_image(store.result_path_for(gone.id))
    store.mark_submitting(gone.id)
    store.mark_submitted(gone.id, "t")
    store.mark_succeeded(gone.id, result)
    store.delete(gone.id)
    with pytest.raises(KeyError):
        store.get(gone.id)
    assert not result.exists()
    assert not gone.inputs[TOP].path.exists() and not gone.inputs[BOTTOM].path.exists()
    for item in store.get(keep.id).inputs.values():  # shared with the kept job
        assert item.path.is_file()
    with raw(store.path) as conn:  # the cascade removed the input rows
        assert (
            conn.execute("SELECT COUNT(*) FROM job_inputs WHERE job_id = ?", (gone.id,)).fetchone()[
                0
            ]
            == 0
        )
    with pytest.raises(KeyError):
        store.delete(gone.id)


def test_delete_can_keep_the_files(store, own_images):
    job = store.create_job(slot_files(own_images), "woman")
    store.delete(job.id, delete_files=False)
    assert all(i.path.is_file() for i in job.inputs.values())


def test_partial_files_and_existing_results(store):
    j1, j10 = store.create_resumed("a"), store.create_resumed("b")
    for name in (f".job-{j1.id}.png.x1.part", f".job-{j10.id}.png.x2.part"):
        (store.results_dir / name).write_bytes(b"half")
    (store.inputs_dir / ".in.abc.part").write_bytes(b"half")
    assert store.existing_result(j1.id) is None  # a .part file is not a result
    assert store.remove_partial_files(j1.id) == 1
    assert (store.results_dir / f".job-{j10.id}.png.x2.part").exists()  # other jobs' stay
    assert store.remove_partial_files() == 2
    assert not list(store.results_dir.glob("*.part")) + list(store.inputs_dir.glob("*.part"))
    done = make_image(store.result_path_for(j1.id, ".jpg"))
    assert store.existing_result(j1.id) == done and store.existing_result(j10.id) is None


# -- schema -----------------------------------------------------------------------------


def test_a_fresh_file_gets_the_current_schema_in_wal_mode(store):
    assert store.schema_version() == SCHEMA_VERSION
    with raw(store.path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    assert {"jobs", "job_inputs"} <= tables


def test_a_version_0_file_without_tables_migrates(tmp_path):
    path = tmp_path / "old" / DB_NAME
    path.parent.mkdir()
    with raw(path) as conn:
        conn.execute("CREATE TABLE unrelated (x)")  # a real file, but none of our tables
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 0
    s = JobStore(path)
    try:
        assert s.schema_version() == SCHEMA_VERSION
        assert s.get(s.create_resumed("t").id).task_id == "t"
    finally:
        s.close()


def test_a_newer_schema_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "new" / DB_NAME
    path.parent.mkdir()
    with raw(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    with pytest.raises(StoreError, match=r"newer version of the app.*Update the app"):
        JobStore(path)
    with raw(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 5
        assert conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0] == 0


def test_two_openers_of_a_fresh_file_both_succeed(tmp_path):
    """The window and the command line may create the file at the same moment."""
    for round_ in range(5):
        path = tmp_path / f"race{round_}" / DB_NAME
        path.parent.mkdir()
        barrier = threading.Barrier(4)
        errors: list[BaseException] = []
        opened: list[JobStore] = []

        def open_it(
            path: Path = path,
            barrier: threading.Barrier = barrier,
            opened: list[JobStore] = opened,
            errors: list[BaseException] = errors,
        ) -> None:
            barrier.wait()
            try:
                opened.append(JobStore(path))
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=open_it) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        for s in opened:
            assert s.schema_version() == SCHEMA_VERSION
            s.close()
        assert not errors, errors


def test_reopening_does_not_migrate_again(store):
    job = store.create_resumed("keep-me")
    store.close()
    again = JobStore(store.path)
    try:
        assert again.get(job.id).task_id == "keep-me"
    finally:
        again.close()


# -- queries ----------------------------------------------------------------------------


@pytest.fixture
def varied(store, job_images):
    """Five jobs with distinct states, reviews, notes and input names; ids by role."""
    files = slot_files(job_images)
    ids = {}
    for role in ("pending", "ok_pass", "ok_fail", "failed", "waiting"):
        ids[role] = store.create_job(files, "woman" if role != "failed" else "man").id
        time.sleep(0.002)  # distinct created_at
    for role in ("ok_pass", "ok_fail", "waiting", "failed"):
        store.mark_submitting(ids[role])
        store.mark_submitted(ids[role], f"TASK_{role}")
    for role, verdict, tags, note in (
        ("ok_pass", "pass", [], "lovely 100% match"),
        ("ok_fail", "fail", ["hands", "garment_colour"], "wrong sleeve"),
    ):
        store.mark_succeeded(ids[role], make_image(store.result_path_for(ids[role])))
        store.set_review(ids[role], verdict, tags, note)
    store.mark_finished(ids["failed"], JobState.FAILED, {"message": "no face"})
    other = make_image(
        job_images["person"].parent / "holiday_photo.png", (320, 480), color=(7, 7, 7)
    )
    ids["named"] = store.create_job({**files, PERSON: other}, "woman").id
    return ids


def q(store, **kw):
    return set(store.list_ids(JobFilter(**kw)))


def test_filters(store, varied):
    v = varied
    assert q(store, states=(JobState.SUCCEEDED,)) == {v["ok_pass"], v["ok_fail"]}
    assert q(store, states=(JobState.PENDING, JobState.FAILED)) == {
        v["pending"],
        v["failed"],
        v["named"],
    }
    assert q(store, verdict="pass") == {v["ok_pass"]}
    assert q(store, verdict="fail") == {v["ok_fail"]}
    assert q(store, verdict="unreviewed") == set(v.values()) - {v["ok_pass"], v["ok_fail"]}
    assert q(store, tag="hands") == {v["ok_fail"]}
    assert q(store, tag="garment") == set()  # exact tags, not substrings
    assert q(store, text="task_ok") == {v["ok_pass"], v["ok_fail"]}  # task id, any case
    assert q(store, text="sleeve") == {v["ok_fail"]}  # note
    assert q(store, text="holiday") == {v["named"]}  # input file name
    assert q(store, text="100%") == {v["ok_pass"]}  # % is literal
    assert q(store, text="TASK_") == q(store, text="task_")
    assert q(store, text="TASKXok") == set()  # _ is literal, not a wildcard
    assert q(store, text="no face") == {v["failed"]}  # error message
    assert q(store, text=str(v["pending"])) >= {v["pending"]}  # id
    assert q(store, text="   ") == set(v.values())
    assert q(store, states=(JobState.SUCCEEDED,), verdict="fail", tag="hands", text="sleeve") == {
        v["ok_fail"]
    }
    assert store.count() == len(v)
    assert store.count(JobFilter(states=(JobState.SUCCEEDED,))) == 2


def test_sorting(store, varied):
    newest_first = store.list_ids()
    assert newest_first == sorted(varied.values(), reverse=True)  # created in id order
    assert store.list_ids(descending=False) == newest_first[::-1]
    by_gender = store.list_ids(sort="gender", descending=False)
    assert by_gender[0] == varied["failed"]  # the only "man"; ties then go by id
    assert by_gender[1:] == sorted(set(varied.values()) - {varied["failed"]})
    assert store.list_ids(sort="gender") == by_gender[::-1]
    assert [j.id for j in store.list_jobs(limit=2)] == newest_first[:2]
    with pytest.raises(ValueError):
        store.list_ids(sort="created_at; DROP TABLE jobs")


def test_ten_thousand_rows(store):
    ids = bulk_insert(store, 10_000)
    assert len(ids) == 10_000 and store.count() == 10_000
    newest = store.list_ids()
    assert newest[0] == ids[-1] and newest[-1] == ids[0] and len(newest) == 10_000
    ok = store.list_ids(JobFilter(states=(JobState.SUCCEEDED,)))
    assert len(ok) == 10_000 // len(JobState) + (1 if 10_000 % len(JobState) > 3 else 0)
    assert store.count(JobFilter(verdict="pass")) == len(
        [i for i in range(10_000) if i % len(JobState) == 3 and i % 3 == 1]
    )
    assert store.count(JobFilter(tag="artifacts")) == 2_000
    assert store.list_ids(JobFilter(text="task-004242")) == [ids[4242]]
    assert store.list_ids(JobFilter(text=f"person_image-{ids[77]}.png")) == [ids[77]]
    page = store.get_many(newest[:200])
    assert [j.id for j in page] == newest[:200]
    assert all(set(j.inputs) == {PERSON, TOP} for j in page)
    assert len(store.get_many(ids)) == 10_000  # chunks past SQLite's variable limit
    assert len(store.list_jobs(JobFilter(verdict="unreviewed"), limit=50)) == 50


# -- threads ----------------------------------------------------------------------------


def test_a_writer_thread_and_reads_on_the_main_thread(store, job_images):
    files = slot_files(job_images)
    n = 60
    errors: list[BaseException] = []
    done = threading.Event()

    def writer() -> None:
        try:
            for i in range(n):
                job = store.create_job(files, "woman")
                store.mark_submitting(job.id)
                store.mark_submitted(job.id, f"w{i}")
                store.note_error(job.id, {"message": f"blip {i}"})
        except BaseException as exc:  # reported on the main thread
            errors.append(exc)
        finally:
            done.set()

    t = threading.Thread(target=writer, name="store-writer")
    t.start()
    seen = 0
    try:
        while not done.is_set():
            ids = store.list_ids()
            for job in store.get_many(ids[:10]):
                assert job.inputs and job.state in (
                    JobState.PENDING,
                    JobState.SUBMITTING,
                    JobState.SUBMITTED,
                )
            seen = max(seen, store.count())
    finally:
        t.join(30)
    assert not errors, errors
    assert store.count() == n and seen <= n
    assert {j.task_id for j in store.unfinished()} == {f"w{i}" for i in range(n)}


def test_close_then_use_again(store):
    store.create_resumed("x")
    store.close()
    assert store.count() == 1  # a new connection is opened on demand
    with raw(store.path) as conn:
        assert json.loads(conn.execute("SELECT tags FROM jobs").fetchone()[0]) == []


def test_raw_connection_helper_sees_committed_rows(store):
    store.create_resumed("visible")
    with raw(store.path) as conn:
        assert conn.execute("SELECT task_id FROM jobs").fetchone()[0] == "visible"
    with pytest.raises(sqlite3.OperationalError), raw(store.path) as conn:
        conn.execute("SELECT nope FROM jobs")


def test_set_preference_records_the_blind_answer_and_nothing_else(store, tmp_path):
    job = store.create_resumed("t")
    store.set_review(job.id, "fail", ["hands"], "thumb")
    got = store.set_preference(job.id, "coarse")
    assert got.preference == "coarse"
    assert (got.verdict, got.tags, got.note) == ("fail", ("hands",), "thumb")
    store.close()
    reopened = JobStore(store.path)  # durable, not only in the returned snapshot
    try:
        assert reopened.get(job.id).preference == "coarse"
        assert reopened.set_preference(job.id, None).preference is None
        with pytest.raises(ValueError, match="preference"):
            reopened.set_preference(job.id, "A")  # the blinded side is never stored
        with pytest.raises(KeyError):
            reopened.set_preference(job.id + 100, "same")
        assert reopened.get(job.id).preference is None
    finally:
        reopened.close()
