"""An HTTP session per connection: timeouts, TLS, retries and errors that say what to do."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from support.loopback_http import DROP, LoopbackServer, Reply, closed_port, loopback_server

import sheetloop
from sheetloop.connectors.http import (
    ApiKeyAuth,
    BasicAuth,
    BearerAuth,
    HttpSession,
    RetryPolicy,
    Secret,
)
from sheetloop.errors import ExternalSystemError, UsageError

KEY = "k-9f8e7d6c5b4a39281706f5e4d3c2b1a0"


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with loopback_server() as running:
        yield running


class Waits:
    """An injected sleep that records what it was asked to wait."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)


def policy(waits: Waits, **overrides) -> RetryPolicy:
    return RetryPolicy(**({"sleep": waits, "random": lambda: 1.0} | overrides))


def session_for(server: LoopbackServer, waits: Waits | None = None, **kwargs) -> HttpSession:
    kwargs.setdefault("retry", policy(waits or Waits()))
    return HttpSession(server.url, name="crm", **kwargs)


def test_a_503_is_retried_with_growing_waits_until_it_succeeds(server):
    server.replies("GET", "/items", Reply(503), Reply(503), Reply(200, {"ok": True}))
    waits = Waits()
    with session_for(server, waits, retry=policy(waits, backoff=0.5)) as session:
        assert session.get_json("/items") == {"ok": True}
        assert session.requests_made == 3
    assert waits.seconds == [0.5, 1.0]
    assert len(server.requests_to("/items")) == 3


def test_a_429_waits_as_long_as_retry_after_says(server):
    server.replies("GET", "/items", Reply(429, headers={"Retry-After": "2"}), Reply(200, []))
    waits = Waits()
    with session_for(server, waits) as session:
        assert session.get_json("/items") == []
    assert waits.seconds == [2.0]


def test_retries_give_up_after_max_attempts_and_say_so(server):
    server.replies("GET", "/items", Reply(503, {"message": "maintenance until noon"}))
    waits = Waits()
    with session_for(server, waits, retry=policy(waits, max_attempts=3)) as session:
        with pytest.raises(ExternalSystemError) as caught:
            session.get_json("/items")
        assert session.requests_made == 3
    message = str(caught.value)
    assert "HTTP 503" in message and "after 3 attempts" in message
    assert "maintenance until noon" in message
    assert "The system itself failed" in message
    assert len(waits.seconds) == 2


def test_a_post_is_not_sent_again_after_the_connection_dropped(server):
    server.replies("POST", "/orders", DROP, Reply(201, {"id": 1}))
    with session_for(server) as session, pytest.raises(ExternalSystemError) as caught:
        session.request("POST", "/orders", json={"qty": 5})
    assert len(server.requests_to("/orders")) == 1
    assert "not sent again" in str(caught.value)


def test_a_post_marked_idempotent_is_sent_again_after_the_connection_dropped(server):
    server.replies("POST", "/rpc", DROP, Reply(200, {"result": 42}))
    with session_for(server) as session:
        assert session.request_json("POST", "/rpc", json={}, idempotent=True) == {"result": 42}
    assert len(server.requests_to("/rpc")) == 2


def test_a_get_is_sent_again_after_the_connection_dropped(server):
    server.replies("GET", "/items", DROP, Reply(200, [1]))
    with session_for(server) as session:
        assert session.get_json("/items") == [1]


def test_a_refused_connection_is_retried_even_for_a_post_as_nothing_was_sent():
    waits = Waits()
    url = f"http://127.0.0.1:{closed_port()}"
    with HttpSession(url, name="erp", retry=policy(waits, max_attempts=3)) as session:
        with pytest.raises(ExternalSystemError) as caught:
            session.request("POST", "/orders", json={})
        assert session.requests_made == 3
    message = str(caught.value)
    assert "could not connect to 127.0.0.1" in message and "after 3 attempts" in message
    assert "reachable" in message and "'erp'" in message
    assert caught.value.exit_code == 3


