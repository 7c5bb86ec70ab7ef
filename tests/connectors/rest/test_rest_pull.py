"""``sheetloop pull`` over a declarative REST connection: any JSON API into a table.

The API here is a finance team's own system, imitated by an HTTP server on 127.0.0.1
(there is no such public system to run): bearer token, cursor paging, nested fields and an
incremental ``updated_since`` parameter — the shapes such APIs commonly have.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openpyxl
import pytest
from python_calamine import CalamineWorkbook
from support.books import make_book, sha256
from support.loopback_http import LoopbackServer, Received, Reply, loopback_server

from sheetloop.addin.cli import main

TOKEN = "s3cr3t-token-value"
CUSTOMERS = [
    {"id": 11, "code": "ACME", "profile": {"name": "Acme", "tier": 1}, "updated": "2026-11-01"},
    {"id": 12, "code": "BOLT", "profile": {"name": "Bolt", "tier": 2}, "updated": "2026-11-02"},
    {"id": 13, "code": "COGS", "profile": {"name": "=Cogs", "tier": 3}, "updated": "2026-11-03"},
]


def serve_customers(server: LoopbackServer, records: list[dict[str, Any]]) -> None:
    def handler(request: Received) -> Reply:
        if request.header("Authorization") != f"Bearer {TOKEN}":
            return Reply(401, body={"error": "bad token"})
        since = request.arg("updated_since")
        chosen = [r for r in records if since is None or r["updated"] > since]
        start = int(request.arg("after") or 0)
        page = chosen[start : start + 2]
        more = start + 2 < len(chosen)
        return Reply(200, body={"data": page, "next": str(start + 2) if more else None})

    server.route("GET", "/api/customers", handler)


def finance_book(tmp_path: Path, url: str, options: str | None = None) -> Path:
    return make_book(
        tmp_path / "finance.xlsx",
        {
            "Connections": [
                ["Connection", "System", "URL", "Auth", "Options"],
                [
                    "finance",
                    "rest",
                    url,
                    "env:FINANCE_TOKEN",
                    options
                    or "table=Customers; endpoint=/api/customers; records=data; "
                    "paginator=cursor; cursor_path=next; "
                    "map=Customer:code,Name:profile.name,Tier:profile.tier",
                ],
            ],
            "Customers": [["Customer", "Name", "Tier", "Notes"], ["MINE", "Typed by me", 1, "x"]],
        },
    )


def customers(path: Path) -> list[list[object]]:
    return CalamineWorkbook.from_path(str(path)).get_sheet_by_name("Customers").to_python()


@pytest.fixture
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FINANCE_TOKEN", TOKEN)


@pytest.mark.usefixtures("token")
def test_pull_reads_every_page_into_the_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with loopback_server() as server:
        serve_customers(server, CUSTOMERS)
        book = finance_book(tmp_path, server.url)
        assert main(["pull", str(book), "finance"]) == 0
        assert len(server.requests_to("/api/customers")) == 2  # two pages
    rows = customers(book)
    assert rows[1][:4] == ["MINE", "Typed by me", 1.0, "x"]
    assert [r[0] for r in rows[2:]] == ["ACME", "BOLT", "COGS"]
    assert rows[2][4:] == ["finance", "synced", "11"]
    wb = openpyxl.load_workbook(book)
    assert wb["Customers"]["B5"].data_type == "s"  # "=Cogs" stays text
    out = capsys.readouterr().out
    assert "finance pull Customers: 3 created, 0 updated, 0 unchanged, 0 removed" in out
    log = CalamineWorkbook.from_path(str(book)).get_sheet_by_name("SyncLog").to_python()
    assert log[1][1:5] == ["finance", "pull", "Customers", 3.0]


@pytest.mark.usefixtures("token")
def test_dry_run_prints_the_diff_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with loopback_server() as server:
        serve_customers(server, CUSTOMERS)
        book = finance_book(tmp_path, server.url)
        before = sha256(book)
        assert main(["pull", str(book), "--dry-run"]) == 0
    assert sha256(book) == before
    out = capsys.readouterr().out
    assert "3 created" in out and "dry run: nothing was written" in out


@pytest.mark.usefixtures("token")
def test_a_rerun_after_a_change_updates_in_place_without_duplicates(tmp_path: Path) -> None:
    records = [dict(r, profile=dict(r["profile"])) for r in CUSTOMERS]
    with loopback_server() as server:
        serve_customers(server, records)
        book = finance_book(tmp_path, server.url)
        assert main(["pull", str(book)]) == 0
        records[1]["profile"]["tier"] = 1
        del records[2]
        assert main(["pull", str(book)]) == 0
    rows = customers(book)
    assert [r[0] for r in rows[1:]] == ["MINE", "ACME", "BOLT", "COGS"]
    assert rows[3][2] == 1.0
    assert rows[4][5] == "gone"


@pytest.mark.usefixtures("token")
def test_incremental_reads_send_the_last_cursor(tmp_path: Path) -> None:
    config = tmp_path / "finance.toml"
    config.write_text(
        """
[auth]
kind = "bearer"

[tables.Customers]
endpoint = "/api/customers"
records = "data"
paginator = "cursor"
cursor_path = "next"
incremental = { param = "updated_since", field = "updated" }

[tables.Customers.fields]
Customer = "code"
Name = "profile.name"
Tier = "profile.tier"
""",
        encoding="utf-8",
    )
    with loopback_server() as server:
        serve_customers(server, CUSTOMERS)
        book = finance_book(tmp_path, server.url, options="config=finance.toml")
        assert main(["pull", str(book)]) == 0
        assert main(["pull", str(book)]) == 0
        second = server.requests_to("/api/customers")[-1]
    assert second.arg("updated_since") == "2026-11-03"
    assert [r[0] for r in customers(book)[1:]] == ["MINE", "ACME", "BOLT", "COGS"]
    assert customers(book)[4][5] == "synced"  # an incremental read marks nothing gone


def test_a_missing_secret_is_a_usage_error_naming_the_variable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FINANCE_TOKEN", raising=False)
    book = finance_book(tmp_path, "http://127.0.0.1:9/")
    assert main(["pull", str(book)]) == 2
    assert "FINANCE_TOKEN" in capsys.readouterr().err


def test_a_wrong_token_fails_with_exit_3_and_never_shows_the_token(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FINANCE_TOKEN", "wrong-" + TOKEN)
    with loopback_server() as server:
        serve_customers(server, CUSTOMERS)
        book = finance_book(tmp_path, server.url)
        before = customers(book)
        assert main(["pull", str(book)]) == 3
    err = capsys.readouterr().err
    assert "401" in err and TOKEN not in err
    assert customers(book) == before
    log = CalamineWorkbook.from_path(str(book)).get_sheet_by_name("SyncLog").to_python()
    assert log[1][9] == 1.0  # Failed
    assert TOKEN not in str(log)
