"""``sheetloop refresh``: the unattended job — pull every connection, run, push; each step
saves and logs on its own, and the first failing step ends it with its exit status.

The connection is a REST one to an HTTP server on 127.0.0.1 standing for a finance team's
own customer system (there is no public system to run for it).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from python_calamine import CalamineWorkbook
from support.loopback_http import Received, Reply, loopback_server

from sheetloop.addin.cli import main
from sheetloop.workbooks.demo_data import demo_company
from sheetloop.workbooks.template import init_book

START = dt.date(2026, 11, 30)


def demo_book(tmp_path: Path, url: str, options: str) -> Path:
    data = demo_company(START)
    data["Connections"] = pd.DataFrame(
        {
            "Connection": ["finance"],
            "System": ["rest"],
            "URL": [url],
            "Auth": ["env:FINANCE_TOKEN"],
            "Options": [options],
        }
    )
    path = tmp_path / "demo.xlsx"
    init_book(path, data)
    return path


PULL_TIERS = (
    "table=Customers; endpoint=/customers; records=results; id=id; "
    "map=Customer:code,Name:name,Tier:tier"
)


def table(path: Path, sheet: str) -> list[list[object]]:
    return CalamineWorkbook.from_path(str(path)).get_sheet_by_name(sheet).to_python()


def test_refresh_pulls_then_plans_and_allocates_logging_each_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FINANCE_TOKEN", "t0ken")
    with loopback_server() as server:
        server.route(
            "GET",
            "/customers",
            lambda r: Reply(
                200, body={"results": [{"id": 1, "code": "NEWCO", "name": "New Co", "tier": 1}]}
            ),
        )
        book = demo_book(tmp_path, server.url, PULL_TIERS)
        assert main(["refresh", str(book)]) == 0
    customers = table(book, "Customers")
    assert any(row[0] == "NEWCO" for row in customers)
    runs = [row[1] for row in table(book, "RunLog")[1:]]
    assert runs == ["plan", "allocate"]
    sync = table(book, "SyncLog")
    assert sync[1][1:4] == ["finance", "pull", "Customers"]
    assert sync[2][2] == "run" and "demand lines" in str(sync[2][10])  # one entry per step
    assert len(table(book, "PlannedOrders")) > 1 and len(table(book, "Allocation")) > 1
    assert "nothing was pushed" in capsys.readouterr().out


def test_a_failing_pull_ends_refresh_with_exit_3_before_anything_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FINANCE_TOKEN", "t0ken")

    def broken(request: Received) -> Reply:
        return Reply(500, body={"error": "database is down"})

    with loopback_server() as server:
        server.route("GET", "/customers", broken)
        book = demo_book(tmp_path, server.url, PULL_TIERS)
        code = main(["refresh", str(book)])
    assert code == 3
    assert "database is down" in capsys.readouterr().err
    names = CalamineWorkbook.from_path(str(book)).sheet_names
    assert "RunLog" not in names and "PlannedOrders" not in names  # run never started
    assert table(book, "SyncLog")[1][9] == 1.0  # the failed pull is logged