@pytest.mark.parametrize(
    ("status", "advice"),
    [
        (401, "check the secret that the Auth cell of connection 'crm' points at"),
        (403, "lack a permission"),
        (404, "check the URL of connection 'crm'"),
        (409, "pull, then try again"),
        (422, "refused the request"),
        (429, "rate limiting sheetloop: try again later"),
        (500, "The system itself failed"),
    ],
)
def test_a_final_failure_names_connection_call_status_excerpt_and_what_to_do(
    server, status, advice
):
    server.replies("GET", "/crm/v3/objects/deals", Reply(status, {"message": "Nope: deal 7"}))
    with (
        session_for(server, retry=RetryPolicy(max_attempts=1)) as session,
        pytest.raises(ExternalSystemError) as caught,
    ):
        session.get_json("/crm/v3/objects/deals", params={"limit": 10})
    message = str(caught.value)
    assert message.startswith("Connection 'crm': GET ")
    assert f"{server.url}/crm/v3/objects/deals?limit=10" in message
    assert f"HTTP {status}" in message
    assert "The system said: Nope: deal 7." in message
    assert advice in message


def echo_everything(request) -> Reply:
    """A server that repeats the whole request back in its error body."""
    echoed = {"path": request.raw_path, "headers": request.headers}
    return Reply(401, {"message": json.dumps(echoed)})


def forms_of(secret: str) -> list[str]:
    return [secret, quote(secret, safe=""), base64.b64encode(secret.encode()).decode()]


@pytest.mark.parametrize(
    ("auth", "hidden"),
    [
        (ApiKeyAuth(Secret(KEY)), forms_of(KEY)),
        (ApiKeyAuth(Secret(KEY), query="hapikey"), forms_of(KEY)),
        (ApiKeyAuth(Secret(KEY + "/+="), query="key"), forms_of(KEY + "/+=")),
        (BearerAuth(Secret(KEY)), forms_of(KEY)),
        (BasicAuth("planner", Secret(KEY)), [*forms_of(KEY), *forms_of("planner:" + KEY)]),
    ],
    ids=["header", "query", "query-encoded", "bearer", "basic"],
)
def test_no_failure_message_ever_shows_the_credential(server, auth, hidden):
    server.route("GET", "/items", echo_everything)
    with (
        session_for(server, auth=auth, retry=RetryPolicy(max_attempts=1)) as session,
        pytest.raises(ExternalSystemError) as caught,
    ):
        session.get_json("/items")
    sent = server.requests_to("/items")[0]
    echoed = sent.raw_path + json.dumps(sent.headers)
    assert [form for form in hidden if form in echoed], "the server must have seen the secret"
    message = str(caught.value)
    assert "HTTP 401" in message and "***" in message
    assert not [form for form in hidden if form in message]


def test_a_secret_given_to_the_session_is_masked_even_when_the_auth_does_not_know_it(server):
    server.route("GET", "/items", lambda r: Reply(500, f"password {KEY} rejected"))
    with (
        session_for(server, secrets=[Secret(KEY)], retry=RetryPolicy(max_attempts=1)) as s,
        pytest.raises(ExternalSystemError) as caught,
    ):
        s.get_json("/items")
    assert KEY not in str(caught.value) and "password *** rejected" in str(caught.value)


def test_query_parameters_named_like_credentials_are_masked_in_messages(server):
    server.replies("GET", "/items", Reply(404))
    with (
        session_for(server, retry=RetryPolicy(max_attempts=1)) as session,
        pytest.raises(ExternalSystemError) as caught,
    ):
        session.get_json("/items", params={"api_key": "unregistered-123", "page": 2})
    assert "unregistered-123" not in str(caught.value)
    assert "api_key=***&page=2" in str(caught.value)


def slow(request) -> Reply:
    time.sleep(1.5)
    return Reply(200, {})


