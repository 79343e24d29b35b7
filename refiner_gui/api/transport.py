"""Interruptible HTTP for requests: every socket wait in short slices. No Qt.

requests offers no way to stop a request from another thread, to bound a whole exchange,
or to notice a server that trickles a byte a second (each byte restarts its read timeout).
:class:`GuardedAdapter`, mounted on the client's session, wraps every connection's socket
so that sends and receives block for at most :data:`SLICE` seconds at a time; between
slices, and after every piece of data, the :class:`Guard` active on the calling thread
(:func:`guarded`) is checked:

* its cancel token (or :class:`threading.Event`): :class:`TransportCancelled` within ~0.1 s;
* its deadline (the job's one overall time limit): :class:`DeadlinePassed` at the deadline;
* stalls: fewer than :attr:`Guard.stall_bytes` moved in :attr:`Guard.stall_timeout`
  seconds raises :class:`Stalled`, so a trickling body fails instead of running for ever.

A guard may also name addresses that must not be connected to (:attr:`Guard.refuse_address`):
the connect checks every address it is about to use, after its own name lookup, so a host
name that resolved to a public address when checked and to an internal one when connecting
(DNS rebinding) is still refused (:class:`AddressRefused`).

These exceptions are not :class:`OSError`: they pass through urllib3 and requests
unchanged (both close the connection on the way), and the client turns them into its
typed errors, deciding for a submit whether the service may have taken it.

With a guard active, the TCP connect also waits in slices (a host that never answers the
connect is cancellable); the TLS handshake and the host name lookup are single blocking
calls, bounded by the connect timeout (clipped to the deadline) but not by cancel. With no
guard active, a wrapped socket behaves as usual (its timeout is honoured across the
slices). Thread: a guard is per thread; a session is used by one thread at a time.
"""

from __future__ import annotations

import errno
import io
import os
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.poolmanager import PoolManager

from refiner_gui.api.models import CancelToken
from refiner_gui.gil import give_way

__all__ = [
    "ANSWER_GRACE",
    "SLICE",
    "AddressRefused",
    "DeadlinePassed",
    "Guard",
    "GuardedAdapter",
    "Stalled",
    "TransportCancelled",
    "TransportInterrupted",
    "current_guard",
    "guarded",
    "request_timeouts",
]

SLICE = 0.1
"""Longest single blocking socket call, seconds: the latency of cancel and deadline."""

ANSWER_GRACE = 0.25
"""Seconds a cancel waits for a submit's answer once its body is all sent (``Guard``'s
``hold_cancel``): the answer names the task, which then resumes instead of being
"outcome unknown". Short, so Cancel still takes effect within a fraction of a second."""

_SEND_PIECE = 64 * 1024


class TransportInterrupted(Exception):
    """A request stopped by its guard (base class)."""


class TransportCancelled(TransportInterrupted):
    """The guard's cancel token was set."""


class DeadlinePassed(TransportInterrupted):
    """The guard's overall deadline passed."""


class Stalled(TransportInterrupted):
    """Too few bytes moved for too long: the other side stalled (or trickles)."""


class AddressRefused(TransportInterrupted):
    """The connect was about to use an address the guard refuses; ``str()`` says why."""


