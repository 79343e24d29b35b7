"""Saved results: file-name tokens for the inputs, provenance naming the files the user
gave beside the fixed copies, and the permissions every export gets."""

from __future__ import annotations

import json
import os
import stat
from datetime import datetime

import pytest

from refiner_gui.controllers.job_controller import rerun_request
from refiner_gui.jobs import JobStore
from refiner_gui.outputs import TOKENS, export_image, render_name
from refiner_gui.provenance import build_record, save_with_provenance, sidecar_path
from refiner_gui.slots import BOTTOM, COARSE, PERSON, TOP
from tests.helpers.images import make_image

WHEN = datetime(2026, 11, 25, 10, 3, 0)


def test_name_tokens_are_the_input_stems_made_safe():
    names = {PERSON: "Anna Studio 01.JPG", TOP: "../../etc/shirt:blue.png", COARSE: "c.png"}
    stem = render_name(
        "{person_name}-{top_name}-{coarse_name}-{bottom_name}-{task_id}",
        task_id="T9",
        when=WHEN,
        names=names,
    )
    assert stem == "Anna_Studio_01-shirt_blue-c--T9"  # no bottom: its token is empty
    assert {"person_name", "top_name", "bottom_name", "coarse_name"} <= set(TOKENS)


def test_name_tokens_without_names_and_a_long_name():
    assert render_name("{person_name}_{task_id}", task_id="T1", when=WHEN) == "T1"
    long = render_name("{top_name}", task_id="T1", when=WHEN, names={TOP: "x" * 300 + ".png"})
    assert long == "x" * 40


@pytest.fixture
def umask_022():
    if os.name != "posix":
        pytest.skip("POSIX permissions")
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_saved_image_and_provenance_have_export_permissions(tmp_path, umask_022):
    src = make_image(tmp_path / "r.png", (64, 64))
    plain = export_image(src, tmp_path / "out" / "plain.jpg")
    image, side = save_with_provenance(src, tmp_path / "out" / "look.png", {"job_id": 1})
    for path in (plain, image, side):  # not the 0o600 of a private temporary file
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path
    again, _ = save_with_provenance(src, image, {"job_id": 2}, overwrite=True)
    assert stat.S_IMODE(again.stat().st_mode) == 0o644


def test_provenance_names_the_original_beside_the_fixed_copy(tmp_path, job_images):
    fixed = make_image(tmp_path / "top.0123456789ab.fixed.jpg", (300, 300))
    store = JobStore(tmp_path / "store")
    try:
        job = store.create_job(
            {PERSON: job_images["person"], TOP: fixed, COARSE: job_images["coarse"]},
            "woman",
            original_names={PERSON: "person.jpg", TOP: "top.webp", COARSE: "coarse.png"},
            hold=False,
        )
        job = store.get(job.id)  # as read back from the file
        top = job.inputs[TOP]
        assert (top.name, top.original_name, top.given_name) == (fixed.name, "top.webp", "top.webp")
        # Same name as uploaded: nothing extra stored.
        assert job.inputs[PERSON].original_name == ""
        record = build_record(job)
        assert record["inputs"][TOP] == {
            "name": fixed.name,
            "original_name": "top.webp",
            "sha256": top.sha256,
        }
        assert record["inputs"][PERSON]["original_name"] == "person.jpg"
        json.dumps(record)
        # A re-run uploads the stored (hash-named) copies but keeps the names the user knows.
        request = rerun_request(job)
        assert request.original_names == {
            PERSON: "person.jpg",
            TOP: "top.webp",
            COARSE: "coarse.png",
        }
        child = store.create_job(
            request.files, "woman", original_names=request.original_names, hold=False
        )
        assert child.inputs[TOP].given_name == "top.webp"
        assert BOTTOM not in child.inputs
        name = render_name(
            "{top_name}",
            task_id="T",
            names={s: i.given_name for s, i in child.inputs.items()},
        )
        assert name == "top"
    finally:
        store.close()


def test_sidecar_is_beside_the_image(tmp_path):
    assert sidecar_path(tmp_path / "a.png") == tmp_path / "a.png.json"
