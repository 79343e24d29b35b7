"""The sandbox's HTTP transport: a real server on 127.0.0.1 in front of :class:`SandboxApp`.

Threads:

- the *serve thread* (non-daemon, ``sandbox-serve``) runs the accept loop; ``stop()`` joins it;
- one *request thread* per connection (daemon, ``sandbox-request-N``) reads requests, asks the
  app for the answer, and applies delivery faults (slow / hang / drop). ``stop()`` wakes the
  ones waiting on a fault through an Event, shuts down every open socket (which ends
  keep-alive reads at once) and joins them all, so nothing of the sandbox outlives it;
- the *owner's* thread (a test, demo mode) calls everything on :class:`SandboxServer`.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .app import Request as AppRequest
from .app import SandboxApp
from .bodies import ApiError, Response, error_response
from .counters import Counters
from .faults import Fault

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024 * 1024  # well above 4 files of 5 MB: larger bodies are refused
IDLE_TIMEOUT = 30.0  # seconds a keep-alive connection may sit idle before it is closed
JOIN_TIMEOUT = 5.0  # stop() gives up on (and logs) a thread that takes longer than this


class _Server(ThreadingHTTPServer):
    """Tracks its request threads and open connections so they can be ended on stop."""

    daemon_threads = True  # a safety net only: stop() joins them anyway

    def __init__(self, address: tuple[str, int], app: SandboxApp) -> None:
        self.app = app
        self.stopping = threading.Event()  # set once by begin_stop(); faults wait on it
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._request_threads: set[threading.Thread] = set()
        self._count = 0
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        # Serve thread. Same as ThreadingMixIn's, but keeps the thread to join it later.
        with self._lock:
            self._count += 1
            thread = threading.Thread(
                target=self._run,
                args=(request, client_address),
                name=f"sandbox-request-{self._count}",
                daemon=True,
            )
            self._request_threads.add(thread)
        thread.start()

    def _run(self, request: Any, client_address: Any) -> None:
        try:
            self.process_request_thread(request, client_address)
        finally:
            with self._lock:
                self._request_threads.discard(threading.current_thread())

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up mid-answer is routine here (tests do it on purpose).
        logger.debug("request from %s ended with an error", client_address, exc_info=True)

    def track(self, conn: socket.socket) -> None:
        with self._lock:
            self._connections.add(conn)
            stopping = self.stopping.is_set()
        if stopping:  # accepted while stopping: begin_stop() did not see it
            _shutdown(conn)

    def untrack(self, conn: socket.socket) -> None:
        with self._lock:
            self._connections.discard(conn)

    def begin_stop(self) -> None:
        """Wake fault waits and end every open connection. Owner's thread."""
        with self._lock:  # same lock as track(): a connection is either listed or sees the flag
            self.stopping.set()
            connections = list(self._connections)
        for conn in connections:
            _shutdown(conn)

    def join_requests(self, timeout: float) -> None:
        with self._lock:
            threads = list(self._request_threads)
        for thread in threads:
            thread.join(timeout)
            if thread.is_alive():
                logger.warning("sandbox thread %s did not end", thread.name)