class Guard:
    """What may stop the requests made on one thread: cancel, a deadline, a stall.

    Args:
        cancel: stops the request soon after it is set (any thread sets it); a
            :class:`CancelToken` or a plain :class:`threading.Event`.
        deadline: a :func:`time.monotonic` time after which the request stops, or None.
        stall_timeout: seconds allowed without :attr:`stall_bytes` moving either way.
        stall_bytes: how many bytes count as progress (less is a trickle).
        refuse_address: given an IP address the connect is about to use, why it must
            not (a sentence), or None to allow it.
        hold_cancel: while it returns True, a cancel stops the request only
            :data:`ANSWER_GRACE` seconds after it was first seen: a submit whose body is
            all sent waits that long for the answer that names its task, so a quit or a
            Cancel then leaves a task to resume, not an outcome unknown. The deadline and
            the stall clock are never held.

    Used on the thread that makes the requests.
    """

    def __init__(
        self,
        cancel: CancelToken | threading.Event | None = None,
        deadline: float | None = None,
        stall_timeout: float = 30.0,
        stall_bytes: int = 1024,
        refuse_address: Callable[[str], str | None] | None = None,
        hold_cancel: Callable[[], bool] | None = None,
    ) -> None:
        self.cancel = cancel
        self.refuse_address = refuse_address
        self.hold_cancel = hold_cancel
        self._cancel_seen: float | None = None  # when a held cancel was first seen
        self.deadline = deadline
        self.stall_timeout = stall_timeout
        self.stall_bytes = stall_bytes
        self._mark = time.monotonic()
        self._since_mark = 0

    def restart_stall_clock(self) -> None:
        """Start a fresh stall period (a new request on a reused guard)."""
        self._mark = time.monotonic()
        self._since_mark = 0

    def progress(self, nbytes: int) -> None:
        """Count ``nbytes`` moved; enough of them restart the stall clock."""
        self._since_mark += nbytes
        if self._since_mark >= self.stall_bytes:
            self.restart_stall_clock()

    def time_left(self) -> float | None:
        """Seconds until the deadline (never negative), or None without one."""
        if self.deadline is None:
            return None
        return max(0.0, self.deadline - time.monotonic())

    def check(self) -> None:
        """Raise the reason to stop now, if there is one."""
        cancel = self.cancel
        now = time.monotonic()
        if cancel is not None and (
            cancel.is_set() if isinstance(cancel, threading.Event) else cancel.cancelled
        ):
            if self.hold_cancel is None or not self.hold_cancel():
                raise TransportCancelled
            if self._cancel_seen is None:
                self._cancel_seen = now
            if now - self._cancel_seen >= ANSWER_GRACE:
                raise TransportCancelled
        if self.deadline is not None and now >= self.deadline:
            raise DeadlinePassed
        if now - self._mark > self.stall_timeout:
            raise Stalled


_local = threading.local()


def current_guard() -> Guard | None:
    """The guard active on this thread, if any."""
    guard: Guard | None = getattr(_local, "guard", None)
    return guard


@contextmanager
def guarded(guard: Guard) -> Iterator[Guard]:
    """Make ``guard`` watch every request this thread makes inside the ``with``."""
    previous = current_guard()
    _local.guard = guard
    try:
        yield guard
    finally:
        _local.guard = previous


def request_timeouts(connect: float, read: float, deadline: float | None) -> tuple[float, float]:
    """(connect, read) timeouts for requests, clipped to the time left before ``deadline``."""
    if deadline is not None:
        left = max(0.01, deadline - time.monotonic())
        connect, read = min(connect, left), min(read, left)
    return connect, read


class _GuardedReader(socket.SocketIO):
    """The socket's read side, blocking at most one slice at a time."""

    def __init__(self, sock: socket.socket, owner: _GuardedSocket) -> None:
        super().__init__(sock, "rb")
        self._real = sock
        self._owner = owner

    def readinto(self, b: Any) -> int:
        """Read into ``b``; between slices, check the guard (or the plain timeout)."""
        self._checkClosed()
        started = time.monotonic()
        while True:
            guard = current_guard()
            if guard is not None:
                guard.check()
            try:
                n = self._real.recv_into(b)
            except TimeoutError:
                self._owner.idle(guard, started)
                continue
            if guard is not None:
                guard.progress(n)
            give_way()  # a long body arrives in many small reads: let the GUI thread in
            return int(n)


