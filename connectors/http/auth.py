"""Authenticators: put a connection's credential on each request (``requests`` auth hooks).

Every authenticator here knows the secrets it sends (:meth:`CredentialAuth.secrets`), so the
session can mask them in its messages. Credentials that expire — an OAuth2 token, an ERP's
login session — derive from :class:`RefreshableAuth`: the session calls ``refresh()`` and
resends once when a response says the credential went stale (HTTP 401 by default).
:class:`TokenAuth` is the base for any "log in, get a token, reuse it until it expires"
scheme; :class:`OAuth2ClientCredentials` is one, a Tryton session login can be another.
"""

from __future__ import annotations

import base64
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Literal
from urllib.parse import parse_qsl, quote_plus, urlencode, urlsplit, urlunsplit

import requests
from requests.auth import AuthBase

from sheetloop.connectors.http.secrets import Redactor, Secret
from sheetloop.errors import ExternalSystemError, UsageError


class CredentialAuth(AuthBase):
    """An authenticator that can list the secrets it puts on the wire."""

    def secrets(self) -> tuple[Secret, ...]:
        """Every secret value (and derived value) this authenticator may send."""
        return ()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(***)"


class ApiKeyAuth(CredentialAuth):
    """An API key in a header (``X-API-Key`` unless told otherwise) or a query parameter."""

    def __init__(
        self, secret: Secret, *, header: str | None = None, query: str | None = None
    ) -> None:
        if header and query:
            raise UsageError(
                "An API key goes in a header or in a query parameter, not both: give "
                "header= or query=."
            )
        self._secret = secret
        self.query = query
        self.header = None if query else (header or "X-API-Key")

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        if self.query:
            parts = urlsplit(r.url or "")
            pairs = parse_qsl(parts.query, keep_blank_values=True)
            if any(name == self.query for name, _ in pairs):
                # A next-page link may carry the key already: replace it, never send it twice.
                kept = [(name, value) for name, value in pairs if name != self.query]
                r.url = urlunsplit(parts._replace(query=urlencode(kept)))
            r.prepare_url(r.url, {self.query: self._secret.reveal()})
        elif self.header:
            r.headers[self.header] = self._secret.reveal()
        return r

    def secrets(self) -> tuple[Secret, ...]:
        return (self._secret,)

    def __repr__(self) -> str:
        where = f"query={self.query!r}" if self.query else f"{self.header!r}"
        return f"ApiKeyAuth(***, {where})"


class BearerAuth(CredentialAuth):
    """``Authorization: Bearer <token>`` (HubSpot private apps, most token APIs)."""

    def __init__(self, secret: Secret) -> None:
        self._secret = secret

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = f"Bearer {self._secret.reveal()}"
        return r

    def secrets(self) -> tuple[Secret, ...]:
        return (self._secret,)


