"""The HTTP client for the Try on Clothes Refiner API: submit, poll, download, credits.

Plain Python + requests, no Qt. Every method is blocking and is meant to run on a worker
thread (the window's QThread worker, or the command line's main thread); the only thing
another thread may touch is the :class:`CancelToken` passed in.

Whole jobs (submit, wait, download, each step committed to the job store first) are run
by :func:`refiner_gui.jobs.run_job`; this module is the network half of it.

Billing rule, enforced here: a submit is re-sent only when the service certainly did not
take it (nothing of the body was sent, HTTP 429 ``EXCEEDING_LIMITS``, HTTP 503). A submit
whose upload went out but whose answer never came raises
:class:`SubmissionOutcomeUnknown` and is never re-sent. Polls and downloads are safe to
retry and are retried with exponential backoff and jitter, honouring ``Retry-After``. Both
rules, the tries and the delays live in :class:`~refiner_gui.api.retry.RetryPolicy`.

Cancel: waits, uploads and downloads check the token at least every 0.2 s. A single HTTP
exchange that the server holds open without answering ends only at its read timeout
(``poll_read_timeout``, 15 s by default), because requests offers no way to abort a
request from another thread.
"""

from __future__ import annotations

import ipaddress
import logging
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
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
    RefineInputs,
    Submission,
    TaskState,
    TaskStatus,
)
from refiner_gui.api.retry import RetryPolicy
from refiner_gui.api.upload import (
    CHUNK,
    UploadBody,
    UploadCancelled,
    encode_multipart,
    sniff_mime,
    upload_name,
)
from refiner_gui.atomic import atomic_path
from refiner_gui.config import DEFAULT_BASE_URL, DEFAULT_POLL_INTERVAL, DEFAULT_TIMEOUT

__all__ = [
    "CREDITS_PATH",
    "KEY_HEADER",
    "MAX_DOWNLOAD_BYTES",
    "MAX_RESULT_PIXELS",
    "QUERY_PATH",
    "SUBMIT_PATH",
    "ConfigError",
    "RefinerClient",
    "RetryPolicy",
    "encode_multipart",
    "is_loopback_url",
]

T = TypeVar("T")

log = logging.getLogger(__name__)

SUBMIT_PATH = "/api/portrait/enhance/try-on-clothes-refiner"
QUERY_PATH = "/api/common/query-async-task-result"
CREDITS_PATH = "/api/common/query-credits"
KEY_HEADER = "ailabapi-api-key"

MB = 1024 * 1024
MAX_DOWNLOAD_BYTES = 50 * MB
MAX_RESULT_PIXELS = 8192 * 8192


