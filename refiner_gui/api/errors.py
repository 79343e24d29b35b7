"""One typed error hierarchy for everything that can go wrong talking to the API.

Every error carries what support needs (HTTP status, vendor code, vendor message,
``request_id``, ``log_id``, task id) and a plain-language ``user_message`` that says what the
user can do. None of them ever holds the API key: messages pass through :func:`redact`
before they are stored, and the request headers are never copied into an error.

:func:`classify` turns an HTTP status and a vendor code into the right class. It decides by
the code first and the status second, because the vendor moved 48 codes to new statuses.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from refiner_gui.api.codes import lookup
from refiner_gui.redaction import redact as redact  # re-exported
from refiner_gui.redaction import register_secret as register_secret  # re-exported
from refiner_gui.slots import BOTTOM, COARSE, PERSON, POSE_RULES, SLOT_LABELS, TOP


class ConfigError(ValueError):
    """The client was set up with values it refuses (plain-http remote URL, tiny poll interval)."""


@dataclass(frozen=True)
class ErrorInfo:
    """What the service said, as data (the part of an error that is not prose). Immutable:
    an error gets its context when it is built (:meth:`RefinerError.with_context`)."""

    http_status: int | None = None
    code: str | None = None
    vendor_message: str | None = None
    request_id: str | None = None
    log_id: str | None = None
    task_id: str | None = None
    slot: str | None = None
    retry_after: float | None = None


_E = TypeVar("_E", bound="RefinerError")


class RefinerError(Exception):
    """Base of every client error.

    Attributes mirror :class:`ErrorInfo`; ``user_message`` is the plain-language sentence
    with what to do; ``retryable`` says whether retrying the same call could help.
    """

    retryable = False
    task_ended = False  # True when a poll said the task is over (failed) at the service
    title = "Something went wrong"
    advice = (
        "Try again. If it keeps happening, send the request id and log id to AILabTools support."
    )

    def __init__(
        self,
        user_message: str | None = None,
        info: ErrorInfo | None = None,
        *,
        retryable: bool | None = None,
        title: str | None = None,
    ) -> None:
        """Build the error with all its context: ``retryable`` and ``title`` override the
        class defaults for this one error (e.g. a network error that must not be retried)."""
        info = info or ErrorInfo()
        self.info = replace(info, vendor_message=redact(info.vendor_message) or None)
        self.user_message = redact(user_message or self.advice)
        if retryable is not None:
            self.retryable = retryable
        if title is not None:
            self.title = title
        super().__init__(self.user_message)

    def with_context(self: _E, *, retryable: bool | None = None, **info: Any) -> _E:
        """A NEW error of the same class and message with ``info`` fields (``task_id=...``)
        and ``retryable`` changed; this one is left as it was and becomes its ``__cause__``.

        ``raise err.with_context(task_id=task_id) from err`` adds what the raiser knows
        without mutating an error that others may hold.
        """
        new = copy.copy(self)  # keeps the class and any per-error title/retryable
        new.info = replace(self.info, **info)
        if retryable is not None:
            new.retryable = retryable
        new.__cause__ = self
        return new

    # Flat accessors: callers read these far more often than the dataclass.
    @property
    def http_status(self) -> int | None:
        """The HTTP status of the failed answer (200 for an error inside a 200 body)."""
        return self.info.http_status

    @property
    def code(self) -> str | None:
        """The vendor's error code (``error_detail.code``), if any."""
        return self.info.code

    @property
    def vendor_message(self) -> str | None:
        """The vendor's own message, redacted; shown as detail."""
        return self.info.vendor_message

    @property
    def request_id(self) -> str | None:
        """The vendor's ``request_id`` of the failed exchange, for support."""
        return self.info.request_id

    @property
    def log_id(self) -> str | None:
        """The vendor's ``log_id`` of the failed exchange, for support."""
        return self.info.log_id

    @property
    def task_id(self) -> str | None:
        """The task the error concerns, when one exists (it can be resumed by it)."""
        return self.info.task_id

    @property
    def slot(self) -> str | None:
        """The input slot an input error concerns, when known."""
        return self.info.slot

    def support_text(self) -> str:
        """A block for the clipboard: everything support asks for, never the key."""
        lines = [f"{self.title}: {self.user_message}"]
        for label, value in (
            ("HTTP status", self.http_status),
            ("Code", self.code),
            ("Vendor message", self.vendor_message),
            ("Task id", self.task_id),
            ("request_id", self.request_id),
            ("log_id", self.log_id),
        ):
            if value not in (None, ""):
                lines.append(f"{label}: {value}")
        return redact("\n".join(lines))

    def to_dict(self) -> dict[str, Any]:
        """The error as JSON-ready data (what the job store keeps); never the key."""
        return {
            "type": type(self).__name__,
            "http_status": self.http_status,
            "code": self.code,
            "message": self.user_message,
            "vendor_message": self.vendor_message,
            "request_id": self.request_id,
            "log_id": self.log_id,
            "task_id": self.task_id,
            "slot": self.slot,
        }


