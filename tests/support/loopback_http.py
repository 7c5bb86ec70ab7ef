"""A programmable HTTP server on 127.0.0.1 for connector tests.

A test registers handlers by method and path; each handler gets the :class:`Received`
request and answers a :class:`Reply`, a ``(status, headers, body)`` tuple, or
:data:`DROP` (close the connection without answering). Every request is recorded, before its
handler runs, in :attr:`LoopbackServer.received`. Bodies that are neither ``bytes`` nor
``str`` are sent as JSON. Unrouted requests get a JSON 404.

    with loopback_server() as server:
        server.route("GET", "/items", lambda request: Reply(200, body={"results": []}))
        ... server.url ...
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Received:
    """One request as the server saw it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # names in lower case
    body: bytes
    raw_path: str  # path and query string, as sent

    def arg(self, name: str) -> str | None:
        """The first value of query parameter ``name``, or None."""
        values = self.query.get(name)
        return values[0] if values else None

    def header(self, name: str) -> str | None:
        """A header's value (name case-insensitive), or None."""
        return self.headers.get(name.lower())

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        """The body parsed as an HTML form (``application/x-www-form-urlencoded``)."""
        return {k: v[0] for k, v in parse_qs(self.body.decode(), keep_blank_values=True).items()}


@dataclass(frozen=True)
class Reply:
    """An answer: a body that is not bytes or str is sent as JSON."""

    status: int = 200
    body: Any = b""
    headers: Mapping[str, str] = field(default_factory=dict)


#: A handler's answer that makes the server close the connection without responding.
DROP = object()

Handler = Callable[[Received], Any]


def _encode(reply: Reply) -> tuple[bytes, dict[str, str]]:
    headers = dict(reply.headers)
    body = reply.body
    if isinstance(body, bytes):
        data = body
    elif isinstance(body, str):
        data = body.encode("utf-8")
        headers.setdefault("Content-Type", "text/plain; charset=utf-8")
    else:
        data = json.dumps(body).encode("utf-8")
        headers.setdefault("Content-Type", "application/json")
    return data, headers


class LoopbackServer:
    """The server: routes, the requests received, and its base :attr:`url`."""

    def __init__(self) -> None:
        self._routes: dict[tuple[str, str], Handler] = {}
        self._lock = threading.Lock()
        self.received: list[Received] = []
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._httpd.daemon_threads = True
        # A handler still writing after its client gave up (timeout tests) is expected.
        self._httpd.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
        self.port = self._httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        # A short poll keeps shutdown (and so each test's teardown) quick.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def route(self, method: str, path: str, handler: Handler) -> None:
        """Answer ``method path`` (query string aside) with ``handler``."""
        self._routes[(method.upper(), path)] = handler

    def replies(self, method: str, path: str, *replies: Any) -> None:
        """Answer ``method path`` with ``replies`` in turn, repeating the last one."""
        queue = list(replies)
        lock = threading.Lock()

        def handler(request: Received) -> Any:
            with lock:
                return queue.pop(0) if len(queue) > 1 else queue[0]

        self.route(method, path, handler)

    def requests_to(self, path: str, method: str | None = None) -> list[Received]:
        """The requests received for ``path`` (and ``method``), in order."""
        with self._lock:
            return [
                r
                for r in self.received
                if r.path == path and (method is None or r.method == method.upper())
            ]

    def _record(self, request: Received) -> Handler | None:
        with self._lock:
            self.received.append(request)
        return self._routes.get((request.method, request.path))

    def start(self) -> LoopbackServer:
        self._thread.start()
        return self

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


def _make_handler(server: LoopbackServer) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = 10  # an idle keep-alive connection does not hold its thread for ever
        # Headers and body go out in separate writes: without this, Nagle's algorithm and
        # delayed ACKs add ≈ 40 ms to every answer.
        disable_nagle_algorithm = True

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            request = Received(
                method=self.command,
                path=parts.path,
                query=parse_qs(parts.query, keep_blank_values=True),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=self.rfile.read(length) if length else b"",
                raw_path=self.path,
            )
            handler = server._record(request)
            if handler is None:
                answer: Any = Reply(404, {"message": f"no route for {request.method} {parts.path}"})
            else:
                answer = handler(request)
            if answer is DROP:
                self.close_connection = True
                return
            if isinstance(answer, tuple):
                answer = Reply(answer[0], answer[2], answer[1])
            data, headers = _encode(answer)
            self.send_response(answer.status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return _Handler


@contextmanager
def loopback_server() -> Iterator[LoopbackServer]:
    """A started :class:`LoopbackServer`, shut down on exit."""
    server = LoopbackServer().start()
    try:
        yield server
    finally:
        server.close()


def closed_port() -> int:
    """A local port nothing listens on (connections to it are refused)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
