"""Authenticators put the credential on each request; expiring ones renew themselves."""

from __future__ import annotations

import base64
import itertools
from collections.abc import Iterator

import pytest
import requests
from support.loopback_http import LoopbackServer, Reply, loopback_server

from sheetloop.connectors.http import (
    ApiKeyAuth,
    BasicAuth,
    BearerAuth,
    HttpSession,
    OAuth2ClientCredentials,
    RetryPolicy,
    Secret,
    TokenAuth,
)
from sheetloop.errors import ExternalSystemError, UsageError

KEY = "key-0a1b2c3d4e5f60718293a4b5c6d7e8f9"
CLIENT_SECRET = "cs-Zq8/Vw+Xy=Lm4Np7Rt2"


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with loopback_server() as running:
        yield running


def sent_headers(server: LoopbackServer, auth: requests.auth.AuthBase, **params) -> dict:
    server.replies("GET", "/whoami", Reply(200, {}))
    with HttpSession(server.url, name="crm", auth=auth) as session:
        session.get_json("/whoami", params=params or None)
    return server.requests_to("/whoami")[-1]


def test_an_api_key_goes_in_the_x_api_key_header_by_default(server):
    sent = sent_headers(server, ApiKeyAuth(Secret(KEY)))
    assert sent.header("X-API-Key") == KEY
    assert sent.query == {}


def test_an_api_key_can_go_in_another_header(server):
    assert (
        sent_headers(server, ApiKeyAuth(Secret(KEY), header="Api-Token")).header("Api-Token") == KEY
    )


def test_an_api_key_can_go_in_a_query_parameter_next_to_the_others(server):
    sent = sent_headers(server, ApiKeyAuth(Secret(KEY), query="hapikey"), limit=5)
    assert sent.query == {"limit": ["5"], "hapikey": [KEY]}
    assert sent.header("X-API-Key") is None


def test_an_api_key_already_in_a_next_page_link_is_replaced_not_repeated(server):
    server.replies("GET", "/whoami", Reply(200, {}))
    auth = ApiKeyAuth(Secret(KEY), query="hapikey")
    with HttpSession(server.url, name="crm", auth=auth) as session:
        session.get_json(f"{server.url}/whoami?after=abc&hapikey=stale")
    assert server.requests_to("/whoami")[0].query == {"after": ["abc"], "hapikey": [KEY]}


def test_an_api_key_goes_in_one_place_only():
    with pytest.raises(UsageError, match="not both"):
        ApiKeyAuth(Secret(KEY), header="X-Key", query="key")


def test_a_bearer_token_goes_in_the_authorization_header(server):
    assert sent_headers(server, BearerAuth(Secret(KEY))).header("Authorization") == f"Bearer {KEY}"


def test_basic_auth_sends_user_and_password_base64_encoded(server):
    header = sent_headers(server, BasicAuth("planner", Secret(KEY))).header("Authorization")
    assert header.startswith("Basic ")
    assert base64.b64decode(header[6:]).decode() == f"planner:{KEY}"


def test_no_authenticator_shows_its_secret_in_its_repr():
    auths = [
        ApiKeyAuth(Secret(KEY)),
        ApiKeyAuth(Secret(KEY), query="key"),
        BearerAuth(Secret(KEY)),
        BasicAuth("planner", Secret(KEY)),
        OAuth2ClientCredentials("https://idp/token", "client", Secret(KEY)),
    ]
    assert all(KEY not in repr(auth) and "***" in repr(auth) for auth in auths)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class TokenServer:
    """A token endpoint handing out tok-1, tok-2...; the API accepts only the latest
    token, or none when ``revoked``."""

    def __init__(self, server: LoopbackServer, expires_in: object = 3600) -> None:
        self.numbers = itertools.count(1)
        self.current = ""
        self.revoked = False
        self.expires_in = expires_in
        server.route("POST", "/oauth/token", self.token)
        server.route("GET", "/api/items", self.items)
        self.server = server

    def token(self, request) -> Reply:
        self.current = f"tok-{next(self.numbers)}-{'x' * 24}"
        body = {"access_token": self.current, "token_type": "bearer"}
        if self.expires_in is not None:
            body["expires_in"] = self.expires_in
        return Reply(200, body)

    def items(self, request) -> Reply:
        if self.revoked or request.header("Authorization") != f"Bearer {self.current}":
            return Reply(401, {"message": f"token {request.header('Authorization')} rejected"})
        return Reply(200, {"results": [1, 2]})

    @property
    def fetches(self) -> int:
        return len(self.server.requests_to("/oauth/token"))


def oauth(server: LoopbackServer, clock: Clock | None = None, **kwargs) -> OAuth2ClientCredentials:
    return OAuth2ClientCredentials(
        server.url + "/oauth/token",
        "sheetloop-client",
        Secret(CLIENT_SECRET),
        clock=clock or Clock(),
        **kwargs,
    )


def api(server: LoopbackServer, auth: requests.auth.AuthBase) -> HttpSession:
    return HttpSession(server.url, name="erp", auth=auth, retry=RetryPolicy(max_attempts=1))


def test_an_oauth2_token_is_fetched_once_and_reused(server):
    tokens = TokenServer(server)
    with api(server, oauth(server)) as session:
        for _ in range(3):
            assert session.get_json("/api/items") == {"results": [1, 2]}
    assert tokens.fetches == 1
    assert {r.header("Authorization") for r in server.requests_to("/api/items")} == {
        f"Bearer {tokens.current}"
    }


