"""``sheetloop pull --prune`` and a pull that cannot grow its table, through the command
line, with a REST connection to an HTTP server on 127.0.0.1 (a stand-in for a team's own
JSON API)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openpyxl
import pytest
from openpyxl.worksheet.table import Table as XlTable
from python_calamine import CalamineWorkbook
from support.books import sha256
from support.loopback_http import LoopbackServer, Reply, loopback_server

from sheetloop.addin.cli import main

OPTIONS = (
    "table=Customers; endpoint=/customers; records=results; id=id; "
    "map=Customer:code,Name:name,Tier:tier"
)


def serve(server: LoopbackServer, records: list[dict[str, Any]]) -> None:
    server.route("GET", "/customers", lambda request: Reply(200, body={"results": records}))


def book(path: Path, url: str, *, in_the_way: str | None = None) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Customers"
    ws.append(["Customer", "Name", "Tier", "Origin", "Sync Status", "crm Id"])
    ws.append(["MINE", "Typed", 1, None, None, None])
    ws.add_table(XlTable(displayName="Customers", ref="A1:F2"))
    if in_the_way:
        ws[in_the_way] = "my note"
    conn = wb.create_sheet("Connections")
    conn.append(["Connection", "System", "URL", "Auth", "Options"])
    conn.append(["crm", "rest", url, "env:CRM_TOKEN", OPTIONS])
    wb.save(path)
    return path


def customers(path: Path) -> list[list[object]]:
    return CalamineWorkbook.from_path(str(path)).get_sheet_by_name("Customers").to_python()


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_TOKEN", "crm-token-value")


def test_prune_removes_the_rows_gone_from_the_system_and_keeps_the_rest(tmp_path: Path) -> None:
    records = [
        {"id": 1, "code": "A", "name": "Acme", "tier": 1},
        {"id": 2, "code": "B", "name": "Bolt", "tier": 2},
        {"id": 3, "code": "C", "name": "Cogs", "tier": 3},
    ]
    with loopback_server() as server:
        serve(server, records)
        path = book(tmp_path / "b.xlsx", server.url)
        assert main(["pull", str(path)]) == 0
        del records[1]
        assert main(["pull", str(path), "--prune"]) == 0
    rows = customers(path)
    assert [r[0] for r in rows[1:]] == ["MINE", "A", "C"]
    assert rows[3][5] == "3"  # C moved up with its id
    wb = openpyxl.load_workbook(path)
    assert wb["Customers"].tables["Customers"].ref == "A1:F4"
    log = CalamineWorkbook.from_path(str(path)).get_sheet_by_name("SyncLog").to_python()
    assert log[-1][7] == 1.0  # Removed


def test_a_pull_that_would_overwrite_cells_below_the_table_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with loopback_server() as server:
        serve(server, [{"id": 1, "code": "A", "name": "Acme", "tier": 1}])
        path = book(tmp_path / "b.xlsx", server.url, in_the_way="B3")
        before = sha256(path)
        assert main(["pull", str(path)]) == 2
    err = capsys.readouterr().err
    assert "cells are in the way: B3" in err and "nothing was written" in err
    assert sha256(path) == before