class AuthError(RefinerError):
    """The key is missing, wrong or its account is locked (401/403 family)."""

    title = "API key or account problem"
    advice = (
        "The service did not accept the API key or the account is locked. "
        "Check the key in Settings (or AILABAPI_API_KEY) and your AILabTools account."
    )


class CreditsError(RefinerError):
    """The account has too few credits; nothing was billed."""

    title = "Out of credits"
    advice = (
        "The account has too few credits (a refinement costs 25). "
        "Top up on AILabTools, then run the job again. Nothing was billed."
    )


class RateLimited(RefinerError):
    """The service asked us to slow down (429); ``retry_after`` says how long."""

    retryable = True
    title = "Rate limited"
    advice = "The service asked us to slow down. Wait a little and try again."

    @property
    def retry_after(self) -> float | None:
        """Seconds the service asked us to wait (``Retry-After``), if it said."""
        return self.info.retry_after


class BadRequest(RefinerError):
    """The service called the request malformed: likely a bug on our side."""

    title = "Request rejected"
    advice = (
        "The service rejected the request as malformed. This is likely a bug: please report it."
    )


class InputRejected(RefinerError):
    """An input image broke the rules; ``slot`` names it when the service says which."""

    title = "Input image rejected"
    advice = "The service rejected one of the images. Replace it and try again. Nothing was billed."


class TaskFailed(RefinerError):
    """The task ended in failure at the service; nothing was billed."""

    title = "Refinement failed"
    advice = "The service could not refine these images. Nothing was billed. Try other images."


class TaskNotFound(RefinerError):
    """The service does not know the task (wrong id, or older than 24 hours)."""

    title = "Task unknown or expired"
    advice = (
        "The service no longer knows this task (results are kept for 24 hours) "
        "or the task id is wrong. Submit the job again."
    )


class ResultUnavailable(RefinerError):
    """The result link was refused or expired; resuming gets a fresh one."""

    title = "Result link refused"
    advice = (
        "The refined image could not be fetched: its link was refused or has expired. "
        "Within 24 hours of submitting, resume the task to get a fresh link (submitting "
        "again would bill again); after that the result is gone."
    )


class ServiceUnavailable(RefinerError):
    """The service is busy or failing (5xx, gateway pages); retried."""

    retryable = True
    title = "Service unavailable"
    advice = "The AILabTools service is busy or failing. Try again in a few minutes."


class NetworkError(RefinerError):
    """The connection failed or timed out; retried where that cannot bill twice."""

    retryable = True
    title = "Network problem"
    advice = "Could not reach the service. Check the internet connection and try again."


class TimedOut(RefinerError):
    """The task did not finish within the time limit; it may still, resume it by id."""

    title = "Still waiting"
    advice = (
        "The task did not finish in time. It may still complete: resume it later with its task id "
        "(results are kept for 24 hours)."
    )


class NoFreeSlot(TimedOut):
    """Nothing was sent: the app's other work kept all 5 of the service's running-task
    places busy until the time limit (:mod:`refiner_gui.api.task_slots`)."""

    retryable = True
    title = "Five tasks already running"


class SubmissionOutcomeUnknown(RefinerError):
    """The upload went out but no answer came: never re-sent (it could bill twice)."""

    title = "Submission outcome unknown"
    advice = (
        "The images were uploaded but no answer came back, so we cannot tell whether the "
        "service took the job. It was NOT sent again, because that could bill twice. "
        "Check your AILabTools credits/usage before submitting again."
    )


