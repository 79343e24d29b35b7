"""A small ``multipart/form-data`` parser (the ``cgi`` module is deprecated).

The body is split on the boundary by hand, which is exact for binary file data and fast;
each part's headers are parsed with the stdlib ``email`` header parser, which handles
quoting and RFC 2231 file names. Pure functions, callable from any thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesHeaderParser


class MultipartError(ValueError):
    """The body is not well-formed ``multipart/form-data``."""


@dataclass(frozen=True)
class Part:
    """One field of a multipart body: its name, its file name if it is a file, its bytes."""

    name: str
    filename: str | None  # None for a plain text field
    data: bytes


def _boundary(content_type: str) -> bytes:
    header = EmailMessage()
    header["Content-Type"] = content_type
    if header.get_content_type() != "multipart/form-data":
        raise MultipartError("the body must be multipart/form-data")
    boundary = header.get_boundary()
    if not boundary:
        raise MultipartError("multipart/form-data without a boundary")
    return boundary.encode("latin-1")


def parse_multipart(content_type: str, body: bytes) -> list[Part]:
    """Return the named parts of ``body`` in order. Raises :class:`MultipartError`."""
    delimiter = b"\r\n--" + _boundary(content_type)
    # A leading CRLF lets the first delimiter (which starts the body) match like the others.
    chunks = (b"\r\n" + body).split(delimiter)
    header_parser = BytesHeaderParser(policy=policy.HTTP)
    parts: list[Part] = []
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):  # the close delimiter: anything after is epilogue
            return parts
        line_end = chunk.find(b"\r\n")
        if line_end < 0 or chunk[:line_end].strip(b" \t"):
            raise MultipartError("malformed boundary line")
        rest = chunk[line_end + 2 :]
        if rest.startswith(b"\r\n"):  # a part with no headers at all
            head, data = b"", rest[2:]
        else:
            head, sep, data = rest.partition(b"\r\n\r\n")
            if not sep:
                raise MultipartError("part headers never end")
        headers = header_parser.parsebytes(head + b"\r\n\r\n")
        name = headers.get_param("name", header="content-disposition")
        if isinstance(name, str) and name:
            parts.append(Part(name, headers.get_filename(), data))
    raise MultipartError("the body ends before the closing boundary")
