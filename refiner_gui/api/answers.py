"""Reading the service's HTTP answers: capped bodies, and the typed errors of failed requests.

No Qt. Used by :class:`~refiner_gui.api.client.RefinerClient` for its API calls (submit,
poll, credits) and by :mod:`refiner_gui.api.download` for the result: an answer is read
streamed and at most :data:`MAX_ANSWER_BYTES`; a request that failed in the HTTP library,
or that its :class:`~refiner_gui.api.transport.Guard` stopped, becomes a typed
:class:`~refiner_gui.api.errors.RefinerError` here.
"""

from __future__ import annotations

import requests

from refiner_gui.api.errors import (
    Cancelled,
    DownloadError,
    ErrorInfo,
    NetworkError,
    RefinerError,
    ServiceUnavailable,
    TimedOut,
    redact,
)
from refiner_gui.api.models import CancelToken
from refiner_gui.api.transport import (
    AddressRefused,
    DeadlinePassed,
    TransportCancelled,
    TransportInterrupted,
)
from refiner_gui.api.upload import CHUNK
from refiner_gui.sizes import format_bytes

__all__ = [
    "MAX_ANSWER_BYTES",
    "MB",
    "answer_too_large",
    "check_cancel",
    "interrupted",
    "is_connection_problem",
    "network_error",
    "read_capped",
    "timed_out",
]

MB = 1024 * 1024
MAX_ANSWER_BYTES = 4 * MB
"""Most bytes read of one API answer (submit, poll, credits); reading stops there."""


def read_capped(r: requests.Response, cap: int) -> tuple[bytes, bool]:
    """The body, streamed, at most ``cap`` bytes; True if there was more (not read)."""
    body = bytearray()
    for chunk in r.iter_content(CHUNK):
        body += chunk
        if len(body) > cap:
            return bytes(body[:cap]), True
    return bytes(body), False


def answer_too_large(status: int, task_id: str | None) -> ServiceUnavailable:
    """The error for an API answer cut at :data:`MAX_ANSWER_BYTES` (retried)."""
    return ServiceUnavailable(
        f"The service's answer was larger than {format_bytes(MAX_ANSWER_BYTES)}, which no "
        "real answer is; reading stopped there. The app retries automatically.",
        ErrorInfo(http_status=status, task_id=task_id, vendor_message="AnswerTooLarge"),
    )


def is_connection_problem(exc: BaseException) -> bool:
    """True for failures of the network itself: refused or reset connections, DNS, TLS,
    proxies, timeouts, a body cut off mid-way. Only these get "check the internet
    connection" advice."""
    return isinstance(
        exc,
        (
            requests.ConnectionError,  # refused, reset, DNS, TLS (SSLError), proxy
            requests.Timeout,
            requests.exceptions.ChunkedEncodingError,  # the connection broke mid-body
            ConnectionError,
            TimeoutError,
        ),
    )


def network_error(exc: Exception, task_id: str | None = None) -> RefinerError:
    """The typed error for a request the HTTP library failed (an idempotent one)."""
    info = ErrorInfo(task_id=task_id, vendor_message=redact(type(exc).__name__))
    if not is_connection_problem(exc):
        # Redirect loops, undecodable bodies, bad URLs: the network is fine, so telling
        # the user to check it would send them the wrong way.
        return NetworkError(
            f"The service (or a proxy on the way) answered in a way the app cannot use "
            f"({type(exc).__name__}). The app retries automatically; if it keeps "
            "happening, check the base URL in Settings or try again later.",
            info,
        )
    kind = "timed out" if isinstance(exc, requests.Timeout) else "failed"
    return NetworkError(
        f"The connection to the service {kind}. Check the internet connection; "
        "the app retries automatically.",
        info,
    )


def check_cancel(cancel: CancelToken | None, task_id: str | None) -> None:
    """Raise :class:`Cancelled` (naming the task, if any) once ``cancel`` is set."""
    if cancel is not None and cancel.cancelled:
        raise Cancelled("Cancelled.", ErrorInfo(task_id=task_id))


def timed_out(task_id: str | None) -> TimedOut:
    """The error for the job's deadline passing (naming the task, if there is one)."""
    if task_id:
        return TimedOut(
            f"Task {task_id} did not finish within the time limit. It may still finish: "
            "resume it later with this task id (results are kept for 24 hours).",
            ErrorInfo(task_id=task_id),
        )
    return TimedOut("The time limit passed before the service answered.", ErrorInfo())


def interrupted(
    exc: TransportInterrupted, task_id: str | None, stall_timeout: float
) -> RefinerError:
    """The typed error for a request its guard stopped (an idempotent one)."""
    if isinstance(exc, TransportCancelled):
        return Cancelled("Cancelled.", ErrorInfo(task_id=task_id))
    if isinstance(exc, DeadlinePassed):
        return timed_out(task_id)
    if isinstance(exc, AddressRefused):
        return DownloadError(
            f"{exc} The refinement itself succeeded; its link works for 24 hours.",
            ErrorInfo(task_id=task_id),
        )
    return NetworkError(
        f"The connection stalled: less than 1 KB arrived in {stall_timeout:g} s. "
        "The app retries automatically.",
        ErrorInfo(task_id=task_id, vendor_message="Stalled"),
    )
