"""Property tests of RefinerClient against a real HTTP server answering arbitrary things.

Whatever the status (100..599), the headers (Content-Type, Retry-After of any shape, with or
without Content-Length) and the body (binary, JSON-ish objects built from the contract's
field names, huge-ish strings, real images), submit / query / wait / credits / download
return their typed result or raise a typed ``RefinerError``: never any other exception,
never a hang, never a partial file.

1xx statuses are included. http.client skips a ``100 Continue`` and reads the next status
line, which here is the body or the closed connection: a protocol error, so a typed
``NetworkError``; other 1xx are final answers with no body. Neither can hang the client,
and the read timeouts below bound any exchange anyway.
"""

from __future__ import annotations

import io
import itertools
import json
import math

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from PIL import Image

from refiner_gui.api import (
    CreditBalance,
    RefineInputs,
    RefinerClient,
    RefinerError,
    Submission,
    TaskState,
    TaskStatus,
)
from refiner_gui.api.codes import error_table
from refiner_gui.api.limits import AppLimits
from tests.helpers.fast import fast_retry
from tests.helpers.http_stub import Reply, StubServer
from tests.helpers.images import make_image

KEY = "prop-key-0123456789"
PROPERTY = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def stub():
    server = StubServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def client(stub):
    c = RefinerClient(
        KEY,
        stub.base_url,
        poll_interval=0.01,
        timeout=0.05,
        retry=fast_retry(attempts=2, submit_attempts=2),
        connect_timeout=2,
        poll_read_timeout=2,
        upload_read_timeout=2,
        download_read_timeout=2,
        # A stub whose tasks never run: no bound on running tasks (each example's submit
        # would otherwise keep a slot, and the sixth would wait for one).
        limits=AppLimits(stub.base_url, running_tasks=1_000_000),
    )
    yield c
    c.close()


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("props")


@pytest.fixture(scope="module")
def inputs(folder):
    return RefineInputs(
        person=make_image(folder / "p.jpg", (200, 300)),
        top=make_image(folder / "t.png", (200, 200)),
        coarse=make_image(folder / "c.png", (200, 300)),
        gender="woman",
    )


def _png_bytes(size=(40, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (10, 200, 30)).save(buf, "PNG")
    return buf.getvalue()


PNG = _png_bytes()

# -- strategies ---------------------------------------------------------------------------

FIELDS = [
    "error_code",
    "error_detail",
    "status_code",
    "code",
    "code_message",
    "message",
    "error_code_str",
    "error_msg",
    "request_id",
    "log_id",
    "task_id",
    "task_type",
    "task_status",
    "output",
    "image_url",
    "image",
    "data",
    "usage",
    "image_count",
    "unique_sign",
    "name",
    "balance",
    "total",
]
CODES = sorted(error_table())
# By index, not sampled_from(CODES): a strategy's repr holding 150 codes is too large
# (Hypothesis warns about it, and warnings are errors here).
codes = st.integers(0, len(CODES) - 1).map(lambda i: CODES[i])
URLS = [
    "",
    "   ",
    "file:///etc/passwd",
    "ftp://host/r.png",
    "javascript:alert(1)",
    "http://",
    "not a url",
    "https://[::1",
    "https://cdn.example.com/r.png?sig=abc",
    "//no-scheme/r.png",
    "http://127.0.0.1:9/r.jpeg",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    codes,
    st.sampled_from(URLS),
    st.sampled_from(["0", "2", "3", "-1", "200"]),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(FIELDS), st.text(max_size=8)), inner, max_size=5),
    ),
    max_leaves=8,
)
status_values = st.one_of(
    st.integers(-3, 6),
    st.sampled_from(["0", "1", "2", "3", "x"]),
    st.none(),
    st.floats(),
    st.booleans(),
)
detail = st.fixed_dictionaries(
    {},
    optional={
        "status_code": st.one_of(st.integers(0, 700), st.text(max_size=4), st.none()),
        "code": st.one_of(codes, st.sampled_from(["", "0", "200", "NOPE"]), st.text(max_size=12)),
        "code_message": st.text(max_size=30),
        "message": st.text(max_size=60),
    },
)
url_dict = st.fixed_dictionaries(
    {},
    optional={
        "image_url": st.one_of(st.sampled_from(URLS), json_values),
        "image": st.one_of(st.sampled_from(URLS), json_values),
        "task_status": status_values,
    },
)
contract_bodies = st.fixed_dictionaries(
    {},
    optional={
        "error_code": st.one_of(
            st.sampled_from([0, 0, 200, 400, 422, 500, "0", "", "E"]), json_values
        ),
        "error_detail": st.one_of(detail, json_values),
        "error_code_str": st.one_of(codes, st.text(max_size=10)),
        "error_msg": st.text(max_size=80),
        "request_id": json_values,
        "log_id": json_values,
        "task_id": st.one_of(st.text(max_size=40), json_values),
        "task_status": status_values,
        "output": st.one_of(url_dict, json_values),
        "data": st.one_of(
            url_dict,
            st.lists(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "unique_sign": json_values,
                        "name": json_values,
                        "balance": st.one_of(
                            st.integers(), st.floats(), st.text(max_size=6), st.none()
                        ),
                        "total": json_values,
                    },
                ),
                max_size=3,
            ),
            json_values,
        ),
        "usage": st.one_of(st.fixed_dictionaries({"image_count": json_values}), json_values),
    },
)


