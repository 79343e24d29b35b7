"""The sandbox API server, exercised over real HTTP with ``requests``."""

from __future__ import annotations

import io
import json
import logging
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from PIL import Image, ImageChops, ImageStat

from refiner_gui.api.codes import lookup
from refiner_gui.api.errors import infer_slot
from refiner_gui.sandbox import Fault, SandboxServer
from refiner_gui.sandbox.multipart import MultipartError, parse_multipart
from tests.helpers.images import make_image

SUBMIT = "/api/portrait/enhance/try-on-clothes-refiner"
POLL = "/api/common/query-async-task-result"
CREDITS = "/api/common/query-credits"
KEY = "test-key-0123456789"
HEADERS = {"ailabapi-api-key": KEY}
SPEC = json.loads((Path(__file__).parent / "data" / "openapi-subset.json").read_text("utf-8"))


# --- helpers ------------------------------------------------------------------------------


@pytest.fixture
def imgs(tmp_path: Path) -> dict[str, bytes]:
    """Valid inputs: person and coarse share a size (300x400), as the service requires."""
    return {
        "person_image": make_image(tmp_path / "person.jpg").read_bytes(),
        "top_garment": make_image(tmp_path / "top.jpg", (320, 320)).read_bytes(),
        "coarse_image": make_image(tmp_path / "coarse.png", color=(90, 160, 90)).read_bytes(),
        "bottom_garment": make_image(tmp_path / "bottom.bmp", (200, 260)).read_bytes(),
    }


@pytest.fixture
def srv():
    with SandboxServer() as server:
        yield server


def submit(
    server: SandboxServer,
    imgs: dict[str, bytes],
    *,
    headers=HEADERS,
    data: dict[str, str] | None = None,
    drop: tuple[str, ...] = (),
    **timeout: Any,
) -> requests.Response:
    fields = {"task_type": "async", "gender": "woman", **(data or {})}
    files = {name: (f"{name}.img", content) for name, content in imgs.items() if name not in drop}
    fields = {k: v for k, v in fields.items() if k not in drop}
    return requests.post(
        server.base_url + SUBMIT,
        headers=headers,
        data=fields,
        files=files,
        timeout=timeout.get("timeout", 10),
    )


def poll(
    server: SandboxServer, task_id: str, *, headers=HEADERS, timeout: float = 10
) -> requests.Response:
    return requests.get(
        server.base_url + POLL, params={"task_id": task_id}, headers=headers, timeout=timeout
    )


def submit_ok(server: SandboxServer, imgs: dict[str, bytes]) -> str:
    r = submit(server, imgs)
    assert r.status_code == 200, r.text
    return r.json()["task_id"]


def wait_final(
    server: SandboxServer, task_id: str, limit: float = 5.0
) -> tuple[requests.Response, list[int]]:
    """Poll until the task leaves statuses 0/1 (or a poll is not a 200); bounded."""
    seen: list[int] = []
    deadline = time.monotonic() + limit
    waiter = threading.Event()
    while time.monotonic() < deadline:
        r = poll(server, task_id)
        if r.status_code != 200 or r.json()["task_status"] not in (0, 1):
            return r, seen
        seen.append(r.json()["task_status"])
        waiter.wait(0.05)
    raise AssertionError(f"task {task_id} never finished; saw {seen}")


def result_url(body: dict[str, Any]) -> str:
    """The contract's reading order: output.image_url, data.image_url, data.image."""
    return (
        (body.get("output") or {}).get("image_url")
        or (body.get("data") or {}).get("image_url")
        or (body.get("data") or {}).get("image")
    )


def assert_vendor_error(r: requests.Response, code: str, status: int | None = None) -> dict:
    """The full vendor error body, with the status the csv table gives for ``code``."""
    expected = status if status is not None else lookup(code).http_status
    assert r.status_code == expected, r.text
    body = r.json()
    assert body["error_code"] == expected
    assert body["error_code_str"] == code
    assert body["error_msg"]
    detail = body["error_detail"]
    assert detail["status_code"] == expected
    assert detail["code"] == code
    assert detail["code_message"] == lookup(code).description
    assert detail["message"]
    assert body["request_id"] and body["log_id"]
    return body


