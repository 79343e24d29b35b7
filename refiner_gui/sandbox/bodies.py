"""Answers the sandbox sends, shaped like the vendor's (see the API contract, section 3).

Pure functions, callable from any thread. Every JSON body gets a fresh ``request_id`` and
``log_id``, because the client shows them on failures and tests check they are present.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from refiner_gui.api.codes import lookup

from .faults import Fault


@dataclass
class Response:
    """One HTTP answer. ``delivery`` is a delivery-kind fault the transport must apply."""

    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    delivery: Fault | None = None
    close: bool = False  # close the connection after answering (request body left unread)


class ApiError(Exception):
    """A vendor error to answer with: ``code`` from the table, ``message`` naming the field."""

    def __init__(self, code: str, message: str | None = None, http_status: int | None = None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.http_status = http_status


def new_ids() -> dict[str, str]:
    """Fresh ``request_id`` and ``log_id``, formatted like the vendor's."""
    return {"request_id": str(uuid.uuid4()).upper(), "log_id": uuid.uuid4().hex}


def status_of(code: str, http_status: int | None = None) -> int:
    """The HTTP status for ``code``: the explicit one, else the vendor table's, else 500."""
    if http_status is not None:
        return http_status
    known = lookup(code)
    return known.http_status if known else 500


def success_fields() -> dict[str, Any]:
    """The public fields of a successful answer."""
    return {
        **new_ids(),
        "error_code": 0,
        "error_code_str": "",
        "error_msg": "",
        "error_detail": {"status_code": 200, "code": "", "code_message": "", "message": ""},
    }


def error_fields(
    code: str, message: str | None = None, http_status: int | None = None
) -> dict[str, Any]:
    """The public fields of a failed answer, with both the legacy and the new error fields."""
    status = status_of(code, http_status)
    known = lookup(code)
    summary = known.description if known else code
    detail = message or summary
    return {
        **new_ids(),
        "error_code": status,
        "error_code_str": code,
        "error_msg": detail,
        "error_detail": {
            "status_code": status,
            "code": code,
            "code_message": summary,
            "message": detail,
        },
    }


def json_response(
    status: int, payload: dict[str, Any], headers: list[tuple[str, str]] | None = None
) -> Response:
    """A JSON answer: ``payload`` serialized, with ``headers`` after the Content-Type."""
    body = json.dumps(payload).encode("utf-8")
    return Response(status, body, [("Content-Type", "application/json"), *(headers or [])])


def error_response(err: ApiError) -> Response:
    """The JSON error answer for ``err``, with the status from the table unless overridden."""
    status = status_of(err.code, err.http_status)
    return json_response(status, error_fields(err.code, err.message, err.http_status))


def gateway_page(status: int = 502) -> Response:
    """A proxy's HTML error page: no JSON, no vendor code (transient for the client)."""
    reason = {
        502: "Bad Gateway",
        503: "Service Temporarily Unavailable",
        504: "Gateway Time-out",
    }.get(status, "Error")
    html = (
        f"<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
        f"<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n"
        "</body>\r\n</html>\r\n"
    )
    return Response(status, html.encode("ascii"), [("Content-Type", "text/html")])


def storage_error(status: int = 403) -> Response:
    """A cloud storage host's refusal: 403 AccessDenied (expired link) or 404 NoSuchKey."""
    code, text = (
        ("NoSuchKey", "The specified key does not exist.")
        if status == 404
        else ("AccessDenied", "Request has expired.")
    )
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error>\n  <Code>{code}</Code>\n  <Message>{text}</Message>\n"
        f"  <RequestId>{uuid.uuid4().hex[:24].upper()}</RequestId>\n"
        "  <HostId>sandbox-results.invalid</HostId>\n</Error>\n"
    )
    return Response(status, xml.encode("utf-8"), [("Content-Type", "application/xml")])
