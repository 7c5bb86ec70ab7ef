"""``sheetloop refresh``: the unattended job — pull every connection, run, push; each step
saves and logs on its own, and the first failing step ends it with its exit status.

The connection is a REST one to an HTTP server on 127.0.0.1 standing for a finance team's
own customer system (there is no public system to run for it); the connections refresh
pushes to are HubSpot portals, imitated on 127.0.0.1 too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
from python_calamine import CalamineWorkbook
from support.books import make_book
from support.hubspot_api import HubSpotApi, error_body, hubspot_api
from support.loopback_http import Received, Reply, loopback_server

from sheetloop.addin import commands
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


# --- refresh pushing to HubSpot -----------------------------------------------------------------
#
# The receiving connections are HubSpot portals, imitated on 127.0.0.1 by the documented
# CRM objects API (``support/hubspot_api.py``; see tests/connectors/hubspot for the book
# set-up): refresh pulls companies and forecast deals, plans and allocates, then pushes the
# customers and each deal's confirmed quantity back.

HUBSPOT_TOKEN = "pat-na1-0a1b2c3d-refresh-job-token"
MONDAY = dt.date(2027, 1, 4)


@pytest.fixture
def crm(monkeypatch: pytest.MonkeyPatch) -> Iterator[HubSpotApi]:
    monkeypatch.setenv("HUBSPOT_TOKEN", HUBSPOT_TOKEN)
    with hubspot_api(HUBSPOT_TOKEN) as api:
        yield api


def sales_book(
    tmp_path: Path,
    receivers: list[tuple[str, str, str]],
    customers: tuple[str, ...] = ("Customer", "Name", "Tier"),
) -> Path:
    """A small planning book whose Connections are ``receivers``: (name, URL, Options),
    with one customer typed by the planner (``customers``: the table's header)."""
    return make_book(
        tmp_path / "sales.xlsx",
        {
            "Connections": [
                ["Connection", "System", "URL", "Auth", "Options"],
                *(
                    [name, "hubspot", url, "env:HUBSPOT_TOKEN", opts]
                    for name, url, opts in receivers
                ),
            ],
            "Settings": [
                ["Setting", "Value"],
                ["Horizon Start", MONDAY],
                ["Periods", 8],
                ["Allocate Forecast", "yes"],
            ],
            "Items": [["Item", "Lead Time"], ["A", 1]],
            "Inventory": [["Item", "Site", "On Hand"], ["A", "MAIN", 50]],
            "Demand": [["Demand", "Item", "Due", "Qty"], ["SO-1", "A", dt.date(2027, 1, 11), 5]],
            "Customers": [list(customers), ["MINE", "Typed by me", 1]],
        },
    )


def rows_of(path: Path, sheet: str) -> list[dict[str, object]]:
    rows = table(path, sheet)
    return [dict(zip([str(h) for h in rows[0]], r, strict=False)) for r in rows[1:]]


def steps(path: Path) -> list[tuple[object, ...]]:
    """SyncLog as (connection, direction, table, failed, conflicts) per entry."""
    return [
        (r["Connection"], r["Direction"], r["Table"], r["Failed"], r["Conflicts"])
        for r in rows_of(path, "SyncLog")
    ]


def add_deals(api: HubSpotApi) -> list[str]:
    big = api.add_company(customer_code="BIG", name="Big", tier="1")
    small = api.add_company(customer_code="SMALL", name="Small", tier="2")
    return [
        api.add_deal(big, item="A", quantity="40", closedate="2027-01-20T00:00:00Z"),
        api.add_deal(small, item="A", quantity="30", closedate="2027-01-27T00:00:00Z"),
    ]


def test_refresh_pulls_runs_and_pushes_the_allocation_to_the_deals_it_came_from(
    crm: HubSpotApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deals = add_deals(crm)
    book = sales_book(tmp_path, [("crm", crm.url, "forecast=yes; push=Customers,DemandStatus")])

    assert main(["refresh", str(book)]) == 0

    (update,) = crm.batch_calls("deals", "update")
    assert sorted(i["id"] for i in update.json()["inputs"]) == sorted(deals)
    status = {r["Demand"]: r for r in rows_of(book, "DemandStatus")}
    for deal in deals:
        confirmed = crm.get("deals", deal).properties["confirmed_qty"]
        assert float(confirmed) == status[f"deal-{deal}"]["Allocated"]
    assert 0 < sum(float(status[f"deal-{d}"]["Allocated"]) for d in deals) <= 50
    mine = crm.find("companies", "customer_code", "MINE")  # the typed customer, created
    assert mine is not None and mine.properties["name"] == "Typed by me"
    assert steps(book) == [
        ("crm", "pull", "Customers", 0.0, 0.0),
        ("crm", "pull", "Demand", 0.0, 0.0),
        ("", "run", "PlannedOrders, Allocation", 0.0, 0.0),
        ("crm", "push", "Customers", 0.0, 0.0),
        ("crm", "push", "DemandStatus", 0.0, 0.0),
    ]
    assert [r[1] for r in table(book, "RunLog")[1:]] == ["plan", "allocate"]
    assert "nothing was pushed" not in capsys.readouterr().out


def test_a_push_conflict_ends_refresh_with_exit_5_after_every_receiver_was_pushed_to(
    crm: HubSpotApi,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """MINE was pushed to crm earlier and then edited in the book; while refresh plans, a
    HubSpot user edits the same company: crm's push leaves it as a conflict, and the next
    receiver (a second portal, eu) is pushed to all the same."""
    with hubspot_api(HUBSPOT_TOKEN) as eu:
        book = sales_book(
            tmp_path,
            [("crm", crm.url, "push=Customers"), ("eu", eu.url, "push=Customers")],
            # The sync columns of both connections exist already: two pulls of one refresh
            # both adding columns to one table collide (their patches do not see each other).
            ("Customer", "Name", "Tier", "Origin", "crm Id", "eu Id"),
        )
        assert main(["push", str(book), "crm"]) == 0
        mine = crm.find("companies", "customer_code", "MINE")
        assert mine is not None
        workbook = openpyxl.load_workbook(book)
        workbook["Customers"]["B2"] = "Renamed in the book"
        workbook.save(book)
        plan_run = commands.run

        def run_while_hubspot_is_edited(*args: Any, **kwargs: Any) -> commands.Outcome:
            crm.edit("companies", mine.id, name="Renamed in HubSpot")
            return plan_run(*args, **kwargs)

        monkeypatch.setattr(commands, "run", run_while_hubspot_is_edited)

        assert main(["refresh", str(book)]) == 5

        (upsert,) = eu.batch_calls("companies", "upsert")
    assert [i["id"] for i in upsert.json()["inputs"]] == ["MINE"]
    assert [i["properties"]["name"] for i in upsert.json()["inputs"]] == ["Renamed in the book"]
    assert crm.batch_calls("companies", "update") == []  # the conflict was not sent
    assert crm.get("companies", mine.id).properties["name"] == "Renamed in HubSpot"
    (customer,) = rows_of(book, "Customers")
    pushed_to_eu = eu.find("companies", "customer_code", "MINE")
    assert pushed_to_eu is not None and customer["eu Id"] == pushed_to_eu.id
    assert [s[:3] for s in steps(book)[1:]] == [
        ("crm", "pull", "Customers"),
        ("eu", "pull", "Customers"),
        ("", "run", "PlannedOrders, Allocation"),
        ("crm", "push", "Customers"),
        ("eu", "push", "Customers"),
    ]
    assert steps(book)[4][4] == 1.0  # crm's push: one conflict
    err = capsys.readouterr().err
    assert "changed both in the book and in crm" in err and "--force" in err


def test_a_failing_push_ends_refresh_with_exit_3_after_pulling_and_running(
    crm: HubSpotApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    add_deals(crm)
    crm.server.route(
        "POST",
        "/crm/v3/objects/deals/batch/update",
        lambda r: Reply(500, body=error_body("internal error: please retry", "INTERNAL_ERROR")),
    )
    book = sales_book(tmp_path, [("crm", crm.url, "forecast=yes; push=Customers,DemandStatus")])

    assert main(["refresh", str(book)]) == 3

    err = capsys.readouterr().err
    assert "500" in err and "internal error: please retry" in err and HUBSPOT_TOKEN not in err
    assert [r[1] for r in table(book, "RunLog")[1:]] == ["plan", "allocate"]  # the run is saved
    assert steps(book)[-2][:4] == ("crm", "push", "Customers", 0.0)  # sent, and recorded
    failed = rows_of(book, "SyncLog")[-1]
    assert (failed["Table"], failed["Failed"] > 0) == ("DemandStatus", True)
    assert "500" in str(failed["Message"])
    assert all(d.properties.get("confirmed_qty") is None for d in crm.objects["deals"].values())
