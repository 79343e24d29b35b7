"""A tiny real HTTP server on 127.0.0.1 that answers every request with one scripted reply.

For property tests of the client: the test sets the reply (status, headers, body) and the
client talks to it over a real socket. One thread serves (``http-stub``), requests are
handled one at a time on it, every answer closes its connection, and :meth:`StubServer.stop`
shuts the loop down and joins the thread.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any


@dataclass(frozen=True)
class Reply:
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    content_length: bool = True  # False: no Content-Length, the body ends at the close


@dataclass
class _State:
    reply: Reply = field(default_factory=Reply)
    requests: list[tuple[str, str, int]] = field(default_factory=list)  # method, path, bytes
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # one request per connection; close-delimited bodies work
    timeout = 10  # a client that connects and never sends cannot block the loop for long
    server: _StubHTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        received = self.rfile.read(length) if length > 0 else b""
        state = self.server.state
        with state.lock:
            reply = state.reply
            state.requests.append((self.command, self.path, len(received)))
        # send_response_only: no Server/Date headers of our own, only the scripted ones.
        self.send_response_only(reply.status)
        for name, value in reply.headers:
            self.send_header(name, value)
        if reply.content_length:
            self.send_header("Content-Length", str(len(reply.body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(reply.body)
        self.close_connection = True

    do_GET = _answer
    do_POST = _answer


class _StubHTTPServer(HTTPServer):
    state: _State

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client hanging up mid-answer is routine here


class StubServer:
    """``with StubServer() as stub: stub.reply = Reply(...); ... stub.base_url``."""

    def __init__(self) -> None:
        self._httpd: _StubHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._state = _State()
        self.base_url = ""

    def start(self) -> str:
        httpd = _StubHTTPServer(("127.0.0.1", 0), _Handler)
        httpd.state = self._state
        self._httpd = httpd
        self.base_url = f"http://127.0.0.1:{httpd.server_port}"
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="http-stub"
        )
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        if self._httpd is None or self._thread is None:
            return
        self._httpd.shutdown()
        self._thread.join(10)
        self._httpd.server_close()
        assert not self._thread.is_alive(), "the stub server thread did not end"
        self._httpd = self._thread = None

    def __enter__(self) -> StubServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def reply(self) -> Reply:
        with self._state.lock:
            return self._state.reply

    @reply.setter
    def reply(self, value: Reply) -> None:
        with self._state.lock:
            self._state.reply = value
            self._state.requests.clear()

    @property
    def requests(self) -> list[tuple[str, str, int]]:
        with self._state.lock:
            return list(self._state.requests)
