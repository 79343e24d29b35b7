"""The HTTP client for the Try on Clothes Refiner API: submit, poll, download, credits.

Plain Python + requests, no Qt. Every method is blocking and is meant to run on a worker
thread (the window's QThread worker, or the command line's main thread); the only thing
another thread may touch is the :class:`CancelToken` passed in.

Billing rule, enforced here: a submit is re-sent only when the service certainly did not
take it (nothing of the body was sent, HTTP 429 ``EXCEEDING_LIMITS``, HTTP 503). A submit
whose upload went out but whose answer never came raises
:class:`SubmissionOutcomeUnknown` and is never re-sent. Polls and downloads are safe to
retry and are retried with exponential backoff and jitter, honouring ``Retry-After``.

Cancel: waits, uploads and downloads check the token at least every 0.2 s. A single HTTP
exchange that the server holds open without answering ends only at its read timeout
(``poll_read_timeout``, 15 s by default), because requests offers no way to abort a
request from another thread.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import random
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from PIL import Image

from refiner_gui import __version__
from refiner_gui.api import responses
from refiner_gui.api.errors import (
    AuthError,
    Cancelled,
    ConfigError,
    DownloadError,
    ErrorInfo,
    NetworkError,
    RateLimited,
    RefinerError,
    ResultUnavailable,
    ServiceUnavailable,
    SubmissionOutcomeUnknown,
    TimedOut,
    redact,
    register_secret,
)
from refiner_gui.api.models import (
    CancelToken,
    CreditBalance,
    ProgressCallback,
    ProgressEvent,
    RefineInputs,
    RefineResult,
    Stage,
    Submission,
    SubmittedCallback,
    TaskState,
    TaskStatus,
)
from refiner_gui.config import DEFAULT_BASE_URL, DEFAULT_POLL_INTERVAL, DEFAULT_TIMEOUT

log = logging.getLogger(__name__)

SUBMIT_PATH = "/api/portrait/enhance/try-on-clothes-refiner"
QUERY_PATH = "/api/common/query-async-task-result"
CREDITS_PATH = "/api/common/query-credits"
KEY_HEADER = "ailabapi-api-key"

MB = 1024 * 1024
MAX_DOWNLOAD_BYTES = 50 * MB
MAX_RESULT_PIXELS = 8192 * 8192
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter.

    ``delay(n)`` is ``base * 2**n`` capped at ``cap``, times a random factor in
    ``[1 - jitter, 1 + jitter]``; a ``Retry-After`` from the server is a floor.
    """

    attempts: int = 6  # total tries for one poll/download/credits call
    submit_attempts: int = 4  # total tries of a submit the server certainly did not take
    base: float = 1.0
    cap: float = 30.0
    jitter: float = 0.25
    retry_after_cap: float = 120.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        d = min(self.cap, self.base * (2**attempt))
        d *= 1 + random.uniform(-self.jitter, self.jitter)
        if retry_after is not None:
            d = max(d, min(retry_after, self.retry_after_cap))
        return max(0.0, d)