def raw_get(url: str) -> tuple[bytes, bytes]:
    """GET over a bare socket, reading until the server closes: (head, body)."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
        sock.sendall(f"GET {parts.path} HTTP/1.1\r\nHost: sandbox\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return head, body


# --- a tiny OpenAPI checker (types, enums, required, allOf, $ref) -------------------------

_TYPES = {
    "string": str,
    "integer": int,
    "number": (int, float),
    "object": dict,
    "array": list,
    "boolean": bool,
}


def _resolve(schema: dict) -> dict:
    while "$ref" in schema:
        node: Any = SPEC
        for key in schema["$ref"].lstrip("#/").split("/"):
            node = node[key]
        schema = node
    return schema


def schema_errors(value: Any, schema: dict, where: str = "$") -> list[str]:
    schema = _resolve(schema)
    errors: list[str] = []
    for sub in schema.get("allOf", []):
        errors += schema_errors(value, sub, where)
    kind = schema.get("type")
    if kind and (
        not isinstance(value, _TYPES[kind])
        or (kind in ("integer", "number") and isinstance(value, bool))
    ):
        return errors + [f"{where}: {type(value).__name__} is not {kind}"]
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where}: {value!r} not in {schema['enum']}")
    if isinstance(value, dict):
        errors += [f"{where}.{n}: missing" for n in schema.get("required", []) if n not in value]
        for name, sub in schema.get("properties", {}).items():
            if name in value:
                errors += schema_errors(value[name], sub, f"{where}.{name}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            errors += schema_errors(item, schema["items"], f"{where}[{i}]")
    return errors


def example_errors(value: Any, example: Any, where: str = "$") -> list[str]:
    """Every key of the documented example is present with a value of the same JSON type."""
    if isinstance(example, dict):
        if not isinstance(value, dict):
            return [f"{where}: not an object"]
        return [
            e
            for k, v in example.items()
            for e in (
                [f"{where}.{k}: missing"]
                if k not in value
                else example_errors(value[k], v, f"{where}.{k}")
            )
        ]
    if isinstance(example, list):
        if not isinstance(value, list):
            return [f"{where}: not an array"]
        return [e for item in value for e in example_errors(item, example[0], f"{where}[]")]
    number = (int, float)
    same = (isinstance(value, number) and isinstance(example, number)) or type(value) is type(
        example
    )
    return [] if same else [f"{where}: {type(value).__name__} vs {type(example).__name__}"]


def assert_matches_openapi(body: dict, path: str, method: str) -> None:
    doc = SPEC["paths"][path][method]["responses"]["200"]["content"]["application/json"]
    errors = schema_errors(body, doc["schema"]) + example_errors(body, doc["example"])
    assert not errors, errors


# --- happy path ---------------------------------------------------------------------------


def test_happy_path_walks_statuses_and_serves_a_stamped_result(imgs):
    with SandboxServer(latency=0.6) as server:  # queued for the first 0.2 s
        r = submit(server, imgs)
        assert r.status_code == 200
        body = r.json()
        assert_matches_openapi(body, SUBMIT, "post")
        assert body["task_type"] == "async" and body["task_id"]
        assert body["error_code"] == 0 and body["error_detail"]["status_code"] == 200

        final, seen = wait_final(server, body["task_id"])
        assert seen[0] == 0 and 1 in seen and seen == sorted(seen)
        done = final.json()
        assert_matches_openapi(done, POLL, "get")
        assert done["task_status"] == 2
        assert done["usage"] == {"image_count": 1}
        url = done["output"]["image_url"]
        assert url.startswith(server.base_url + "/sandbox/results/") and url.endswith(".png")

        got = requests.get(url, timeout=10)  # a storage host: no API key needed
        assert got.status_code == 200 and got.headers["Content-Type"] == "image/png"
        result = Image.open(io.BytesIO(got.content))
        result.load()
        coarse = Image.open(io.BytesIO(imgs["coarse_image"])).convert("RGB")
        assert result.size == coarse.size
        diff = ImageChops.difference(result.convert("RGB"), coarse)
        assert max(ImageStat.Stat(diff).mean) > 20  # the SANDBOX stamp is plainly visible
        assert requests.get(url, timeout=10).content == got.content  # drawn once, cached
        assert server.submissions == 1
        assert server.credits == 975


def test_zero_latency_finishes_at_once(srv, imgs):
    task_id = submit_ok(srv, imgs)
    assert poll(srv, task_id).json()["task_status"] == 2
    assert srv.tasks[task_id]["status"] == 2 and srv.tasks[task_id]["charged"]


def test_optional_bottom_garment_and_man(srv, imgs):
    r = submit(srv, imgs, data={"gender": "man"})
    task = srv.tasks[r.json()["task_id"]]
    assert task["gender"] == "man" and task["has_bottom"] and task["size"] == (300, 400)
    r = submit(srv, imgs, drop=("bottom_garment",))
    assert r.status_code == 200 and not srv.tasks[r.json()["task_id"]]["has_bottom"]


def test_every_answer_has_fresh_ids(srv, imgs):
    task_id = submit_ok(srv, imgs)
    bodies = [poll(srv, task_id).json() for _ in range(3)]
    bodies.append(requests.get(srv.base_url + CREDITS, headers=HEADERS, timeout=10).json())
    bodies.append(requests.get(srv.base_url + "/nope", timeout=10).json())
    ids = [b["request_id"] for b in bodies] + [b["log_id"] for b in bodies]
    assert all(ids) and len(set(ids)) == len(ids)


def test_requests_are_recorded_without_query(srv, imgs):
    task_id = submit_ok(srv, imgs)
    poll(srv, task_id)
    assert srv.requests == [("POST", SUBMIT), ("GET", POLL)]
    srv.requests.clear()  # a copy: the sandbox's own list is untouched
    assert len(srv.requests) == 2


def test_concurrent_submissions_each_create_one_task(srv, imgs):
    results: list[requests.Response] = []
    lock = threading.Lock()

    def go() -> None:
        r = submit(srv, imgs)
        with lock:
            results.append(r)

    threads = [threading.Thread(target=go) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert [r.status_code for r in results] == [200] * 6
    assert len({r.json()["task_id"] for r in results}) == 6
    assert srv.submissions == 6 and srv.credits == 1000 - 6 * 25


# --- validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "field", ["task_type", "person_image", "top_garment", "coarse_image", "gender"]
)
def test_missing_required_field(srv, imgs, field):
    body = assert_vendor_error(submit(srv, imgs, drop=(field,)), "MISSING_PARAMETERS")
    assert body["error_detail"]["message"].startswith(f"{field}:")
    assert srv.submissions == 0


@pytest.mark.parametrize(
    ("data", "field"), [({"task_type": "sync"}, "task_type"), ({"gender": "other"}, "gender")]
)
def test_unsupported_values(srv, imgs, data, field):
    body = assert_vendor_error(submit(srv, imgs, data=data), "UNSUPPORTED_PARAMETER_VALUES")
    assert body["error_detail"]["message"].startswith(f"{field}:")


def _bad_image(tmp: Path, case: str) -> tuple[bytes, str]:
    """A broken input of kind ``case``: (file content, expected code). Made on demand."""
    if case == "gif":
        return make_image(tmp / "a.gif", fmt="GIF").read_bytes(), "UNSUPPORTED_FILE_TYPES"
    if case == "text":
        return b"hello, not an image at all", "UNSUPPORTED_FILE_TYPES"
    if case == "big":  # an uncompressed BMP of legal size but more than 5 MB
        return make_image(tmp / "b.bmp", (1400, 1300)).read_bytes(), "FILE_SIZE_EXCEEDS_LIMIT"
    if case == "small":
        return make_image(tmp / "s.png", (150, 400)).read_bytes(), "ERROR_LOW_RESOLUTION"
    if case == "huge":
        return (
            make_image(tmp / "h.png", (4096, 200)).read_bytes(),
            "FILE_RESOLUTION_EXCEEDS_LIMITS",
        )
    if case == "garbage_png":
        return b"\x89PNG\r\n\x1a\n" + os.urandom(400), "FILE_DECODING_FAILURE"
    assert case == "truncated_jpeg"
    whole = make_image(tmp / "t.jpg", (300, 400), quality=95).read_bytes()
    return whole[: len(whole) // 2], "FILE_DECODING_FAILURE"


@pytest.mark.parametrize(
    "case", ["gif", "text", "big", "small", "huge", "garbage_png", "truncated_jpeg"]
)
@pytest.mark.parametrize("field", ["top_garment", "bottom_garment"])
def test_bad_image_is_rejected_naming_its_field(srv, imgs, tmp_path, case, field):
    content, code = _bad_image(tmp_path, case)
    body = assert_vendor_error(submit(srv, {**imgs, field: content}), code)
    message = body["error_detail"]["message"]
    assert message.startswith(f"{field}:")
    assert infer_slot(code, message) == field  # the client can point at the slot
    assert srv.submissions == 0 and srv.credits == 1000


def test_person_image_errors_name_the_person_slot(srv, imgs, tmp_path):
    content, code = _bad_image(tmp_path, "gif")
    body = assert_vendor_error(submit(srv, {**imgs, "person_image": content}), code)
    assert infer_slot(code, body["error_detail"]["message"]) == "person_image"


def test_size_limits_are_exclusive(srv, imgs, tmp_path):
    ok_small = make_image(tmp_path / "ok1.png", (151, 151)).read_bytes()
    ok_big = make_image(tmp_path / "ok2.png", (4095, 160)).read_bytes()
    assert submit(srv, {**imgs, "top_garment": ok_small}).status_code == 200
    assert submit(srv, {**imgs, "top_garment": ok_big}).status_code == 200


def test_coarse_size_must_match_person(srv, imgs, tmp_path):
    other = make_image(tmp_path / "c.png", (300, 401)).read_bytes()
    body = assert_vendor_error(
        submit(srv, {**imgs, "coarse_image": other}), "ERROR_INVALID_PARAMETER"
    )
    message = body["error_detail"]["message"]
    assert "The size of person image and coarse_image are not the same" in message
    assert infer_slot("ERROR_INVALID_PARAMETER", message) == "coarse_image"


def test_body_must_be_multipart(srv):
    r = requests.post(
        srv.base_url + SUBMIT, headers=HEADERS, data={"task_type": "async"}, timeout=10
    )
    assert_vendor_error(r, "ERROR_PARAMETERS")


def test_multipart_parser_keeps_binary_exact():
    blob = os.urandom(200_000) + b"\r\n--\r\n\r\n"
    prepared = requests.Request(
        "POST", "http://x/", data={"a": "1"}, files={"f": ("f\u00e9.bin", blob)}
    ).prepare()
    parts = parse_multipart(prepared.headers["Content-Type"], prepared.body)
    assert [(p.name, p.filename) for p in parts] == [("a", None), ("f", "f\u00e9.bin")]
    assert parts[1].data == blob
    with pytest.raises(MultipartError):
        parse_multipart(prepared.headers["Content-Type"], prepared.body[:-50])
    with pytest.raises(MultipartError):
        parse_multipart("application/json", b"{}")


# --- auth ---------------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [{}, {"ailabapi-api-key": ""}])
def test_missing_key_is_refused_everywhere(srv, imgs, headers):
    assert_vendor_error(submit(srv, imgs, headers=headers), "ERROR_USER_NOT_EXISTS")
    assert_vendor_error(poll(srv, "x", headers=headers), "ERROR_USER_NOT_EXISTS")
    r = requests.get(srv.base_url + CREDITS, headers=headers, timeout=10)
    assert_vendor_error(r, "ERROR_USER_NOT_EXISTS")
    assert srv.submissions == 0


def test_only_known_keys_when_configured(imgs):
    with SandboxServer(api_keys={"good-key"}) as server:
        body = assert_vendor_error(
            submit(server, imgs, headers={"ailabapi-api-key": "bad-key"}), "ERROR_USER_NOT_EXISTS"
        )
        assert "bad-key" not in json.dumps(body)  # the key is never echoed
        assert submit(server, imgs, headers={"ailabapi-api-key": "good-key"}).status_code == 200


def test_api_key_is_never_logged(srv, imgs, caplog):
    caplog.set_level(logging.DEBUG, logger="refiner_gui.sandbox")
    task_id = submit_ok(srv, imgs)
    poll(srv, task_id)
    submit(srv, imgs, drop=("gender",))
    assert caplog.records  # the request lines are logged at debug level...
    assert KEY not in caplog.text  # ...but never the key


# --- credits ------------------------------------------------------------------------------


def test_credits_endpoint_and_billing(srv, imgs):
    r = requests.get(srv.base_url + CREDITS, headers=HEADERS, timeout=10)
    body = r.json()
    assert_matches_openapi(body, CREDITS, "get")
    entry = body["data"][0]
    assert (entry["unique_sign"], entry["name"]) == ("common", "Universal credits")
    assert entry["balance"] == entry["total"] == 1000
    wait_final(srv, submit_ok(srv, imgs))
    srv.inject(Fault("submit", "task_failed"))
    wait_final(srv, submit_ok(srv, imgs))  # failed tasks are not billed
    entry = requests.get(srv.base_url + CREDITS, headers=HEADERS, timeout=10).json()["data"][0]
    assert entry["balance"] == srv.credits == 975 and entry["total"] == 1000


def test_out_of_credits(imgs):
    with SandboxServer(credits=0) as server:
        assert_vendor_error(submit(server, imgs), "ERROR_NOT_ENOUGH_CREDITS")
        assert server.submissions == 0
    # Running tasks reserve their cost, so the balance can never go below zero.
    with SandboxServer(credits=30, latency=5.0) as server:
        assert submit(server, imgs).status_code == 200
        assert_vendor_error(submit(server, imgs), "ERROR_NOT_ENOUGH_CREDITS")


# --- expiry -------------------------------------------------------------------------------


def test_unknown_task_and_missing_id(srv):
    assert_vendor_error(poll(srv, "no-such-task"), "ERROR_RESOURCE_NOT_FOUND")
    r = requests.get(srv.base_url + POLL, headers=HEADERS, timeout=10)
    assert_vendor_error(r, "MISSING_PARAMETERS")
    with pytest.raises(KeyError):
        srv.expire_task("no-such-task")


def test_expired_task_answers_410(srv, imgs):
    task_id = submit_ok(srv, imgs)
    srv.expire_task(task_id)
    assert_vendor_error(poll(srv, task_id), "ERROR_RESOURCE_RECLAIMED")
    assert srv.tasks[task_id]["expired"]
    with SandboxServer(task_ttl=0.0) as server:
        task_id = submit_ok(server, imgs)
        threading.Event().wait(0.01)
        assert_vendor_error(poll(server, task_id), "ERROR_RESOURCE_RECLAIMED")


def test_expired_results_answer_403_xml(srv, imgs):
    url = result_url(poll(srv, submit_ok(srv, imgs)).json())
    assert requests.get(url, timeout=10).status_code == 200
    srv.expire_results()
    r = requests.get(url, timeout=10)
    assert r.status_code == 403 and "xml" in r.headers["Content-Type"]
    assert b"<Code>AccessDenied</Code>" in r.content
    with SandboxServer(result_ttl=0.0) as server:
        url = result_url(poll(server, submit_ok(server, imgs)).json())
        threading.Event().wait(0.01)
        assert requests.get(url, timeout=10).status_code == 403


def test_unknown_result_is_404_nosuchkey(srv):
    r = requests.get(srv.base_url + "/sandbox/results/nothing.png", timeout=10)
    assert r.status_code == 404 and b"<Code>NoSuchKey</Code>" in r.content


# --- shapes -------------------------------------------------------------------------------


def test_shape_data_image_url(imgs):
    with SandboxServer(shape="data_image_url", latency=0.4) as server:
        final, seen = wait_final(server, submit_ok(server, imgs))
        body = final.json()
        assert_matches_openapi(body, POLL, "get")
        assert "output" not in body and body["task_status"] == 2
        assert body["data"]["task_status"] == 2
        assert requests.get(body["data"]["image_url"], timeout=10).status_code == 200
        assert seen  # the in-progress answers carry data.task_status too
        assert poll(server, "nope").status_code == 404


def test_shape_data_image(imgs):
    with SandboxServer(shape="data_image") as server:
        body = poll(server, submit_ok(server, imgs)).json()
        assert_matches_openapi(body, POLL, "get")
        assert "output" not in body and body["task_status"] == 2
        assert requests.get(body["data"]["image"], timeout=10).status_code == 200


def test_bad_shape_is_refused():
    with pytest.raises(ValueError):
        SandboxServer(shape="new")


# --- unknown paths ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/unknown"),
        ("POST", "/api/portrait/editing/try-on-clothes-ultra"),
        ("GET", SUBMIT),
    ],
)
def test_unknown_paths_answer_ai_not_exists(srv, method, path):
    r = requests.request(method, srv.base_url + path, headers=HEADERS, timeout=10)
    assert_vendor_error(r, "ERROR_AI_NOT_EXISTS")


# --- faults -------------------------------------------------------------------------------


def test_fault_error_uses_table_status_and_times(srv, imgs):
    srv.inject(Fault("submit", "error", code="AI_SERVICE_ERROR", times=2))
    assert_vendor_error(submit(srv, imgs), "AI_SERVICE_ERROR", 502)
    assert_vendor_error(submit(srv, imgs), "AI_SERVICE_ERROR", 502)
    assert submit(srv, imgs).status_code == 200
    assert srv.submissions == 1 and srv.pending_faults == []


def test_fault_error_with_explicit_status_and_message(srv, imgs):
    srv.inject(Fault("poll", "error", code="EXCEEDING_LIMITS", http_status=422, message="too many"))
    task_id = submit_ok(srv, imgs)  # a poll fault leaves the submit alone
    body = assert_vendor_error(poll(srv, task_id), "EXCEEDING_LIMITS", 422)
    assert body["error_detail"]["message"] == "too many"


def test_fault_error_in_200(srv, imgs):
    srv.inject(Fault("poll", "error_in_200", code="PROCESSING_FAILURE"))
    r = poll(srv, submit_ok(srv, imgs))
    assert r.status_code == 200
    body = r.json()
    assert body["error_code"] == 500 and body["error_detail"]["code"] == "PROCESSING_FAILURE"


def test_fault_task_failed(imgs):
    with SandboxServer(latency=0.4) as server:
        server.inject(Fault("submit", "task_failed", code="ERROR_FACE_COUNT_INVALID"))
        final, seen = wait_final(server, submit_ok(server, imgs))
        assert seen  # queued / processing first, like any task
        body = final.json()
        assert final.status_code == 200 and body["task_status"] == 3
        assert body["error_detail"]["code"] == "ERROR_FACE_COUNT_INVALID"
        assert body["error_code"] == 422 and body["error_msg"]
        assert result_url(body) is None
        assert server.credits == 1000
        assert next(iter(server.tasks.values()))["fault"] == "task_failed"


@pytest.mark.parametrize("code", ["ERROR_NO_FACE_IN_FILE", "FILE_SIZE_EXCEEDS_LIMIT"])
def test_fault_poll_http_error(imgs, code):
    with SandboxServer(latency=0.4) as server:
        server.inject(Fault("submit", "poll_http_error", code=code))
        final, seen = wait_final(server, submit_ok(server, imgs))
        assert seen and set(seen) <= {0, 1}
        assert_vendor_error(final, code)
        assert_vendor_error(poll(server, next(iter(server.tasks))), code)  # and it stays so
        assert server.credits == 1000


def test_fault_rate_limit(srv, imgs):
    srv.inject(Fault("submit", "rate_limit", retry_after=0.5))
    srv.inject(Fault("submit", "rate_limit"))
    r = submit(srv, imgs)
    assert_vendor_error(r, "EXCEEDING_LIMITS", 429)
    assert r.headers["Retry-After"] == "0.5"
    assert submit(srv, imgs).headers["Retry-After"] == "1"
    assert srv.submissions == 0


@pytest.mark.parametrize("status", [None, 504])
def test_fault_gateway_html(srv, status):
    srv.inject(Fault("credits", "gateway_html", http_status=status))
    r = requests.get(srv.base_url + CREDITS, headers=HEADERS, timeout=10)
    assert r.status_code == (status or 502)
    assert r.headers["Content-Type"].startswith("text/html")
    with pytest.raises(ValueError):
        r.json()


def test_fault_drop_connection_on_download_sends_half(srv, imgs):
    url = result_url(poll(srv, submit_ok(srv, imgs)).json())
    full = requests.get(url, timeout=10).content
    srv.inject(Fault("download", "drop_connection"))
    head, body = raw_get(url)
    assert f"Content-Length: {len(full)}".encode() in head
    assert body == full[: len(full) // 2]
    srv.inject(Fault("download", "drop_connection"))
    with pytest.raises(requests.exceptions.RequestException):
        requests.get(url, timeout=10).content  # noqa: B018 (reading the body is the point)


def test_fault_drop_connection_on_submit_still_creates_the_task(srv, imgs):
    srv.inject(Fault("submit", "drop_connection"))
    with pytest.raises(requests.exceptions.ConnectionError):
        submit(srv, imgs)
    # The client cannot know; the server did take the job: re-sending would bill twice.
    assert srv.submissions == 1
    assert srv.requests.count(("POST", SUBMIT)) == 1


def test_fault_hang_then_recovers(srv, imgs):
    task_id = submit_ok(srv, imgs)
    srv.inject(Fault("poll", "hang"))
    with pytest.raises(requests.exceptions.ReadTimeout):
        poll(srv, task_id, timeout=0.3)
    assert poll(srv, task_id).json()["task_status"] == 2


def test_fault_slow(srv, imgs):
    srv.inject(Fault("any", "slow", delay=0.3))
    start = time.monotonic()
    r = requests.get(srv.base_url + CREDITS, headers=HEADERS, timeout=10)
    assert r.status_code == 200 and time.monotonic() - start >= 0.3


@pytest.mark.parametrize(("status", "xml_code"), [(None, "AccessDenied"), (404, "NoSuchKey")])
def test_fault_expire_url(srv, imgs, status, xml_code):
    url = result_url(poll(srv, submit_ok(srv, imgs)).json())
    srv.inject(Fault("any", "expire_url", http_status=status))  # only downloads take it
    assert requests.get(srv.base_url + CREDITS, headers=HEADERS, timeout=10).ok
    r = requests.get(url, timeout=10)
    assert r.status_code == (status or 403)
    assert f"<Code>{xml_code}</Code>".encode() in r.content
    assert requests.get(url, timeout=10).status_code == 200


@pytest.mark.parametrize(
    "kwargs",
    [
        {"endpoint": "upload", "kind": "error"},
        {"endpoint": "poll", "kind": "explode"},
        {"endpoint": "poll", "kind": "task_failed"},
        {"endpoint": "poll", "kind": "expire_url"},
        {"endpoint": "poll", "kind": "error", "code": "NOT_A_CODE"},
        {"endpoint": "poll", "kind": "error", "times": 0},
    ],
)
def test_invalid_faults_fail_loudly(kwargs):
    with pytest.raises(ValueError):
        Fault(**kwargs)


# --- lifecycle ----------------------------------------------------------------------------


def _sandbox_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("sandbox-") and t.is_alive()]


def test_stop_is_prompt_with_a_hanging_request(imgs):
    server = SandboxServer()
    server.start()
    task_id = submit_ok(server, imgs)
    server.inject(Fault("poll", "hang"))
    session = requests.Session()  # plus an idle keep-alive connection
    session.get(server.base_url + CREDITS, headers=HEADERS, timeout=10)
    outcome: list[BaseException] = []

    def hang() -> None:
        try:
            poll(server, task_id, timeout=30)
        except requests.exceptions.RequestException as exc:
            outcome.append(exc)

    client = threading.Thread(target=hang)
    client.start()
    deadline = time.monotonic() + 5
    while server.pending_faults and time.monotonic() < deadline:
        threading.Event().wait(0.02)  # until the poll took the fault
    start = time.monotonic()
    server.stop()
    assert time.monotonic() - start < 1.5
    client.join(5)
    session.close()
    assert outcome and isinstance(outcome[0], requests.exceptions.ConnectionError)
    assert _sandbox_threads() == []
    server.stop()  # idempotent


def test_stop_without_start_and_restart_refused():
    SandboxServer().stop()
    with SandboxServer() as server, pytest.raises(RuntimeError):
        server.start()
    assert _sandbox_threads() == []