def is_loopback_url(url: str) -> bool:
    """Whether ``url``'s host is this machine (``localhost`` or a loopback address)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class RefinerClient:
    """Talks to the refiner API (or the sandbox). One instance per worker thread.

    Args:
        api_key: the AILabTools key; sent only in the request header, never logged.
        base_url: service root; ``https`` is required unless the host is loopback.
        poll_interval: seconds between polls; under 1 s only on loopback.
        adaptive_polling: let the job runner plan each task's polls from the job history
            (``poll_interval`` is then the fallback period); False polls every
            ``poll_interval`` seconds.
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
        adaptive_polling: bool = False,
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
        self.adaptive_polling = adaptive_polling
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
        """Close the HTTP session and its connections. Call once no thread uses the client."""
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
        call: Callable[[], T],
        *,
        cancel: CancelToken | None,
        task_id: str | None = None,
    ) -> T:
        """Run ``call`` under the retry policy (safe for idempotent calls only).

        An error that does not name its task yet is raised as a copy that does
        (:meth:`RefinerError.with_context`), so every failure of a task's call names it.
        """

        def once() -> T:
            try:
                return call()
            except RefinerError as err:
                if task_id and not err.task_id:
                    raise err.with_context(task_id=task_id) from err
                raise

        return self.retry.call(
            what,
            once,
            wait=lambda seconds: self._sleep(seconds, cancel, task_id),
            before=lambda: self._check_cancel(cancel, task_id),
        )

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
            mime = sniff_mime(data)
            fields.append((name, (upload_name(path, mime), data, mime)))
        body, content_type = encode_multipart(fields)
        headers = {**self._headers(), "Content-Type": content_type}
        answered: list[int] = []  # the HTTP status of the last try's answer, if one came

        def once() -> Submission:
            answered.clear()
            upload = UploadBody(body, cancel, on_upload)
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
            except (UploadCancelled, requests.RequestException, OSError) as exc:
                if cancel is not None and cancel.cancelled and upload.bytes_read < upload.len:
                    raise Cancelled(
                        "Cancelled before the upload finished; nothing was sent for processing."
                    ) from None
                raise self._submit_transport_error(exc, upload) from None
            answered.append(status)
            try:
                return responses.parse_submission(status, content, retry_after=retry_after)
            except RefinerError as err:
                if (
                    not self.retry.may_resubmit(err, status)
                    and err.code is None
                    and (status >= 500 or 200 <= status < 300)
                ):
                    # A gateway page, or a success we cannot read, after a full upload: the
                    # backend may have the task. Re-sending could bill twice.
                    raise SubmissionOutcomeUnknown(None, err.info) from None
                raise

        return self.retry.call(
            "submit",
            once,
            wait=lambda seconds: self._sleep(seconds, cancel, None),
            before=lambda: self._check_cancel(cancel, None),
            attempts=self.retry.submit_attempts,
            retry_if=lambda err: self.retry.may_resubmit(err, answered[-1] if answered else None),
        )

    def _submit_transport_error(self, exc: BaseException, upload: UploadBody) -> RefinerError:
        """Decide whether a failed submit might have reached the server."""
        if upload.bytes_read == 0 or isinstance(exc, requests.ConnectTimeout):
            # Nothing of the body left us: the service cannot have created a task.
            return self._network_error(exc if isinstance(exc, Exception) else Exception())
        if upload.bytes_read < upload.len:
            return NetworkError(
                "The connection broke during the upload, before the images were fully sent. "
                "The service cannot have started the job and nothing was billed: try again.",
                retryable=False,
            )
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
        next_interval: Callable[[float], float] | None = None,
    ) -> TaskStatus:
        """Poll until the task succeeds; return its final status. Worker thread.

        ``next_interval(seconds since this wait started)`` is a poll schedule: called
        once with 0.0 before the first poll (the delay before it, 0 for at once), then
        after each "still running" answer for the sleep before the next poll, never
        allowed below 1 s for a remote service. Without it: at once, then every
        ``poll_interval`` seconds.

        Raises:
            TimedOut: ``timeout`` passed; carries the task id so the job can be resumed.
            Cancelled: the token was cancelled (within one wake-up of the wait).
            RefinerError: the task failed, or transient errors outlasted the retries.
        """
        started = time.monotonic()
        deadline = started + (self.timeout if timeout is None else timeout)
        floor = 0.01 if is_loopback_url(self.base_url) else 1.0
        if next_interval is not None:
            first = min(next_interval(0.0), deadline - time.monotonic())
            if first > 0:
                self._sleep(first, cancel, task_id)
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
            gap = self.poll_interval
            if next_interval is not None:
                gap = max(next_interval(time.monotonic() - started), floor)
            self._sleep(min(gap, remaining), cancel, task_id)

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
        with atomic_path(dest) as tmp:
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
                        for chunk in r.iter_content(CHUNK):
                            self._check_cancel(cancel, task_id)
                            done += len(chunk)
                            if done > self.max_download_bytes:
                                raise self._too_large(task_id)
                            fh.write(chunk)
                            if on_progress is not None:
                                on_progress(done, total)
                    if total is not None and done != total:
                        raise NetworkError(
                            "The download was cut short. Retrying.", ErrorInfo(task_id=task_id)
                        )
            except requests.RequestException as exc:
                raise self._network_error(exc, task_id) from None
            self._verify_image(tmp, task_id)  # a file that is not a good image never lands
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
            raise DownloadError(
                "The downloaded result is not a valid image.",
                ErrorInfo(task_id=task_id, vendor_message=str(exc)[:200]),
                retryable=True,  # a stalled host can send a truncated body with a 200
            ) from None

    # -- credits -------------------------------------------------------------------------

    def credits(self, *, cancel: CancelToken | None = None) -> list[CreditBalance]:
        """The account's credit balances (also the cheapest check that a key works)."""

        def once() -> list[CreditBalance]:
            status, body, _ = self._get_json(CREDITS_PATH, None, None)
            return responses.parse_credits(status, body)

        return self._retrying("credits", once, cancel=cancel)