def is_loopback_url(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _mime(data: bytes) -> str:
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if data[:2] == b"BM":
        return "image/bmp"
    return "application/octet-stream"


_EXT_BY_MIME = {"image/jpeg": ".jpg", "image/png": ".png", "image/bmp": ".bmp"}


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


class _UploadBody:
    """A multipart body that reports progress and stops on cancel while it is being sent.

    ``bytes_read`` tells the caller how much of the body left our hands, which decides
    whether a failed submit is safe to re-send.
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
        return self._pos

    def __len__(self) -> int:
        return self.len

    def read(self, size: int = -1) -> bytes:
        if self._cancel is not None and self._cancel.cancelled:
            raise _UploadCancelled
        if size is None or size < 0:
            size = self.len - self._pos
        size = min(size, _CHUNK)
        chunk = self._body[self._pos : self._pos + size]
        self._pos += len(chunk)
        if self._on_progress is not None and chunk:
            self._on_progress(self._pos, self.len)
        return chunk


class _UploadCancelled(Exception):
    pass


class RefinerClient:
    """Talks to the refiner API (or the sandbox). One instance per worker thread.

    Args:
        api_key: the AILabTools key; sent only in the request header, never logged.
        base_url: service root; ``https`` is required unless the host is loopback.
        poll_interval: seconds between polls; under 1 s only on loopback.
        timeout: overall seconds to wait for one task before :class:`TimedOut`.
        retry: backoff policy; tests pass a fast one.
        session: an injected :class:`requests.Session` (tests, connection reuse).
    """

    def __init__(
        self,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        *,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        timeout: float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        connect_timeout: float = 10.0,
        poll_read_timeout: float = 15.0,
        upload_read_timeout: float = 120.0,
        download_read_timeout: float = 30.0,
        max_download_bytes: int = MAX_DOWNLOAD_BYTES,
        max_result_pixels: int = MAX_RESULT_PIXELS,
        session: requests.Session | None = None,
    ) -> None:
        base_url = (base_url or DEFAULT_BASE_URL).strip().rstrip("/")
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"The base URL must start with https:// (got {base_url!r}).")
        loopback = is_loopback_url(base_url)
        if parts.scheme != "https" and not loopback:
            raise ConfigError(
                "The base URL must use https:// (plain http is allowed only for a local "
                "sandbox on 127.0.0.1 or localhost): the API key would travel unencrypted."
            )
        if poll_interval < 1.0 and not loopback:
            raise ConfigError(
                "The poll interval must be at least 1 second for the real service"
                " (the vendor recommends 5 s)."
            )
        if poll_interval <= 0 or timeout <= 0:
            raise ConfigError("The poll interval and timeout must be positive.")
        register_secret(api_key)
        self._api_key = api_key or ""
        self.base_url = base_url
        self.poll_interval = float(poll_interval)
        self.timeout = float(timeout)
        self.retry = retry or RetryPolicy()
        self.connect_timeout = connect_timeout
        self.poll_read_timeout = poll_read_timeout
        self.upload_read_timeout = upload_read_timeout
        self.download_read_timeout = download_read_timeout
        self.max_download_bytes = max_download_bytes
        self.max_result_pixels = max_result_pixels
        self._session = session or requests.Session()
        self._session.verify = True  # TLS verification is never turned off
        self._session.headers["User-Agent"] = f"refiner-gui/{__version__}"

    def __repr__(self) -> str:  # never show the key
        return f"RefinerClient(base_url={self.base_url!r})"

    def close(self) -> None:
        self._session.close()

    # -- plumbing ------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        if not self._api_key:
            raise AuthError(
                "No API key is set. Add your AILabTools key in Settings "
                "(or set AILABAPI_API_KEY), or use demo mode."
            )
        return {KEY_HEADER: self._api_key}

    def _sleep(self, seconds: float, cancel: CancelToken | None, task_id: str | None) -> None:
        if cancel is None:
            time.sleep(seconds)
            return
        if cancel.wait(seconds):
            raise Cancelled("Cancelled.", ErrorInfo(task_id=task_id))

    @staticmethod
    def _check_cancel(cancel: CancelToken | None, task_id: str | None) -> None:
        if cancel is not None and cancel.cancelled:
            raise Cancelled("Cancelled.", ErrorInfo(task_id=task_id))

    def _retrying(
        self,
        what: str,
        call: Callable[[], Any],
        *,
        cancel: CancelToken | None,
        task_id: str | None = None,
    ) -> Any:
        """Run ``call`` and retry transient errors (safe for idempotent calls only)."""
        attempt = 0
        while True:
            self._check_cancel(cancel, task_id)
            try:
                return call()
            except RefinerError as err:
                if task_id and not err.task_id:
                    err.task_id = task_id
                attempt += 1
                if not err.retryable or attempt >= self.retry.attempts:
                    raise
                retry_after = err.info.retry_after
                delay = self.retry.delay(attempt - 1, retry_after)
                log.info(
                    "%s failed (%s %s); retry %d in %.1fs",
                    what,
                    type(err).__name__,
                    err.code or err.http_status or "",
                    attempt,
                    delay,
                )
                self._sleep(delay, cancel, task_id)

    def _network_error(self, exc: Exception, task_id: str | None = None) -> RefinerError:
        kind = "timed out" if isinstance(exc, requests.Timeout) else "failed"
        return NetworkError(
            f"The connection to the service {kind}. Check the internet connection; "
            "the app retries automatically.",
            ErrorInfo(task_id=task_id, vendor_message=redact(type(exc).__name__)),
        )

    def _get_json(
        self, path: str, params: dict[str, str] | None, task_id: str | None
    ) -> tuple[int, bytes, str | None]:
        try:
            # Never follow a redirect with the key: requests would resend this header to
            # any host (and over plain http); only Authorization is stripped on redirects.
            r = self._session.get(
                self.base_url + path,
                params=params,
                headers=self._headers(),
                allow_redirects=False,
                timeout=(self.connect_timeout, self.poll_read_timeout),
            )
            body = r.content[: 4 * MB]
        except requests.RequestException as exc:
            raise self._network_error(exc, task_id) from None
        return r.status_code, body, r.headers.get("Retry-After")

    # -- submit --------------------------------------------------------------------------

    def submit(
        self,
        inputs: RefineInputs,
        *,
        cancel: CancelToken | None = None,
        on_upload: Callable[[int, int], None] | None = None,
    ) -> Submission:
        """Upload the inputs and return the new task's id. Called on a worker thread.

        Raises:
            SubmissionOutcomeUnknown: the body went out and no answer came; never re-sent.
            Cancelled: cancelled before the upload completed (nothing was taken).
            RefinerError: any other typed error (input rejected, key, credits, ...).
        """
        fields: list[tuple[str, Any]] = [("task_type", "async"), ("gender", inputs.gender)]
        for name, path in inputs.files().items():
            data = Path(path).read_bytes()
            mime = _mime(data)
            # The service may judge by the file name: name it after the real content.
            filename = Path(path).stem + _EXT_BY_MIME.get(mime, Path(path).suffix)
            fields.append((name, (filename, data, mime)))
        body, content_type = encode_multipart(fields)
        headers = {**self._headers(), "Content-Type": content_type}
        attempt = 0
        while True:
            self._check_cancel(cancel, None)
            upload = _UploadBody(body, cancel, on_upload)
            try:
                r = self._session.post(
                    self.base_url + SUBMIT_PATH,
                    data=upload,
                    headers=headers,
                    allow_redirects=False,
                    timeout=(self.connect_timeout, self.upload_read_timeout),
                )
                status, content = r.status_code, r.content[: 4 * MB]
                retry_after = r.headers.get("Retry-After")
            except (_UploadCancelled, requests.RequestException, OSError) as exc:
                if cancel is not None and cancel.cancelled and upload.bytes_read < upload.len:
                    raise Cancelled(
                        "Cancelled before the upload finished; nothing was sent for processing."
                    ) from None
                err = self._submit_transport_error(exc, upload)
                attempt += 1
                if not err.retryable or attempt >= self.retry.submit_attempts:
                    raise err from None
                self._sleep(self.retry.delay(attempt - 1), cancel, None)
                continue
            try:
                return responses.parse_submission(status, content, retry_after=retry_after)
            except RefinerError as err:
                safe = (isinstance(err, RateLimited) and err.code == "EXCEEDING_LIMITS") or (
                    status == 503
                )
                if not safe and err.code is None and (status >= 500 or 200 <= status < 300):
                    # A gateway page, or a success we cannot read, after a full upload: the
                    # backend may have the task. Re-sending could bill twice.
                    raise SubmissionOutcomeUnknown(None, err.info) from None
                attempt += 1
                if not safe or attempt >= self.retry.submit_attempts:
                    raise
                self._sleep(self.retry.delay(attempt - 1, err.info.retry_after), cancel, None)

    def _submit_transport_error(self, exc: BaseException, upload: _UploadBody) -> RefinerError:
        """Decide whether a failed submit might have reached the server."""
        if upload.bytes_read == 0 or isinstance(exc, requests.ConnectTimeout):
            # Nothing of the body left us: the service cannot have created a task.
            err = self._network_error(exc if isinstance(exc, Exception) else Exception())
            err.retryable = True
            return err
        if upload.bytes_read < upload.len:
            err = NetworkError(
                "The connection broke during the upload, before the images were fully sent. "
                "The service cannot have started the job and nothing was billed: try again."
            )
            err.retryable = False
            return err
        return SubmissionOutcomeUnknown()

    # -- poll ----------------------------------------------------------------------------

    def query(self, task_id: str) -> TaskStatus:
        """One poll of ``task_id``, no retries. Raises the typed error of a failed task."""
        status, body, retry_after = self._get_json(QUERY_PATH, {"task_id": task_id}, task_id)
        return responses.parse_task(status, body, task_id, retry_after=retry_after)

    def wait(
        self,
        task_id: str,
        *,
        cancel: CancelToken | None = None,
        on_status: Callable[[TaskStatus], None] | None = None,
        timeout: float | None = None,
    ) -> TaskStatus:
        """Poll until the task succeeds; return its final status. Worker thread.

        Raises:
            TimedOut: ``timeout`` passed; carries the task id so the job can be resumed.
            Cancelled: the token was cancelled (within one wake-up of the wait).
            RefinerError: the task failed, or transient errors outlasted the retries.
        """
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            st = self._retrying("poll", lambda: self.query(task_id), cancel=cancel, task_id=task_id)
            if on_status is not None:
                on_status(st)
            if st.state is TaskState.SUCCEEDED:
                return st
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimedOut(
                    f"Task {task_id} was still {st.state.name.lower()} after the time limit. "
                    "It may still finish: resume it later with this task id "
                    "(results are kept for 24 hours).",
                    ErrorInfo(task_id=task_id),
                )
            self._sleep(min(self.poll_interval, remaining), cancel, task_id)

    # -- download ------------------------------------------------------------------------

    def download(
        self,
        url: str,
        dest: Path,
        *,
        cancel: CancelToken | None = None,
        on_progress: Callable[[int, int | None], None] | None = None,
        task_id: str | None = None,
    ) -> Path:
        """Fetch the result image into ``dest`` atomically. Worker thread.

        The file appears at ``dest`` only once complete and decodable; a partial download
        never does. Transient failures are retried.
        """
        scheme = urlsplit(url).scheme.lower()
        if scheme not in ("http", "https"):
            raise DownloadError(
                f"Refusing to download the result from a {scheme or 'bare'} "
                "link: only http and https are allowed.",
                ErrorInfo(task_id=task_id),
            )
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        return self._retrying(
            "download",
            lambda: self._download_once(url, dest, cancel, on_progress, task_id),
            cancel=cancel,
            task_id=task_id,
        )

    def _download_once(
        self,
        url: str,
        dest: Path,
        cancel: CancelToken | None,
        on_progress: Callable[[int, int | None], None] | None,
        task_id: str | None,
    ) -> Path:
        with self._temp_beside(dest) as tmp:
            try:
                # The result host is a storage bucket: it gets no API key.
                with self._session.get(
                    url,
                    stream=True,
                    allow_redirects=True,
                    timeout=(self.connect_timeout, self.download_read_timeout),
                ) as r:
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
                    if total is not None and total > self.max_download_bytes:
                        raise self._too_large(task_id)
                    done = 0
                    with open(tmp, "wb") as fh:
                        for chunk in r.iter_content(_CHUNK):
                            self._check_cancel(cancel, task_id)
                            done += len(chunk)
                            if done > self.max_download_bytes:
                                raise self._too_large(task_id)
                            fh.write(chunk)
                            if on_progress is not None:
                                on_progress(done, total)
                        fh.flush()
                        os.fsync(fh.fileno())
                    if total is not None and done != total:
                        raise NetworkError(
                            "The download was cut short. Retrying.", ErrorInfo(task_id=task_id)
                        )
            except requests.RequestException as exc:
                raise self._network_error(exc, task_id) from None
            self._verify_image(tmp, task_id)
            os.replace(tmp, dest)
        return dest

    def _too_large(self, task_id: str | None) -> DownloadError:
        return DownloadError(
            f"The result is larger than {self.max_download_bytes // MB} MB; download stopped. "
            "The refinement itself succeeded (and was billed); its link works for 24 hours.",
            ErrorInfo(task_id=task_id),
        )

    def _verify_image(self, path: Path, task_id: str | None) -> None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(path) as im:
                    w, h = im.size
                    if w * h > self.max_result_pixels:
                        raise DownloadError(
                            f"The result is {w}x{h} pixels, over the limit.",
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
            err = DownloadError(
                "The downloaded result is not a valid image.",
                ErrorInfo(task_id=task_id, vendor_message=str(exc)[:200]),
            )
            err.retryable = True  # a stalled host can send a truncated body with a 200
            raise err from None

    @staticmethod
    @contextmanager
    def _temp_beside(dest: Path) -> Iterator[Path]:
        fd, name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
        os.close(fd)
        tmp = Path(name)
        try:
            yield tmp
        finally:
            tmp.unlink(missing_ok=True)

    # -- credits -------------------------------------------------------------------------

    def credits(self, *, cancel: CancelToken | None = None) -> list[CreditBalance]:
        """The account's credit balances (also the cheapest check that a key works)."""

        def once() -> list[CreditBalance]:
            status, body, _ = self._get_json(CREDITS_PATH, None, None)
            return responses.parse_credits(status, body)

        return self._retrying("credits", once, cancel=cancel)

    # -- whole jobs ----------------------------------------------------------------------

    def refine(
        self,
        inputs: RefineInputs,
        dest: Path,
        *,
        cancel: CancelToken | None = None,
        on_event: ProgressCallback | None = None,
        on_submitted: SubmittedCallback | None = None,
    ) -> RefineResult:
        """Submit, wait and download in one call. Worker thread.

        ``on_submitted`` runs right after the task id is known and before the first poll,
        so a caller can store the id durably; if it raises, the job stops there and the
        task id is carried by the error.
        """
        start = time.monotonic()
        emit = _Emitter(on_event, start)
        total = [0]

        def upload_progress(done: int, size: int) -> None:
            total[0] = size
            emit(Stage.UPLOADING, bytes_done=done, bytes_total=size)

        emit(Stage.UPLOADING, bytes_done=0)
        sub = self.submit(inputs, cancel=cancel, on_upload=upload_progress)
        log.info("submitted task %s (request_id=%s)", sub.task_id, sub.request_id)
        emit(Stage.QUEUED, task_id=sub.task_id)
        if on_submitted is not None:
            on_submitted(sub)
        result = self.resume(sub.task_id, dest, cancel=cancel, on_event=on_event, _start=start)
        return replace(result, submitted_request_id=sub.request_id, submitted_log_id=sub.log_id)

    def resume(
        self,
        task_id: str,
        dest: Path,
        *,
        cancel: CancelToken | None = None,
        on_event: ProgressCallback | None = None,
        _start: float | None = None,
    ) -> RefineResult:
        """Wait for an already submitted task and download its result. Worker thread."""
        start = time.monotonic() if _start is None else _start
        emit = _Emitter(on_event, start)

        def on_status(st: TaskStatus) -> None:
            stage = {
                TaskState.QUEUED: Stage.QUEUED,
                TaskState.PROCESSING: Stage.PROCESSING,
                TaskState.SUCCEEDED: Stage.DOWNLOADING,
            }[st.state]
            emit(stage, task_id=task_id)

        final = self.wait(task_id, cancel=cancel, on_status=on_status)
        assert final.image_url is not None
        self.download(
            final.image_url,
            dest,
            cancel=cancel,
            task_id=task_id,
            on_progress=lambda d, t: emit(
                Stage.DOWNLOADING, task_id=task_id, bytes_done=d, bytes_total=t
            ),
        )
        elapsed = time.monotonic() - start
        emit(Stage.DONE, task_id=task_id)
        return RefineResult(
            task_id=task_id,
            output=Path(dest),
            image_url=final.image_url,
            request_id=final.request_id,
            log_id=final.log_id,
            elapsed=elapsed,
        )


class _Emitter:
    """Builds :class:`ProgressEvent` objects with elapsed time; throttles byte updates."""

    def __init__(self, callback: ProgressCallback | None, start: float) -> None:
        self._cb = callback
        self._start = start
        self._last_bytes = 0.0

    def __call__(self, stage: Stage, **kw: Any) -> None:
        if self._cb is None:
            return
        now = time.monotonic()
        if kw.get("bytes_done") and kw.get("bytes_done") != kw.get("bytes_total"):
            if now - self._last_bytes < 0.05:  # at most 20 byte updates a second
                return
            self._last_bytes = now
        self._cb(ProgressEvent(stage=stage, elapsed=now - self._start, **kw))