class Cancelled(RefinerError):
    """The user cancelled; carries the task id when one was already created."""

    title = "Cancelled"
    advice = "Cancelled."


class DownloadError(RefinerError):
    """The result could not be stored (too large, not an image, bad URL)."""

    title = "Download failed"
    advice = "The refined image could not be downloaded. Resume the task to try again."


# --- classification ---------------------------------------------------------------------

_AUTH = {
    "ERROR_USER_NOT_EXISTS",
    "ERROR_APPLICATIONS_NOT_EXISTS",
    "ERROR_USER_LOCKED",
    "ERROR_ILLEGAL_OPERATION",
    "AI_SERVICE_UNAUTHORIZED_KEY",
}
_CREDITS = {"ERROR_NOT_ENOUGH_CREDITS"}
_RATE = {"EXCEEDING_LIMITS", "ERROR_BATCH_TASK_LIMIT_EXCEEDED"}
_NOT_FOUND = {
    "ERROR_RESOURCE_NOT_FOUND",
    "ERROR_TASK_REVOKED",
    "ERROR_RESOURCE_RECLAIMED",
    "ERROR_CONTENT_NOT_FOUND",
    "ERROR_FILE_NOT_FOUND",
}
_RETIRED = {"ERROR_AI_NOT_EXISTS"}
_TASK_FAILED = {"ERROR_TASK_STOPPED_PROCESSING", "ERROR_TASK_CONFLICT"}
# 400-status codes that are about an input file's content, not the request's form.
_INPUT_400 = {"ERROR_QUALITY_CONTROL_ERROR", "ERROR_LIVENESS_CONTROL_ERROR"}
# Codes about the person photo's content (face, pose, count).
_PERSON_CODES_PREFIX = (
    "ERROR_FACE",
    "ERROR_NO_FACE",
    "ERROR_POSE",
    "ERROR_SMALL_FACE",
    "ERROR_POOR_FACE",
    "ERROR_BLURRY_FACE",
    "ERROR_OBSTRUCTED_FACE",
    "ERROR_INCOMPLETE_FACE",
    "ERROR_CARTOON_FACE",
    "ERROR_LEFT_",
    "ERROR_RIGHT_",
    "ERROR_CHIN_",
    "ERROR_NOSE_",
    "ERROR_MOUTH_",
    "ERROR_LIVENESS",
    "ERROR_SYNTHESIS",
    "ERROR_ACTION_",
)
_SLOT_WORDS = (
    (COARSE, ("coarse_image", "coarse image", "coarse")),
    (BOTTOM, ("bottom_garment", "bottom garment")),
    (TOP, ("top_garment", "top garment")),
    (PERSON, ("person_image", "person image", "person photo", "pic not has face", "face", "pose")),
)


def infer_slot(code: str | None, message: str | None) -> str | None:
    """Guess which input slot an input error concerns, from its message then its code."""
    text = (message or "").lower()
    # "The size of person image and coarse_image are not the same": the coarse image is the
    # one to replace (it must match the person photo).
    if "coarse" in text and "person" in text and "size" in text:
        return COARSE
    for slot, words in _SLOT_WORDS:
        if any(w in text for w in words):
            return slot
    if code and code.startswith(_PERSON_CODES_PREFIX):
        return PERSON
    if code in {"ERROR_NO_RECOGNITION_TARGET_DETECTED", "ERROR_IMAGE_RECOGNITION_FAILED"}:
        return PERSON
    return None


def _input_message(code: str | None, description: str, slot: str | None) -> str:
    where = f"The {SLOT_LABELS[slot]}" if slot else "One of the images"
    what = description.rstrip(".").lower() if description else "was rejected"
    msg = f"{where} was rejected: {what}."
    if slot == PERSON or (code or "").startswith(("ERROR_POSE", "ERROR_FACE", "ERROR_NO_FACE")):
        msg += " " + POSE_RULES
    elif code in {
        "FILE_SIZE_EXCEEDS_LIMIT",
        "FILE_RESOLUTION_EXCEEDS_LIMITS",
        "ERROR_HIGH_RESOLUTION",
        "ERROR_LOW_RESOLUTION",
        "UNSUPPORTED_FILE_TYPES",
        "ERROR_REQUEST_BODY_TOO_LARGE",
    }:
        msg += (
            " Each image must be JPG, PNG or BMP, at most 5 MB, and between 150 and 4096 "
            "pixels per side. Use Fix to make a conforming copy."
        )
    elif code == "ERROR_CONTENT_NON_COMPLIANCE" or code == "FILE_CONTENT_NON_COMPLIANCE":
        msg += " The content policy refused this image; use another one."
    else:
        msg += " Replace the image and try again."
    return msg + " Nothing was billed."


