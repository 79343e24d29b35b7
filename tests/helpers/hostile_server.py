"""A raw-socket HTTP server on 127.0.0.1 that misbehaves on purpose, one script per test.

Where :mod:`tests.helpers.http_stub` answers politely, this one lets a test script the
exchange byte by byte: hang before answering, trickle a body a byte at a time, send an
endless body, never read an upload. Every connection runs ``script(conn)`` on its own
thread; :meth:`HostileServer.stop` sets :attr:`Conn.stopping`, closes every socket and joins
every thread, so a script that "hangs" must wait on ``conn.stopping`` (the helpers do).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Conn:
    """One accepted connection, its request line and headers already read."""

    sock: socket.socket
    method: str
    path: str
    headers: dict[str, str]
    stopping: threading.Event
    server: HostileServer
    sent: int = 0
    leftover: bytes = b""

    def read_body(self) -> int:
        """Read the request body (Content-Length bytes); return how many arrived."""
        want = int(self.headers.get("content-length", "0") or 0)
        got = len(self.leftover)
        while got < want and not self.stopping.is_set():
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
            if not chunk:
                break
            got += len(chunk)
        return got

    def send(self, data: bytes) -> bool:
        """Send ``data``; False once the client has gone (or the server stops)."""
        view = memoryview(data)
        while view and not self.stopping.is_set():
            try:
                n = self.sock.send(view)
            except TimeoutError:
                continue
            except OSError:
                return False
            view = view[n:]
            self.sent += n
            with self.server.lock:
                self.server.bytes_sent += n
        return not view

    def head(self, status: int = 200, headers: tuple[tuple[str, str], ...] = ()) -> bool:
        """Send the status line and headers (``Connection: close`` added)."""
        lines = [f"HTTP/1.1 {status} X"] + [f"{k}: {v}" for k, v in headers]
        lines.append("Connection: close")
        return self.send(("\r\n".join(lines) + "\r\n\r\n").encode())

    def answer(self, status: int, body: bytes, headers: tuple[tuple[str, str], ...] = ()) -> None:
        """A whole, polite answer with a Content-Length."""
        if self.head(status, (*headers, ("Content-Length", str(len(body))))):
            self.send(body)

    def hang(self) -> None:
        """Say nothing until the server stops (or the client hangs up)."""
        while not self.stopping.wait(0.05):
            try:
                if self.sock.recv(65536, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b"":
                    return  # the client closed its end
            except (BlockingIOError, TimeoutError):
                continue
            except OSError:
                return

    def trickle(self, data: bytes, every: float = 1.0) -> None:
        """Send ``data`` one byte per ``every`` seconds (until stopped or the client goes)."""
        for i in range(len(data)):
            if not self.send(data[i : i + 1]) or self.stopping.wait(every):
                return


Script = Callable[[Conn], None]


@dataclass
class HostileServer:
    """``with HostileServer(script) as srv: ... srv.base_url``; records every request."""

    script: Script
    requests: list[tuple[str, str]] = field(default_factory=list)
    bytes_sent: int = 0
    seen: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    rcvbuf: int | None = None  # a small receive buffer makes an unread upload block soon

    def __post_init__(self) -> None:
        self._stopping = threading.Event()
        self._listener: socket.socket | None = None
        self._threads: list[threading.Thread] = []
        self._socks: list[socket.socket] = []
        self.base_url = ""

    def start(self) -> str:
        """Listen on a free loopback port; return the base URL."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if self.rcvbuf:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.rcvbuf)
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        listener.settimeout(0.05)
        self._listener = listener
        self.base_url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        accept = threading.Thread(target=self._accept_loop, name="hostile-accept")
        self._threads.append(accept)
        accept.start()
        return self.base_url

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            sock.settimeout(0.05)
            with self.lock:
                self._socks.append(sock)
            t = threading.Thread(target=self._serve, args=(sock,), name="hostile-conn")
            with self.lock:
                self._threads.append(t)
            t.start()

    def _serve(self, sock: socket.socket) -> None:
        data = b""
        while b"\r\n\r\n" not in data and not self._stopping.is_set():
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            if not chunk:
                return
            data += chunk
        if self._stopping.is_set():
            return
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        with self.lock:
            self.requests.append((method, path))
        self.seen.set()
        conn = Conn(sock, method, path, headers, self._stopping, self, leftover=rest)
        try:
            self.script(conn)
        finally:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def stop(self) -> None:
        """Stop every script, close every socket, join every thread."""
        self._stopping.set()
        if self._listener is not None:
            self._listener.close()
        self._threads[0].join(10)  # the accept loop first: then no thread is added
        for t in list(self._threads):
            t.join(10)
        with self.lock:
            alive = [t.name for t in self._threads if t.is_alive()]
            for s in self._socks:
                s.close()
        assert not alive, f"hostile server threads did not end: {alive}"

    def __enter__(self) -> HostileServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class FullBacklog:
    """A loopback port whose accept queue is full, so a new connect hangs (Linux).

    ``with FullBacklog() as port: ...``: the listener never accepts; one filler connection
    takes the only backlog place, and the kernel drops the SYNs of later ones.
    """

    def __enter__(self) -> int:
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(0)
        port = self._listener.getsockname()[1]
        self._fillers = []
        for _ in range(2):
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
            self._fillers.append(filler)
        return port

    def __exit__(self, *exc: object) -> None:
        for s in self._fillers:
            s.close()
        self._listener.close()


def wait_for_syn_sent(port: int, timeout: float = 10.0) -> bool:
    """Wait until some socket here is connecting (SYN_SENT) to loopback ``port`` (Linux)."""
    wanted = f":{port:04X}"
    end = time.monotonic() + timeout
    pause = threading.Event()
    while time.monotonic() < end:
        with open("/proc/net/tcp") as fh:
            for line in fh.readlines()[1:]:
                fields = line.split()
                if fields[2].endswith(wanted) and fields[3] == "02":
                    return True
        pause.wait(0.01)
    return False
