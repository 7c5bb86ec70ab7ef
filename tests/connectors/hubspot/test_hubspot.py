"""The HubSpot connection: companies to ``Customers`` and back, deals to forecast ``Demand``
and allocation results back to the deals, through the command line.

HubSpot cannot run here: the tests talk to an imitation of HubSpot's documented CRM v3
objects API served on 127.0.0.1 (``support/hubspot_api.py``: paging with ``after``, batch
read/create/update/upsert of at most 100 inputs, ``updatedAt`` moving on writes, the 401,
400, 207 and 429 bodies HubSpot documents).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import requests
from python_calamine import CalamineWorkbook
from support.books import make_book, sha256
from support.hubspot_api import HubSpotApi, hubspot_api

import sheetloop.connectors.hubspot.connector as hubspot_connector
from sheetloop.addin.cli import main
from sheetloop.connectors.connections import Connection
from sheetloop.connectors.http import RetryPolicy
from sheetloop.connectors.hubspot import (
    HubSpotConnector,
    HubSpotOptions,
    describe_error,
    hubspot_date,
    tier_from_hubspot,
    tier_to_hubspot,
)
from sheetloop.errors import UsageError

TOKEN = "pat-na1-6f3e9c1a-4b2d-4e8f-9a7c-0d1e2f3a4b5c"
ENV = "HUBSPOT_TOKEN"
CUSTOMERS_HEAD = ["Customer", "Name", "Tier", "Notes"]
TYPED = ["MINE", "Typed by me", 1, "keep me"]


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, TOKEN)


@pytest.fixture
def api() -> Iterator[HubSpotApi]:
    with hubspot_api(TOKEN) as served:
        yield served


def crm_book(
    tmp_path: Path,
    url: str,
    options: str = "",
    *,
    customers: list[list[Any]] | None = None,
    more: dict[str, list[list[Any]]] | None = None,
) -> Path:
    sheets: dict[str, list[list[Any]]] = {
        "Connections": [
            ["Connection", "System", "URL", "Auth", "Options"],
            ["crm", "hubspot", url, f"env:{ENV}", options],
        ],
        "Customers": [CUSTOMERS_HEAD, *(customers if customers is not None else [TYPED])],
        **(more or {}),
    }
    return make_book(tmp_path / "plan.xlsx", sheets)


def table(path: Path, sheet: str) -> list[dict[str, Any]]:
    """A sheet's rows by header."""
    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_name(sheet).to_python()
    head = [str(h) for h in rows[0]]
    return [dict(zip(head, r, strict=False)) for r in rows[1:] if any(c != "" for c in r)]


def day(value: Any) -> Any:
    """A date cell as a date (readers give dates or datetimes)."""
    return value.date() if isinstance(value, dt.datetime) else value


def by_customer(path: Path) -> dict[str, dict[str, Any]]:
    return {str(r["Customer"]): r for r in table(path, "Customers")}


def edit(path: Path, sheet: str, key: str, changes: dict[str, dict[str, Any]]) -> None:
    """Type new values into rows found by their ``key`` column, as a planner would."""
    wb = openpyxl.load_workbook(path)
    ws = wb[sheet]
    head = [c.value for c in ws[1]]
    for row in ws.iter_rows(min_row=2):
        wanted = changes.get(str(row[head.index(key)].value))
        for column, value in (wanted or {}).items():
            row[head.index(column)].value = value
    wb.save(path)


def tier_text(n: int, style: int) -> str:
    """Tier ``n`` written the ways HubSpot portals hold it."""
    return [str(n), f"Tier {n}", f"tier_{n}", ""][style]


def add_companies(api: HubSpotApi, count: int) -> dict[str, str]:
    """``count`` companies C001...; their ids by customer code."""
    return {
        f"C{i:03d}": api.add_company(
            customer_code=f"C{i:03d}", name=f"Company {i}", tier=tier_text(i % 3 + 1, i % 4)
        )
        for i in range(1, count + 1)
    }


