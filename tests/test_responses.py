"""The response parser: every documented shape, and anything at all thrown at it."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from refiner_gui.api import (
    AuthError,
    InputRejected,
    NetworkError,
    RateLimited,
    RefinerError,
    RetryPolicy,
    ServiceUnavailable,
    SubmissionOutcomeUnknown,
    TaskFailed,
    TaskState,
)
from refiner_gui.api import responses as r
from refiner_gui.api.errors import ErrorInfo, error_from_dict
from refiner_gui.slots import PERSON

OLD_OK = {
    "request_id": "rq",
    "log_id": "lg",
    "error_code": 0,
    "error_code_str": "",
    "error_msg": "",
    "error_detail": {"status_code": 200, "code": "", "code_message": "", "message": ""},
}


def body(d) -> bytes:
    return json.dumps(d).encode()


def test_submit_old_shape():
    sub = r.parse_submission(200, body({**OLD_OK, "task_type": "async", "task_id": "T1"}))
    assert (sub.task_id, sub.request_id, sub.log_id) == ("T1", "rq", "lg")


def test_submit_new_shape_without_legacy_fields():
    sub = r.parse_submission(
        200,
        body(
            {
                "request_id": "a",
                "log_id": "b",
                "task_id": "T2",
                "error_detail": {"code": "", "message": ""},
            }
        ),
    )
    assert sub.task_id == "T2"


def test_submit_success_without_task_id_is_outcome_unknown():
    with pytest.raises(SubmissionOutcomeUnknown):
        r.parse_submission(200, body(OLD_OK))


@pytest.mark.parametrize(
    "payload",
    [
        {"task_status": 2, "output": {"image_url": "https://x/a.png"}},
        {"task_status": "2", "data": {"image_url": "https://x/a.png"}},
        {"data": {"task_status": 2, "image": "https://x/a.png"}},
    ],
)
def test_result_url_from_every_documented_place(payload):
    st_ = r.parse_task(200, body({**OLD_OK, **payload}), "T")
    assert st_.state is TaskState.SUCCEEDED and st_.image_url == "https://x/a.png"


def test_status_3_raises_with_code():
    payload = {
        **OLD_OK,
        "task_status": 3,
        "error_code": 0,
        "error_detail": {"code": "ERROR_NO_FACE_IN_FILE", "message": "pic not has face"},
    }
    with pytest.raises(InputRejected) as ei:
        r.parse_task(200, body(payload), "T")
    assert ei.value.slot == PERSON and ei.value.task_id == "T" and not ei.value.retryable


def test_status_3_without_code_is_task_failed():
    with pytest.raises(TaskFailed):
        r.parse_task(200, body({**OLD_OK, "task_status": 3}), "T")


def test_error_in_200_body_uses_error_detail_status():
    payload = {
        "request_id": "a",
        "log_id": "b",
        "error_code": 401,
        "error_detail": {"status_code": 401, "code": "ERROR_USER_NOT_EXISTS"},
    }
    with pytest.raises(AuthError) as ei:
        r.check(200, body(payload))
    assert ei.value.http_status == 401 and ei.value.request_id == "a"


def test_legacy_error_msg_with_embedded_upstream_message():
    payload = {
        "error_code": 422,
        "error_code_str": "ERROR_NO_FACE_IN_FILE",
        "error_msg": "Image recognition error - 222202 - pic not has face",
    }
    with pytest.raises(InputRejected) as ei:
        r.check(422, body(payload))
    assert "222202" in ei.value.vendor_message


def test_gateway_page_is_transient():
    with pytest.raises(ServiceUnavailable) as ei:
        r.check(502, b"<html><body>Bad Gateway</body></html>")
    assert ei.value.retryable


def test_retry_after_forms():
    assert r.parse_retry_after("3") == 3.0
    assert r.parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert r.parse_retry_after("soon") is None
    assert r.parse_retry_after(None) is None


def test_credits_skips_malformed_entries():
    payload = {
        **OLD_OK,
        "data": [
            {"unique_sign": "common", "name": "U", "balance": 100, "total": 500},
            "junk",
            {"balance": None},
        ],
    }
    out = r.parse_credits(200, body(payload))
    assert [(c.unique_sign, c.balance, c.total) for c in out] == [("common", 100.0, 500.0)]


# -- property tests: typed result or typed error, never a crash ---------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(),
    # min_size=1 plus explicit empties: hypothesis samples ``extend`` to check that it
    # uses ``children``, and branches that often draw empty containers fail that check
    # now and then (HypothesisDeprecationWarning, an error under filterwarnings).
    lambda children: (
        st.just([])
        | st.just({})
        | st.lists(children, min_size=1, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "task_status",
                    "task_id",
                    "error_code",
                    "error_detail",
                    "code",
                    "message",
                    "status_code",
                    "output",
                    "data",
                    "image_url",
                    "image",
                    "usage",
                    "image_count",
                    "request_id",
                    "log_id",
                    "error_msg",
                    "error_code_str",
                    "balance",
                    "total",
                    "unique_sign",
                ]
            )
            | st.text(),
            children,
            min_size=1,
            max_size=6,
        )
    ),
    max_leaves=20,
)
statuses = st.sampled_from(
    [200, 201, 204, 400, 401, 403, 404, 410, 413, 415, 422, 429, 500, 502, 503, 504]
) | st.integers(min_value=100, max_value=599)


@settings(max_examples=300, deadline=None)
@given(status=statuses, payload=json_values)
def test_parser_never_crashes_on_json(status, payload):
    raw = json.dumps(payload).encode()
    for fn in (
        lambda: r.parse_submission(status, raw),
        lambda: r.parse_task(status, raw, "T"),
        lambda: r.parse_credits(status, raw),
    ):
        try:
            fn()
        except RefinerError as err:
            assert err.user_message


@settings(max_examples=200, deadline=None)
@given(status=statuses, raw=st.binary(max_size=300))
def test_parser_never_crashes_on_bytes(status, raw):
    try:
        r.parse_task(status, raw, "T")
    except RefinerError as err:
        assert isinstance(err.user_message, str)


# -- errors are built with their context, never changed afterwards -------------------------


def test_with_context_returns_a_new_chained_error_and_leaves_the_old_one():
    first = NetworkError("Lost.", ErrorInfo(http_status=502, code="X"))
    named = first.with_context(task_id="T9")
    assert type(named) is NetworkError and named is not first
    assert named.task_id == "T9" and named.http_status == 502 and named.code == "X"
    assert named.user_message == first.user_message and named.retryable
    assert named.__cause__ is first and first.task_id is None
    stopped = first.with_context(retryable=False)
    assert not stopped.retryable and first.retryable
    assert not NetworkError("x", retryable=False).retryable
    expired = error_from_dict({"type": "Expired", "message": "gone"})
    assert expired.title == "Expired" and type(expired).title != "Expired"


def test_retry_policy_decides_what_may_be_tried_again():
    policy = RetryPolicy()
    assert policy.may_retry(ServiceUnavailable()) and not policy.may_retry(TaskFailed())
    # A submit: re-sent only when the service certainly did not take it.
    assert policy.may_resubmit(NetworkError(), None)  # nothing of the body was sent
    assert not policy.may_resubmit(NetworkError(retryable=False), None)  # part was sent
    assert not policy.may_resubmit(SubmissionOutcomeUnknown(), None)
    limited = RateLimited(None, ErrorInfo(http_status=429, code="EXCEEDING_LIMITS"))
    assert policy.may_resubmit(limited, 429)
    assert not policy.may_resubmit(RateLimited(None, ErrorInfo(http_status=429)), 429)
    assert policy.may_resubmit(ServiceUnavailable(), 503)
    assert not policy.may_resubmit(ServiceUnavailable(), 502)


def test_retry_policy_call_counts_tries_and_honours_retry_after():
    waits: list[float] = []
    tries: list[int] = []

    def once() -> str:
        tries.append(1)
        if len(tries) < 3:
            raise RateLimited(None, ErrorInfo(retry_after=9.0))
        return "ok"

    policy = RetryPolicy(base=0.0, jitter=0.0)
    assert policy.call("poll", once, wait=waits.append) == "ok"
    assert waits == [9.0, 9.0] and len(tries) == 3
    tries.clear()
    with pytest.raises(RateLimited):
        policy.call("poll", once, wait=waits.append, attempts=2)
    assert len(tries) == 2
    tries.clear()
    with pytest.raises(RateLimited):
        policy.call("poll", once, wait=waits.append, retry_if=lambda err: False)
    assert len(tries) == 1


@pytest.mark.parametrize("before", [150, 153, 155, 157])
def test_a_key_at_the_cut_of_a_gateway_page_is_redacted_before_the_cut(before):
    from refiner_gui.api.errors import register_secret
    from refiner_gui.safe_text import ONE_LINE_LIMIT

    # Registered for the rest of the session: characters no other test's text contains.
    key = "sk-CUTKEY-QzXwVuTsRqPoNmLk"
    register_secret(key)
    assert before < ONE_LINE_LIMIT
    page = f"<html><body>{'x' * before} {key} proxy</body></html>".encode()
    with pytest.raises(ServiceUnavailable) as ei:
        r.check(502, page)
    err = ei.value
    for text in (str(err), err.support_text(), json.dumps(err.to_dict())):
        assert key[:5] not in text, text  # not even the start of the key
