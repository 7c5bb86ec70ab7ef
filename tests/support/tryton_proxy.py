"""A fault-injecting HTTP proxy in front of a real Tryton server, for failure tests.

The proxy listens on 127.0.0.1 and forwards every JSON-RPC request to a real server (a
``LocalTryton``), so calls really reach Tryton and really change its database. A test tells
it to misbehave on the next requests, all of them or only those of one RPC method
(``fnmatch`` patterns: ``"model.*.create"``): answer a status instead of forwarding (a 500, a
503 with ``Retry-After``), forward but hold the answer back (to provoke the client's
timeout after Tryton did the work), or close the connection without an answer, before or
after forwarding (a crash before or after Tryton acted). Faults are injected on the wire
only: neither client nor server is patched. Every request is recorded with its RPC method
and what the proxy did with it, so tests can count what the client sent.

    with tryton_proxy(server.url) as proxy:
        proxy.answer(503, method="model.*.search_read", times=2, retry_after="7")
        client = TrytonClient(proxy.url, server.database, ...)

When the server behind it is down, the proxy answers 502, as a reverse proxy would.
"""

from __future__ import annotations

import contextlib
import fnmatch
import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

# Headers that describe one connection, not the message: never passed on.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)
_UPSTREAM_TIMEOUT = 120.0


class Action(StrEnum):
    """What the proxy did with a request."""

    FORWARDED = "forwarded"
    ANSWERED = "answered"  # a status of the test's choosing, never forwarded
    DELAYED = "delayed"  # forwarded, the answer held back
    DROPPED = "dropped"  # connection closed, never forwarded
    DROPPED_AFTER_FORWARDING = "dropped after forwarding"  # Tryton acted, no answer came back
    BAD_GATEWAY = "bad gateway"  # the server behind could not be reached


@dataclass(frozen=True)
class Seen:
    """One request the proxy received: its RPC method and what it did with it."""

    method: str
    action: Action
    status: int | None  # the status sent back, None when the connection was closed


@dataclass
class _Rule:
    pattern: str
    action: Action
    times: int
    skip: int
    status: int = 0
    retry_after: str | None = None
    delay: float = 0.0

    def matches(self, method: str) -> bool:
        return fnmatch.fnmatchcase(method, self.pattern)


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Say nothing: a client gone before its held answer went out is the point."""


class TrytonProxy:
    """The proxy: its :attr:`url` replaces the server's in a client or a Connections row."""

    def __init__(self, target_url: str, *, port: int = 0) -> None:
        target = urlsplit(target_url)
        if target.hostname is None or target.port is None:
            raise ValueError(f"the target needs a host and a port: {target_url}")
        self._target = (target.hostname, target.port)
        self._rules: list[_Rule] = []
        self._lock = threading.Lock()
        self.seen: list[Seen] = []
        self._open: set[socket.socket] = set()
        self._httpd = _QuietServer(("127.0.0.1", port), _make_handler(self))
        self.port = int(self._httpd.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}/"
        # A short poll keeps shutdown (and so each test's teardown) quick.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    # -- faults --------------------------------------------------------------------------

    def answer(
        self,
        status: int,
        *,
        method: str = "*",
        times: int = 1,
        skip: int = 0,
        retry_after: str | None = None,
    ) -> None:
        """Answer HTTP ``status`` (with ``Retry-After`` when given) to the next ``times``
        requests for ``method``, after letting ``skip`` of them through; never forwarded."""
        self._add(
            _Rule(method, Action.ANSWERED, times, skip, status=status, retry_after=retry_after)
        )

    def delay(self, seconds: float, *, method: str = "*", times: int = 1, skip: int = 0) -> None:
        """Forward the next ``times`` requests for ``method`` but hold each answer back for
        ``seconds``: Tryton does the work, the client may time out first."""
        self._add(_Rule(method, Action.DELAYED, times, skip, delay=seconds))

    def drop(
        self, *, method: str = "*", times: int = 1, skip: int = 0, forwarded: bool = False
    ) -> None:
        """Close the connection of the next ``times`` requests for ``method`` without an
        answer; with ``forwarded=True`` only after Tryton carried the request out."""
        action = Action.DROPPED_AFTER_FORWARDING if forwarded else Action.DROPPED
        self._add(_Rule(method, action, times, skip))

    def heal(self) -> None:
        """Forget the faults not used yet: every request is forwarded from now on."""
        with self._lock:
            self._rules.clear()

    def _add(self, rule: _Rule) -> None:
        if rule.times < 1 or rule.skip < 0:
            raise ValueError("times must be 1 or more and skip 0 or more")
        with self._lock:
            self._rules.append(rule)

    def _take(self, method: str) -> _Rule | None:
        """The fault for this request, if any; counts it against its rule."""
        with self._lock:
            for rule in self._rules:
                if not rule.matches(method):
                    continue
                if rule.skip:
                    rule.skip -= 1
                    return None
                rule.times -= 1
                if rule.times == 0:
                    self._rules.remove(rule)
                return rule
        return None

    # -- what was seen -------------------------------------------------------------------

    def count(self, method: str = "*", action: Action | None = None) -> int:
        """How many requests for ``method`` (a pattern) came in (that got ``action``)."""
        with self._lock:
            return sum(
                1
                for s in self.seen
                if fnmatch.fnmatchcase(s.method, method) and action in (None, s.action)
            )

    def methods(self) -> list[str]:
        """The RPC methods of every request, in order."""
        with self._lock:
            return [s.method for s in self.seen]

    def _record(self, method: str, action: Action, status: int | None) -> None:
        with self._lock:
            self.seen.append(Seen(method, action, status))

    # -- forwarding ----------------------------------------------------------------------

    def forward(
        self, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, str, list[tuple[str, str]], bytes] | None:
        """Send a request to the server: status, reason, headers and body of its answer,
        or None when the server cannot be reached."""
        connection = http.client.HTTPConnection(*self._target, timeout=_UPSTREAM_TIMEOUT)
        try:
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
        except OSError:
            return None
        finally:
            connection.close()
        kept = [(k, v) for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP]
        return response.status, response.reason, kept, data

    # -- life ----------------------------------------------------------------------------

    def start(self) -> TrytonProxy:
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop listening and cut the connections still open, as a server that died would:
        a client's kept-alive connection must not reach a closed proxy."""
        self._httpd.shutdown()
        self._httpd.server_close()
        with self._lock:
            still_open = list(self._open)
        for connection in still_open:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=5)

    def _opened(self, connection: socket.socket) -> None:
        with self._lock:
            self._open.add(connection)

    def _closed(self, connection: socket.socket) -> None:
        with self._lock:
            self._open.discard(connection)

    def __repr__(self) -> str:
        return f"TrytonProxy({self.url!r} -> {self._target[0]}:{self._target[1]})"


