"""A typed JSON-RPC client for the Tryton ERP server.

One ``TrytonClient`` speaks to one database of one server: it logs in lazily, appends the
user's context to model calls, batches creates, writes, deletes and reads, and turns every
failure into an ``ExternalSystemError`` that names the server, the database, the method,
Tryton's own explanation and what to do. Passwords and session tokens never appear in a
message or a ``repr``.

Transient failures are retried with the HTTP layer's :class:`RetryPolicy` (exponential
backoff with jitter, ``Retry-After`` obeyed): calls that only read (``READ_METHODS``, the
login...) after HTTP 429/502/503/504, a dropped connection or a timeout; calls that change
data only when the connection could not even be opened, because after an answer or a
timeout Tryton may have carried them out, and a second create makes a duplicate.

Tryton carries Decimal, date, datetime, time, timedelta and bytes values as tagged JSON
objects (``{"__class__": "Decimal", "decimal": "1.5"}``); the client encodes and decodes
them both ways, so callers only ever see Python values.

A client is not thread-safe: use one per thread.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import html
import itertools
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from enum import StrEnum
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit, urlunsplit

import requests
from requests.auth import AuthBase

from sheetloop.connectors.http.retry import RetryPolicy, never_sent
from sheetloop.errors import ExternalSystemError

__all__ = [
    "DEFAULT_READ_BATCH",
    "DEFAULT_RETRY",
    "DEFAULT_WRITE_BATCH",
    "READ_METHODS",
    "Domain",
    "Order",
    "TrytonClient",
    "TrytonError",
    "TrytonFailure",
    "decode_tryton_json",
    "encode_tryton_json",
]

#: A Tryton search domain, e.g. ``[("code", "like", "W-%")]``.
Domain = Sequence[Any]
#: A Tryton order, e.g. ``[("code", "ASC")]``.
Order = Sequence[tuple[str, str]]

#: Records per ``search_read``/``read`` call.
DEFAULT_READ_BATCH = 1000
#: Records per ``create``/``write``/``delete`` call: big enough to keep round trips few,
#: small enough to stay far below Tryton's request size limits.
DEFAULT_WRITE_BATCH = 500

#: Retries of a client built without its own policy: two more tries, after waits of up to
#: 1 s and 2 s, ride out a restarting server or proxy without keeping a user waiting long
#: (each try after a timeout costs the timeout again). Read when a client is made, so a
#: test may swap it for one whose ``sleep`` does not wait.
DEFAULT_RETRY = RetryPolicy(max_attempts=3, backoff=1.0, max_backoff=8.0, max_retry_after=60.0)

#: Model methods that only read: sending one twice changes nothing in Tryton.
READ_METHODS: frozenset[str] = frozenset(
    {
        "autocomplete",
        "default_get",
        "export_data",
        "fields_get",
        "fields_view_get",
        "get_preferences",
        "history_revisions",
        "on_change",
        "on_change_with",
        "pre_validate",
        "read",
        "search",
        "search_count",
        "search_read",
        "view_toolbar_get",
    }
)
# Calls outside models that are as safe to repeat (a second login opens a second session).
_READ_ONLY_CALLS = frozenset(
    {
        "common.authentication.services",
        "common.db.list",
        "common.db.login",
        "common.db.logout",
        "common.server.version",
    }
)
# Said of a call that changes data when it failed in a way that leaves its fate unknown.
_NOT_SENT_AGAIN = (
    "It was not sent again, as Tryton may have carried it out: check there before sending it again"
)

# Methods routed to a model, wizard or report take the context as their last parameter.
_CONTEXT_PREFIXES = ("model.", "wizard.", "report.")
_LOGIN_METHOD = "common.db.login"
_DETAIL_LIMIT = 400

_T = TypeVar("_T")


class TrytonFailure(StrEnum):
    """What kind of failure a ``TrytonError`` reports."""

    UNREACHABLE = "unreachable"
    TIMEOUT = "timeout"
    LOGIN = "login"
    RATE_LIMITED = "rate_limited"
    NOT_FOUND = "not_found"
    FORBIDDEN = "forbidden"
    TOO_LARGE = "too_large"
    USER_ERROR = "user_error"
    USER_WARNING = "user_warning"
    CONCURRENCY = "concurrency"
    SERVER = "server"
    PROTOCOL = "protocol"


class TrytonError(ExternalSystemError):
    """A Tryton call failed (exit 3).

    ``failure`` says what kind of failure it was, ``method`` which RPC method failed and
    ``tryton_message`` carries Tryton's own text when the server sent one.
    """

    def __init__(
        self,
        message: str,
        *,
        failure: TrytonFailure,
        method: str,
        tryton_message: str | None = None,
    ) -> None:
        super().__init__(message)
        self.failure = failure
        self.method = method
        self.tryton_message = tryton_message


class _SessionRefused(Exception):
    """The server refused the session (HTTP 401/403): the caller may log in again once."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(status)
        self.status = status
        self.detail = detail


