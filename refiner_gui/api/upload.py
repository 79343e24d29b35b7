"""The submit's request body: ``multipart/form-data`` built once, sent in cancellable chunks.

No Qt, no network: the client hands an :class:`UploadBody` to requests, which reads it on
the client's (worker) thread. :attr:`UploadBody.bytes_read` tells how much of the body left
our hands, which decides whether a failed submit is safe to re-send.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from refiner_gui.api.models import CancelToken
from refiner_gui.images.formats import SNIFF_BYTES, sniff_qt_format

CHUNK = 64 * 1024
"""Bytes per read of an upload or download: the unit of progress and of cancel checks."""

_EXT_BY_MIME = {"image/jpeg": ".jpg", "image/png": ".png", "image/bmp": ".bmp"}


def sniff_mime(data: bytes) -> str:
    """The image type the bytes really are (JPEG, PNG, BMP), whatever the file is called."""
    fmt = sniff_qt_format(data[:SNIFF_BYTES])
    return f"image/{fmt}" if fmt in ("jpeg", "png", "bmp") else "application/octet-stream"


def upload_name(path: Path, mime: str) -> str:
    """The file name to send: the service may judge by it, so it names the real content."""
    path = Path(path)
    return path.stem + _EXT_BY_MIME.get(mime, path.suffix)


def _quote(value: str) -> str:
    # The HTML5 form-data rules for a name or file name inside quotes (as browsers do).
    return value.replace("\\", "\\\\").replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


def encode_multipart(fields: list[tuple[str, Any]]) -> tuple[bytes, str]:
    """``multipart/form-data`` of text fields and ``(filename, bytes, mime)`` files.

    One ``bytes.join`` and nothing else: ~20 MB of images are copied once, so the worker
    holds the GIL (and stalls the GUI thread) for a few milliseconds, not tens.
    """
    boundary = uuid.uuid4().hex
    parts: list[bytes] = []
    for name, value in fields:
        if isinstance(value, tuple):
            filename, data, mime = value
            parts.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{_quote(name)}"; '
                f'filename="{_quote(filename)}"\r\nContent-Type: {mime}\r\n\r\n'.encode()
            )
            parts.append(data)
            parts.append(b"\r\n")
        else:
            parts.append(
                f"--{boundary}\r\nContent-Disposition: form-data; "
                f'name="{_quote(name)}"\r\n\r\n{value}\r\n'.encode()
            )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


class UploadCancelled(Exception):
    """Raised from :meth:`UploadBody.read` when the token is cancelled mid-upload."""


class UploadBody:
    """A multipart body that reports progress and stops on cancel while it is being sent.

    ``bytes_read`` tells the caller how much of the body left our hands, which decides
    whether a failed submit is safe to re-send. Read on one thread (the client's).
    """

    def __init__(
        self,
        body: bytes,
        cancel: CancelToken | None,
        on_progress: Callable[[int, int], None] | None,
    ) -> None:
        self._body = body
        self._pos = 0
        self._cancel = cancel
        self._on_progress = on_progress
        self.len = len(body)  # requests reads .len to set Content-Length

    @property
    def bytes_read(self) -> int:
        """How many bytes of the body have been handed to the connection so far."""
        return self._pos

    def sent(self) -> bool:
        """Whether the whole body has been handed to the connection (the service may
        then have the task: its answer names it)."""
        return self._pos >= self.len

    def __len__(self) -> int:
        return self.len

    def read(self, size: int | None = -1) -> bytes:
        """The next chunk (at most :data:`CHUNK` bytes); raises :class:`UploadCancelled`
        while some is left (at the end, the answer is waited for: see ``Guard``)."""
        if self._cancel is not None and self._cancel.cancelled and not self.sent():
            raise UploadCancelled
        if size is None or size < 0:
            size = self.len - self._pos
        size = min(size, CHUNK)
        chunk = self._body[self._pos : self._pos + size]
        self._pos += len(chunk)
        if self._on_progress is not None and chunk:
            self._on_progress(self._pos, self.len)
        return chunk