class _GuardedSocket:
    """A connected socket whose blocking calls last at most :data:`SLICE` seconds each.

    Everything not overridden goes to the real socket (``fileno``, ``shutdown``, TLS
    details), so urllib3 and http.client use it as a socket.
    """

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._timeout: float | None = sock.gettimeout()
        sock.settimeout(SLICE)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)

    def settimeout(self, value: float | None) -> None:
        """Remember ``value`` as the timeout without a guard; the socket keeps slicing."""
        self._timeout = value
        self._sock.settimeout(SLICE)

    def gettimeout(self) -> float | None:
        """The timeout set by :meth:`settimeout` (not the slice)."""
        return self._timeout

    def idle(self, guard: Guard | None, started: float) -> None:
        """A slice passed with nothing moving: raise if the guard or the timeout says so."""
        if guard is not None:
            guard.check()
        elif self._timeout is not None and time.monotonic() - started >= self._timeout:
            raise TimeoutError("timed out")

    def sendall(self, data: Any) -> None:
        """Send all of ``data`` in pieces, checking the guard between slices."""
        view = memoryview(data).cast("B")
        started = time.monotonic()
        while view:
            guard = current_guard()
            if guard is not None:
                guard.check()
            try:
                sent = self._sock.send(view[:_SEND_PIECE])
            except TimeoutError:
                self.idle(guard, started)
                continue
            view = view[sent:]
            started = time.monotonic()
            if guard is not None:
                guard.progress(sent)
            give_way()  # each send lets go of the GIL only for a moment (see refiner_gui.gil)

    def makefile(self, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        """A buffered reader that reads in slices (``"rb"``); other modes as the socket."""
        if mode != "rb":
            plain: Any = self._sock
            return plain.makefile(mode, *args, **kwargs)
        # As socket.makefile does: the socket stays open until this reader closes too.
        real: Any = self._sock
        real._io_refs += 1
        return io.BufferedReader(_GuardedReader(self._sock, self), io.DEFAULT_BUFFER_SIZE)

    def close(self) -> None:
        """Close the socket (really closed once its readers are closed, as usual)."""
        self._sock.close()


_IN_PROGRESS = (errno.EINPROGRESS, errno.EALREADY, errno.EWOULDBLOCK)


def _sliced_connect(conn: HTTPConnection, guard: Guard) -> socket.socket:
    """urllib3's ``_new_conn``, with the TCP connect waiting in guarded slices."""
    timeout = conn.timeout if isinstance(conn.timeout, (int, float)) else None
    try:
        infos = socket.getaddrinfo(conn._dns_host, conn.port, 0, socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise NameResolutionError(conn.host, conn, e) from e
    started = time.monotonic()
    last: OSError | None = None
    for family, kind, proto, _, address in infos:
        if guard.refuse_address is not None:
            reason = guard.refuse_address(str(address[0]))
            if reason:
                raise AddressRefused(reason)
        sock = socket.socket(family, kind, proto)
        try:
            for option in conn.socket_options or ():
                sock.setsockopt(*option)
            if conn.source_address:
                sock.bind(conn.source_address)
            sock.setblocking(False)
            err = sock.connect_ex(address)
            while err in _IN_PROGRESS:
                guard.check()
                if timeout is not None and time.monotonic() - started >= timeout:
                    raise ConnectTimeoutError(
                        conn, f"Connection to {conn.host} timed out. (connect timeout={timeout})"
                    )
                _, writable, _ = select.select([], [sock], [], SLICE)
                if writable:
                    err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                raise OSError(err, os.strerror(err))
            sock.settimeout(timeout)
            return sock
        except OSError as e:
            sock.close()
            last = e
        except BaseException:
            sock.close()
            raise
    raise NewConnectionError(conn, f"Failed to establish a new connection: {last}")


def _clip_connect_timeout(conn: HTTPConnection) -> None:
    guard = current_guard()
    if guard is None:
        return
    guard.check()
    left = guard.time_left()
    if left is not None and isinstance(conn.timeout, (int, float)):
        conn.timeout = max(0.01, min(float(conn.timeout), left))


class _GuardedHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        guard = current_guard()
        return super()._new_conn() if guard is None else _sliced_connect(self, guard)

    def connect(self) -> None:
        _clip_connect_timeout(self)
        super().connect()
        self.sock = _GuardedSocket(self.sock)


class _GuardedHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        guard = current_guard()
        return super()._new_conn() if guard is None else _sliced_connect(self, guard)

    def connect(self) -> None:
        _clip_connect_timeout(self)
        super().connect()
        self.sock = _GuardedSocket(self.sock)


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


def _use_guarded_pools(manager: PoolManager) -> None:
    manager.pool_classes_by_scheme = {
        "http": _GuardedHTTPPool,
        "https": _GuardedHTTPSPool,
    }


class GuardedAdapter(HTTPAdapter):
    """A requests adapter whose connections read and write in guarded slices."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        """Build the pool manager as requests does, with the guarded connection classes."""
        super().init_poolmanager(*args, **kwargs)
        _use_guarded_pools(self.poolmanager)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        """The proxy's pool manager as requests builds it, with guarded connections."""
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        _use_guarded_pools(manager)
        return manager
