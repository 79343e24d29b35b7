"""``refiner-cli tryon`` and ``refine --generate-coarse`` against the sandbox."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from refiner_gui.jobs import JobState, JobStore
from refiner_gui.provenance import build_record
from refiner_gui.sandbox import Fault
from refiner_gui.slots import COARSE
from tests.test_cli import KEY, run


def base(srv, imgs, command, *extra):
    return [
        command,
        "--person",
        str(imgs["person"]),
        "--top",
        str(imgs["top"]),
        "--base-url",
        srv.base_url,
        "--api-key",
        KEY,
        "--poll-interval",
        "0.05",
        *extra,
    ]


def stored(job_id):
    store = JobStore.open_default()
    try:
        return store.get(job_id)
    finally:
        store.close()


@pytest.mark.parametrize("model", ["pro", "premium"])
def test_tryon_saves_the_coarse_image(sandbox, job_images, tmp_path, model):
    out = tmp_path / "coarse.png"
    rc, stdout, stderr = run(
        base(sandbox, job_images, "tryon", "--model", model, "--out", str(out), "--json")
    )
    assert rc == 0, stderr
    payload = json.loads(stdout)
    assert payload["status"] == "done" and payload["output"] == str(out)
    assert payload["tryon_model"] == model and payload["tryon_task_id"]
    assert payload["task_id"] is None  # no refinement was made
    with Image.open(out) as im, Image.open(job_images["person"]) as person:
        assert im.size == person.size
    assert sandbox.submissions_by_kind == {model: 1}
    cost = {"pro": 30, "premium": 50}[model]
    assert f"costs {cost} credits" in stderr
    assert "coarse image: status:" in stderr


def test_refine_generate_coarse_runs_both_stages(sandbox, job_images, tmp_path):
    out = tmp_path / "refined.png"
    argv = base(
        sandbox, job_images, "refine", "--generate-coarse", "--gender", "woman", "--json"
    ) + ["--bottom", str(job_images["bottom"]), "--out", str(out)]
    rc, stdout, stderr = run(argv)
    assert rc == 0, stderr
    payload = json.loads(stdout)
    assert payload["task_id"] and payload["tryon_task_id"]
    assert payload["task_id"] != payload["tryon_task_id"]
    assert sandbox.submissions_by_kind == {"pro": 1, "refiner": 1}
    assert "costs 55 credits (Try on Clothes Pro 30 + Refiner 25)" in stderr
    assert "coarse image: uploading" in stderr and "refinement: uploading" in stderr
    job = stored(payload["job_id"])
    assert job.kind == "tryon_refine" and job.inputs[COARSE].path.is_file()
    # Provenance records both calls with their task ids.
    record = build_record(job)
    assert [(s["stage"], s["task_id"]) for s in record["stages"]] == [
        ("tryon", payload["tryon_task_id"]),
        ("refine", payload["task_id"]),
    ]
    assert record["stages"][0]["model"] == "pro"


def test_refine_needs_a_coarse_image_or_generate_coarse(sandbox, job_images):
    rc, _, stderr = run(base(sandbox, job_images, "refine", "--gender", "woman"))
    assert rc == 2 and "--generate-coarse" in stderr
    both = base(
        sandbox,
        job_images,
        "refine",
        "--gender",
        "woman",
        "--generate-coarse",
        "--coarse",
        str(job_images["coarse"]),
    )
    rc, _, stderr = run(both)
    assert rc == 2 and "not both" in stderr
    assert sandbox.submissions == 0


def test_a_failed_first_stage_is_named_and_nothing_else_is_sent(sandbox, job_images):
    sandbox.inject(Fault("tryon", "task_failed"))
    rc, stdout, stderr = run(
        base(sandbox, job_images, "refine", "--generate-coarse", "--gender", "woman", "--json")
    )
    assert rc != 0
    payload = json.loads(stdout)
    assert payload["error"]["message"].startswith("Generating the coarse image failed: ")
    assert sandbox.submissions_by_kind == {"pro": 1}
    assert stored(payload["job_id"]).state is JobState.FAILED


def test_a_failed_second_stage_is_named_and_keeps_the_coarse_image(sandbox, job_images):
    sandbox.inject(Fault("submit", "task_failed"))
    rc, stdout, _ = run(
        base(sandbox, job_images, "refine", "--generate-coarse", "--gender", "man", "--json")
    )
    assert rc != 0
    payload = json.loads(stdout)
    assert payload["error"]["message"].startswith("Refining failed: ")
    job = stored(payload["job_id"])
    assert job.state is JobState.FAILED and job.tryon_done
    assert job.inputs[COARSE].path.is_file()


def test_jobs_lists_both_tasks_of_a_two_stage_job(sandbox, job_images):
    rc, stdout, _ = run(
        base(sandbox, job_images, "refine", "--generate-coarse", "--gender", "woman", "--json")
    )
    payload = json.loads(stdout)
    rc, table, _ = run(["jobs"])
    assert rc == 0
    row = table.splitlines()[1].split("\t")
    assert row[1] == "succeeded (refinement)"
    assert row[4] == f"{payload['tryon_task_id']} -> {payload['task_id']}"
    rc, listed, _ = run(["jobs", "--json"])
    [item] = json.loads(listed)["jobs"]
    assert (item["kind"], item["tryon_model"]) == ("tryon_refine", "pro")
    assert item["tryon_task_id"] == payload["tryon_task_id"]