good_urls = st.one_of(
    st.sampled_from(URLS),
    st.just("https://cdn.example.com/r.png"),
    st.text(min_size=1, max_size=30),
)
credit_entries = st.lists(
    st.fixed_dictionaries(
        {
            "balance": st.one_of(
                st.integers(-10, 10**6), st.floats(), st.text(max_size=6), st.none(), st.booleans()
            )
        },
        optional={"unique_sign": json_values, "name": json_values, "total": json_values},
    ),
    max_size=3,
)
# Answers that look like successes (error_code 0), so the typed-result paths run often.
ok_bodies = st.fixed_dictionaries(
    {"error_code": st.sampled_from([0, "0", 0.0, "", None])},
    optional={
        "task_id": st.one_of(st.text(min_size=1, max_size=30), json_values),
        "task_status": st.one_of(st.sampled_from([0, 1, 2, 2, 3, "2"]), status_values),
        "output": st.fixed_dictionaries({"image_url": good_urls}),
        "data": st.one_of(
            url_dict,
            credit_entries,
            st.fixed_dictionaries({"task_status": status_values, "image_url": good_urls}),
        ),
        "error_detail": detail,
        "request_id": st.text(max_size=20),
        "log_id": st.text(max_size=20),
        "usage": st.fixed_dictionaries({"image_count": json_values}),
    },
)


def _dump(value) -> bytes:
    return json.dumps(value).encode()  # NaN / Infinity stay in: a sloppy server sends them


bodies = st.one_of(
    ok_bodies.map(_dump),
    ok_bodies.map(_dump),
    st.binary(max_size=2048),
    contract_bodies.map(_dump),
    json_values.map(_dump),
    st.builds(
        lambda s, n: (s * n).encode("utf-8"), st.text(max_size=16), st.integers(0, 40_000)
    ),  # up to ~2 MB of one repeated string
    st.builds(
        lambda s, n: b'{"error_msg": "' + s.encode() * n + b'"',  # cut-off JSON
        st.text(alphabet='abc\\"', max_size=8),
        st.integers(0, 10_000),
    ),
    st.sampled_from(
        [
            PNG,
            PNG[: len(PNG) // 2],
            b"<html><body>502 Bad Gateway</body></html>",
            b"\xef\xbb\xbf{}",
            b"null",
            b"[]",
            b"{}",
        ]
    ),
)
header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30)
content_types = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "application/json",
            "application/json; charset=utf-8",
            "text/html",
            "image/png",
            "application/xml",
            "text/plain; charset=latin-1",
            "application/octet-stream",
        ]
    ),
    header_text,
)
retry_afters = st.one_of(
    st.none(),
    st.integers(-10, 10**15).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(
        [
            "Wed, 21 Oct 2015 07:28:00 GMT",
            "Fri, 31 Dec 9999 23:59:59 GMT",
            "",
            "soon",
            "1e308",
            "-0",
            "0.001",
        ]
    ),
    header_text,
)


@st.composite
def replies(draw, statuses=None, bodies=bodies):
    statuses = statuses if statuses is not None else st.integers(100, 599)
    headers: list[tuple[str, str]] = []
    ctype = draw(content_types)
    if ctype is not None:
        headers.append(("Content-Type", ctype))
    retry_after = draw(retry_afters)
    if retry_after is not None:
        headers.append(("Retry-After", retry_after))
    return Reply(draw(statuses), tuple(headers), draw(bodies), draw(st.booleans()))