# --- the wire format --------------------------------------------------------------------


def _encode_value(value: object) -> object:
    # datetime is a subclass of date: test it first.
    if isinstance(value, Decimal):
        return {"__class__": "Decimal", "decimal": str(value)}
    if isinstance(value, dt.datetime):
        return {
            "__class__": "datetime",
            "year": value.year,
            "month": value.month,
            "day": value.day,
            "hour": value.hour,
            "minute": value.minute,
            "second": value.second,
            "microsecond": value.microsecond,
        }
    if isinstance(value, dt.date):
        return {"__class__": "date", "year": value.year, "month": value.month, "day": value.day}
    if isinstance(value, dt.time):
        return {
            "__class__": "time",
            "hour": value.hour,
            "minute": value.minute,
            "second": value.second,
            "microsecond": value.microsecond,
        }
    if isinstance(value, dt.timedelta):
        return {"__class__": "timedelta", "seconds": value.total_seconds()}
    if isinstance(value, bytes | bytearray | memoryview):
        return {"__class__": "bytes", "base64": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, set | frozenset):
        return list(value)
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"a {type(value).__name__} cannot be sent to Tryton")


def _decode_object(obj: dict[str, Any]) -> object:
    kind = obj.get("__class__")
    if kind is None:
        return obj
    if kind == "Decimal":
        return Decimal(obj["decimal"])
    if kind == "date":
        return dt.date(obj["year"], obj["month"], obj["day"])
    if kind == "datetime":
        return dt.datetime(
            obj["year"],
            obj["month"],
            obj["day"],
            obj.get("hour", 0),
            obj.get("minute", 0),
            obj.get("second", 0),
            obj.get("microsecond", 0),
        )
    if kind == "time":
        return dt.time(
            obj.get("hour", 0),
            obj.get("minute", 0),
            obj.get("second", 0),
            obj.get("microsecond", 0),
        )
    if kind == "timedelta":
        return dt.timedelta(seconds=obj["seconds"])
    if kind == "bytes":
        return base64.b64decode(obj["base64"])
    return obj


def encode_tryton_json(payload: object) -> str:
    """Serialise ``payload`` the way Tryton's JSON-RPC expects (Decimal, dates, bytes tagged)."""
    return json.dumps(payload, default=_encode_value, separators=(",", ":"))


def decode_tryton_json(text: str | bytes) -> Any:
    """Parse a Tryton JSON-RPC body, turning tagged objects back into Python values."""
    return json.loads(text, object_hook=_decode_object)


# --- the client -------------------------------------------------------------------------


class TrytonSessionAuth(AuthBase):
    """Tryton's session authentication: ``Authorization: Session base64(login:id:token)``
    with the user id and token ``common.db.login`` returned. Its ``repr`` hides the token."""

    def __init__(self, login: str, user_id: int, token: str) -> None:
        self._login = login
        self._user_id = user_id
        self._token = token

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        credentials = f"{self._login}:{self._user_id}:{self._token}".encode()
        r.headers["Authorization"] = "Session " + base64.b64encode(credentials).decode("ascii")
        return r

    def __repr__(self) -> str:
        return f"TrytonSessionAuth(login={self._login!r}, token=***)"