def _rpc_method(body: bytes) -> str:
    try:
        payload: Any = json.loads(body)
    except ValueError:
        return "?"
    method = payload.get("method") if isinstance(payload, dict) else None
    return method if isinstance(method, str) else "?"


def _make_handler(proxy: TrytonProxy) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = 30  # an idle keep-alive connection does not hold its thread for ever
        disable_nagle_algorithm = True  # no ≈ 40 ms delayed-ACK stall per answer

        def setup(self) -> None:
            super().setup()
            proxy._opened(self.connection)

        def finish(self) -> None:
            proxy._closed(self.connection)
            super().finish()

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            method = _rpc_method(body)
            rule = proxy._take(method)
            if rule is not None and rule.action is Action.ANSWERED:
                headers = {"Retry-After": rule.retry_after} if rule.retry_after else {}
                # Recorded first: a client that has the answer may count at once.
                proxy._record(method, Action.ANSWERED, rule.status)
                self._reply(rule.status, None, list(headers.items()), _error_page(rule.status))
                return
            if rule is not None and rule.action is Action.DROPPED:
                proxy._record(method, Action.DROPPED, None)
                self.close_connection = True
                return
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            answer = proxy.forward(self.path, headers, body)
            if answer is None:
                proxy._record(method, Action.BAD_GATEWAY, 502)
                page = _error_page(502, "the server behind the test proxy cannot be reached")
                self._reply(502, None, [], page)
                return
            if rule is not None and rule.action is Action.DROPPED_AFTER_FORWARDING:
                proxy._record(method, Action.DROPPED_AFTER_FORWARDING, None)
                self.close_connection = True
                return
            status, reason, kept, data = answer
            if rule is not None and rule.action is Action.DELAYED:
                proxy._record(method, Action.DELAYED, status)
                time.sleep(rule.delay)
            else:
                proxy._record(method, Action.FORWARDED, status)
            self._reply(status, reason, kept, data)

        def _reply(
            self, status: int, reason: str | None, headers: list[tuple[str, str]], data: bytes
        ) -> None:
            self.send_response(status, reason)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return _Handler


def _error_page(status: int, text: str = "injected by the test proxy") -> bytes:
    """A small HTML error page like the one Tryton's web server sends."""
    phrase = HTTPStatus(status).phrase
    return f"<!doctype html><title>{status} {phrase}</title><h1>{phrase}</h1><p>{text}</p>".encode()


@contextmanager
def tryton_proxy(target_url: str, *, port: int = 0) -> Iterator[TrytonProxy]:
    """A started :class:`TrytonProxy` in front of ``target_url``, shut down on exit."""
    proxy = TrytonProxy(target_url, port=port).start()
    try:
        yield proxy
    finally:
        proxy.close()
