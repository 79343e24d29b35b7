"""The sandbox's Try on Clothes Pro and Premium endpoints, over real HTTP (contract, § 6)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import requests
from PIL import Image

from refiner_gui.sandbox import Fault, SandboxServer
from tests.helpers.images import make_image
from tests.test_sandbox import (
    CREDITS,
    HEADERS,
    assert_matches_openapi,
    assert_vendor_error,
    result_url,
    wait_final,
)

PRO = "/api/portrait/editing/try-on-clothes-pro"
PREMIUM = "/api/portrait/editing/try-on-clothes-premium"


@pytest.fixture
def imgs(tmp_path: Path) -> dict[str, bytes]:
    return {
        "person_image": make_image(tmp_path / "person.jpg", (300, 400)).read_bytes(),
        "top_garment": make_image(tmp_path / "top.png", (320, 320)).read_bytes(),
        "bottom_garment": make_image(tmp_path / "bottom.bmp", (200, 260)).read_bytes(),
    }


@pytest.fixture
def srv():
    with SandboxServer() as server:
        yield server


def tryon(
    server: SandboxServer,
    imgs: dict[str, bytes],
    path: str = PRO,
    *,
    data: dict[str, str] | None = None,
    drop: tuple[str, ...] = (),
) -> requests.Response:
    fields = {"task_type": "async", "resolution": "-1", "restore_face": "true", **(data or {})}
    fields = {k: v for k, v in fields.items() if k not in drop}
    files = {n: (f"{n}.img", c) for n, c in imgs.items() if n not in drop}
    return requests.post(
        server.base_url + path, headers=HEADERS, data=fields, files=files, timeout=10
    )


@pytest.mark.parametrize(("path", "kind", "cost"), [(PRO, "pro", 30), (PREMIUM, "premium", 50)])
def test_tryon_creates_a_task_whose_result_keeps_the_person_size(srv, imgs, path, kind, cost):
    before = srv.credits
    r = tryon(srv, imgs, path)
    assert r.status_code == 200, r.text
    assert_matches_openapi(r.json(), path, "post")
    task_id = r.json()["task_id"]
    final, _ = wait_final(srv, task_id)
    assert final.json()["task_status"] == 2
    png = requests.get(result_url(final.json()), timeout=10).content
    with Image.open(io.BytesIO(png)) as im:
        assert im.size == (300, 400)
    task = srv.tasks[task_id]
    assert (task["kind"], task["resolution"], task["restore_face"]) == (kind, -1, True)
    assert task["has_bottom"]
    assert srv.submissions_by_kind == {kind: 1}
    assert before - srv.credits == cost


def test_fixed_resolution_gives_the_vendors_size(srv, imgs):
    r = tryon(srv, imgs, data={"resolution": "1024"})
    final, _ = wait_final(srv, r.json()["task_id"])
    png = requests.get(result_url(final.json()), timeout=10).content
    with Image.open(io.BytesIO(png)) as im:
        assert im.size == (576, 1024)


def test_each_endpoint_takes_its_own_time(imgs, tmp_path):
    """Scaled like the contract's timings: Pro 2x and Premium 4x a refinement's latency."""
    from email.message import Message

    from refiner_gui.api.upload import encode_multipart
    from refiner_gui.sandbox.app import Request, SandboxApp

    now = [100.0]
    app = SandboxApp(
        latency=1.0,
        credits=1000,
        api_keys=None,
        task_ttl=86400,
        result_ttl=86400,
        shape="old",
        clock=lambda: now[0],
    )
    coarse = make_image(tmp_path / "coarse.png", (300, 400)).read_bytes()

    def submit(path: str, fields: dict[str, str], files: dict[str, bytes]) -> str:
        body, ctype = encode_multipart(
            [*fields.items(), *((n, (f"{n}.img", d, "image/jpeg")) for n, d in files.items())]
        )
        headers = Message()
        headers["Content-Type"] = ctype
        headers["ailabapi-api-key"] = "k"
        answer = app.handle(Request("POST", path, {}, headers, body))
        assert answer.status == 200, answer.body
        return json.loads(answer.body)["task_id"]

    refine = submit(
        "/api/portrait/enhance/try-on-clothes-refiner",
        {"task_type": "async", "gender": "woman"},
        {**imgs, "coarse_image": coarse},
    )
    pro = submit(PRO, {"task_type": "async"}, imgs)
    premium = submit(PREMIUM, {"task_type": "async"}, imgs)

    def statuses() -> tuple[int, int, int]:
        tasks = app.tasks()
        return tasks[refine]["status"], tasks[pro]["status"], tasks[premium]["status"]

    now[0] += 1.0  # each task is queued for its first third, then processing
    assert statuses() == (2, 1, 0)
    now[0] += 1.0
    assert statuses() == (2, 2, 1)
    now[0] += 2.0
    assert statuses() == (2, 2, 2)
    assert app.credits == 1000 - 25 - 30 - 50


@pytest.mark.parametrize("field", ["task_type", "person_image", "top_garment"])
def test_missing_required_field(srv, imgs, field):
    r = tryon(srv, imgs, drop=(field,))
    body = assert_vendor_error(r, "MISSING_PARAMETERS")
    assert body["error_detail"]["message"].startswith(field)
    assert srv.submissions == 0


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"resolution": "2048"}, "resolution"),
        ({"restore_face": "maybe"}, "restore_face"),
        ({"task_type": "sync"}, "task_type"),
    ],
)
def test_unsupported_values(srv, imgs, data, field):
    r = tryon(srv, imgs, data=data)
    body = assert_vendor_error(r, "UNSUPPORTED_PARAMETER_VALUES")
    assert body["error_detail"]["message"].startswith(field)


def test_images_are_checked_like_the_refiners(srv, imgs, tmp_path):
    small = make_image(tmp_path / "small.png", (120, 120)).read_bytes()
    r = tryon(srv, {**imgs, "top_garment": small})
    body = assert_vendor_error(r, "ERROR_LOW_RESOLUTION")
    assert body["error_detail"]["message"].startswith("top_garment")


def test_tryon_faults_are_separate_from_the_refiners(srv, imgs):
    srv.inject(Fault("tryon", "task_failed"))
    srv.inject(Fault("tryon", "error", code="ERROR_NOT_ENOUGH_CREDITS"))
    r = tryon(srv, imgs)
    assert_vendor_error(r, "ERROR_NOT_ENOUGH_CREDITS")  # answer faults come first
    task_id = tryon(srv, imgs).json()["task_id"]
    final, _ = wait_final(srv, task_id)
    assert final.json()["task_status"] == 3
    assert srv.credits == 1000  # failed tasks are not billed


def test_out_of_credits_names_the_tryon_cost(imgs):
    with SandboxServer(credits=40) as server:
        r = tryon(server, imgs, PREMIUM)
        body = assert_vendor_error(r, "ERROR_NOT_ENOUGH_CREDITS")
        assert "50 credits" in body["error_detail"]["message"]
        assert requests.get(server.base_url + CREDITS, headers=HEADERS, timeout=10).ok