def pulled(api: HubSpotApi, tmp_path: Path, count: int, options: str = "") -> Path:
    add_companies(api, count)
    book = crm_book(tmp_path, api.url, options)
    assert main(["pull", str(book), "crm"]) == 0
    return book


# -- pull ----------------------------------------------------------------------------------


def test_pull_brings_every_company_over_pages_of_100_with_tiers_mapped(
    api: HubSpotApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = add_companies(api, 250)
    api.add_company(name="No code yet", tier="1")
    book = crm_book(tmp_path, api.url)

    assert main(["pull", str(book), "crm"]) == 0

    pages = api.lists("companies")
    assert len(pages) == 3
    assert all(p.arg("limit") == "100" for p in pages)
    assert all(
        set((p.arg("properties") or "").split(",")) >= {"customer_code", "name", "tier"}
        for p in pages
    )
    ordered = sorted(ids.values(), key=int)
    assert [p.arg("after") for p in pages] == [None, ordered[100], ordered[200]]
    rows = by_customer(book)
    assert set(rows) == {"MINE", *ids}
    for i in range(1, 251):
        row = rows[f"C{i:03d}"]
        expected = None if i % 4 == 3 else i % 3 + 1  # a blank tier stays blank
        assert (row["Tier"] or None) == expected, row
        assert row["Name"] == f"Company {i}"
        assert (row["Origin"], row["Sync Status"], row["crm Id"]) == (
            "crm",
            "synced",
            ids[f"C{i:03d}"],
        )
    assert "Customers: 250 created" in capsys.readouterr().out


def test_pull_leaves_a_customer_the_user_typed_as_it_is(
    api: HubSpotApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    api.add_company(customer_code="MINE", name="HubSpot's name", tier="3")
    add_companies(api, 2)
    book = crm_book(tmp_path, api.url)

    assert main(["pull", str(book), "crm"]) == 0

    rows = table(book, "Customers")
    assert [rows[0][h] for h in CUSTOMERS_HEAD] == [TYPED[0], TYPED[1], 1.0, TYPED[3]]
    assert rows[0]["Origin"] == "" and rows[0]["crm Id"] == ""
    assert [r["Customer"] for r in rows] == ["MINE", "C001", "C002"]
    assert "MINE is a row you typed" in capsys.readouterr().out


def test_forecast_deals_become_forecast_demand_rows_of_their_company(
    api: HubSpotApi, tmp_path: Path
) -> None:
    acme = api.add_company(customer_code="ACME", name="Acme", tier="1")
    nameless = api.add_company(name="No code")
    won = api.add_deal(
        acme, dealname="Q1", item="A", quantity="40", closedate="2027-01-20T00:00:00Z"
    )
    epoch = api.add_deal(
        nameless,
        item="B",
        quantity="12.5",
        closedate=str(int(dt.datetime(2027, 2, 3, tzinfo=dt.UTC).timestamp() * 1000)),
    )
    api.add_deal(
        acme, item="A", quantity="10", closedate="2027-01-20T00:00:00Z", dealstage="closedlost"
    )
    api.add_deal(acme, quantity="10", closedate="2027-01-20T00:00:00Z")  # no item
    api.add_deal(acme, item="A", quantity="0", closedate="2027-01-20T00:00:00Z")
    book = crm_book(
        tmp_path,
        api.url,
        "forecast=yes",
        more={"Demand": [["Demand", "Item", "Due", "Qty"], ["SO-1", "A", dt.date(2027, 1, 18), 5]]},
    )

    assert main(["pull", str(book), "crm", "--tables", "Demand"]) == 0

    listing = api.lists("deals")[0]
    assert listing.arg("associations") == "companies"
    assert {"item", "quantity", "closedate"} <= set((listing.arg("properties") or "").split(","))
    rows = {r["Demand"]: r for r in table(book, "Demand")}
    assert set(rows) == {"SO-1", f"deal-{won}", f"deal-{epoch}"}
    assert rows["SO-1"]["Origin"] == ""
    first, second = rows[f"deal-{won}"], rows[f"deal-{epoch}"]
    assert (first["Item"], first["Customer"], first["Qty"], first["Kind"]) == (
        "A",
        "ACME",
        40.0,
        "forecast",
    )
    assert day(first["Due"]) == dt.date(2027, 1, 20)
    assert (second["Customer"], second["Qty"], day(second["Due"])) == (
        "",
        12.5,
        dt.date(2027, 2, 3),
    )
    assert first["crm Id"] == won and first["Origin"] == "crm"
    # The customers of the deals were looked up by id in one batch read.
    (read,) = api.batch_calls("companies", "read")
    assert sorted(i["id"] for i in read.json()["inputs"]) == sorted([acme, nameless])


def test_a_rate_limited_call_is_retried_after_retry_after_and_the_pull_succeeds(
    api: HubSpotApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    slept: list[float] = []
    monkeypatch.setattr(hubspot_connector, "RETRY_POLICY", RetryPolicy(sleep=slept.append))
    add_companies(api, 120)
    api.rate_limit(2, retry_after=1)
    book = crm_book(tmp_path, api.url)

    assert main(["pull", str(book), "crm"]) == 0

    assert slept == [1.0, 1.0]
    assert len(api.lists("companies")) == 4  # 2 refused, then both pages
    assert len(by_customer(book)) == 121


def test_a_rate_limited_batch_update_is_sent_again_and_lands_once(
    api: HubSpotApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    slept: list[float] = []
    monkeypatch.setattr(hubspot_connector, "RETRY_POLICY", RetryPolicy(sleep=slept.append))
    book = pulled(api, tmp_path, 2)
    edit(book, "Customers", "Customer", {"C002": {"Name": "Second Ltd"}})
    ident = by_customer(book)["C002"]["crm Id"]
    before = api.get("companies", ident).updated_at
    api.rate_limit(1, retry_after=2, path="/batch/update")

    assert main(["push", str(book), "crm", "--tables", "Customers"]) == 0

    assert slept == [2.0]
    assert len(api.batch_calls("companies", "update")) == 2  # refused, then sent again
    company = api.get("companies", ident)
    assert company.properties["name"] == "Second Ltd" and company.updated_at > before


def test_a_wrong_token_fails_with_exit_3_quoting_hubspot_and_never_shows_the_token(
    api: HubSpotApi,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    add_companies(api, 3)
    book = crm_book(tmp_path, api.url)
    before = table(book, "Customers")
    monkeypatch.setenv(ENV, TOKEN + "-revoked")

    assert main(["pull", str(book), "crm"]) == 3

    err = capsys.readouterr().err
    assert "401" in err and "INVALID_AUTHENTICATION" in err and "Private Apps" in err
    assert TOKEN not in err
    assert table(book, "Customers") == before
    log = table(book, "SyncLog")
    assert log[-1]["Failed"] == 1.0 and TOKEN not in str(log)


def test_hubspot_refusing_a_value_fails_with_its_category_and_message(
    api: HubSpotApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    api.dropdown("companies", "tier", "tier_1", "tier_2", "tier_3")
    book = crm_book(tmp_path, api.url)

    assert main(["push", str(book), "crm"]) == 3

    err = capsys.readouterr().err
    assert "VALIDATION_ERROR" in err and "was not one of the allowed options" in err
    assert "tier_values" in err and TOKEN not in err
    assert api.find("companies", "customer_code", "MINE") is None


def test_tier_values_translate_tiers_for_a_dropdown_property(
    api: HubSpotApi, tmp_path: Path
) -> None:
    api.dropdown("companies", "tier", "gold", "silver", "bronze")
    book = crm_book(tmp_path, api.url, "tier_values=1:gold, 2:silver, 3:bronze")

    assert main(["push", str(book), "crm"]) == 0

    company = api.find("companies", "customer_code", "MINE")
    assert company is not None and company.properties["tier"] == "gold"


# -- push ----------------------------------------------------------------------------------


def test_push_sends_tier_and_name_edits_in_batches_of_at_most_100_and_nothing_twice(
    api: HubSpotApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    book = pulled(api, tmp_path, 250)
    rows = by_customer(book)
    changes: dict[str, dict[str, Any]] = {
        code: {"Tier": 1 if row["Tier"] != 1.0 else 2}
        for code, row in rows.items()
        if code != "MINE"
    }
    changes["C007"]["Name"] = "Company Seven Ltd"
    edit(book, "Customers", "Customer", changes)
    capsys.readouterr()

    assert main(["push", str(book), "crm"]) == 0

    updates = api.batch_calls("companies", "update")
    assert [len(u.json()["inputs"]) for u in updates] == [100, 100, 50]
    for code, change in changes.items():
        company = api.get("companies", rows[code]["crm Id"])
        assert company.properties["tier"] == str(change["Tier"])
    assert api.get("companies", rows["C007"]["crm Id"]).properties["name"] == "Company Seven Ltd"
    after = by_customer(book)
    assert all(after[code]["Sync Status"] == "pushed" for code in changes)
    assert "Customers: 1 created, 250 updated" in capsys.readouterr().out  # MINE is new

    posts = len(api.posts())
    assert main(["push", str(book), "crm"]) == 0
    assert len(api.posts()) == posts  # nothing changed, nothing sent, not even a read


def test_push_creates_new_customers_by_upsert_on_the_key_property(
    api: HubSpotApi, tmp_path: Path
) -> None:
    known = api.add_company(customer_code="OLD", name="Old name", tier="3")
    book = crm_book(tmp_path, api.url, customers=[TYPED, ["OLD", "New name", 2, ""]])

    assert main(["push", str(book), "crm"]) == 0

    (upsert,) = api.batch_calls("companies", "upsert")
    inputs = {i["id"]: i for i in upsert.json()["inputs"]}
    assert {i["idProperty"] for i in inputs.values()} == {"customer_code"}
    assert set(inputs) == {"MINE", "OLD"}
    mine = api.find("companies", "customer_code", "MINE")
    assert mine is not None and (mine.properties["name"], mine.properties["tier"]) == (
        "Typed by me",
        "1",
    )
    old = api.get("companies", known)
    assert (old.properties["name"], old.properties["tier"]) == ("New name", "2")
    assert len(api.objects["companies"]) == 2  # upserted, not duplicated
    rows = by_customer(book)
    assert (rows["MINE"]["crm Id"], rows["OLD"]["crm Id"]) == (mine.id, known)


def test_a_company_changed_in_hubspot_and_in_the_book_is_a_conflict_that_force_sends(
    api: HubSpotApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    book = pulled(api, tmp_path, 3)
    ident = by_customer(book)["C002"]["crm Id"]
    api.edit("companies", ident, name="Renamed in HubSpot")
    edit(book, "Customers", "Customer", {"C002": {"Name": "Renamed in the book"}})

    assert main(["push", str(book), "crm"]) == 5

    said = capsys.readouterr()
    assert "C002" in said.out + said.err and "--force" in said.err
    assert api.batch_calls("companies", "update") == []
    assert api.get("companies", ident).properties["name"] == "Renamed in HubSpot"
    assert by_customer(book)["C002"]["Sync Status"] == "conflict"

    assert main(["push", str(book), "crm", "--force"]) == 0

    assert api.get("companies", ident).properties["name"] == "Renamed in the book"
    assert by_customer(book)["C002"]["Sync Status"] == "pushed"


def test_a_company_deleted_in_hubspot_fails_only_its_own_row(
    api: HubSpotApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    book = pulled(api, tmp_path, 3)
    rows = by_customer(book)
    api.archive("companies", rows["C001"]["crm Id"])
    edit(book, "Customers", "Customer", {"C001": {"Name": "Gone Ltd"}, "C003": {"Tier": 1}})

    assert main(["push", str(book), "crm"]) == 0

    after = by_customer(book)
    assert after["C001"]["Sync Status"].startswith("failed: OBJECT_NOT_FOUND")
    assert after["C003"]["Sync Status"] == "pushed"
    assert api.get("companies", rows["C003"]["crm Id"]).properties["tier"] == "1"
    assert "1 failed" in capsys.readouterr().out


def test_a_blank_url_means_hubspot_itself() -> None:
    connection = Connection("crm", "hubspot", auth=f"env:{ENV}")
    connector = HubSpotConnector.from_connection(connection, Path("."))
    assert connector.session.base_url == "https://api.hubapi.com"
    assert TOKEN not in repr(connector.session) + repr(connector.session.auth)


def test_dry_run_push_sends_nothing_and_writes_nothing(
    api: HubSpotApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    book = crm_book(tmp_path, api.url, customers=[TYPED, ["NEW", "New one", 2, ""]])
    before = sha256(book)

    assert main(["push", str(book), "crm", "--dry-run"]) == 0

    assert api.posts() == []
    assert sha256(book) == before
    assert "Customers: 2 to create" in capsys.readouterr().out


def test_dry_run_push_of_edits_only_reads_versions(
    api: HubSpotApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    book = pulled(api, tmp_path, 3)
    edit(book, "Customers", "Customer", {"C001": {"Tier": 3}})
    before = sha256(book)
    capsys.readouterr()

    assert main(["push", str(book), "crm", "--dry-run"]) == 0

    # Conflicts are found by reading each changed company's updatedAt: a read, no write.
    assert {r.path.rsplit("/", 1)[-1] for r in api.posts()} == {"read"}
    assert sha256(book) == before
    assert "1 to update" in capsys.readouterr().out  # C001 (the typed MINE is to create)


def test_allocation_results_are_pushed_to_the_deals_they_came_from(
    api: HubSpotApi, tmp_path: Path
) -> None:
    big = api.add_company(customer_code="BIG", name="Big", tier="1")
    small = api.add_company(customer_code="SMALL", name="Small", tier="2")
    deals = [
        api.add_deal(big, item="A", quantity="40", closedate="2027-01-20T00:00:00Z"),
        api.add_deal(small, item="A", quantity="30", closedate="2027-01-27T00:00:00Z"),
    ]
    lost = api.add_deal(
        small, item="A", quantity="5", closedate="2027-01-27T00:00:00Z", dealstage="closedlost"
    )
    book = crm_book(
        tmp_path,
        api.url,
        "forecast=yes",
        more={
            "Settings": [
                ["Setting", "Value"],
                ["Horizon Start", dt.date(2027, 1, 4)],
                ["Periods", 8],
                ["Allocate Forecast", "yes"],
            ],
            "Items": [["Item"], ["A"]],
            "Inventory": [["Item", "Site", "On Hand"], ["A", "MAIN", 50]],
            "Demand": [["Demand", "Item", "Due", "Qty"], ["SO-1", "A", dt.date(2027, 1, 11), 5]],
        },
    )
    assert main(["pull", str(book), "crm"]) == 0
    assert main(["allocate", str(book)]) == 0

    assert main(["push", str(book), "crm"]) == 0

    status = {r["Demand"]: r for r in table(book, "DemandStatus")}
    ships: dict[str, dt.date] = {}
    for r in table(book, "Allocation"):
        if r["Qty"]:
            ships[r["Demand"]] = max(ships.get(r["Demand"], day(r["Ship"])), day(r["Ship"]))
    (update,) = api.batch_calls("deals", "update")
    assert sorted(i["id"] for i in update.json()["inputs"]) == sorted(deals)  # not SO-1
    confirmed = 0.0
    for deal in deals:
        props = api.get("deals", deal).properties
        row = status[f"deal-{deal}"]
        assert float(props["confirmed_qty"]) == row["Allocated"]
        shipped = ships.get(f"deal-{deal}")
        assert props["confirmed_date"] == (shipped.isoformat() if shipped else "")
        confirmed += row["Allocated"]
    assert 0 < confirmed <= 50  # the stock is shared, not invented
    assert "confirmed_qty" not in api.get("deals", lost).properties
    assert by_customer(book)["BIG"]["Sync Status"] == "synced"  # customers did not change

    assert main(["push", str(book), "crm"]) == 0
    assert len(api.batch_calls("deals", "update")) == 1  # nothing new to send


# -- options and mapping --------------------------------------------------------------------


def test_a_property_label_instead_of_its_internal_name_is_a_usage_error(
    api: HubSpotApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    book = crm_book(tmp_path, api.url, "key_property=Customer Code")

    assert main(["pull", str(book), "crm"]) == 2

    assert "Internal name" in capsys.readouterr().err
    assert api.server.received == []


def test_options_default_to_customer_code_and_tier_properties() -> None:
    options = HubSpotOptions.from_connection(Connection("crm", "hubspot"))
    assert (options.key_property, options.tier_property, options.forecast) == (
        "customer_code",
        "tier",
        False,
    )
    with pytest.raises(UsageError, match="tier_values"):
        HubSpotOptions.from_connection(
            Connection("crm", "hubspot", options={"tier_values": "gold"})
        )


@pytest.mark.parametrize(
    ("shown", "tier"),
    [("1", 1), ("Tier 2", 2), ("tier_3", 3), ("2.0", 2), ("", None), ("Gold", None), ("0", None)],
)
def test_tiers_are_read_from_the_first_whole_number_in_hubspot_text(
    shown: str, tier: int | None
) -> None:
    assert tier_from_hubspot(shown, {}) == tier


def test_tier_values_map_both_ways() -> None:
    mapping = {1: "gold", 2: "silver"}
    assert [tier_from_hubspot(v, mapping) for v in ("Gold", "silver")] == [1, 2]
    assert [tier_to_hubspot(t, mapping) for t in (1, 2.0, 3, None)] == ["gold", "silver", "3", None]


def test_hubspot_dates_are_read_from_iso_text_or_epoch_milliseconds_in_utc() -> None:
    assert hubspot_date("2027-01-20T23:30:00Z") == dt.date(2027, 1, 20)
    assert hubspot_date("2027-01-20T23:30:00-02:00") == dt.date(2027, 1, 21)
    noon = dt.datetime(2027, 1, 22, 12, tzinfo=dt.UTC)
    assert hubspot_date(str(int(noon.timestamp() * 1000))) == dt.date(2027, 1, 22)
    assert hubspot_date("soon") is None


def test_an_error_body_is_described_by_category_message_details_and_correlation_id() -> None:
    text, category = describe_error(
        '{"status":"error","message":"Property values were not valid","correlationId":"c-1",'
        '"category":"VALIDATION_ERROR","errors":[{"message":"9 is not allowed","in":"tier"}]}'
    )
    assert category == "VALIDATION_ERROR"
    assert (
        text
        == "VALIDATION_ERROR: Property values were not valid; 9 is not allowed (correlation id c-1)"
    )


def test_the_imitation_refuses_more_than_100_inputs_as_hubspot_does(api: HubSpotApi) -> None:
    answer = requests.post(
        f"{api.url}/crm/v3/objects/companies/batch/update",
        json={"inputs": [{"id": str(i), "properties": {}} for i in range(101)]},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=10,
    )
    assert answer.status_code == 400
    assert answer.json()["category"] == "VALIDATION_ERROR"