def _basic(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


class BasicAuth(CredentialAuth):
    """HTTP Basic: ``Authorization: Basic base64(user:password)``."""

    def __init__(self, user: str, secret: Secret) -> None:
        self.user = user
        self._secret = secret

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = f"Basic {_basic(self.user, self._secret.reveal())}"
        return r

    def secrets(self) -> tuple[Secret, ...]:
        # The header carries base64("user:password"), which holds no base64 of the password
        # alone: the pair itself must be known to be masked.
        return (self._secret, Secret(f"{self.user}:{self._secret.reveal()}"))

    def __repr__(self) -> str:
        return f"BasicAuth({self.user!r}, ***)"


class RefreshableAuth(CredentialAuth, ABC):
    """A credential that can go stale and be renewed: a login session, an OAuth2 token.

    The session resends a request once after :meth:`refresh` when :meth:`should_refresh`
    says the response means "credential expired".
    """

    @abstractmethod
    def refresh(self) -> None:
        """Drop the current credential and obtain a new one."""

    def should_refresh(self, response: requests.Response) -> bool:
        """Whether ``response`` says the credential is stale (HTTP 401 unless overridden)."""
        return response.status_code == 401


class TokenAuth(RefreshableAuth):
    """A token obtained by some login call, reused until shortly before it expires.

    Subclasses say how to get a token (:meth:`fetch_token`, returning the token and its
    lifetime in seconds, or ``None`` when it lasts until refused) and how to put it on a
    request (:meth:`apply_token`). Safe to share between threads.
    """

    def __init__(
        self, *, clock: Callable[[], float] = time.monotonic, refresh_margin: float = 30.0
    ) -> None:
        self._clock = clock
        self.refresh_margin = refresh_margin
        self._lock = threading.Lock()
        self._token: Secret | None = None
        self._expires_at: float | None = None
        self.tokens_fetched = 0

    @abstractmethod
    def fetch_token(self) -> tuple[Secret, float | None]:
        """Log in: a fresh token and its lifetime in seconds (``None``: until refused)."""

    @abstractmethod
    def apply_token(self, r: requests.PreparedRequest, token: Secret) -> None:
        """Put ``token`` on the request."""

    def token(self) -> Secret:
        """The cached token, fetched anew when there is none or it is about to expire."""
        with self._lock:
            token = self._token
            if token is None or (
                self._expires_at is not None and self._clock() >= self._expires_at
            ):
                token = self._renew()
            return token

    def refresh(self) -> None:
        with self._lock:
            self._renew()

    def _renew(self) -> Secret:
        self._token = None
        token, lifetime = self.fetch_token()
        self.tokens_fetched += 1
        self._token = token
        if lifetime is None:
            self._expires_at = None
        else:
            # Renew a little early so a token does not expire between check and use; a
            # short-lived token keeps at least half its life.
            margin = min(self.refresh_margin, lifetime / 2)
            self._expires_at = self._clock() + lifetime - margin
        return token

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        self.apply_token(r, self.token())
        return r

    def secrets(self) -> tuple[Secret, ...]:
        token = self._token
        return () if token is None else (token,)


class OAuth2ClientCredentials(TokenAuth):
    """OAuth2 client-credentials grant (RFC 6749 §4.4): a bearer token from ``token_url``,
    cached until shortly before ``expires_in`` and fetched again after a 401.

    The client authenticates with HTTP Basic (``client_auth="basic"``, what the RFC asks
    every server to accept) or with ``client_id``/``client_secret`` form fields
    (``client_auth="body"``). ``session`` lets the caller set proxies or a CA bundle for the
    token endpoint; by default each (rare) token fetch uses a short-lived session.
    """

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: Secret,
        *,
        scope: str | Sequence[str] | None = None,
        client_auth: Literal["basic", "body"] = "basic",
        session: requests.Session | None = None,
        timeout: tuple[float, float] = (5.0, 30.0),
        name: str = "OAuth2",
        clock: Callable[[], float] = time.monotonic,
        refresh_margin: float = 30.0,
    ) -> None:
        super().__init__(clock=clock, refresh_margin=refresh_margin)
        if client_auth not in ("basic", "body"):
            raise UsageError(f"{name}: client_auth must be 'basic' or 'body'.")
        self.token_url = token_url
        self.client_id = client_id
        self._client_secret = client_secret
        self.scope = scope if scope is None or isinstance(scope, str) else " ".join(scope)
        self.client_auth = client_auth
        self._session = session
        self.timeout = timeout
        self.name = name

    def _static_secrets(self) -> tuple[Secret, ...]:
        secret = self._client_secret.reveal()
        return (
            self._client_secret,
            Secret(f"{self.client_id}:{secret}"),
            Secret(f"{quote_plus(self.client_id)}:{quote_plus(secret)}"),
        )

    def secrets(self) -> tuple[Secret, ...]:
        return (*self._static_secrets(), *super().secrets())

    def fetch_token(self) -> tuple[Secret, float | None]:
        form = {"grant_type": "client_credentials"}
        if self.scope:
            form["scope"] = self.scope
        headers = {"Accept": "application/json"}
        if self.client_auth == "basic":
            # RFC 6749 §2.3.1: id and secret are form-encoded before the Basic encoding.
            pair = _basic(quote_plus(self.client_id), quote_plus(self._client_secret.reveal()))
            headers["Authorization"] = f"Basic {pair}"
        else:
            form |= {"client_id": self.client_id, "client_secret": self._client_secret.reveal()}
        redact = Redactor(self._static_secrets())
        where = f"{self.name}: the OAuth2 token URL {redact(self.token_url)}"
        try:
            if self._session is not None:
                response = self._session.post(
                    self.token_url, data=form, headers=headers, timeout=self.timeout
                )
            else:
                with requests.Session() as session:
                    response = session.post(
                        self.token_url, data=form, headers=headers, timeout=self.timeout
                    )
        except requests.RequestException as exc:
            raise ExternalSystemError(
                f"{where} could not be reached ({type(exc).__name__}): is it right and "
                f"reachable from this machine?"
            ) from None
        if response.status_code >= 400:
            raise ExternalSystemError(
                f"{where} refused the client credentials with HTTP {response.status_code}: "
                f"{redact.excerpt(response.text)}. Check the client id and the client "
                f"secret the Auth cell points at."
            )
        try:
            body = response.json()
            token = body["access_token"]
            if not isinstance(token, str) or not token:
                raise TypeError
        except (ValueError, KeyError, TypeError):
            raise ExternalSystemError(
                f"{where} answered HTTP {response.status_code} without an access_token "
                f"({redact.excerpt(response.text)}): check that the URL is the token "
                f"endpoint."
            ) from None
        lifetime = body.get("expires_in")
        try:
            seconds = None if lifetime is None else float(lifetime)
        except (TypeError, ValueError):
            seconds = None
        return Secret(token), seconds

    def apply_token(self, r: requests.PreparedRequest, token: Secret) -> None:
        r.headers["Authorization"] = f"Bearer {token.reveal()}"

    def __repr__(self) -> str:
        return f"OAuth2ClientCredentials({self.token_url!r}, {self.client_id!r}, ***)"
