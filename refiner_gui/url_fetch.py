"""Download an image whose web address was dropped or pasted onto an input slot. No Qt.

Contracts kept here:

* Only ``http://`` and ``https://`` addresses are fetched (also after redirects); anything
  else raises :class:`UrlFetchError` before any network traffic.
* Never into the machine's own network behind the user's back: a link-local (cloud
  metadata, 169.254.x.x), unspecified, multicast or reserved address is refused; a private
  or loopback address only when the user pasted it themself (a picture on their NAS), never
  as a redirect target of a public address. Every address a host name resolves to is
  checked (:mod:`refiner_gui.api.addresses`), and at most five redirects are followed.
* Every exchange has a connect and a read timeout, and the whole download an overall
  deadline, so a server that drips bytes cannot hold a worker thread for ever. With the
  app's own session the sockets wait in short slices (:mod:`refiner_gui.api.transport`):
  cancel lands within ~0.2 s even while the server says nothing, the deadline holds
  inside a read, and less than 1 KB in ``read_timeout`` seconds fails as stalled.
* At most :data:`MAX_FETCH_BYTES` are accepted, judged by ``Content-Length`` when the server
  sends it and by counting while streaming when it does not.
* The body is streamed to a temporary file in ``dest_dir`` and renamed into place only when
  complete (:func:`refiner_gui.atomic.atomic_path`), so a reader never sees a partial image;
  on failure nothing is left behind.
* Whether the bytes are an image the service takes is pre-flight's job
  (:func:`refiner_gui.images.check_image`); here we only refuse what is plainly a web page.

:func:`fetch_url` blocks; the window runs it on a background thread. ``requests`` is
imported on first use (the one import not at the top, on purpose): the window imports this
module at start-up for :func:`is_web_url`, and ``requests`` takes ~80 ms to load.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urljoin, urlsplit

from refiner_gui.api.addresses import MAX_REDIRECTS, UnsafeAddress, check_public_url
from refiner_gui.atomic import atomic_path
from refiner_gui.sizes import format_bytes

if TYPE_CHECKING:
    import requests

MAX_FETCH_BYTES = 20 * 1024 * 1024
"""Largest download accepted (20 MB). Larger than the service's 5 MB, because Fix can shrink
a big photo; small enough that a wrong drop (a video, an archive) is refused quickly."""

CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 30.0
TOTAL_TIMEOUT = 120.0
_CHUNK = 64 * 1024

# Extensions for a name when the address has none, by the server's Content-Type.
_EXT_BY_TYPE = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/bmp": ".bmp",
    "image/webp": ".webp",
    "image/gif": ".gif",
    "image/tiff": ".tif",
    "image/heic": ".heic",
}
_IMAGE_EXTS = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif", ".tif", ".tiff", ".heic", ".jfif"}
)
# Types that are certainly not a picture: a link to a page, an API answer.
_NOT_IMAGE_TYPES = ("text/", "application/json", "application/xhtml", "application/xml")


class UrlFetchError(Exception):
    """The address could not be downloaded. ``message`` is plain words for the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def is_web_url(text: str) -> bool:
    """True when ``text`` (stripped) is one http(s) address with a host, and nothing else."""
    text = text.strip()
    if not text or any(c.isspace() for c in text):
        return False
    try:
        parts = urlsplit(text)
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


def fetch_url(
    url: str,
    dest_dir: Path,
    *,
    session: requests.Session | None = None,
    max_bytes: int = MAX_FETCH_BYTES,
    connect_timeout: float = CONNECT_TIMEOUT,
    read_timeout: float = READ_TIMEOUT,
    total_timeout: float = TOTAL_TIMEOUT,
    cancel: threading.Event | None = None,
) -> Path:
    """Download ``url`` into ``dest_dir`` (created if missing) and return the new file's path.

    Blocking; call it from a worker thread. ``cancel``, when set by another thread, stops the
    download within ~0.2 s (at the next chunk with an injected ``session``). Raises
    :class:`UrlFetchError` with a plain message for every failure: a non-web address, an
    internal address, a network error or timeout, an HTTP error status, a web page instead
    of a picture, an empty answer, more than ``max_bytes``, or cancellation.

    The file is named after the last part of the address (made safe) plus a short hash of the
    address, so two different ``image.jpg`` addresses never overwrite each other.
    """
    # Imported here: requests takes ~80 ms to load, and the window must paint before any
    # address is dropped.
    import requests

    from refiner_gui.api.transport import Guard, GuardedAdapter, TransportInterrupted, guarded

    url = url.strip()
    if not is_web_url(url):
        raise UrlFetchError(
            "Only web addresses starting with http:// or https:// can be downloaded."
        )
    host = urlsplit(url).hostname or url
    dest_dir = Path(dest_dir)
    own_session = session is None
    http = session if session is not None else requests.Session()
    if own_session:
        adapter = GuardedAdapter()
        http.mount("http://", adapter)
        http.mount("https://", adapter)
    deadline = time.monotonic() + total_timeout
    timeouts = (connect_timeout, read_timeout)
    try:
        with guarded(Guard(cancel, deadline, stall_timeout=read_timeout)):
            return _fetch(http, url, host, dest_dir, max_bytes, deadline, cancel, timeouts)
    except TransportInterrupted as e:
        if cancel is not None and cancel.is_set():
            raise UrlFetchError("The download was cancelled.") from e
        raise UrlFetchError(f"{host} is sending the picture too slowly. Try again later.") from e
    finally:
        if own_session:
            http.close()


