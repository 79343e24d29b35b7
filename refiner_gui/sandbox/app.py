"""The sandbox's state and routing, without sockets: ``SandboxApp.handle(Request) -> Response``.

Handler threads call :meth:`SandboxApp.handle` concurrently; the test thread calls the
inspection methods (``tasks``, ``credits``, ``expire_task``...). One lock guards all state.
Lock order: the app lock may be held while taking from the fault queue, never the reverse.

Timing uses ``time.monotonic`` and is evaluated lazily at each request: a task's status is
a function of the time since it was submitted, so no background thread is needed.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

from .bodies import (
    ApiError,
    Response,
    error_fields,
    error_response,
    gateway_page,
    json_response,
    storage_error,
    success_fields,
)
from .counters import Counters
from .faults import ANSWER_KINDS, DELIVERY_KINDS, TASK_KINDS, Fault, FaultQueue
from .multipart import MultipartError, parse_multipart
from .validation import Submission, validate_submission, validate_tryon
from .watermark import stamp_sandbox

logger = logging.getLogger(__name__)

SUBMIT_PATH = "/api/portrait/enhance/try-on-clothes-refiner"
POLL_PATH = "/api/common/query-async-task-result"
CREDITS_PATH = "/api/common/query-credits"
RESULTS_PREFIX = "/sandbox/results/"
API_KEY_HEADER = "ailabapi-api-key"
COST = 25  # credits per successful refinement
TRYON_PATHS = {
    "/api/portrait/editing/try-on-clothes-pro": "pro",
    "/api/portrait/editing/try-on-clothes-premium": "premium",
}
# Credits per successful task, by endpoint (contract, sections 4 and 6).
COSTS = {"refiner": COST, "pro": 30, "premium": 50}
# A task's latency is the sandbox's ``latency`` times this: the contract's ~40 s (Pro) and
# ~80 s (Premium) against a refinement's typical ~20 s.
LATENCY_FACTORS = {"refiner": 1.0, "pro": 2.0, "premium": 4.0}
TRYON_CAPTION = "demo coarse image - not a try-on"
SHAPES = ("old", "data_image_url", "data_image")


@dataclass
class Request:
    """One parsed HTTP request."""

    method: str
    path: str  # without the query string
    query: dict[str, str]
    headers: Message  # case-insensitive get(); an http.client.HTTPMessage in practice
    body: bytes = b""


@dataclass
class _Task:
    task_id: str
    created: float  # monotonic
    latency: float
    submission: Submission
    token: str  # the result URL's secret part
    fault: Fault | None  # a task-kind fault deciding how it ends, else it succeeds
    charged: bool = False
    kind: str = "refiner"  # the endpoint that created it: "refiner", "pro" or "premium"
    revoked: bool = False  # expire_task() was called
    results_revoked: bool = False  # expire_results() was called
    result_png: bytes | None = field(default=None, repr=False)

    @property
    def done_at(self) -> float:
        return self.created + self.latency

    def status(self, now: float) -> int:
        """0 queued for the first third of the latency, 1 processing, then 2 or 3."""
        elapsed = now - self.created
        if elapsed >= self.latency:
            return 3 if self.fault is not None and self.fault.kind == "task_failed" else 2
        return 0 if elapsed < self.latency / 3 else 1


class SandboxApp:
    """State and behaviour of the fake service. See :class:`SandboxServer` for the knobs."""

    def __init__(
        self,
        *,
        latency: float,
        credits: int,
        api_keys: set[str] | None,
        task_ttl: float,
        result_ttl: float,
        shape: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if shape not in SHAPES:
            raise ValueError(f"shape must be one of {SHAPES}")
        self.latency = latency  # read at each submit, so it may be changed while running
        self.base_url = ""  # set by the server once the port is known
        self._api_keys = set(api_keys) if api_keys is not None else None
        self._task_ttl = task_ttl
        self._result_ttl = result_ttl
        self._shape = shape
        self._clock = clock
        self._lock = threading.Lock()
        self._total = credits
        self._balance = credits
        self._first_buy = int(time.time())
        self._last_update = self._first_buy
        self._tasks: dict[str, _Task] = {}
        self._by_token: dict[str, _Task] = {}
        self._submissions = 0
        self._by_kind: dict[str, int] = {}
        self._requests: list[tuple[str, str]] = []
        self.faults = FaultQueue()
        self.counters = Counters(clock)
        # At most this many tasks running at once (None: no limit); one more submit is
        # answered 429 EXCEEDING_LIMITS, as the service does (5 per account upstream).
        self.running_limit: int | None = None

    # --- inspection, for tests and demo mode (any thread) ----------------------------------

    def record(self, method: str, path: str) -> None:
        """Note one request (method and path) for :attr:`requests`."""
        with self._lock:
            self._requests.append((method, path))

    @property
    def requests(self) -> list[tuple[str, str]]:
        """Every request received so far, in order, as (method, path); a copy."""
        with self._lock:
            return list(self._requests)

    def running(self) -> int:
        """Tasks submitted and not finished (queued or processing) now."""
        with self._lock:
            return self._running(self._clock())

    def add_credits(self, amount: int) -> None:
        """Top the balance up by ``amount`` credits (a purchase, in tests)."""
        with self._lock:
            self._balance += amount
            self._total += amount

    @property
    def submissions(self) -> int:
        """How many submits were accepted (a task was created) so far."""
        with self._lock:
            return self._submissions

    @property
    def submissions_by_kind(self) -> dict[str, int]:
        """Accepted submits by endpoint (``refiner``, ``pro``, ``premium``); a copy."""
        with self._lock:
            return dict(self._by_kind)

    @property
    def credits(self) -> int:
        """The credit balance now, after billing every task that has succeeded by now."""
        with self._lock:
            self._settle(self._clock())
            return self._balance

    def tasks(self) -> dict[str, dict[str, Any]]:
        """A snapshot: task id -> plain dict of its state (safe to keep and compare)."""
        with self._lock:
            now = self._clock()
            self._settle(now)
            return {
                t.task_id: {
                    "status": t.status(now),
                    "gender": t.submission.gender,
                    "size": t.submission.size,
                    "has_bottom": t.submission.has_bottom,
                    "fault": t.fault.kind if t.fault else None,
                    "kind": t.kind,
                    "resolution": t.submission.resolution,
                    "restore_face": t.submission.restore_face,
                    "charged": t.charged,
                    "expired": self._task_expired(t, now),
                    "result_url": self._result_url(t) if t.status(now) == 2 else None,
                }
                for t in self._tasks.values()
            }

    def expire_task(self, task_id: str) -> None:
        """Make polls of ``task_id`` answer 410 from now on. Raises KeyError if unknown."""
        with self._lock:
            self._settle(self._clock())  # a task that already finished stays billed
            self._tasks[task_id].revoked = True

    def expire_results(self) -> None:
        """Make every result URL issued so far (or due) answer 403 AccessDenied."""
        with self._lock:
            for task in self._tasks.values():
                task.results_revoked = True

    # --- request handling (handler threads) ------------------------------------------------

    def endpoint_of(self, method: str, path: str) -> str | None:
        """The endpoint's name (``submit``, ``poll``, ...) for a request, None if unknown."""
        if method == "POST" and path == SUBMIT_PATH:
            return "submit"
        if method == "POST" and path in TRYON_PATHS:
            return "tryon"
        if method == "GET" and path == POLL_PATH:
            return "poll"
        if method == "GET" and path == CREDITS_PATH:
            return "credits"
        if method == "GET" and path.startswith(RESULTS_PREFIX):
            return "download"
        return None

    def handle(self, req: Request) -> Response:
        """Answer one request. Never raises for a bad request: errors become vendor answers."""
        endpoint = self.endpoint_of(req.method, req.path)
        if endpoint is None:
            return error_response(
                ApiError("ERROR_AI_NOT_EXISTS", f"{req.method} {req.path} does not exist")
            )
        self.counters.arrived(endpoint)
        fault = self.faults.take(endpoint, ANSWER_KINDS | DELIVERY_KINDS)
        if fault is not None and fault.kind in ANSWER_KINDS:
            logger.debug("fault %s on %s", fault.kind, endpoint)
            return self._fault_answer(fault)
        handler = {
            "submit": self._submit,
            "tryon": self._submit,
            "poll": self._poll,
            "credits": self._credits,
            "download": self._download,
        }[endpoint]
        try:
            response = handler(req)
        except ApiError as err:
            response = error_response(err)
        response.delivery = fault  # slow / hang / drop: applied by the transport
        return response

    def _fault_answer(self, fault: Fault) -> Response:
        code = fault.effective_code
        if fault.kind == "gateway_html":
            return gateway_page(fault.http_status or 502)
        if fault.kind == "expire_url":
            return storage_error(fault.http_status or 403)
        if fault.kind == "error_in_200":
            assert code is not None
            return json_response(200, error_fields(code, fault.message, fault.http_status))
        if fault.kind == "rate_limit":
            assert code is not None
            wait = fault.retry_after if fault.retry_after is not None else 1.0
            response = error_response(ApiError(code, fault.message, fault.http_status or 429))
            response.headers.append(("Retry-After", f"{wait:g}"))
            return response
        assert code is not None  # kind == "error"
        return error_response(ApiError(code, fault.message, fault.http_status))

    def _authorize(self, req: Request) -> None:
        # The key's value is never put into a message or a log line.
        key = (req.headers.get(API_KEY_HEADER) or "").strip()
        if not key:
            raise ApiError("ERROR_USER_NOT_EXISTS", "The API key is missing.")
        if self._api_keys is not None and key not in self._api_keys:
            raise ApiError("ERROR_USER_NOT_EXISTS", "The API key is not valid.")

    def _submit(self, req: Request) -> Response:
        """A refiner or a Try on Clothes Pro/Premium submit: same checks, billing, faults."""
        self._authorize(req)
        try:
            parts = parse_multipart(req.headers.get("Content-Type") or "", req.body)
        except MultipartError as exc:
            raise ApiError("ERROR_PARAMETERS", f"body: {exc}") from exc
        kind = TRYON_PATHS.get(req.path, "refiner")
        if kind == "refiner":
            submission = validate_submission(parts)
        else:
            submission = validate_tryon(parts, kind)
        cost = COSTS[kind]
        what = "A refinement" if kind == "refiner" else f"A Try on Clothes {kind.title()} task"
        with self._lock:
            now = self._clock()
            self._settle(now)
            reserved = sum(
                COSTS[t.kind]
                for t in self._tasks.values()
                if not t.charged and not t.revoked and t.fault is None
            )
            if self.running_limit is not None and self._running(now) >= self.running_limit:
                self.counters.refused_running += 1
                raise ApiError(
                    "EXCEEDING_LIMITS",
                    f"At most {self.running_limit} tasks may run at once.",
                )
            if self._balance - reserved < cost:
                raise ApiError(
                    "ERROR_NOT_ENOUGH_CREDITS",
                    f"{what} costs {cost} credits; the balance is "
                    f"{self._balance} ({reserved} reserved by running tasks).",
                )
            task = _Task(
                task_id=uuid.uuid4().hex,
                created=now,
                latency=self.latency * LATENCY_FACTORS[kind],
                submission=submission,
                token=secrets.token_urlsafe(24),
                fault=self.faults.take(self.endpoint_of(req.method, req.path) or "", TASK_KINDS),
                kind=kind,
            )
            self._tasks[task.task_id] = task
            self._by_token[task.token] = task
            self._submissions += 1
            self._by_kind[kind] = self._by_kind.get(kind, 0) + 1
            self.counters.max_running = max(self.counters.max_running, self._running(now))
        logger.debug(
            "task %s created (fault: %s)", task.task_id, task.fault.kind if task.fault else None
        )
        return json_response(
            200, {**success_fields(), "task_type": "async", "task_id": task.task_id}
        )

    def _poll(self, req: Request) -> Response:
        self._authorize(req)
        task_id = req.query.get("task_id", "").strip()
        if not task_id:
            raise ApiError("MISSING_PARAMETERS", "task_id: required parameter is missing")
        with self._lock:
            now = self._clock()
            self._settle(now)
            task = self._tasks.get(task_id)
            if task is None:
                raise ApiError("ERROR_RESOURCE_NOT_FOUND", f"task_id: no task {task_id}")
            if self._task_expired(task, now):
                raise ApiError("ERROR_RESOURCE_RECLAIMED", f"task_id: task {task_id} expired")
            status = task.status(now)
            url = self._result_url(task)
        fault = task.fault
        if status < 2 or fault is None:
            return json_response(200, self._status_payload(status, url))
        if fault.kind == "poll_http_error":
            code = fault.effective_code or "ERROR_NO_FACE_IN_FILE"
            return error_response(ApiError(code, fault.message, fault.http_status))
        # task_failed: HTTP 200, task_status 3, the error fields filled.
        code = fault.effective_code or "PROCESSING_FAILURE"
        payload = {**error_fields(code, fault.message, fault.http_status), "task_status": 3}
        if self._shape == "data_image_url":
            payload["data"] = {"task_status": 3}
        return json_response(200, payload)

    def _status_payload(self, status: int, url: str) -> dict[str, Any]:
        """A successful poll answer in the configured shape (contract, section 2)."""
        payload: dict[str, Any] = {**success_fields(), "task_status": status}
        if self._shape == "data_image_url":
            payload["data"] = {"task_status": status}
        if status == 2:
            if self._shape == "old":
                payload["output"] = {"image_url": url}
            elif self._shape == "data_image_url":
                payload["data"]["image_url"] = url
            else:
                payload["data"] = {"image": url}
            payload["usage"] = {"image_count": 1}
        return payload

    def _credits(self, req: Request) -> Response:
        self._authorize(req)
        with self._lock:
            self._settle(self._clock())
            entry = {
                "unique_sign": "common",
                "name": "Universal credits",
                "balance": self._balance,
                "total": self._total,
                "last_recharge_balance": self._total,
                "balance_warning": 0,
                "first_buy_time": self._first_buy,
                "last_update_time": self._last_update,
            }
        return json_response(200, {**success_fields(), "data": [entry]})

    def _download(self, req: Request) -> Response:
        # A storage host: no API key expected, and refusals are XML, not vendor JSON.
        name = req.path[len(RESULTS_PREFIX) :]
        token = name[:-4] if name.endswith(".png") else None
        with self._lock:
            now = self._clock()
            task = self._by_token.get(token) if token else None
            if task is None or task.status(now) != 2 or task.fault is not None:
                return storage_error(404)
            if task.results_revoked or now - task.done_at > self._result_ttl:
                return storage_error(403)
            png = task.result_png
        if png is None:
            # Drawn outside the lock (it can take a while for a big image); a concurrent
            # first download may draw it twice, which is harmless: the first stored wins.
            drawn = _draw_result(task.submission)
            with self._lock:
                if task.result_png is None:
                    task.result_png = drawn
                png = task.result_png
        return Response(200, png, [("Content-Type", "image/png")])

    # --- helpers (call with the lock held) -------------------------------------------------

    def _settle(self, now: float) -> None:
        """Charge every task that has succeeded since the last look."""
        for task in self._tasks.values():
            if not task.charged and not task.revoked and task.fault is None and now >= task.done_at:
                task.charged = True
                self._balance -= COSTS[task.kind]
                self._last_update = int(time.time())

    def _running(self, now: float) -> int:
        return sum(1 for t in self._tasks.values() if now < t.done_at and not t.revoked)

    def _task_expired(self, task: _Task, now: float) -> bool:
        return task.revoked or now - task.created > self._task_ttl

    def _result_url(self, task: _Task) -> str:
        return f"{self.base_url}{RESULTS_PREFIX}{task.token}.png"


def _draw_result(sub: Submission) -> bytes:
    """The sandbox's result: the coarse image stamped, or for a try-on the person photo
    stamped, at the person's size (``resolution`` -1) or the vendor's fixed size."""
    if sub.kind == "refiner":
        return stamp_sandbox(sub.coarse)
    # The vendor's sizes: 1024 is 576x1024, 1280 is 720x1280 (openapi-subset.json).
    size = {1024: (576, 1024), 1280: (720, 1280)}.get(sub.resolution, sub.size)
    return stamp_sandbox(sub.coarse, TRYON_CAPTION, size)