def classify(
    http_status: int | None,
    code: str | None,
    message: str | None = None,
    *,
    request_id: str | None = None,
    log_id: str | None = None,
    task_id: str | None = None,
    retry_after: float | None = None,
) -> RefinerError:
    """Build the typed error for a failed response. Never raises.

    Args:
        http_status: the HTTP status (200 for an error inside a 200 body).
        code: ``error_detail.code`` (or ``error_code_str``), may be empty.
        message: the vendor's message, shown as detail.
    """
    code = (code or "").strip() or None
    info = ErrorInfo(
        http_status=http_status,
        code=code,
        vendor_message=message,
        request_id=request_id,
        log_id=log_id,
        task_id=task_id,
        retry_after=retry_after,
    )
    known = lookup(code)
    family_status = known.http_status if known else http_status
    desc = known.description if known else (message or "")

    if code in _AUTH or (not known and http_status in (401, 403)):
        return AuthError(None, info)
    if code in _CREDITS:
        return CreditsError(None, info)
    if code in _RATE or (not known and http_status == 429):
        return RateLimited(None, info)
    if code in _NOT_FOUND or (not known and http_status in (404, 410)):
        return TaskNotFound(None, info)
    if code in _RETIRED:
        return ServiceUnavailable(
            "The refiner endpoint does not exist or was deactivated for this account. "
            "Contact AILabTools support.",
            info,
            retryable=False,
        )
    if code in _TASK_FAILED:
        return TaskFailed(None, info)
    if family_status in (413, 415, 422) or code in _INPUT_400 or code == "ERROR_TOO_MANY_FILES":
        slot = infer_slot(code, message)
        return InputRejected(_input_message(code, desc, slot), replace(info, slot=slot))
    if family_status == 429:  # other quota codes: not worth an automatic retry
        return RateLimited("The account hit a usage limit. Try again later.", info)
    if family_status is not None and 400 <= family_status < 500:
        # A 400 whose message names an image (e.g. the size mismatch) is about an input.
        slot = infer_slot(None, message) if message else None
        if slot is not None:
            message_text = _input_message(code, message or desc, slot)
            return InputRejected(message_text, replace(info, slot=slot))
        return BadRequest(None, info)
    if family_status is not None and family_status >= 500:
        return ServiceUnavailable(None, info)
    return ServiceUnavailable(
        "The service answered in a way we do not understand. Try again later.", info
    )


def error_from_dict(data: dict[str, Any] | None) -> RefinerError:
    """Rebuild a stored error (:meth:`RefinerError.to_dict`) for display. Never raises."""
    data = data or {}
    classes = {c.__name__: c for c in _all_error_classes(RefinerError)}
    cls = classes.get(str(data.get("type")), RefinerError)

    def text(key: str) -> str | None:
        value = data.get(key)
        return str(value) if value not in (None, "") else None

    status = data.get("http_status")
    info = ErrorInfo(
        http_status=status if isinstance(status, int) else None,
        code=text("code"),
        vendor_message=text("vendor_message"),
        request_id=text("request_id"),
        log_id=text("log_id"),
        task_id=text("task_id"),
        slot=text("slot"),
    )
    # An unknown type (e.g. "Expired": a state, not an exception class) becomes the title.
    unknown = str(data.get("type")) not in classes and bool(data.get("type"))
    return cls(text("message"), info, title=str(data["type"]) if unknown else None)


def _all_error_classes(base: type[RefinerError]) -> list[type[RefinerError]]:
    out = [base]
    for sub in base.__subclasses__():
        out += _all_error_classes(sub)
    return out
