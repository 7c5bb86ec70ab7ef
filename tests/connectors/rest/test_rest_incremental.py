"""Incremental reads of a REST connection: the first pull reads everything, each later one
sends the largest cursor value seen so far and reads only what changed since.

The cursor's values compare by what they are — numbers as numbers, ISO dates and
date-times as instants — never as plain text, where "9" would follow "10".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from python_calamine import CalamineWorkbook
from support.books import make_book
from support.loopback_http import LoopbackServer, Received, Reply, loopback_server

from sheetloop.addin.cli import main
from sheetloop.connectors.rest.connector import latest_cursor

TOKEN = "incr-t0ken"


def config(tmp_path: Path, field: str, param: str) -> None:
    (tmp_path / "finance.toml").write_text(
        f"""
[tables.Customers]
endpoint = "/api/customers"
records = "data"
paginator = "page"
page_size = 2
incremental = {{ param = "{param}", field = "{field}" }}

[tables.Customers.fields]
Customer = "code"
Name = "name"
Tier = "tier"
""",
        encoding="utf-8",
    )


def finance_book(tmp_path: Path, url: str) -> Path:
    return make_book(
        tmp_path / "finance.xlsx",
        {
            "Connections": [
                ["Connection", "System", "URL", "Auth", "Options"],
                ["finance", "rest", url, "env:FINANCE_TOKEN", "config=finance.toml"],
            ],
            "Customers": [["Customer", "Name", "Tier"], ["MINE", "Typed by me", 1]],
        },
    )


def serve(
    server: LoopbackServer,
    records: list[dict[str, Any]],
    param: str,
    newer: Any,
) -> None:
    """The API: pages of two records, only those ``newer(record, since)`` when the
    request carries ``param``."""

    def handler(request: Received) -> Reply:
        if request.header("Authorization") != f"Bearer {TOKEN}":
            return Reply(401, body={"error": "bad token"})
        since = request.arg(param)
        chosen = [r for r in records if since is None or newer(r, since)]
        page = int(request.arg("page") or 1)
        return Reply(200, body={"data": chosen[(page - 1) * 2 : page * 2]})

    server.route("GET", "/api/customers", handler)


def rows(path: Path) -> dict[str, list[Any]]:
    sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_name("Customers").to_python()
    return {str(r[0]): r for r in sheet[1:]}


def sync_log(path: Path) -> list[list[Any]]:
    return CalamineWorkbook.from_path(str(path)).get_sheet_by_name("SyncLog").to_python()[1:]


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FINANCE_TOKEN", TOKEN)


def test_a_record_changed_in_the_api_arrives_through_the_incremental_read_and_updates_its_row(
    tmp_path: Path,
) -> None:
    records = [
        {"id": 11, "code": "ACME", "name": "Acme", "tier": 1, "updated": "2026-11-01T09:00:00Z"},
        {"id": 12, "code": "BOLT", "name": "Bolt", "tier": 2, "updated": "2026-11-02T09:00:00Z"},
        {"id": 13, "code": "COGS", "name": "Cogs", "tier": 3, "updated": "2026-11-03T09:00:00Z"},
    ]
    config(tmp_path, field="updated", param="updated_since")
    with loopback_server() as server:
        serve(server, records, "updated_since", lambda r, since: r["updated"] > since)
        book = finance_book(tmp_path, server.url)
        assert main(["pull", str(book)]) == 0
        first = rows(book)
        records[1] |= {"name": "Bolt Ltd", "tier": 1, "updated": "2026-11-05T14:30:00Z"}

        assert main(["pull", str(book)]) == 0

        second = server.requests_to("/api/customers")[-1]
        assert main(["pull", str(book)]) == 0
        third = server.requests_to("/api/customers")[-1]
    assert second.arg("updated_since") == "2026-11-03T09:00:00Z"
    after = rows(book)
    assert after["BOLT"][1:3] == ["Bolt Ltd", 1.0]  # the change arrived
    assert first["BOLT"][1:3] == ["Bolt", 2.0]
    assert {k: v for k, v in after.items() if k != "BOLT"} == {
        k: v for k, v in first.items() if k != "BOLT"
    }  # the rows that did not change are left as they were, none marked gone
    assert list(after) == ["MINE", "ACME", "BOLT", "COGS"]
    assert sync_log(book)[1][4:8] == [0.0, 1.0, 0.0, 0.0]  # created, updated, unchanged, removed
    assert third.arg("updated_since") == "2026-11-05T14:30:00Z"  # the cursor moved on


@pytest.mark.parametrize("as_text", [True, False], ids=["numeric text", "JSON numbers"])
def test_numeric_cursor_values_compare_as_numbers_so_10_follows_9(
    tmp_path: Path, as_text: bool
) -> None:
    records = [
        {"id": i, "code": f"C{i}", "name": f"Customer {i}", "tier": 1, "version": v}
        for i, v in ((1, 8), (2, 9), (3, 10))
    ]
    if as_text:
        for record in records:
            record["version"] = str(record["version"])
    config(tmp_path, field="version", param="since")
    with loopback_server() as server:
        serve(server, records, "since", lambda r, since: int(r["version"]) > int(since))
        book = finance_book(tmp_path, server.url)
        assert main(["pull", str(book)]) == 0
        records[0] |= {"version": "11" if as_text else 11, "name": "Renamed"}

        assert main(["pull", str(book)]) == 0

        second = server.requests_to("/api/customers")[-1]
    assert second.arg("since") == "10"
    assert rows(book)["C1"][1] == "Renamed"
    assert sync_log(book)[1][4:6] == [0.0, 1.0]  # only the changed record came back


@pytest.mark.parametrize(
    ("values", "previous", "latest"),
    [
        (["9", "10", "8"], None, "10"),
        ([9, 10.0, 8], None, "10"),
        (["9.5", 10, "1e1"], None, "10"),
        ([123456789012345678901, 123456789012345678900], None, "123456789012345678901"),
        # 09:00 UTC is later than 10:00 at UTC+2, though it sorts first as text.
        (["2026-11-03T10:00:00+02:00", "2026-11-03T09:00:00Z"], None, "2026-11-03T09:00:00Z"),
        (["2026-11-03", "2026-11-02T23:59:59"], None, "2026-11-03"),
        (["2026-11-03T08:00:00.5Z", "2026-11-03T08:00:00.25Z"], None, "2026-11-03T08:00:00.5Z"),
        (["b-7", "a-9", "10"], None, "b-7"),  # not all numbers or dates: as text
        ([None, "", {"nested": 1}], "2026-11-01", "2026-11-01"),  # nothing new: kept
        ([], None, None),
        (["2026-10-30"], "2026-11-01", "2026-11-01"),  # never moves back
        (["12"], "9", "12"),
    ],
)
def test_the_latest_cursor_is_the_largest_value_by_its_type(
    values: list[Any], previous: str | None, latest: str | None
) -> None:
    assert latest_cursor(values, previous) == latest