def test_a_server_slower_than_the_read_timeout_fails_quickly(server):
    server.route("GET", "/slow", slow)
    started = time.perf_counter()
    with (
        session_for(server, timeout=(1.0, 0.2), retry=RetryPolicy(max_attempts=1)) as session,
        pytest.raises(ExternalSystemError) as caught,
    ):
        session.get_json("/slow")
    assert time.perf_counter() - started < 1.2
    assert "got no answer within 0.2 s" in str(caught.value)


def test_a_call_can_shorten_the_timeout_but_never_drop_it(server):
    server.route("GET", "/slow", slow)
    with session_for(server, timeout=30.0, retry=RetryPolicy(max_attempts=1)) as session:
        started = time.perf_counter()
        with pytest.raises(ExternalSystemError, match=r"no answer within 0\.2 s"):
            session.get_json("/slow", timeout=0.2)
        assert time.perf_counter() - started < 1.2
        with pytest.raises(UsageError, match="needs a timeout"):
            session.request("GET", "/slow", timeout=0)


@pytest.mark.parametrize("timeout", [None, 0, -1, (5, None), (5, 0)])
def test_a_session_without_a_real_timeout_is_refused(server, timeout):
    with pytest.raises(UsageError, match="every request needs a timeout"):
        HttpSession(server.url, name="crm", timeout=timeout)


def test_turning_tls_checks_off_needs_an_explicit_allow_insecure():
    with pytest.raises(UsageError, match="allow_insecure=True"):
        HttpSession("https://erp.example.com", name="erp", verify=False)
    session = HttpSession("https://erp.example.com", name="erp", verify=False, allow_insecure=True)
    assert session.verify is False
    assert HttpSession("https://erp.example.com", name="erp").verify is True


def test_every_request_says_it_is_sheetloop_and_wants_json(server):
    server.replies("GET", "/items", Reply(200, []))
    with session_for(server) as session:
        session.get_json("/items")
    sent = server.requests_to("/items")[0]
    assert sent.header("User-Agent") == f"sheetloop/{sheetloop.__version__}"
    assert sent.header("Accept") == "application/json"


def test_a_body_that_is_not_json_is_a_clear_error(server):
    server.replies(
        "GET", "/items", Reply(200, "<html>Login page</html>", {"Content-Type": "text/html"})
    )
    with session_for(server) as session, pytest.raises(ExternalSystemError) as caught:
        session.get_json("/items")
    message = str(caught.value)
    assert "not JSON (text/html)" in message and "Login page" in message
    assert "/items" in message


def test_paths_are_appended_to_the_base_url_and_its_own_path(server):
    server.replies("GET", "/api/v1/items", Reply(200, {"where": "v1"}))
    with HttpSession(server.url + "/api/v1/", name="crm") as session:
        assert session.get_json("items") == {"where": "v1"}
        assert session.get_json("/items") == {"where": "v1"}
        assert session.get_json(server.url + "/api/v1/items") == {"where": "v1"}


def test_credentials_are_never_sent_to_another_host(server):
    with session_for(server, auth=BearerAuth(Secret(KEY))) as session:
        with pytest.raises(UsageError, match="refusing to send its credentials"):
            session.get_json("https://elsewhere.example.com/items")
        with pytest.raises(UsageError, match="refusing"):
            session.get_json(f"http://127.0.0.1:{closed_port()}/items")
    assert server.received == []


@pytest.mark.parametrize("url", ["erp.example.com", "ftp://erp.example.com", "https://"])
def test_a_url_that_is_not_http_is_refused(url):
    with pytest.raises(UsageError, match="must start with https://"):
        HttpSession(url, name="erp")


def test_a_closed_session_refuses_new_requests(server):
    with session_for(server) as session:
        pass
    assert session.closed
    with pytest.raises(UsageError, match="closed"):
        session.get_json("/items")


def test_a_session_shows_no_secret_in_its_repr(server):
    session = session_for(server, auth=BearerAuth(Secret(KEY)), secrets=[KEY])
    assert KEY not in repr(session) and "crm" in repr(session)
    assert KEY not in repr(session.auth)