def _shutdown(conn: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed by the peer or by us
        conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    """One connection (request thread). HTTP/1.1 with keep-alive, like the real service."""

    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "refiner-gui-sandbox"
    timeout = IDLE_TIMEOUT
    # Headers and body go out in separate writes: with Nagle's algorithm on, a keep-alive
    # client's delayed ACK holds every answer ~40 ms (time-scaled benchmarks need ~1 ms).
    disable_nagle_algorithm = True

    def version_string(self) -> str:
        return self.server_version

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.untrack(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        # Request lines and errors only: headers (and so the API key) are never logged.
        logger.debug("%s - " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        app = self.server.app
        url = urlsplit(self.path)
        app.record(self.command, url.path)
        if self.headers.get("Transfer-Encoding"):
            self._send(_refusal("ERROR_PARAMETERS", "body: chunked bodies are not supported"))
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self._send(_refusal("ERROR_PARAMETERS", "body: bad Content-Length"))
            return
        if length > MAX_BODY_BYTES:
            self._send(_refusal("ERROR_REQUEST_BODY_TOO_LARGE", f"body: {length} bytes"))
            return
        body = self.rfile.read(length) if length else b""
        if len(body) < length:  # the client went away mid-upload
            self.close_connection = True
            return
        query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        response = app.handle(AppRequest(self.command, url.path, query, self.headers, body))
        self._deliver(response, app.endpoint_of(self.command, url.path))

    def _deliver(self, response: Response, endpoint: str | None) -> None:
        """Send ``response``, first applying its delivery fault if any."""
        fault: Fault | None = response.delivery
        stopping = self.server.stopping
        if fault is None:
            self._send(response)
        elif fault.kind == "hang":
            stopping.wait()  # until stop(): the request was read, the answer never comes
            self._abort()
        elif fault.kind == "slow":
            if stopping.wait(fault.delay):
                self._abort()
            else:
                self._send(response)
        elif fault.kind == "drop_connection":
            if endpoint == "download":
                self._send(response, truncate=True)
            self._abort()
        else:  # not a delivery kind: the app never attaches one
            self._send(response)

    def _send(self, response: Response, *, truncate: bool = False) -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if response.close:
            self.send_header("Connection", "close")  # also sets self.close_connection
        self.end_headers()
        # Truncated: the full length was announced, half is sent, then the socket is closed.
        self.wfile.write(response.body[: len(response.body) // 2] if truncate else response.body)

    def _abort(self) -> None:
        """Close the connection without (the rest of) an answer."""
        self.close_connection = True
        _shutdown(self.connection)


def _refusal(code: str, message: str) -> Response:
    """An error answered before the body was read: the connection must then be closed."""
    response = error_response(ApiError(code, message))
    response.close = True
    return response


class SandboxServer:
    """A local fake of the AILabTools refiner API. Not a model: results are stamped SANDBOX.

    Serves the submit, poll, credits endpoints, the Try on Clothes Pro and Premium submits
    (same checks, billing and faults; fault endpoint ``"tryon"``; their tasks take 2x and
    4x ``latency``, cost 30 and 50 credits) and a fake storage host for results
    (``/sandbox/results/<token>.png``).

    Every method is meant for the owner's thread (a test or demo mode); the inspection
    properties and :meth:`inject` are also safe from any other thread.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        latency: float = 0.0,
        credits: int = 1000,
        api_keys: set[str] | None = None,
        task_ttl: float = 86400.0,
        result_ttl: float = 86400.0,
        shape: str = "old",
    ) -> None:
        """
        Args:
            latency: seconds from submit to a finished task (queued for the first third).
            credits: starting balance; 25 is charged when a task succeeds.
            api_keys: accepted keys; None accepts any non-empty key.
            task_ttl / result_ttl: seconds a task id / a result URL stays valid.
            shape: where a finished poll puts the result URL: ``"old"`` (``output.image_url``),
                ``"data_image_url"`` (``data.image_url`` plus ``data.task_status``) or
                ``"data_image"`` (``data.image``).
        """
        self._address = (host, port)
        self._app = SandboxApp(
            latency=latency,
            credits=credits,
            api_keys=api_keys,
            task_ttl=task_ttl,
            result_ttl=result_ttl,
            shape=shape,
        )
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None
        self._base_url = ""

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> str:
        """Bind, start serving on a non-daemon thread, and return the base URL."""
        if self._httpd is not None:
            raise RuntimeError("the sandbox is already started")
        httpd = _Server(self._address, self._app)
        self._base_url = f"http://{self._address[0]}:{httpd.server_port}"
        self._app.base_url = self._base_url
        # A short poll interval makes shutdown() (which waits for the loop to notice) prompt.
        thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="sandbox-serve",
            daemon=False,
        )
        self._httpd, self._thread = httpd, thread
        thread.start()
        logger.info("sandbox serving at %s", self._base_url)
        return self._base_url

    def stop(self) -> None:
        """Stop promptly, even with hanging requests in flight; join every sandbox thread.

        Idempotent; a no-op if never started.
        """
        httpd, thread = self._httpd, self._thread
        if httpd is None or thread is None:
            return
        httpd.begin_stop()  # wake fault waits, end open connections
        httpd.shutdown()  # end the accept loop
        thread.join(JOIN_TIMEOUT)
        httpd.join_requests(JOIN_TIMEOUT)
        httpd.server_close()
        self._httpd = self._thread = None
        logger.info("sandbox at %s stopped", self._base_url)

    def __enter__(self) -> SandboxServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``; empty before :meth:`start`."""
        return self._base_url

    # --- control and inspection (any thread) ----------------------------------------------

    def inject(self, fault: Fault) -> None:
        """Queue ``fault``; it applies to the next matching request(s)."""
        self._app.faults.add(fault)

    @property
    def pending_faults(self) -> list[Fault]:
        """Queued faults not used up yet."""
        return self._app.faults.pending()

    @property
    def latency(self) -> float:
        """Seconds a task takes to succeed; a change applies to tasks submitted from now on."""
        return self._app.latency

    @latency.setter
    def latency(self, value: float) -> None:
        self._app.latency = value

    @property
    def submissions(self) -> int:
        """Submit requests that created a task."""
        return self._app.submissions

    @property
    def submissions_by_kind(self) -> dict[str, int]:
        """Submits that created a task, by endpoint: ``refiner``, ``pro``, ``premium``."""
        return self._app.submissions_by_kind

    @property
    def requests(self) -> list[tuple[str, str]]:
        """(method, path) of every request received, path without its query string."""
        return self._app.requests

    @property
    def tasks(self) -> dict[str, dict[str, Any]]:
        """Snapshot: task id -> {status, gender, size, has_bottom, fault, kind, resolution,
        restore_face, charged, expired, result_url}."""
        return self._app.tasks()

    @property
    def credits(self) -> int:
        """Current balance (tasks that succeeded by now are charged)."""
        return self._app.credits

    @property
    def counters(self) -> Counters:
        """The service-side counts: request rates per endpoint, peak running tasks."""
        return self._app.counters

    @property
    def running(self) -> int:
        """Tasks submitted and not finished now."""
        return self._app.running()

    @property
    def running_limit(self) -> int | None:
        """Tasks allowed to run at once (None: no limit); a submit beyond gets 429."""
        return self._app.running_limit

    @running_limit.setter
    def running_limit(self, value: int | None) -> None:
        self._app.running_limit = value

    def add_credits(self, amount: int) -> None:
        """Top the balance up by ``amount`` credits."""
        self._app.add_credits(amount)

    def expire_task(self, task_id: str) -> None:
        """Polls of ``task_id`` answer 410 ERROR_RESOURCE_RECLAIMED from now on."""
        self._app.expire_task(task_id)

    def expire_results(self) -> None:
        """Every result URL issued so far answers 403 AccessDenied from now on."""
        self._app.expire_results()
