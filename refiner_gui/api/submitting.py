"""The submit's two halves outside the request: its body, and what a failed upload means.

No Qt. :meth:`RefinerClient.submit <refiner_gui.api.client.RefinerClient.submit>` builds
its body once with :func:`encode_inputs` (each file read once, its recorded hash checked)
and, when a try fails before an answer came, asks :func:`interrupted_submit` or
:func:`failed_submit` for the error: how much of the :class:`~refiner_gui.api.upload.UploadBody`
left our hands decides whether the service may have taken the task (never re-sent, so
never billed twice) or certainly did not.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import requests

from refiner_gui.api.answers import network_error
from refiner_gui.api.errors import (
    Cancelled,
    ErrorInfo,
    InputRejected,
    NetworkError,
    RefinerError,
    SubmissionOutcomeUnknown,
    TimedOut,
)
from refiner_gui.api.models import RefineInputs, TryOnInputs
from refiner_gui.api.transport import (
    DeadlinePassed,
    Stalled,
    TransportCancelled,
    TransportInterrupted,
)
from refiner_gui.api.upload import UploadBody, encode_multipart, sniff_mime, upload_name

__all__ = ["encode_inputs", "failed_submit", "interrupted_submit"]


def encode_inputs(inputs: RefineInputs | TryOnInputs) -> tuple[bytes, str]:
    """The submit's ``multipart/form-data`` body and its content type.

    A refinement sends ``task_type`` and ``gender``; a try-on (Pro/Premium) sends
    ``task_type``, ``resolution`` and ``restore_face``; then the files. Each file is read
    once; when ``inputs.sha256`` names a file's hash, the bytes read must have it, else
    :class:`InputRejected` (nothing is sent).
    """
    fields: list[tuple[str, Any]] = [("task_type", "async")]
    if isinstance(inputs, TryOnInputs):
        fields.append(("resolution", str(inputs.resolution)))
        fields.append(("restore_face", "true" if inputs.restore_face else "false"))
    else:
        fields.append(("gender", inputs.gender))
    expected = inputs.sha256 or {}
    for name, path in inputs.files().items():
        data = Path(path).read_bytes()
        want = expected.get(name)
        if want and hashlib.sha256(data).hexdigest() != want:
            raise InputRejected(
                f"The stored copy of the {name.replace('_', ' ')} changed after the job "
                "was created (its content no longer matches the recorded hash). Nothing "
                "was sent. Create the job again from the original images.",
                ErrorInfo(slot=name),
            )
        mime = sniff_mime(data)
        fields.append((name, (upload_name(path, mime), data, mime)))
    return encode_multipart(fields)


def interrupted_submit(exc: TransportInterrupted, upload: UploadBody) -> RefinerError:
    """A submit stopped by cancel, the deadline or a stall: was it taken?"""
    if upload.bytes_read >= upload.len:
        # The whole body went out: the service may have the task. Never re-sent.
        why = {TransportCancelled: "Cancelled", DeadlinePassed: "TimedOut"}
        return SubmissionOutcomeUnknown(
            None, ErrorInfo(vendor_message=why.get(type(exc), "Stalled"))
        )
    if isinstance(exc, TransportCancelled):
        return Cancelled("Cancelled before the upload finished; nothing was sent for processing.")
    if isinstance(exc, DeadlinePassed):
        return TimedOut(
            "The time limit passed during the upload, before the images were fully sent. "
            "The service cannot have started the job and nothing was billed.",
            retryable=False,
        )
    assert isinstance(exc, Stalled)
    return NetworkError(
        "The upload stalled before the images were fully sent. The service cannot have "
        "started the job and nothing was billed: try again.",
        retryable=False,
    )


def failed_submit(exc: BaseException, upload: UploadBody) -> RefinerError:
    """Decide whether a failed submit might have reached the server."""
    if upload.bytes_read == 0 or isinstance(exc, requests.ConnectTimeout):
        # Nothing of the body left us: the service cannot have created a task.
        return network_error(exc if isinstance(exc, Exception) else Exception())
    if upload.bytes_read < upload.len:
        return NetworkError(
            "The connection broke during the upload, before the images were fully sent. "
            "The service cannot have started the job and nothing was billed: try again.",
            retryable=False,
        )
    return SubmissionOutcomeUnknown()
