"""The HTTP client for the Try on Clothes Refiner API: submit, poll, download, credits.

Plain Python + requests, no Qt. Every method is blocking and is meant to run on a worker
thread (the window's QThread worker, or the command line's main thread); the only thing
another thread may touch is the :class:`CancelToken` passed in.

Whole jobs are run by :func:`refiner_gui.jobs.run_job`; this is their network half.
Billing rule, enforced here: a submit is re-sent only when the service certainly did not
take it (nothing of the body was sent, HTTP 429 ``EXCEEDING_LIMITS``, HTTP 503). A submit
whose upload went out but whose answer never came raises
:class:`SubmissionOutcomeUnknown` and is never re-sent. Polls and downloads are safe to
retry and are retried with exponential backoff and jitter, honouring ``Retry-After``. Both
rules, the tries and the delays live in :class:`~refiner_gui.api.retry.RetryPolicy`.

Time limits and cancel (:mod:`refiner_gui.api.transport`): every socket wait lasts at most
0.1 s, so the cancel token stops any step within ~0.2 s. A job has one overall deadline
(``timeout`` seconds from its start, passed as ``deadline``) that every wait and request
respects (:class:`TimedOut`). Each request also fails as stalled when less than 1 KB
moved for its read timeout (a body trickling a byte a second).

Answers are streamed and capped (:mod:`refiner_gui.api.answers`); result downloads,
their link and redirect checks and their size caps live in :mod:`refiner_gui.api.download`.
The service's limits (rates, 5 running tasks) are app-wide: :mod:`refiner_gui.api.limits`.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

import requests

from refiner_gui import __version__
from refiner_gui.api import responses
from refiner_gui.api.addresses import is_loopback_url as is_loopback_url
from refiner_gui.api.answers import (
    MAX_ANSWER_BYTES,
    answer_too_large,
    check_cancel,
    interrupted,
    network_error,
    read_capped,
    timed_out,
)
from refiner_gui.api.answers import MB as MB
from refiner_gui.api.answers import is_connection_problem as is_connection_problem
from refiner_gui.api.download import (
    MAX_DOWNLOAD_BYTES,
    MAX_RESULT_PIXELS,
    ResultDownload,
    check_scheme,
)
from refiner_gui.api.errors import (
    AuthError,
    Cancelled,
    ConfigError,
    ErrorInfo,
    RefinerError,
    SubmissionOutcomeUnknown,
    TimedOut,
    register_secret,
)
from refiner_gui.api.keys import clean_api_key
from refiner_gui.api.limits import AppLimits, limits_for
from refiner_gui.api.models import (
    CancelToken,
    CreditBalance,
    RefineInputs,
    Submission,
    TaskState,
    TaskStatus,
    TryOnInputs,
)
from refiner_gui.api.retry import RetryPolicy
from refiner_gui.api.submitting import encode_inputs, failed_submit, interrupted_submit
from refiner_gui.api.transport import (
    Guard,
    GuardedAdapter,
    TransportInterrupted,
    guarded,
    request_timeouts,
)
from refiner_gui.api.upload import UploadBody, UploadCancelled, encode_multipart
from refiner_gui.config import DEFAULT_BASE_URL, DEFAULT_POLL_INTERVAL, DEFAULT_TIMEOUT, app_paths

__all__ = [
    "CREDITS_PATH",
    "KEY_HEADER",
    "MAX_ANSWER_BYTES",
    "MAX_DOWNLOAD_BYTES",
    "MAX_RESULT_PIXELS",
    "QUERY_PATH",
    "SUBMIT_PATH",
    "TRYON_PATHS",
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
TRYON_PATHS = {
    "pro": "/api/portrait/editing/try-on-clothes-pro",
    "premium": "/api/portrait/editing/try-on-clothes-premium",
}
KEY_HEADER = "ailabapi-api-key"


class RefinerClient:
    """Talks to the refiner API (or the sandbox). One instance per worker thread.

    Args:
        api_key: the AILabTools key; sent only in the request header, never logged.
        base_url: service root; ``https`` is required unless the host is loopback.
        poll_interval: seconds between polls; under 1 s only on loopback.
        adaptive_polling: let the job runner plan each task's polls from the job history
            (``poll_interval`` is then the fallback period); False polls every
            ``poll_interval`` seconds.
        timeout: overall seconds for one job (submit, wait, download) before
            :class:`TimedOut`; :func:`~refiner_gui.jobs.run_job` turns it into the job's
            deadline, :meth:`wait` alone uses it from its own start.
        retry: backoff policy; tests pass a fast one.
        session: an injected :class:`requests.Session` (tests, connection reuse).
        limits: the submit/poll rate limits and back-off hold; by default the app-wide
            ones of ``base_url``, shared with other processes (:mod:`.limits`).
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
        limits: AppLimits | None = None,
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
        if not all(
            math.isfinite(v)
            for v in (
                poll_interval,
                timeout,
                connect_timeout,
                poll_read_timeout,
                upload_read_timeout,
                download_read_timeout,
            )
        ):
            raise ConfigError(
                "The poll interval and timeouts must be finite numbers of seconds (not nan or inf)."
            )
        if poll_interval <= 0 or timeout <= 0:
            raise ConfigError("The poll interval and timeout must be positive.")
        register_secret(api_key)  # the raw form too: it may be echoed as typed
        # Refused here, at construction, so no job reaches "submitting" with a key that
        # a header cannot carry (it would fail inside the HTTP library, after the upload began).
        api_key = clean_api_key(api_key)
        register_secret(api_key)
        self._api_key = api_key
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
        self.limits = limits or limits_for(base_url, app_paths().data)
        self._session = session or requests.Session()
        self._session.verify = True  # TLS verification is never turned off
        self._session.headers["User-Agent"] = f"refiner-gui/{__version__}"
        # Every socket wait in short slices: cancel, the deadline and stalls are seen.
        adapter = GuardedAdapter()
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        # Result links may point at this machine only when the service itself is here.
        self._allow_loopback_links = loopback

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

    def _sleep(
        self,
        seconds: float,
        cancel: CancelToken | None,
        task_id: str | None,
        deadline: float | None = None,
    ) -> None:
        """Sleep ``seconds``, cancellable; a sleep past ``deadline`` ends there, TimedOut."""
        past_deadline = False
        if deadline is not None and seconds >= deadline - time.monotonic():
            seconds, past_deadline = max(0.0, deadline - time.monotonic()), True
        if cancel is None:
            time.sleep(seconds)
        elif cancel.wait(seconds):
            raise Cancelled("Cancelled.", ErrorInfo(task_id=task_id))
        if past_deadline:
            raise timed_out(task_id)

    def _hold_and_sleep(
        self,
        seconds: float,
        seen: list[RefinerError],
        cancel: CancelToken | None,
        task_id: str | None,
        deadline: float | None,
    ) -> None:
        """The retry policy's pause: after a 429 ``EXCEEDING_LIMITS`` or a 503 it holds
        every request of the app to this service for as long (:mod:`.limits`)."""
        if seen:
            self.limits.observe(seen[-1], seconds)
        self._sleep(seconds, cancel, task_id, deadline)

    def _check_before(
        self, cancel: CancelToken | None, task_id: str | None, deadline: float | None
    ) -> None:
        check_cancel(cancel, task_id)
        if deadline is not None and time.monotonic() >= deadline:
            raise timed_out(task_id)

    def _timeouts(self, deadline: float | None, read: float) -> tuple[float, float]:
        """(connect, read) timeouts for requests, clipped to the time left."""
        return request_timeouts(self.connect_timeout, read, deadline)

    @staticmethod
    @contextmanager
    def _guard(
        cancel: CancelToken | None,
        deadline: float | None,
        stall_timeout: float,
        hold_cancel: Callable[[], bool] | None = None,
    ) -> Iterator[Guard]:
        """Watch this thread's requests inside the ``with`` (see :mod:`.transport`)."""
        guard = Guard(cancel, deadline, stall_timeout, hold_cancel=hold_cancel)
        with guarded(guard):
            yield guard

    def _retrying(
        self,
        what: str,
        call: Callable[[], T],
        *,
        cancel: CancelToken | None,
        task_id: str | None = None,
        deadline: float | None = None,
    ) -> T:
        """Run ``call`` under the retry policy (safe for idempotent calls only).

        An error that does not name its task yet is raised as a copy that does
        (:meth:`RefinerError.with_context`), so every failure of a task's call names it.
        """

        seen: list[RefinerError] = []

        def once() -> T:
            seen.clear()
            try:
                return call()
            except RefinerError as err:
                if what == "poll":  # a 429/503 on a poll holds the app's requests too
                    seen.append(err)
                if task_id and not err.task_id:
                    raise err.with_context(task_id=task_id) from err
                raise

        return self.retry.call(
            what,
            once,
            wait=lambda seconds: self._hold_and_sleep(seconds, seen, cancel, task_id, deadline),
            before=lambda: self._check_before(cancel, task_id, deadline),
        )

    def _get_json(
        self,
        path: str,
        params: dict[str, str] | None,
        task_id: str | None,
        cancel: CancelToken | None = None,
        deadline: float | None = None,
    ) -> tuple[int, bytes, str | None]:
        headers = self._headers()
        try:
            # Never follow a redirect with the key: requests would resend this header to
            # any host (and over plain http); only Authorization is stripped on redirects.
            with (
                self._guard(cancel, deadline, self.poll_read_timeout),
                self._session.get(
                    self.base_url + path,
                    params=params,
                    headers=headers,
                    allow_redirects=False,
                    stream=True,
                    timeout=self._timeouts(deadline, self.poll_read_timeout),
                ) as r,
            ):
                body, more = read_capped(r, MAX_ANSWER_BYTES)
                status, retry_after = r.status_code, r.headers.get("Retry-After")
        except requests.RequestException as exc:
            raise network_error(exc, task_id) from None
        except TransportInterrupted as exc:
            raise interrupted(exc, task_id, self.poll_read_timeout) from None
        if more:
            raise answer_too_large(status, task_id)
        return status, body, retry_after

    # -- submit --------------------------------------------------------------------------

    def submit(
        self,
        inputs: RefineInputs | TryOnInputs,
        *,
        cancel: CancelToken | None = None,
        on_upload: Callable[[int, int], None] | None = None,
        deadline: float | None = None,
        tryon: str | None = None,
        on_wait: Callable[[], None] | None = None,
        slot: str | None = None,
    ) -> Submission:
        """Upload the inputs and return the new task's id. Called on a worker thread.

        ``inputs`` are a refinement's (:class:`RefineInputs`, to the refiner) or a
        try-on's (:class:`TryOnInputs`, to Try on Clothes ``tryon``: ``"pro"`` or
        ``"premium"``); the same billing rule holds for both.

        Each file is read once; when ``inputs.sha256`` names a file's hash, the bytes read
        must have it (else :class:`InputRejected`, nothing sent), so the recorded hash
        names exactly what is uploaded. ``deadline`` (a :func:`time.monotonic` time) bounds
        the upload and the wait for the answer.

        First waits (calling ``on_wait``) while 5 of the app's tasks run at the service,
        unless given the ``slot`` its caller claimed (:mod:`.task_slots`, it is this call's
        from then on); the new task holds it until a :meth:`wait` on it ends.

        Raises:
            SubmissionOutcomeUnknown: the body went out and no answer came (also when
                timed out or stalled waiting for it, or cancelled and no answer came within
                :data:`~.transport.ANSWER_GRACE`); never re-sent.
            Cancelled: cancelled before the upload completed (nothing was taken).
            TimedOut: the deadline passed before the upload completed (nothing taken).
            RefinerError: any other typed error (input rejected, key, credits, ...).
        """
        # One of the service's 5 running tasks, counted app-wide (.task_slots), held from
        # here: whatever fails below frees it (or, if a task may exist, lets it expire).
        with self.limits.submitting(
            slot or self.limits.claim_task(cancel, deadline, on_wait)
        ) as made:
            if isinstance(inputs, TryOnInputs) != (tryon is not None) or (
                tryon is not None and tryon not in TRYON_PATHS
            ):
                raise ValueError(f"try-on inputs go with tryon='pro' or 'premium' (got {tryon!r})")
            path = SUBMIT_PATH if tryon is None else TRYON_PATHS[tryon]
            body, content_type = encode_inputs(inputs)
            headers = {**self._headers(), "Content-Type": content_type}
            answered: list[int] = []  # the HTTP status of the last try's answer, if one came
            seen: list[RefinerError] = []  # the last try's error, for the app-wide hold

            def once() -> Submission:
                answered.clear()
                seen.clear()
                self.limits.before_submit(cancel)
                upload = UploadBody(body, cancel, on_upload)
                try:
                    with (
                        self._guard(
                            cancel, deadline, self.upload_read_timeout, hold_cancel=upload.sent
                        ),
                        self._session.post(
                            self.base_url + path,
                            data=upload,
                            headers=headers,
                            allow_redirects=False,
                            stream=True,
                            timeout=self._timeouts(deadline, self.upload_read_timeout),
                        ) as r,
                    ):
                        status, retry_after = r.status_code, r.headers.get("Retry-After")
                        content, more = read_capped(r, MAX_ANSWER_BYTES)
                except TransportInterrupted as exc:
                    raise interrupted_submit(exc, upload) from None
                except (UploadCancelled, requests.RequestException, OSError) as exc:
                    if cancel is not None and cancel.cancelled and upload.bytes_read < upload.len:
                        raise Cancelled(
                            "Cancelled before the upload finished; nothing was sent for processing."
                        ) from None
                    raise failed_submit(exc, upload) from None
                answered.append(status)
                if more:
                    # Cut at the cap, it cannot parse: after a full upload that is "unknown".
                    log.warning("submit answer over %d bytes; reading stopped", MAX_ANSWER_BYTES)
                try:
                    return responses.parse_submission(status, content, retry_after=retry_after)
                except RefinerError as err:
                    seen.append(err)
                    if (
                        not self.retry.may_resubmit(err, status)
                        and err.code is None
                        and (status >= 500 or 200 <= status < 300)
                    ):
                        # A gateway page, or a success we cannot read, after a full upload: the
                        # backend may have the task. Re-sending could bill twice.
                        raise SubmissionOutcomeUnknown(None, err.info) from None
                    raise

            sub = self.retry.call(
                "submit",
                once,
                wait=lambda seconds: self._hold_and_sleep(seconds, seen, cancel, None, deadline),
                before=lambda: self._check_before(cancel, None, deadline),
                attempts=self.retry.submit_attempts,
                retry_if=lambda e: self.retry.may_resubmit(e, answered[-1] if answered else None),
            )
            made(sub.task_id)
        return sub

    # -- poll ----------------------------------------------------------------------------

    def query(
        self,
        task_id: str,
        *,
        cancel: CancelToken | None = None,
        deadline: float | None = None,
    ) -> TaskStatus:
        """One poll of ``task_id``, no retries. Raises the typed error of a failed task.

        Waits for the app-wide poll limit first (:attr:`limits`)."""
        self.limits.before_poll(cancel, task_id)
        status, body, retry_after = self._get_json(
            QUERY_PATH, {"task_id": task_id}, task_id, cancel, deadline
        )
        return responses.parse_task(status, body, task_id, retry_after=retry_after)

    def wait(
        self,
        task_id: str,
        *,
        cancel: CancelToken | None = None,
        on_status: Callable[[TaskStatus], None] | None = None,
        timeout: float | None = None,
        deadline: float | None = None,
        next_interval: Callable[[float], float] | None = None,
    ) -> TaskStatus:
        """Poll until the task succeeds; return its final status. Worker thread.

        Ends by ``deadline`` (a :func:`time.monotonic` time, the job's), else ``timeout``
        seconds from now (the client's ``timeout`` by default): every poll, retry delay
        and sleep stops there.

        ``next_interval(seconds since this wait started)`` is a poll schedule: called
        once with 0.0 before the first poll (the delay before it, 0 for at once), then
        after each "still running" answer for the sleep before the next poll, never
        allowed below 1 s for a remote service. Without it: at once, then every
        ``poll_interval`` seconds.

        Raises:
            TimedOut: the time limit passed; carries the task id so the job can be resumed.
            Cancelled: the token was cancelled (within ~0.2 s, in any step).
            RefinerError: the task failed, or transient errors outlasted the retries.
        """
        with self.limits.task_running(task_id):  # its slot of the 5, freed however it ends
            started = time.monotonic()
            if deadline is None or timeout is not None:
                own = started + (self.timeout if timeout is None else timeout)
                deadline = own if deadline is None else min(deadline, own)
            end = deadline
            floor = 0.01 if is_loopback_url(self.base_url) else 1.0
            if next_interval is not None:
                first = min(next_interval(0.0), deadline - time.monotonic())
                if first > 0:
                    self._sleep(first, cancel, task_id)
            while True:
                st = self._retrying(
                    "poll",
                    lambda: self.query(task_id, cancel=cancel, deadline=end),
                    cancel=cancel,
                    task_id=task_id,
                    deadline=end,
                )
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
        deadline: float | None = None,
    ) -> Path:
        """Fetch the result image into ``dest`` atomically. Worker thread.

        The file appears at ``dest`` only once complete and decodable; a partial download
        never does. Transient failures are retried; everything ends by ``deadline``.
        Links to internal addresses are refused (loopback is allowed only when the service
        is on loopback), redirects are followed at most
        :data:`~refiner_gui.api.addresses.MAX_REDIRECTS` times, each target checked. A
        compressed (``Content-Encoding``) result is unpacked while it streams, the size cap
        applying to both the bytes received and the bytes unpacked.
        """
        check_scheme(url, task_id)
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fetch = ResultDownload(  # one try (see refiner_gui.api.download)
            session=self._session,
            allow_loopback=self._allow_loopback_links,
            connect_timeout=self.connect_timeout,
            read_timeout=self.download_read_timeout,
            max_bytes=self.max_download_bytes,
            max_pixels=self.max_result_pixels,
        )
        return self._retrying(
            "download",
            lambda: fetch.fetch(url, dest, cancel, on_progress, task_id, deadline),
            cancel=cancel,
            task_id=task_id,
            deadline=deadline,
        )

    # -- credits -------------------------------------------------------------------------

    def credits(self, *, cancel: CancelToken | None = None) -> list[CreditBalance]:
        """The account's credit balances (also the cheapest check that a key works)."""

        def once() -> list[CreditBalance]:
            status, body, _ = self._get_json(CREDITS_PATH, None, None, cancel)
            return responses.parse_credits(status, body)

        return self._retrying("credits", once, cancel=cancel)
