"""The result download: one try at fetching the result image into its file, checked.

No Qt. :meth:`RefinerClient.download <refiner_gui.api.client.RefinerClient.download>`
retries :meth:`ResultDownload.fetch` (one try) under its retry policy; this module holds
what one try does. Result links must be http(s) to a public host
(:mod:`refiner_gui.api.addresses`; loopback too when the service itself is on loopback),
checked again at connect time against DNS rebinding; redirects are followed one hop at a
time, each checked, at most :data:`~refiner_gui.api.addresses.MAX_REDIRECTS`. The body is
capped at ``max_bytes`` counted as received and as decoded (a compressed result cannot
unpack into a bomb), and the file lands at its destination only once it is a whole,
decodable image of at most ``max_pixels`` pixels.
"""

from __future__ import annotations

import ipaddress
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from PIL import Image

from refiner_gui.api import responses
from refiner_gui.api.addresses import (
    MAX_REDIRECTS,
    UnsafeAddress,
    check_public_url,
    internal_reason,
)
from refiner_gui.api.answers import MB, check_cancel, interrupted, network_error
from refiner_gui.api.errors import (
    DownloadError,
    ErrorInfo,
    NetworkError,
    RefinerError,
    ResultUnavailable,
    ServiceUnavailable,
)
from refiner_gui.api.models import CancelToken
from refiner_gui.api.transport import Guard, TransportInterrupted, guarded, request_timeouts
from refiner_gui.api.upload import CHUNK
from refiner_gui.atomic import atomic_path
from refiner_gui.images.formats import open_untrusted
from refiner_gui.sizes import format_bytes, format_pixels

__all__ = ["MAX_DOWNLOAD_BYTES", "MAX_RESULT_PIXELS", "ResultDownload", "check_scheme"]

MAX_DOWNLOAD_BYTES = 50 * MB
"""Default most bytes of one result, received or decoded; the download stops there."""
MAX_RESULT_PIXELS = 8192 * 8192
"""Default most pixels (width times height) of a result image."""


def check_scheme(url: str, task_id: str | None) -> None:
    """Refuse, before any try, a result link that is not http or https."""
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ("http", "https"):
        raise DownloadError(
            f"Refusing to download the result from a {scheme or 'bare'} "
            "link: only http and https are allowed.",
            ErrorInfo(task_id=task_id),
        )