# A submit answer with a task id now and then.
submit_bodies = st.one_of(
    bodies,
    st.fixed_dictionaries(
        {"error_code": st.sampled_from([0, "0"]), "task_id": st.text(min_size=1, max_size=30)},
        optional={"task_type": st.just("async"), "request_id": st.text(max_size=20)},
    ).map(_dump),
)

# A poll answer with a task status now and then.
poll_bodies = st.one_of(
    bodies,
    st.fixed_dictionaries(
        {
            "error_code": st.sampled_from([0, "0"]),
            "task_status": st.sampled_from([0, 1, 2, 2, "2"]),
        },
        optional={
            "output": st.fixed_dictionaries({"image_url": good_urls}),
            "data": url_dict,
            "usage": st.fixed_dictionaries({"image_count": json_values}),
        },
    ).map(_dump),
)

# A success now and then, so the properties also walk the typed-result paths.
statuses = st.one_of(st.integers(100, 599), st.just(200), st.just(200))

# -- checks ---------------------------------------------------------------------------------


def typed_error(err: RefinerError) -> None:
    """What every raised error must offer, whatever the server sent."""
    assert err.user_message and isinstance(str(err), str) and repr(err)
    json.dumps(err.to_dict())  # storable in the job store as it is
    assert err.support_text()
    assert err.http_status is None or isinstance(err.http_status, int)
    ra = err.info.retry_after
    assert ra is None or (math.isfinite(ra) and ra >= 0)
    assert KEY not in err.support_text() and KEY not in json.dumps(err.to_dict())


def outcome(call):
    """The call's result, or its RefinerError (anything else propagates and fails)."""
    try:
        got = call()
    except RefinerError as err:
        typed_error(err)
        got = err
    event(type(got).__name__)  # shown by --hypothesis-show-statistics
    return got


# -- properties -----------------------------------------------------------------------------


@PROPERTY
@given(reply=replies(statuses, submit_bodies))
def test_submit_returns_a_submission_or_a_typed_error(stub, client, inputs, reply):
    stub.reply = reply
    got = outcome(lambda: client.submit(inputs))
    if isinstance(got, Submission):
        assert isinstance(got.task_id, str) and got.task_id.strip()
    else:
        assert isinstance(got, RefinerError)
    posts = [r for r in stub.requests if r[0] == "POST"]
    assert 1 <= len(posts) <= client.retry.submit_attempts


@PROPERTY
@given(reply=replies(statuses, poll_bodies))
def test_query_and_wait_return_a_status_or_a_typed_error(stub, client, reply):
    stub.reply = reply
    got = outcome(lambda: client.query("task-123"))
    if isinstance(got, TaskStatus):
        assert got.task_id == "task-123" and isinstance(got.state, TaskState)
        if got.state is TaskState.SUCCEEDED:
            assert isinstance(got.image_url, str) and got.image_url.strip()
        else:
            assert got.image_url is None
    waited = outcome(lambda: client.wait("task-123"))
    if isinstance(waited, TaskStatus):
        assert waited.state is TaskState.SUCCEEDED and waited.image_url
    else:
        assert waited.task_id == "task-123"  # a failed wait always names its task


@PROPERTY
@given(reply=replies(statuses))
def test_credits_return_balances_or_a_typed_error(stub, client, reply):
    stub.reply = reply
    got = outcome(client.credits)
    if not isinstance(got, RefinerError):
        assert isinstance(got, list)
        for b in got:
            assert isinstance(b, CreditBalance) and isinstance(b.balance, float)
            assert isinstance(b.unique_sign, str) and isinstance(b.name, str)


_names = itertools.count()


@PROPERTY
@given(reply=replies(statuses), big_png=st.booleans())
def test_download_stores_a_whole_image_or_nothing(stub, client, folder, reply, big_png):
    if big_png and reply.status == 200:
        reply = Reply(200, reply.headers, PNG, reply.content_length)
    stub.reply = reply
    dest = folder / "downloads" / f"r{next(_names)}.png"
    got = outcome(lambda: client.download(f"{stub.base_url}/r.png", dest, task_id="t-1"))
    if isinstance(got, RefinerError):
        assert not dest.exists()
        assert got.task_id == "t-1"
    else:
        assert got == dest and dest.read_bytes() == reply.body
        with Image.open(dest) as im:
            im.verify()
    assert not [p for p in dest.parent.iterdir() if p.name.endswith(".part")]
