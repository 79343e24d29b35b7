"""Read every response shape the service is known to send, and nothing else.

Pure functions over (status, headers, body bytes): no I/O, no Qt, never crash. Anything
that is not a success becomes a typed :class:`~refiner_gui.api.errors.RefinerError`;
anything that is a success becomes a model object. The shapes come from the contract:

* public fields old and new (``error_code``, ``error_detail.*``, ``error_code_str``, ``error_msg``);
* an error inside an HTTP 200 (``error_code`` non-zero);
* ``task_status`` at the top or under ``data``; 3 means failed;
* the result URL under ``output.image_url``, else ``data.image_url``, else ``data.image``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

from refiner_gui.api.errors import (
    ErrorInfo,
    RefinerError,
    ServiceUnavailable,
    SubmissionOutcomeUnknown,
    TaskFailed,
    classify,
    redact,
)
from refiner_gui.api.models import CreditBalance, Submission, TaskState, TaskStatus
from refiner_gui.safe_text import one_line

PAGE_BYTES = 16 * 1024
"""Most bytes of a body that is not an API answer (a gateway page) looked at for its text."""

_PUBLIC_FIELDS = (
    "error_code",
    "error_detail",
    "error_msg",
    "error_code_str",
    "request_id",
    "log_id",
)


def _get(obj: Any, *keys: str) -> Any:
    """``obj[k1][k2]...`` or None when any level is missing or not a mapping."""
    for k in keys:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(k)
    return obj


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def _int(value: Any) -> int | None:
    """An int from an int or a digit string; None for anything else (bools included)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def parse_json_object(body: bytes) -> dict[str, Any] | None:
    """The body as a JSON object, or None if it is not one (HTML page, garbage, list...)."""
    try:
        data = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date); None if absent."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
        delta = (when - datetime.now(when.tzinfo or timezone.utc)).total_seconds()
        return max(0.0, delta)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def ids(data: Mapping[str, Any] | None) -> tuple[str | None, str | None]:
    """``(request_id, log_id)`` of a response, wherever they are."""
    if data is None:
        return None, None
    return (
        _text(data.get("request_id")) or _text(_get(data, "data", "request_id")),
        _text(data.get("log_id")) or _text(_get(data, "data", "log_id")),
    )