@dataclass(frozen=True)
class ResultDownload:
    """How the client fetches a result: its session, limits and timeouts.

    Built by the client for each download from its current settings. ``allow_loopback`` lets
    result links point at this machine (only when the service itself is on loopback).
    """

    session: requests.Session
    allow_loopback: bool
    connect_timeout: float
    read_timeout: float
    max_bytes: int
    max_pixels: int

    def fetch(
        self,
        url: str,
        dest: Path,
        cancel: CancelToken | None,
        on_progress: Callable[[int, int | None], None] | None,
        task_id: str | None,
        deadline: float | None = None,
    ) -> Path:
        """One try at fetching ``url`` into ``dest`` atomically; the typed error if it fails."""
        with atomic_path(dest) as tmp:
            try:
                guard = Guard(
                    cancel, deadline, self.read_timeout, refuse_address=self.refuse_address
                )
                with guarded(guard), self.open(url, deadline, task_id) as r:
                    if r.status_code in (401, 403, 404, 410):
                        raise ResultUnavailable(
                            None, ErrorInfo(http_status=r.status_code, task_id=task_id)
                        )
                    if r.status_code != 200:
                        raise ServiceUnavailable(
                            f"The result host answered HTTP {r.status_code}. Retrying.",
                            ErrorInfo(
                                http_status=r.status_code,
                                task_id=task_id,
                                retry_after=responses.parse_retry_after(
                                    r.headers.get("Retry-After")
                                ),
                            ),
                        )
                    declared = r.headers.get("Content-Length")
                    total = int(declared) if declared and declared.isdigit() else None
                    if total is not None and total > self.max_bytes:
                        raise self.too_large(task_id)
                    # Content-Length counts the bytes on the wire: compressed ones when the
                    # host compressed the body, which iter_content unpacks as it streams.
                    encoding = (r.headers.get("Content-Encoding") or "").strip().lower()
                    compressed = encoding not in ("", "identity")
                    done = 0
                    with open(tmp, "wb") as fh:
                        for chunk in r.iter_content(CHUNK):
                            check_cancel(cancel, task_id)
                            done += len(chunk)
                            received = r.raw.tell() if compressed else done
                            if max(done, received) > self.max_bytes:
                                raise self.too_large(task_id)
                            fh.write(chunk)
                            if on_progress is not None:
                                on_progress(done, None if compressed else total)
                    received = r.raw.tell() if compressed else done
                    if total is not None and received != total:
                        raise NetworkError(
                            "The download was cut short. Retrying.", ErrorInfo(task_id=task_id)
                        )
            except requests.RequestException as exc:
                raise network_error(exc, task_id) from None
            except TransportInterrupted as exc:
                raise interrupted(exc, task_id, self.read_timeout) from None
            self.verify_image(tmp, task_id)  # a file that is not a good image never lands
        return dest

    def refuse_address(self, address: str) -> str | None:
        """Why a result download must not connect to ``address`` (checked at connect)."""
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return f"Refusing to fetch the result from the unusable address {address}."
        reason = internal_reason(ip, allow_loopback=self.allow_loopback)
        if reason is None:
            return None
        return (
            f"Refusing to fetch the result: its host points into a {reason} network "
            f"({ip}), not to a public server."
        )

    def check_link(self, url: str, task_id: str | None) -> None:
        """Refuse a result link (or redirect target) that is not http(s) to a public host."""
        try:
            check_public_url(url, allow_loopback=self.allow_loopback)
        except UnsafeAddress as exc:
            if exc.unresolved:
                raise NetworkError(
                    f"{exc.message} The app retries automatically.", ErrorInfo(task_id=task_id)
                ) from None
            raise DownloadError(
                f"{exc.message} The refinement itself succeeded; its link works for 24 hours.",
                ErrorInfo(task_id=task_id),
            ) from None

    def open(self, url: str, deadline: float | None, task_id: str | None) -> Any:
        """GET the result, following redirects one checked hop at a time (streamed)."""
        for _hop in range(MAX_REDIRECTS + 1):
            self.check_link(url, task_id)
            # The result host is a storage bucket: it gets no API key.
            r = self.session.get(
                url,
                stream=True,
                allow_redirects=False,
                timeout=request_timeouts(self.connect_timeout, self.read_timeout, deadline),
            )
            if not r.is_redirect:
                return r
            url = urljoin(url, r.headers["Location"])
            r.close()
        raise DownloadError(
            f"The result link redirected more than {MAX_REDIRECTS} times; download stopped. "
            "The refinement itself succeeded; its link works for 24 hours.",
            ErrorInfo(task_id=task_id),
        )

    def too_large(self, task_id: str | None) -> DownloadError:
        """The error for a result over :attr:`max_bytes`."""
        return DownloadError(
            f"The result is larger than {format_bytes(self.max_bytes)}; download stopped. "
            "The refinement itself succeeded (and was billed); its link works for 24 hours.",
            ErrorInfo(task_id=task_id),
        )

    def verify_image(self, path: Path, task_id: str | None) -> None:
        """Refuse a downloaded file that is not a whole image of at most ``max_pixels``."""
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with open_untrusted(path) as im:
                    w, h = im.size
                    if w * h > self.max_pixels:
                        raise DownloadError(
                            f"The result is {format_pixels(w, h)} pixels, over the limit.",
                            ErrorInfo(task_id=task_id),
                        )
                    im.verify()
        except RefinerError:
            raise
        except (
            OSError,
            SyntaxError,
            ValueError,
            Image.DecompressionBombError,
            Image.DecompressionBombWarning,
        ) as exc:
            raise DownloadError(
                "The downloaded result is not a valid image.",
                ErrorInfo(task_id=task_id, vendor_message=str(exc)[:200]),
                retryable=True,  # a stalled host can send a truncated body with a 200
            ) from None