def test_an_oauth2_token_is_renewed_shortly_before_it_expires(server):
    tokens = TokenServer(server, expires_in=3600)
    clock = Clock()
    auth = oauth(server, clock, refresh_margin=30)
    with api(server, auth) as session:
        session.get_json("/api/items")
        clock.now += 3600 - 31
        session.get_json("/api/items")
        assert tokens.fetches == 1
        clock.now += 2  # now within the last 30 s of the token's life
        session.get_json("/api/items")
    assert tokens.fetches == 2
    assert auth.tokens_fetched == 2


def test_an_expires_in_given_as_text_is_understood(server):
    tokens = TokenServer(server, expires_in="60")
    clock = Clock()
    with api(server, oauth(server, clock)) as session:
        session.get_json("/api/items")
        clock.now += 59
        session.get_json("/api/items")
    assert tokens.fetches == 2


def test_a_token_without_expires_in_is_kept_until_refused(server):
    tokens = TokenServer(server, expires_in=None)
    clock = Clock()
    with api(server, oauth(server, clock)) as session:
        session.get_json("/api/items")
        clock.now += 10**7
        session.get_json("/api/items")
    assert tokens.fetches == 1


def test_a_401_renews_the_token_and_sends_the_request_once_more(server):
    tokens = TokenServer(server)
    with api(server, oauth(server)) as session:
        session.get_json("/api/items")
        tokens.current = "tok-revoked-by-the-server"
        assert session.get_json("/api/items") == {"results": [1, 2]}
        assert session.requests_made == 3
    assert tokens.fetches == 2


def test_a_401_that_persists_after_renewal_fails_without_looping(server):
    tokens = TokenServer(server)
    tokens.revoked = True
    with api(server, oauth(server)) as session, pytest.raises(ExternalSystemError) as caught:
        session.get_json("/api/items")
    assert tokens.fetches == 2
    assert len(server.requests_to("/api/items")) == 2
    message = str(caught.value)
    assert "HTTP 401" in message and "Auth cell" in message
    assert tokens.current not in message and "Bearer ***" in message


def test_client_credentials_go_in_a_basic_header_by_default(server):
    TokenServer(server)
    with api(server, oauth(server, scope=["crm.read", "crm.write"])) as session:
        session.get_json("/api/items")
    sent = server.requests_to("/oauth/token")[0]
    assert sent.form() == {"grant_type": "client_credentials", "scope": "crm.read crm.write"}
    pair = base64.b64decode(sent.header("Authorization")[6:]).decode()
    assert pair == "sheetloop-client:cs-Zq8%2FVw%2BXy%3DLm4Np7Rt2"  # form-encoded, RFC 6749


def test_client_credentials_can_go_in_the_form_instead(server):
    TokenServer(server)
    with api(server, oauth(server, client_auth="body")) as session:
        session.get_json("/api/items")
    sent = server.requests_to("/oauth/token")[0]
    assert sent.header("Authorization") is None
    assert sent.form()["client_id"] == "sheetloop-client"
    assert sent.form()["client_secret"] == CLIENT_SECRET


def test_a_refused_client_secret_is_a_clear_error_that_does_not_show_it(server):
    server.route(
        "POST",
        "/oauth/token",
        lambda r: Reply(401, {"error": "invalid_client", "error_description": r.body.decode()}),
    )
    with (
        api(server, oauth(server, client_auth="body")) as session,
        pytest.raises(ExternalSystemError) as caught,
    ):
        session.get_json("/api/items")
    message = str(caught.value)
    assert "token URL" in message and "/oauth/token" in message and "HTTP 401" in message
    assert "Check the client id and the client secret" in message
    assert "client_secret=***" in message
    assert "Zq8" not in message
    assert server.requests_to("/api/items") == []


def test_a_token_answer_without_access_token_is_a_clear_error(server):
    server.route("POST", "/oauth/token", lambda r: Reply(200, {"token_type": "bearer"}))
    with (
        api(server, oauth(server)) as session,
        pytest.raises(ExternalSystemError, match="without an access_token"),
    ):
        session.get_json("/api/items")


class SessionLogin(TokenAuth):
    """A login-session credential as an ERP uses: POST /login, then a Session header."""

    def __init__(self, url: str, user: str, password: Secret) -> None:
        super().__init__()
        self.url, self.user, self.password = url, user, password

    def fetch_token(self) -> tuple[Secret, float | None]:
        answer = requests.post(
            self.url, json={"user": self.user, "password": self.password.reveal()}, timeout=5
        )
        return Secret(answer.json()["session"]), None

    def apply_token(self, r: requests.PreparedRequest, token: Secret) -> None:
        r.headers["Authorization"] = f"Session {token.reveal()}"


def test_a_login_session_scheme_plugs_in_and_logs_in_again_when_the_session_expires(server):
    sessions = iter(["s-1", "s-2"])
    live = {"id": ""}

    def login(request) -> Reply:
        assert request.json() == {"user": "admin", "password": KEY}
        live["id"] = next(sessions)
        return Reply(200, {"session": live["id"]})

    def items(request) -> Reply:
        ok = request.header("Authorization") == f"Session {live['id']}"
        return Reply(200, [1]) if ok else Reply(401, {"message": "session expired"})

    server.route("POST", "/login", login)
    server.route("GET", "/items", items)
    auth = SessionLogin(server.url + "/login", "admin", Secret(KEY))
    with api(server, auth) as session:
        assert session.get_json("/items") == [1]
        live["id"] = "s-expired"  # the server forgot the session
        assert session.get_json("/items") == [1]
    assert len(server.requests_to("/login")) == 2
    assert server.requests_to("/items")[-1].header("Authorization") == "Session s-2"