def _fetch(
    http: requests.Session,
    url: str,
    host: str,
    dest_dir: Path,
    max_bytes: int,
    deadline: float,
    cancel: threading.Event | None,
    timeouts: tuple[float, float],
) -> Path:
    """Open ``url`` and stream it into ``dest_dir``; see :func:`fetch_url`."""
    response = _open(http, url, host, timeouts)
    with response:
        final = urlsplit(response.url or url)
        if final.scheme.lower() not in ("http", "https"):  # pragma: no cover - requests
            raise UrlFetchError("The address redirected to something that is not a web page.")
        if response.status_code >= 400:
            reason = response.reason or "error"
            raise UrlFetchError(
                f"{host} refused the download (HTTP {response.status_code} {reason})."
            )
        ctype = (response.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype.startswith(_NOT_IMAGE_TYPES):
            raise UrlFetchError(
                "That address leads to a web page, not to a picture. Drag the picture "
                "itself, or right-click it and copy the image address."
            )
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > max_bytes:
            raise UrlFetchError(_too_large_message(max_bytes))
        name = _file_name(response.url or url, ctype)
        return _stream_to_file(response, dest_dir, name, max_bytes, deadline, cancel, host)


def _check_address(url: str, host: str, *, internal_ok: bool) -> None:
    try:
        check_public_url(url, allow_loopback=internal_ok, allow_private=internal_ok)
    except UnsafeAddress as e:
        if e.unresolved:
            raise UrlFetchError(
                f"Could not connect to {host}. Check the address and your connection."
            ) from None
        raise UrlFetchError(e.message) from None


def _open(
    http: requests.Session, url: str, host: str, timeout: tuple[float, float]
) -> requests.Response:
    """GET ``url`` streamed, following at most :data:`MAX_REDIRECTS` checked redirects."""
    import requests  # already loaded by fetch_url: costs nothing here

    # The user chose this address: their own network is fine, if they typed it.
    try:
        check_public_url(url)
        internal_ok = False
    except UnsafeAddress:
        _check_address(url, host, internal_ok=True)
        internal_ok = True
    for _hop in range(MAX_REDIRECTS + 1):
        try:
            response = http.get(url, stream=True, allow_redirects=False, timeout=timeout)
        except requests.Timeout as e:
            raise UrlFetchError(f"{host} did not answer in time. Try again later.") from e
        except requests.RequestException as e:
            raise UrlFetchError(
                f"Could not connect to {host}. Check the address and your connection."
            ) from e
        if not response.is_redirect:
            return response
        response.close()
        url = urljoin(url, response.headers["Location"])
        if urlsplit(url).scheme.lower() not in ("http", "https"):
            raise UrlFetchError("The address redirected to something that is not a web page.")
        # A redirect from a public address may not lead into the local network.
        _check_address(url, urlsplit(url).hostname or url, internal_ok=internal_ok)
    raise UrlFetchError(
        f"The address redirected more than {MAX_REDIRECTS} times. Check the address."
    )


def _too_large_message(max_bytes: int) -> str:
    return (
        f"The download is larger than {format_bytes(max_bytes)}, too big for a photo. "
        "Save the picture to a file and check it is the right one."
    )


def _stream_to_file(
    response: requests.Response,
    dest_dir: Path,
    name: str,
    max_bytes: int,
    deadline: float,
    cancel: threading.Event | None,
    host: str,
) -> Path:
    """Write the body to a temporary file beside the target, then rename it into place."""
    import requests  # already loaded by fetch_url: costs nothing here

    out = dest_dir / name
    with contextlib.ExitStack() as stack:
        try:
            dest_dir.mkdir(parents=True, exist_ok=True)
            tmp = stack.enter_context(atomic_path(out))
        except OSError as e:
            raise UrlFetchError(f"Cannot save the download ({e.strerror}).") from e
        received = 0
        with open(tmp, "wb") as f:
            try:
                for chunk in response.iter_content(_CHUNK):
                    if cancel is not None and cancel.is_set():
                        raise UrlFetchError("The download was cancelled.")
                    if time.monotonic() > deadline:
                        raise UrlFetchError(
                            f"{host} is sending the picture too slowly. Try again later."
                        )
                    received += len(chunk)
                    if received > max_bytes:
                        raise UrlFetchError(_too_large_message(max_bytes))
                    f.write(chunk)
            except requests.RequestException as e:
                raise UrlFetchError(f"The download from {host} broke off. Try again.") from e
        if received == 0:
            raise UrlFetchError(f"{host} sent an empty answer instead of a picture.")
    return out


def _file_name(url: str, content_type: str) -> str:
    """A safe, readable, unique-per-address file name for the download."""
    path = unquote(urlsplit(url).path)
    base = path.rsplit("/", 1)[-1]
    stem, dot, ext = base.rpartition(".")
    if not dot:
        stem, ext = base, ""
    ext = f".{ext.lower()}" if ext else ""
    if ext not in _IMAGE_EXTS:
        # The address says nothing useful (".php", none at all): trust the server's type.
        ext = _EXT_BY_TYPE.get(content_type, ".img")
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._")[:60] or "downloaded"
    digest = hashlib.sha256(url.encode("utf-8")).hexdigest()[:8]
    return f"{stem}.{digest}{ext}"
