"""How a REST connection signs its requests, end to end through ``sheetloop pull``: an API
key in a header or in the query string, HTTP Basic, and OAuth2 client credentials (the
token endpoint is served by the same loopback server). Whether the system accepts or
refuses the credential, the secret never shows: not on stdout, not on stderr, not anywhere
in the saved book.
"""

from __future__ import annotations

import base64
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from python_calamine import CalamineWorkbook
from support.books import make_book
from support.loopback_http import LoopbackServer, Received, Reply, loopback_server

from sheetloop.addin.cli import main

# Characters that URL and base64 encodings change, so every encoded form is checked too.
SECRET = "fin/S3cr+t=value&more"
ACCESS_TOKEN = "at-9f8e7d6c5b4a-issued-by-the-token-endpoint"
CLIENT_ID = "sheetloop-client"
USER = "planner"
CUSTOMERS = [{"id": i, "code": f"C{i:02d}", "name": f"Customer {i}"} for i in range(1, 6)]
PAGE = 2


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@dataclass(frozen=True)
class Scheme:
    """One way of signing requests: the connection's Options and User, and what the API
    checks on each request (``accepted``) and echoes back when it refuses (``shown``)."""

    options: str
    accepted: Callable[[Received], bool]
    shown: Callable[[Received], str]
    user: str = ""


def api_key_header(r: Received) -> bool:
    return r.header("X-Finance-Key") == SECRET


SCHEMES = {
    "api_key in a header": Scheme(
        "auth=api_key; header=X-Finance-Key",
        api_key_header,
        lambda r: r.header("X-Finance-Key") or "",
    ),
    "api_key in the query": Scheme(
        "auth=api_key; query=key",
        lambda r: r.arg("key") == SECRET and r.header("X-API-Key") is None,
        lambda r: r.raw_path,
    ),
    "basic": Scheme(
        "auth=basic",
        lambda r: r.header("Authorization") == basic(USER, SECRET),
        lambda r: r.header("Authorization") or "",
        user=USER,
    ),
    "oauth2 client credentials": Scheme(
        "auth=oauth2; token_url={url}/oauth/token; scope=customers.read",
        lambda r: r.header("Authorization") == f"Bearer {ACCESS_TOKEN}",
        lambda r: r.header("Authorization") or "",
        user=CLIENT_ID,
    ),
    "oauth2 with the token endpoint as a path on the URL": Scheme(
        "auth=oauth2; token_url=/oauth/token; scope=customers.read",
        lambda r: r.header("Authorization") == f"Bearer {ACCESS_TOKEN}",
        lambda r: r.header("Authorization") or "",
        user=CLIENT_ID,
    ),
}


def serve(server: LoopbackServer, scheme: Scheme) -> None:
    """The customer API (offset paging, two records a page) and its token endpoint, which
    takes the client id and secret in HTTP Basic as RFC 6749 asks."""

    def customers(request: Received) -> Reply:
        if not scheme.accepted(request):
            # Careless APIs repeat what they were sent: the echo must be masked too.
            return Reply(401, body={"error": f"refused credentials: {scheme.shown(request)}"})
        start = int(request.arg("offset") or 0)
        return Reply(200, body={"data": CUSTOMERS[start : start + PAGE]})

    def token(request: Received) -> Reply:
        client = basic(quote_plus(CLIENT_ID), quote_plus(SECRET))
        form = request.form()
        sent = request.header("Authorization")
        if sent != client:
            return Reply(
                401, body={"error": "invalid_client", "error_description": f"got {form} {sent}"}
            )
        if form != {"grant_type": "client_credentials", "scope": "customers.read"}:
            return Reply(400, body={"error": "invalid_request"})
        return Reply(
            200, body={"access_token": ACCESS_TOKEN, "token_type": "Bearer", "expires_in": 3600}
        )

    server.route("GET", "/api/customers", customers)
    server.route("POST", "/oauth/token", token)


def finance_book(tmp_path: Path, url: str, scheme: Scheme) -> Path:
    options = (
        "table=Customers; endpoint=/api/customers; records=data; paginator=offset; "
        f"page_size={PAGE}; map=Customer:code,Name:name; " + scheme.options.format(url=url)
    )
    return make_book(
        tmp_path / "finance.xlsx",
        {
            "Connections": [
                ["Connection", "System", "URL", "User", "Auth", "Options"],
                ["finance", "rest", url, scheme.user, "env:FINANCE_SECRET", options],
            ],
            "Customers": [["Customer", "Name"], ["MINE", "Typed by me"]],
        },
    )


def forms(secret: str) -> set[str]:
    """The secret as it may be written: plain, URL-encoded, in a Basic header."""
    return {
        secret,
        quote(secret, safe=""),
        quote_plus(secret),
        base64.b64encode(f"{USER}:{secret}".encode()).decode(),
        base64.b64encode(f"{quote_plus(CLIENT_ID)}:{quote_plus(secret)}".encode()).decode(),
    }


def book_text(path: Path) -> str:
    """Every part of the saved workbook (cells, shared strings, hidden sheets) as text."""
    with zipfile.ZipFile(path) as archive:
        return "".join(archive.read(n).decode("utf-8", "replace") for n in archive.namelist())


def assert_never_shown(texts: list[str], *secrets: str) -> None:
    for secret in secrets:
        for form in forms(secret):
            assert all(form not in text for text in texts), form


@pytest.mark.parametrize("scheme", list(SCHEMES.values()), ids=list(SCHEMES))
def test_pull_signs_every_page_and_never_shows_the_secret(
    scheme: Scheme,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FINANCE_SECRET", SECRET)
    with loopback_server() as server:
        serve(server, scheme)
        book = finance_book(tmp_path, server.url, scheme)

        assert main(["pull", str(book), "finance"]) == 0

        pages = server.requests_to("/api/customers")
        tokens = server.requests_to("/oauth/token")
    assert len(pages) == 3 and all(scheme.accepted(p) for p in pages)
    # The token is fetched once and reused for every page; no other scheme calls the
    # token endpoint.
    assert len(tokens) == (1 if scheme.options.startswith("auth=oauth2") else 0)
    sheet = CalamineWorkbook.from_path(str(book)).get_sheet_by_name("Customers").to_python()
    assert [r[0] for r in sheet[1:]] == ["MINE", *(c["code"] for c in CUSTOMERS)]
    said = capsys.readouterr()
    assert "5 created" in said.out
    assert_never_shown([said.out, said.err, book_text(book)], SECRET, ACCESS_TOKEN)


@pytest.mark.parametrize("scheme", list(SCHEMES.values()), ids=list(SCHEMES))
def test_a_refused_secret_fails_with_exit_3_and_is_masked_even_when_the_api_echoes_it(
    scheme: Scheme,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    revoked = "revoked/" + SECRET
    monkeypatch.setenv("FINANCE_SECRET", revoked)
    with loopback_server() as server:
        serve(server, scheme)
        book = finance_book(tmp_path, server.url, scheme)

        assert main(["pull", str(book), "finance"]) == 3

    said = capsys.readouterr()
    assert "401" in said.err and "***" in said.err  # the echo is there, masked
    log = CalamineWorkbook.from_path(str(book)).get_sheet_by_name("SyncLog").to_python()
    assert log[1][9] == 1.0  # the failure is logged
    assert_never_shown([said.out, said.err, book_text(book)], revoked, SECRET)