class TrytonClient:
    """A session with one Tryton database over JSON-RPC.

    ``url`` is the server's root (``http://host:8000/``), ``database`` the database name.
    The client logs in on its first call and once more when the server drops the session.
    ``retry`` says which failures are tried again and how long to wait first (default
    ``DEFAULT_RETRY``); only calls that cannot do a thing twice are repeated. ``calls``
    counts every HTTP request sent, logins and retries included.
    """

    def __init__(
        self,
        url: str,
        database: str,
        user: str,
        password: str,
        *,
        session: requests.Session | None = None,
        timeout: float = 30.0,
        context: Mapping[str, Any] | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._url = url if url.endswith("/") else url + "/"
        self._display_url = _without_credentials(self._url)
        self._database = database
        self._user = user
        self._password = password
        self._timeout = timeout
        self._retry = retry if retry is not None else DEFAULT_RETRY
        self._owns_session = session is None
        self._http = session if session is not None else requests.Session()
        self._endpoint = f"{self._url}{quote(database, safe='')}/rpc/"
        self._extra_context = dict(context or {})
        self._context: dict[str, Any] = dict(self._extra_context)
        self._user_id: int | None = None
        self._token: str | None = None
        self._ids = itertools.count(1)
        self.calls = 0

    # -- identity ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The server's root URL, without any credentials it may carry."""
        return self._display_url

    @property
    def database(self) -> str:
        """The Tryton database this client talks to."""
        return self._database

    @property
    def user(self) -> str:
        """The login name."""
        return self._user

    @property
    def user_id(self) -> int | None:
        """The user's id once logged in, else ``None``."""
        return self._user_id

    @property
    def logged_in(self) -> bool:
        """Whether the client holds a session."""
        return self._token is not None

    @property
    def retry(self) -> RetryPolicy:
        """The retry policy of this client."""
        return self._retry

    @property
    def context(self) -> dict[str, Any]:
        """The context sent with model calls: the user's preferences, then the caller's."""
        return dict(self._context)

    def __repr__(self) -> str:
        return (
            f"TrytonClient(url={self._display_url!r}, database={self._database!r}, "
            f"user={self._user!r}, logged_in={self.logged_in}, calls={self.calls})"
        )

    def __enter__(self) -> TrytonClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- session -------------------------------------------------------------------------

    def login(self) -> None:
        """Open a session and load the user's context (company, language...)."""
        self._token = None
        self._user_id = None
        language = self._extra_context.get("language")
        try:
            result = self._post(
                _LOGIN_METHOD, [self._user, {"password": self._password}, language], auth=False
            )
        except _SessionRefused as refused:
            raise self._login_refused(refused.status) from None
        if (
            not isinstance(result, list | tuple)
            or len(result) < 2
            or not isinstance(result[0], int)
            or not isinstance(result[1], str)
        ):
            raise self._error(
                TrytonFailure.PROTOCOL,
                _LOGIN_METHOD,
                f"{self._where} answered {_LOGIN_METHOD} with a {type(result).__name__}, "
                "not a session",
                "check that the URL points at a Tryton server",
            )
        self._user_id, self._token = result[0], result[1]
        preferences = self._call_authenticated("model.res.user.get_preferences", [True, {}])
        if isinstance(preferences, dict):
            self._context = {**preferences, **self._extra_context}

    def logout(self) -> None:
        """Close the session on the server (the next call logs in again)."""
        if self._token is None:
            return
        # A session the server already dropped is as good as closed.
        with contextlib.suppress(_SessionRefused, TrytonError):
            self._post("common.db.logout", [], auth=True)
        self._token = None
        self._user_id = None

    def close(self) -> None:
        """Forget the session (without a round trip: the server lets it expire) and release
        the HTTP connection pool this client created."""
        self._token = None
        self._user_id = None
        if self._owns_session:
            self._http.close()

    # -- calls ---------------------------------------------------------------------------

    def call(
        self,
        method: str,
        *params: Any,
        context: Mapping[str, Any] | None = None,
        idempotent: bool | None = None,
    ) -> Any:
        """Call any RPC ``method`` (``model.purchase.purchase.quote``...) with ``params``.

        Model, wizard and report calls get the user context appended as their last
        parameter, updated with ``context``. Workflow buttons are plain calls:
        ``client.call("model.purchase.purchase.quote", [purchase_id])``.

        A call that only reads (a method of ``READ_METHODS``) is retried after transient
        failures; others only when nothing reached the server. ``idempotent=True`` marks
        a method of a custom module as safe to repeat, ``idempotent=False`` forbids it.
        """
        args = list(params)
        if method == _LOGIN_METHOD:
            return self._post(method, args, auth=False, idempotent=idempotent)
        fresh = self._token is None
        if fresh:
            # Log in first: the login loads the user's context (company, ...), which the
            # call must carry.
            self.login()
        if method.startswith(_CONTEXT_PREFIXES):
            args.append({**self._context, **(context or {})})
        # A refusal of a session opened a moment ago is not an expiry: do not log in again.
        return self._call_authenticated(method, args, relogin=not fresh, idempotent=idempotent)

    def model(self, model: str, method: str, *params: Any) -> Any:
        """Call ``model.<model>.<method>`` with ``params`` and the user context."""
        return self.call(f"model.{model}.{method}", *params)

    def button(self, model: str, button: str, ids: Sequence[int]) -> Any:
        """Press a workflow button (``quote``, ``confirm``, ``wait``...) on records ``ids``."""
        return self.call(f"model.{model}.{button}", list(ids))

    def search(
        self,
        model: str,
        domain: Domain,
        *,
        offset: int = 0,
        limit: int | None = None,
        order: Order | None = None,
    ) -> list[int]:
        """The ids of ``model`` records matching ``domain``."""
        found = self.model(model, "search", list(domain), offset, limit, _order(order))
        return list(found)

    def search_count(self, model: str, domain: Domain) -> int:
        """How many ``model`` records match ``domain``."""
        return int(self.model(model, "search_count", list(domain)))

    def search_read(
        self,
        model: str,
        domain: Domain,
        fields: Sequence[str],
        *,
        order: Order | None = None,
        batch: int = DEFAULT_READ_BATCH,
    ) -> list[dict[str, Any]]:
        """Every ``model`` record matching ``domain`` with ``fields`` (and ``id``).

        Pages through the result ``batch`` records per call; the order always ends on
        ``id`` so that pages neither skip nor repeat records.
        """
        _check_batch(batch)
        stable = _stable_order(order)
        rows: list[dict[str, Any]] = []
        for offset in itertools.count(0, batch):
            page = self.model(
                model, "search_read", list(domain), offset, batch, stable, list(fields)
            )
            rows.extend(page)
            if len(page) < batch:
                return rows
        raise AssertionError("unreachable")  # pragma: no cover - count() never ends

    def read(
        self,
        model: str,
        ids: Sequence[int],
        fields: Sequence[str],
        *,
        batch: int = DEFAULT_READ_BATCH,
    ) -> list[dict[str, Any]]:
        """``fields`` of the ``model`` records ``ids``, in the order of ``ids``."""
        _check_batch(batch)
        rows: list[dict[str, Any]] = []
        for chunk in _chunks(ids, batch):
            rows.extend(self.model(model, "read", list(chunk), list(fields)))
        return rows

    def create(
        self,
        model: str,
        values: Sequence[Mapping[str, Any]],
        *,
        batch: int = DEFAULT_WRITE_BATCH,
    ) -> list[int]:
        """Create one ``model`` record per mapping of ``values``; their ids, in order.

        Sends ``batch`` records per call, never one call per record.
        """
        _check_batch(batch)
        ids: list[int] = []
        for chunk in _chunks(values, batch):
            ids.extend(self.model(model, "create", [dict(v) for v in chunk]))
        return ids

    def write(
        self,
        model: str,
        ids_and_values: Sequence[tuple[Sequence[int], Mapping[str, Any]]],
        *,
        batch: int = DEFAULT_WRITE_BATCH,
    ) -> None:
        """Write each ``(ids, values)`` pair, packing up to ``batch`` records per call."""
        _check_batch(batch)
        for group in _write_groups(ids_and_values, batch):
            args: list[Any] = []
            for ids, values in group:
                args.extend([list(ids), dict(values)])
            self.model(model, "write", *args)

    def delete(self, model: str, ids: Sequence[int], *, batch: int = DEFAULT_WRITE_BATCH) -> None:
        """Delete the ``model`` records ``ids``, ``batch`` per call."""
        _check_batch(batch)
        for chunk in _chunks(ids, batch):
            self.model(model, "delete", list(chunk))

    # -- the wire ------------------------------------------------------------------------

    def _call_authenticated(
        self,
        method: str,
        args: list[Any],
        *,
        relogin: bool = False,
        idempotent: bool | None = None,
    ) -> Any:
        try:
            return self._post(method, args, auth=True, idempotent=idempotent)
        except _SessionRefused as refused:
            if relogin:
                # Sessions expire after a few idle minutes: one fresh login is normal.
                self.login()
                return self._call_authenticated(method, args, idempotent=idempotent)
            if refused.status == 401:
                raise self._error(
                    TrytonFailure.LOGIN,
                    method,
                    f"{self._where} refused {method}: the session it had just opened for "
                    f"user {self._user!r} was not accepted (HTTP 401)",
                    "check that the user is active and may log in",
                ) from None
            raise self._error(
                TrytonFailure.FORBIDDEN,
                method,
                f"{self._where} refused {method} (HTTP 403): the method does not exist "
                f"or user {self._user!r} may not call it",
                "check the model and method names and the user's access rights in Tryton",
                tryton_message=refused.detail or None,
            ) from None

    def _post(
        self, method: str, params: list[Any], *, auth: bool, idempotent: bool | None = None
    ) -> Any:
        body = encode_tryton_json({"id": next(self._ids), "method": method, "params": params})
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        session = (
            TrytonSessionAuth(self._user, self._user_id, self._token)
            if auth and self._token is not None and self._user_id is not None
            else None
        )
        repeatable = _read_only(method) if idempotent is None else idempotent
        policy = self._retry
        attempt = 0
        while True:
            attempt += 1
            self.calls += 1
            try:
                response = self._http.post(
                    self._endpoint,
                    data=body.encode("utf-8"),
                    headers=headers,
                    timeout=self._timeout,
                    auth=session,
                )
            except requests.RequestException as exc:
                # A bad URL or certificate fails the same way every time: no retry for those.
                transient = isinstance(exc, requests.ConnectionError | requests.Timeout)
                transient = transient and not isinstance(exc, requests.exceptions.SSLError)
                sent = transient and not never_sent(exc)
                if transient and policy.retries_error("POST", attempt, repeatable, sent=sent):
                    policy.sleep(policy.wait_after(attempt))
                    continue
                raise self._unanswered(method, exc, attempt, sent and not repeatable) from None
            if response.status_code == 200:
                return self._result(method, response)
            if self._retries_status(method, response.status_code, attempt, repeatable):
                wait = policy.wait_after(attempt, response.headers.get("Retry-After"))
                response.close()
                policy.sleep(wait)
                continue
            return self._http_failure(method, response, attempt, repeatable)

    def _retries_status(self, method: str, status: int, attempt: int, repeatable: bool) -> bool:
        if method == _LOGIN_METHOD and status == 429:
            # Tryton's lock after failed logins lasts minutes: trying again only prolongs it.
            return False
        return self._retry.retries_status("POST", status, attempt, repeatable)

    def _unanswered(
        self, method: str, exc: requests.RequestException, attempts: int, maybe_done: bool
    ) -> TrytonError:
        """The error for a call that got no answer (``maybe_done``: it may have been
        carried out and was not sent again)."""
        tries = _tries(attempts)
        if isinstance(exc, requests.Timeout) and not isinstance(exc, requests.ConnectTimeout):
            todo = "the server may be overloaded or stuck: retry later, or raise the timeout"
            return self._error(
                TrytonFailure.TIMEOUT,
                method,
                f"{self._where} did not answer {method} within {self._timeout:g} s{tries}",
                f"{todo}. {_NOT_SENT_AGAIN}" if maybe_done else todo,
            )
        # Chaining would keep the request (and its credentials) reachable: say why instead.
        todo = "is the server running? Check the URL of the connection"
        return self._error(
            TrytonFailure.UNREACHABLE,
            method,
            f"cannot reach {self._where} for {method}: {_connection_reason(exc)}{tries}",
            f"{todo}. {_NOT_SENT_AGAIN}" if maybe_done else todo,
        )

    def _result(self, method: str, response: requests.Response) -> Any:
        """The result of a JSON-RPC answer (HTTP 200), or Tryton's error raised."""
        try:
            answer = decode_tryton_json(response.content)
        except ValueError:
            content_type = response.headers.get("Content-Type", "no content type")
            raise self._error(
                TrytonFailure.PROTOCOL,
                method,
                f"{self._where} answered {method} with something that is not JSON ({content_type})",
                "check that the URL points at a Tryton server",
            ) from None
        if not isinstance(answer, dict) or not ({"result", "error"} & answer.keys()):
            raise self._error(
                TrytonFailure.PROTOCOL,
                method,
                f"{self._where} answered {method} with JSON that is not a JSON-RPC reply",
                "check that the URL points at a Tryton server",
            )
        if answer.get("error") is not None:
            raise self._tryton_error(method, answer["error"])
        return answer.get("result")

    def _http_failure(
        self, method: str, response: requests.Response, attempts: int, repeatable: bool
    ) -> Any:
        status = response.status_code
        detail = _http_detail(response)
        where = self._where
        tries = _tries(attempts)
        if status in (401, 403):
            raise _SessionRefused(status, detail)
        if status == 429:
            raise self._error(
                TrytonFailure.RATE_LIMITED,
                method,
                f"{where} refused {method}: too many attempts from this address (HTTP 429){tries}",
                "wait a few minutes, then check User and the secret named in Auth",
            )
        if status == 404:
            raise self._error(
                TrytonFailure.NOT_FOUND,
                method,
                f"{where} answered {method} with HTTP 404: there is no such database there",
                "check Database and URL of the connection",
                tryton_message=detail or None,
            )
        if status == 413:
            raise self._error(
                TrytonFailure.TOO_LARGE,
                method,
                f"{where} refused {method}: the request is too large (HTTP 413)",
                "send fewer records per call (a smaller batch)",
                tryton_message=detail or None,
            )
        # A server error or a gateway's timeout may come after Tryton did the work.
        unsure = status >= 500 and not repeatable
        if status in (408, 504):
            todo = "send fewer records per call, or raise the server's request timeout"
            raise self._error(
                TrytonFailure.TIMEOUT,
                method,
                f"{where} gave up on {method} (HTTP {status}){tries}: it ran longer than the "
                "server allows",
                f"{todo}. {_NOT_SENT_AGAIN}" if unsure else todo,
                tryton_message=detail or None,
            )
        reason = f"HTTP {status} {response.reason or ''}".strip()
        todo = "see the Tryton server log"
        raise self._error(
            TrytonFailure.SERVER if status >= 500 else TrytonFailure.PROTOCOL,
            method,
            f"{where} failed on {method} ({reason}){tries}{': ' + detail if detail else ''}",
            f"{todo}. {_NOT_SENT_AGAIN}" if unsure else todo,
            tryton_message=detail or None,
        )

    def _login_refused(self, status: int) -> TrytonError:
        return self._error(
            TrytonFailure.LOGIN,
            _LOGIN_METHOD,
            f"{self._where} refused the login of user {self._user!r} (HTTP {status}): "
            "wrong user or password",
            "check User and the secret named in Auth",
        )

    def _tryton_error(self, method: str, error: object) -> TrytonError:
        kind, args = _split_error(error)
        where = self._where
        if kind == "UserError":
            text = _join(*_texts(args, 0, 1))
            return self._error(
                TrytonFailure.USER_ERROR,
                method,
                f"{where} rejected {method}: {text}",
                "correct the values Tryton names and try again",
                tryton_message=text,
            )
        if kind == "UserWarning":
            text = _join(*_texts(args, 1, 2))
            return self._error(
                TrytonFailure.USER_WARNING,
                method,
                f"{where} stopped {method} with a warning that needs confirmation: {text}",
                "review the warning in Tryton, or change the data so that it does not arise",
                tryton_message=text,
            )
        if kind == "ConcurrencyException":
            text = args if isinstance(args, str) else _join(*_texts(args, 0))
            return self._error(
                TrytonFailure.CONCURRENCY,
                method,
                f"{where} refused {method}: a record was changed meanwhile ({text})",
                "read the records again, then retry",
                tryton_message=text,
            )
        if kind == "LoginException":
            (text,) = _texts(args, 1)
            return self._error(
                TrytonFailure.LOGIN,
                method,
                f"{where} asks for more login details for {method}: {text or 'no details'}",
                "use a Tryton user that logs in with a password only",
                tryton_message=text or None,
            )
        text = kind or "no details"
        model = _model_of(method)
        if model is not None and text == repr(model):
            # Tryton's pool answers an unknown model name with a bare KeyError.
            return self._error(
                TrytonFailure.NOT_FOUND,
                method,
                f"{where} has no model {model!r} (calling {method})",
                "check the model name and that its module is activated in Tryton",
                tryton_message=text,
            )
        return self._error(
            TrytonFailure.SERVER,
            method,
            f"{where} failed on {method} with an internal error: {_shorten(text)}",
            "this is an error inside Tryton: see its server log",
            tryton_message=text,
        )

    @property
    def _where(self) -> str:
        return f"Tryton at {self._display_url} (database {self._database!r})"

    def _error(
        self,
        failure: TrytonFailure,
        method: str,
        what: str,
        todo: str,
        *,
        tryton_message: str | None = None,
    ) -> TrytonError:
        stop = "" if what.endswith((".", "!", "?")) else "."
        text = f"{what}{stop} {todo[:1].upper()}{todo[1:]}."
        return TrytonError(
            self._scrub(text),
            failure=failure,
            method=method,
            tryton_message=self._scrub(tryton_message) if tryton_message else None,
        )

    def _scrub(self, text: str) -> str:
        """Defence in depth: no secret may leak through a server's echo of the request."""
        for secret in (self._password, self._token):
            if secret:
                text = text.replace(secret, "***")
        return text


# --- helpers ----------------------------------------------------------------------------


def _order(order: Order | None) -> list[list[str]] | None:
    return None if order is None else [[field, direction] for field, direction in order]


def _stable_order(order: Order | None) -> list[list[str]]:
    stable = _order(order) or []
    if not any(field == "id" for field, _ in stable):
        stable.append(["id", "ASC"])
    return stable


def _check_batch(batch: int) -> None:
    if batch < 1:
        raise ValueError(f"batch must be at least 1, not {batch}")


def _chunks(items: Sequence[_T], size: int) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _write_groups(
    pairs: Sequence[tuple[Sequence[int], Mapping[str, Any]]], batch: int
) -> Iterator[list[tuple[Sequence[int], Mapping[str, Any]]]]:
    """Pack ``(ids, values)`` pairs into calls of at most ``batch`` records."""
    group: list[tuple[Sequence[int], Mapping[str, Any]]] = []
    size = 0
    for ids, values in pairs:
        for chunk in _chunks(ids, batch):
            if size + len(chunk) > batch and group:
                yield group
                group, size = [], 0
            group.append((chunk, values))
            size += len(chunk)
    if group:
        yield group


def _model_of(method: str) -> str | None:
    """``party.party`` for ``model.party.party.search``; ``None`` for other methods."""
    kind, _, rest = method.partition(".")
    if kind not in ("model", "wizard", "report") or "." not in rest:
        return None
    return rest.rsplit(".", 1)[0]


def _split_error(error: object) -> tuple[str, object]:
    if isinstance(error, list | tuple) and error:
        head = error[0]
        return (str(head) if head is not None else "", error[1] if len(error) > 1 else None)
    return (str(error) if error else "", None)


def _texts(args: object, *positions: int) -> tuple[str, ...]:
    items = args if isinstance(args, list | tuple) else [args]
    return tuple(
        str(items[i]) if i < len(items) and items[i] not in (None, "") else "" for i in positions
    )


def _join(*parts: str) -> str:
    return " — ".join(p.strip() for p in parts if p and p.strip()) or "no details"


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _DETAIL_LIMIT else text[: _DETAIL_LIMIT - 1] + "…"


def _http_detail(response: requests.Response) -> str:
    """The human part of an HTTP error body (Werkzeug sends a small HTML page)."""
    text = response.text or ""
    match = re.search(r"<p>(.*?)</p>", text, flags=re.DOTALL)
    if match:
        text = match.group(1)
    elif "<" in text:
        text = re.sub(r"<[^>]+>", " ", text)
    return _shorten(html.unescape(text))


def _read_only(method: str) -> bool:
    """Whether RPC ``method`` only reads, so that sending it twice changes nothing."""
    if method in _READ_ONLY_CALLS:
        return True
    kind, _, rest = method.partition(".")
    return kind == "model" and rest.rpartition(".")[2] in READ_METHODS


def _tries(attempts: int) -> str:
    return f" (after {attempts} attempts)" if attempts > 1 else ""


def _connection_reason(exc: requests.RequestException) -> str:
    text = str(exc).lower()
    if "refused" in text:
        return "connection refused"
    if "name or service not known" in text or "nodename nor servname" in text:
        return "unknown host name"
    if "reset" in text or "aborted" in text or "remote end closed" in text:
        return "the connection was dropped"
    if "timed out" in text:
        return "the connection timed out"
    return "network error"


def _without_credentials(url: str) -> str:
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc=netloc))
