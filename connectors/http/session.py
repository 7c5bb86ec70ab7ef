"""One HTTP session per connection: base URL, credentials, timeouts, retries, clear errors.

Every call has a timeout, TLS certificates are checked, failures that are safe to repeat are
retried per the :class:`RetryPolicy`, a stale credential is refreshed once, and a final
failure becomes an :class:`ExternalSystemError` that names the connection, the call, the
status and what the server said — with every secret masked.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests
from requests.auth import AuthBase

from sheetloop import __version__
from sheetloop.connectors.http.auth import CredentialAuth, RefreshableAuth
from sheetloop.connectors.http.retry import RetryPolicy, never_sent
from sheetloop.connectors.http.secrets import MASK, Redactor, Secret
from sheetloop.errors import ExternalSystemError, UsageError

Timeout = float | tuple[float, float]

# Query parameters that carry credentials by their very name: masked in messages even when
# the secret was never handed to the session.
SECRET_QUERY_PARAMS = frozenset(
    {
        "access_token",
        "api_key",
        "apikey",
        "client_secret",
        "hapikey",
        "key",
        "password",
        "secret",
        "sig",
        "signature",
        "token",
    }
)


def _advice(status: int, name: str) -> str:
    if status == 401:
        return (
            f"The credentials were refused: check the secret that the Auth cell of "
            f"connection {name!r} points at (and that it has not expired)."
        )
    if status == 403:
        return (
            f"The credentials lack a permission this needs: check the account or token "
            f"behind connection {name!r} and its scopes."
        )
    if status == 404:
        return f"Nothing at this address: check the URL of connection {name!r}."
    if status == 409:
        return "The record changed in the system meanwhile: pull, then try again."
    if status == 429:
        return "The system is rate limiting sheetloop: try again later."
    if status >= 500:
        return "The system itself failed: try again later, or tell its administrator."
    return "The system refused the request: see its message above."


class HttpSession:
    """An HTTP client for one connection (one ``requests.Session``, reused connections).

    ``base_url`` is the connection's URL; relative paths are appended to it, and absolute
    URLs must stay on its scheme, host and port, so credentials never travel elsewhere.
    ``secrets`` lists secrets to mask beyond those the ``auth`` already knows. ``verify``
    is ``True`` or a CA bundle path; ``False`` is refused unless ``allow_insecure=True``.
    ``requests_made`` counts every request sent, retries included. Use one session per
    thread.
    """

    def __init__(
        self,
        base_url: str,
        *,
        name: str,
        auth: AuthBase | None = None,
        timeout: Timeout = (5.0, 60.0),
        retry: RetryPolicy | None = None,
        secrets: Iterable[Secret | str] = (),
        user_agent: str = f"sheetloop/{__version__}",
        verify: bool | str = True,
        allow_insecure: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        parts = urlsplit(base_url.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise UsageError(
                f"Connection {name!r}: the URL must start with https:// (or http://) and name "
                f"a host, e.g. https://erp.example.com."
            )
        self.base_url = base_url.strip().rstrip("/")
        self._origin = (parts.scheme, parts.netloc.lower())
        self.timeout = self._checked_timeout(timeout)
        if verify is False and not allow_insecure:
            raise UsageError(
                f"Connection {name!r}: TLS certificate checks cannot be turned off without "
                f"allow_insecure=True. For a server with a private certificate authority, "
                f"give the path of its CA bundle instead."
            )
        self.retry = retry if retry is not None else RetryPolicy()
        self.auth = auth
        self._secrets = list(secrets)
        self.verify = verify
        self._session = requests.Session()
        self._session.headers["User-Agent"] = user_agent
        self._session.headers["Accept"] = "application/json"
        self._session.headers.update(headers or {})
        self._lock = threading.Lock()
        self.requests_made = 0
        self.closed = False

    def _checked_timeout(self, timeout: Timeout | None) -> Timeout:
        values = timeout if isinstance(timeout, tuple) else (timeout,)
        if timeout is None or not all(isinstance(v, int | float) and v > 0 for v in values):
            raise UsageError(
                f"Connection {self.name!r}: every request needs a timeout in seconds (a "
                f"number, or a (connect, read) pair), not {timeout!r}."
            )
        return timeout

    def redactor(self) -> Redactor:
        """A redactor that knows this connection's secrets, the auth's current ones too."""
        known: list[Secret | str] = list(self._secrets)
        if isinstance(self.auth, CredentialAuth):
            known.extend(self.auth.secrets())
        return Redactor(known)

    def url_for(self, path_or_url: str) -> str:
        """The full URL of a path relative to the base URL, or of an absolute URL on the
        same origin (any other is refused)."""
        parts = urlsplit(path_or_url)
        if parts.scheme or parts.netloc:
            if (parts.scheme, parts.netloc.lower()) != self._origin:
                raise UsageError(
                    f"Connection {self.name!r}: refusing to send its credentials to "
                    f"{self.safe_url(path_or_url)}, which is not on {self.base_url}."
                )
            return path_or_url
        if not path_or_url:
            return self.base_url
        return f"{self.base_url}/{path_or_url.lstrip('/')}"

    def safe_url(self, url: str, params: Mapping[str, Any] | None = None) -> str:
        """``url`` (plus ``params``) fit for a message: credentials in it masked."""
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        query += [(str(k), str(v)) for k, v in (params or {}).items() if v is not None]
        masked = [(k, MASK if k.lower() in SECRET_QUERY_PARAMS else v) for k, v in query]
        netloc = parts.netloc.rpartition("@")[2]  # user:password@host
        text = urlunsplit((parts.scheme, netloc, parts.path, urlencode(masked, safe="*"), ""))
        return self.redactor()(text)

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, Any] | str | bytes | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        timeout: Timeout | None = None,
    ) -> requests.Response:
        """Send one request, retrying as the policy allows; the response when its status is
        below 400. Raises :class:`ExternalSystemError` on the final failure.

        ``idempotent=True`` marks a POST that is safe to repeat (a JSON-RPC read);
        ``idempotent=False`` forbids repeating even a GET.
        """
        if self.closed:
            raise UsageError(f"Connection {self.name!r}: the HTTP session is closed.")
        method = method.upper()
        url = self.url_for(path_or_url)
        call_timeout = self.timeout if timeout is None else self._checked_timeout(timeout)
        policy = self.retry
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            with self._lock:
                self.requests_made += 1
            try:
                response = self._session.request(
                    method,
                    url,
                    params=params,
                    json=json,
                    data=data,
                    headers=headers,
                    auth=self.auth,
                    timeout=call_timeout,
                    # Per call: requests lets REQUESTS_CA_BUNDLE override a session's setting.
                    verify=self.verify,
                )
            except requests.exceptions.SSLError:
                raise self.failure(
                    method,
                    url,
                    "failed: the server's TLS certificate could not be verified. If it uses a "
                    "private certificate authority, give its CA bundle (verify=PATH).",
                    params,
                ) from None
            except (requests.ConnectionError, requests.Timeout) as exc:
                sent = not never_sent(exc)
                if policy.retries_error(method, attempt, idempotent, sent=sent):
                    policy.sleep(policy.wait_after(attempt))
                    continue
                raise self._unanswered(
                    method, url, params, exc, attempt, call_timeout, idempotent
                ) from None
            except requests.RequestException as exc:
                raise self.failure(
                    method, url, f"could not be sent ({type(exc).__name__}).", params
                ) from None
            if (
                not refreshed
                and isinstance(self.auth, RefreshableAuth)
                and self.auth.should_refresh(response)
            ):
                # A stale credential: renew it and resend once, outside the retry budget.
                refreshed = True
                response.close()
                self.auth.refresh()
                attempt -= 1
                continue
            if response.status_code < 400:
                return response
            if policy.retries_status(method, response.status_code, attempt, idempotent):
                wait = policy.wait_after(attempt, response.headers.get("Retry-After"))
                response.close()
                policy.sleep(wait)
                continue
            raise self._status_failure(method, url, params, response, attempt)

    def request_json(self, method: str, path_or_url: str, **kwargs: Any) -> Any:
        """:meth:`request`, then the body parsed as JSON (an error if it is not JSON)."""
        return self.decode_json(self.request(method, path_or_url, **kwargs))

    def decode_json(self, response: requests.Response) -> Any:
        """The JSON body of a response this session got; :class:`ExternalSystemError`
        naming the call when the body is not JSON."""
        try:
            return response.json()
        except ValueError:
            kind = response.headers.get("Content-Type", "no content type")
            raise self.failure(
                response.request.method or "GET",
                response.url,
                f"answered HTTP {response.status_code} with something that is not JSON "
                f"({kind}): {self.redactor().excerpt(response.text)}. Check that the URL "
                f"points at the API itself.",
            ) from None

    def get_json(
        self,
        path_or_url: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: Timeout | None = None,
    ) -> Any:
        """GET ``path_or_url`` and return its JSON body."""
        return self.request_json(
            "GET", path_or_url, params=params, headers=headers, timeout=timeout
        )

    def failure(
        self, method: str, url: str, what: str, params: Mapping[str, Any] | None = None
    ) -> ExternalSystemError:
        """An :class:`ExternalSystemError` about a call: connection, method, URL (with
        ``params``) and ``what`` went wrong, every secret masked."""
        message = f"Connection {self.name!r}: {method} {self.safe_url(url, params)} {what}"
        return ExternalSystemError(self.redactor()(message))

    def _unanswered(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None,
        exc: requests.RequestException,
        attempts: int,
        timeout: Timeout,
        idempotent: bool | None,
    ) -> ExternalSystemError:
        tries = f" (after {attempts} attempts)" if attempts > 1 else ""
        if isinstance(exc, requests.ReadTimeout):
            read = timeout[1] if isinstance(timeout, tuple) else timeout
            what = (
                f"got no answer within {read:g} s{tries}: the system may be overloaded or "
                f"unreachable. Try again later, or raise the connection's timeout."
            )
        elif isinstance(exc, requests.Timeout) or never_sent(exc):
            host = urlsplit(url).hostname
            what = (
                f"could not connect to {host}{tries} ({type(exc).__name__}): is the system "
                f"reachable from this machine (URL, network, VPN, proxy)?"
            )
        elif self.retry.is_idempotent(method, idempotent):
            what = (
                f"lost the connection before an answer{tries} ({type(exc).__name__}): is "
                f"the system reachable and well? Try again later."
            )
        else:
            what = (
                f"lost the connection before an answer ({type(exc).__name__}). It was not "
                f"sent again, as the system may have acted on it: check there, then try again."
            )
        return self.failure(method, url, what, params)

    def _status_failure(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None,
        response: requests.Response,
        attempts: int,
    ) -> ExternalSystemError:
        tries = f" (after {attempts} attempts)" if attempts > 1 else ""
        reason = f" {response.reason}" if response.reason else ""
        said = self.redactor().excerpt(response.text)
        said = f" The system said: {said}." if said else ""
        return self.failure(
            method,
            url,
            f"failed with HTTP {response.status_code}{reason}{tries}.{said} "
            f"{_advice(response.status_code, self.name)}",
            params,
        )

    def close(self) -> None:
        """Close the pooled connections."""
        self._session.close()
        self.closed = True

    def __enter__(self) -> HttpSession:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"HttpSession({self.safe_url(self.base_url)!r}, name={self.name!r})"