def _error_fields(data: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The vendor code and the most specific message of an error body."""
    detail = data.get("error_detail")
    code = _text(_get(detail, "code")) or _text(data.get("error_code_str"))
    if code is not None and code.lstrip("-").isdigit():
        code = None  # a numeric code string carries no family information
    message = (
        _text(_get(detail, "message"))
        or _text(_get(detail, "code_message"))
        or _text(data.get("error_msg"))
    )
    return code, message


def _is_error_body(data: Mapping[str, Any]) -> bool:
    return any(k in data for k in _PUBLIC_FIELDS)


def check(
    http_status: int,
    body: bytes,
    *,
    retry_after: str | None = None,
    task_id: str | None = None,
) -> dict[str, Any]:
    """Return the JSON object of a successful response or raise the typed error.

    Success is HTTP 2xx with a JSON object whose ``error_code``, where present, is 0.
    A non-2xx with no parseable error body (a gateway page) is a transient
    :class:`ServiceUnavailable`.
    """
    data = parse_json_object(body)
    request_id, log_id = ids(data)
    wait = parse_retry_after(retry_after)
    if not 200 <= http_status < 300:
        if data is None or not _is_error_body(data):
            # A gateway's HTML page is quoted as one line of its text, never as markup.
            page = body[:PAGE_BYTES].decode("utf-8", "replace")
            # Redacted before it is cut: a key near the cut must not survive as a short prefix.
            snippet = one_line(redact(page))
            err = classify(http_status, None, snippet or None, task_id=task_id, retry_after=wait)
            if http_status not in (401, 403, 429):
                message = err.user_message if isinstance(err, ServiceUnavailable) else None
                # A 4xx page from a proxy says nothing about our request: treat as transient.
                transient = True if http_status < 500 else None
                err = ServiceUnavailable(message, err.info, retryable=transient)
            raise err
        code, message = _error_fields(data)
        raise classify(
            http_status,
            code,
            message,
            request_id=request_id,
            log_id=log_id,
            task_id=task_id,
            retry_after=wait,
        )
    if data is None:
        raise ServiceUnavailable(
            "The service sent an answer that is not JSON. Try again in a moment.",
            _info(http_status, request_id, log_id, task_id),
        )
    error_code = data.get("error_code")
    numeric = _int(error_code)
    code, message = _error_fields(data)
    failed = (numeric is not None and numeric != 0) or (
        numeric is None and isinstance(error_code, str) and error_code.strip() not in ("", "0")
    )
    if failed:
        status = _int(_get(data, "error_detail", "status_code"))
        if status is None or status < 400:
            status = numeric if numeric is not None and numeric >= 400 else None
        if code is None and isinstance(error_code, str) and not error_code.isdigit():
            code = error_code.strip()
        raise classify(
            status or http_status,
            code,
            message,
            request_id=request_id,
            log_id=log_id,
            task_id=task_id,
            retry_after=wait,
        )
    return data


def _info(
    http_status: int | None, request_id: str | None, log_id: str | None, task_id: str | None
) -> ErrorInfo:
    return ErrorInfo(http_status=http_status, request_id=request_id, log_id=log_id, task_id=task_id)


def parse_submission(
    http_status: int, body: bytes, *, retry_after: str | None = None
) -> Submission:
    """A submit's answer as a :class:`Submission`.

    A success without a task id is :class:`SubmissionOutcomeUnknown`: the service may have
    taken (and will bill) a task we cannot follow, so the user must check before re-sending.
    """
    data = check(http_status, body, retry_after=retry_after)
    request_id, log_id = ids(data)
    task_id = _text(data.get("task_id")) or _text(_get(data, "data", "task_id"))
    if not task_id:
        raise SubmissionOutcomeUnknown(
            "The service accepted the upload but returned no task id, so the job cannot be "
            "followed. It was not sent again (that could bill twice); check your credits.",
            _info(http_status, request_id, log_id, None),
        )
    return Submission(task_id=task_id, request_id=request_id, log_id=log_id)


def result_url(data: Mapping[str, Any]) -> str | None:
    """The result URL: ``output.image_url``, else ``data.image_url``, else ``data.image``."""
    for path in (
        ("output", "image_url"),
        ("data", "image_url"),
        ("data", "image"),
        ("output", "image"),
    ):
        url = _text(_get(data, *path))
        if url:
            return url
    return None


def _task_status(data: Mapping[str, Any]) -> int | None:
    raw = data.get("task_status")
    if raw is None:
        raw = _get(data, "data", "task_status")
    return _int(raw)


def _task_failure(data: Mapping[str, Any], task_id: str) -> RefinerError:
    """The terminal error of a task in status 3 (whatever its ``error_code`` says)."""
    request_id, log_id = ids(data)
    code, message = _error_fields(data)
    status = _int(_get(data, "error_detail", "status_code"))
    if status is None or status < 400:
        numeric = _int(data.get("error_code"))
        status = numeric if numeric is not None and numeric >= 400 else None
    err = classify(status, code, message, request_id=request_id, log_id=log_id, task_id=task_id)
    # The task is over, whatever the code says: polling again cannot change that.
    if isinstance(err, ServiceUnavailable) or not code:
        over: RefinerError = TaskFailed(None, err.info, retryable=False)
    else:
        over = type(err)(err.user_message, err.info, retryable=False)
    over.task_ended = True  # its running-task place is free (refiner_gui.api.task_slots)
    return over


def parse_task(
    http_status: int, body: bytes, task_id: str, *, retry_after: str | None = None
) -> TaskStatus:
    """A poll's answer as a :class:`TaskStatus`, or the typed error.

    Raises the task's terminal error for ``task_status`` 3 (with its code and ids), and a
    transient :class:`ServiceUnavailable` for a success that is missing its status or URL.
    """
    peek = parse_json_object(body)
    if 200 <= http_status < 300 and peek is not None and _task_status(peek) == 3:
        raise _task_failure(peek, task_id)
    data = check(http_status, body, retry_after=retry_after, task_id=task_id)
    request_id, log_id = ids(data)
    status = _task_status(data)
    if status not in (0, 1, 2):
        raise ServiceUnavailable(
            "The service sent a task status we do not understand. Retrying.",
            _info(http_status, request_id, log_id, task_id),
        )
    state = TaskState(status)
    url = result_url(data) if state is TaskState.SUCCEEDED else None
    if state is TaskState.SUCCEEDED and not url:
        raise ServiceUnavailable(
            "The task finished but the service sent no result link yet. Retrying.",
            _info(http_status, request_id, log_id, task_id),
        )
    count = _int(_get(data, "usage", "image_count"))
    return TaskStatus(
        task_id=task_id,
        state=state,
        image_url=url,
        image_count=count,
        request_id=request_id,
        log_id=log_id,
    )


def parse_credits(http_status: int, body: bytes) -> list[CreditBalance]:
    """The ``data[]`` entries of query-credits; malformed entries are skipped."""
    data = check(http_status, body)
    entries = data.get("data")
    if isinstance(entries, Mapping):
        entries = [entries]
    out: list[CreditBalance] = []
    if not isinstance(entries, list):
        return out
    for e in entries:
        if not isinstance(e, Mapping):
            continue
        bal = e.get("balance")
        if isinstance(bal, bool) or not isinstance(bal, (int, float, str)):
            continue
        try:
            balance = float(bal)
        except ValueError:
            continue
        total_raw = e.get("total")
        try:
            total = (
                float(total_raw)
                if isinstance(total_raw, (int, float, str)) and not isinstance(total_raw, bool)
                else None
            )
        except ValueError:
            total = None
        out.append(
            CreditBalance(
                unique_sign=_text(e.get("unique_sign")) or "",
                name=_text(e.get("name")) or "",
                balance=balance,
                total=total,
            )
        )
    return out
