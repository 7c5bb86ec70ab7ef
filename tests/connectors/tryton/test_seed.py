"""``seed_company`` puts the demo company into Tryton so that ``pull`` reads the company back:
seeded on the shared server (the factory site only: other tests expect its one
warehouse), pulled into an empty book through the command line, compared table by table on
the columns pull maps.

Codes carry a prefix unique to the module's run, and the connection reads only those
products (``products=PREFIX%``).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from python_calamine import CalamineWorkbook

from sheetloop.addin import cli
from sheetloop.connectors.tryton import LOCAL_ADMIN_PASSWORD, LocalTryton, TrytonClient
from sheetloop.connectors.tryton.seed import UNIT_ALIASES, SeedSummary, seed_company
from sheetloop.errors import UsageError
from sheetloop.workbooks.demo_data import demo_company
from sheetloop.workbooks.template import init_book

PASSWORD_VARIABLE = "SHEETLOOP_TEST_SEED_PASSWORD"
TODAY = dt.date.today()
SITE = "MAIN"
WAREHOUSE = "WH"  # the golden database's one warehouse


def factory_company() -> dict[str, pd.DataFrame]:
    """The demo company at its factory only: stock, receipts and demand of site MAIN (and
    the demand that names no site)."""
    tables = demo_company(TODAY)
    for name in ("Inventory", "Receipts"):
        tables[name] = tables[name][tables[name]["Site"] == SITE].reset_index(drop=True)
    demand = tables["Demand"]
    tables["Demand"] = demand[(demand["Site"] == SITE) | demand["Site"].isna()].reset_index(
        drop=True
    )
    return tables


@dataclass
class Seeded:
    tables: dict[str, pd.DataFrame]
    summary: SeedSummary
    prefix: str
    book: Path
    client: TrytonClient

    def ours(self, code: Any) -> str:
        """A Tryton code without the run's prefix."""
        text = str(code)
        assert text.startswith(self.prefix), text
        return text[len(self.prefix) :]


def table(path: Path, name: str) -> list[dict[str, Any]]:
    found = CalamineWorkbook.from_path(str(path), load_tables=True).get_table_by_name(name)
    return [
        dict(zip(found.columns, row, strict=True))
        for row in found.to_python()
        if any(v != "" for v in row)
    ]


def day(value: Any) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {k: (None if isinstance(v, float) and pd.isna(v) else v) for k, v in r.items()}
        for r in frame.to_dict("records")
    ]


@pytest.fixture(scope="module")
def seeded(
    tryton_server: LocalTryton, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Seeded]:
    prefix = f"{uuid.uuid4().hex[:8]}-"
    tables = factory_company()
    client = tryton_server.client()
    client.login()
    summary = seed_company(client, tables, today=TODAY, code_prefix=prefix, sites={SITE: WAREHOUSE})
    book = tmp_path_factory.mktemp("seed") / "pulled.xlsx"
    connection = {
        "Connection": "Tryton",
        "System": "tryton",
        "URL": tryton_server.url,
        "Database": tryton_server.database,
        "User": "admin",
        "Auth": f"env:{PASSWORD_VARIABLE}",
        "Options": f"products={prefix}%; sites={WAREHOUSE}:{SITE}",
    }
    init_book(book, {"Connections": pd.DataFrame([connection])})
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(PASSWORD_VARIABLE, LOCAL_ADMIN_PASSWORD)
        assert cli.main(["pull", str(book)]) == 0
    try:
        yield Seeded(tables, summary, prefix, book, client)
    finally:
        client.close()


# --- the round trip ---------------------------------------------------------------------


def test_items_come_back_with_description_type_unit_supplier_lead_time_and_cost(seeded):
    pulled = {seeded.ours(r["Item"]): r for r in table(seeded.book, "Items")}
    source = rows(seeded.tables["Items"])
    assert set(pulled) == {r["Item"] for r in source}
    for item in source:
        back = pulled[item["Item"]]
        assert back["Description"] == item["Description"]
        assert back["Type"] == item["Type"]
        assert back["UoM"] == UNIT_ALIASES.get(item["UoM"], item["UoM"].lower())
        assert back["Lead Time"] == item["Lead Time"]  # calendar days both sides
        assert back["Unit Cost"] == pytest.approx(item["Unit Cost"])
        if item["Supplier"] is None:
            assert back["Supplier"] in ("", None)
        else:
            # ItemSites' supplier of TY-700 comes after the item's own: pull names the first
            assert seeded.ours(back["Supplier"]) == item["Supplier"]


def test_every_bom_line_comes_back_with_its_quantity_per_unit(seeded):
    pulled = {
        (seeded.ours(r["Parent"]), seeded.ours(r["Component"])): r["Qty Per"]
        for r in table(seeded.book, "BOM")
    }
    source = {(r["Parent"], r["Component"]): r["Qty Per"] for r in rows(seeded.tables["BOM"])}
    assert pulled == pytest.approx(source)


def test_stock_on_hand_comes_back_per_item_at_the_site_and_unstocked_items_read_zero(seeded):
    pulled = {
        (seeded.ours(r["Item"]), r["Site"]): r["On Hand"] for r in table(seeded.book, "Inventory")
    }
    source = {(r["Item"], r["Site"]): r["On Hand"] for r in rows(seeded.tables["Inventory"])}
    assert {k: v for k, v in pulled.items() if v} == source
    assert set(pulled) == {(i, SITE) for i in seeded.tables["Items"]["Item"]}


def test_open_purchase_lines_and_work_orders_come_back_as_receipts_due_when_the_book_said(
    seeded,
):
    pulled = table(seeded.book, "Receipts")
    lines = {
        f"purchase.line,{r['id']}": r
        for r in seeded.client.search_read(
            "purchase.line",
            [("product.code", "like", f"{seeded.prefix}%")],
            ["purchase.reference", "purchase.state"],
        )
    }
    back = []
    for row in pulled:
        if row["Kind"] == "PO":
            line = lines[row["External Id"]]
            assert line["purchase."]["state"] == "processing"  # confirmed, not received
            order = seeded.ours(line["purchase."]["reference"])
        else:
            assert row["External Id"].startswith("production,")
            order = seeded.ours(row["Order"])  # a draft production is known by its reference
        back.append(
            (order, seeded.ours(row["Item"]), row["Site"], day(row["Due"]), row["Qty"], row["Kind"])
        )
    source = [
        (r["Order"], r["Item"], r["Site"], r["Due"].date(), r["Qty"], r["Kind"])
        for r in rows(seeded.tables["Receipts"])
        if r["Kind"] in ("PO", "WO")
    ]
    assert sorted(back) == sorted(source)


def test_customer_orders_come_back_as_demand_and_forecast_is_left_out(seeded):
    pulled = table(seeded.book, "Demand")
    sales = {
        f"sale.line,{r['id']}": r["sale."]["reference"]
        for r in seeded.client.search_read(
            "sale.line", [("product.code", "like", f"{seeded.prefix}%")], ["sale.reference"]
        )
    }
    back = {
        seeded.ours(sales[r["Tryton Id"]]): (
            seeded.ours(r["Item"]),
            r["Site"],
            seeded.ours(r["Customer"]),
            day(r["Due"]),
            r["Qty"],
            r["Kind"],
        )
        for r in pulled
    }
    orders = [r for r in rows(seeded.tables["Demand"]) if r["Kind"] == "order"]
    # Demand that names no site is sold from the first site; Tryton ships what is late
    # today, so an order due before today comes back due today.
    assert back == {
        r["Demand"]: (
            r["Item"],
            r["Site"] or SITE,
            r["Customer"],
            max(r["Due"].date(), TODAY),
            r["Qty"],
            "order",
        )
        for r in orders
    }
    forecast = len(seeded.tables["Demand"]) - len(orders)
    assert f"{forecast} forecast row(s) of Demand" in " ".join(seeded.summary.skipped)


def test_customers_with_orders_come_back_with_their_name_and_tier(seeded):
    pulled = {
        seeded.ours(r["Customer"]): (r["Name"], r["Tier"]) for r in table(seeded.book, "Customers")
    }
    ordering = set(seeded.tables["Demand"]["Customer"].dropna())
    assert pulled == {
        r["Customer"]: (r["Name"], r["Tier"])
        for r in rows(seeded.tables["Customers"])
        if r["Customer"] in ordering
    }


# --- how it writes ----------------------------------------------------------------------


def test_seeding_takes_a_few_dozen_calls_not_one_per_record(seeded):
    s = seeded.summary
    records = s.items + s.bom_lines + s.suppliers + s.customers + s.stock_rows
    records += s.purchase_lines + s.productions + s.sales
    # 45 products, 71 BOM lines, 45 stock moves, 24 sales...: a call per model, not per row
    assert s.calls <= 30
    assert s.calls * 5 < records


def test_a_second_seed_of_the_same_codes_is_refused_before_anything_is_written(seeded):
    products = seeded.client.search_count(
        "product.product", [("code", "like", f"{seeded.prefix}%")]
    )
    with pytest.raises(UsageError, match=r"already holds \d+ of the codes to seed") as refused:
        seed_company(
            seeded.client,
            seeded.tables,
            today=TODAY,
            code_prefix=seeded.prefix,
            sites={SITE: WAREHOUSE},
        )
    assert "another code prefix" in str(refused.value)
    assert (
        seeded.client.search_count("product.product", [("code", "like", f"{seeded.prefix}%")])
        == products
    )


def test_a_site_without_a_warehouse_is_refused_unless_the_seed_may_create_it(tryton):
    tables = demo_company(TODAY)  # stock and orders at NORTH and SOUTH too
    prefix = f"{tryton.prefix}-"
    with pytest.raises(UsageError, match="no warehouse for the sites NORTH, SOUTH") as refused:
        seed_company(
            tryton.client, tables, today=TODAY, code_prefix=prefix, sites={SITE: WAREHOUSE}
        )
    assert "let the seed create them" in str(refused.value)
    assert tryton.client.search_count("product.product", [("code", "like", f"{prefix}%")]) == 0
    assert tryton.client.search_count("stock.location", [("type", "=", "warehouse")]) == 1


def test_a_unit_tryton_does_not_know_is_refused_naming_the_item(tryton):
    tables = factory_company()
    tables["Items"].loc[tables["Items"]["Item"] == "BX-100", "UoM"] = "PALLET"
    prefix = f"{tryton.prefix}-"
    with pytest.raises(UsageError, match="Items BX-100 has UoM PALLET, which Tryton does not know"):
        seed_company(
            tryton.client, tables, today=TODAY, code_prefix=prefix, sites={SITE: WAREHOUSE}
        )
    assert tryton.client.search_count("product.product", [("code", "like", f"{prefix}%")]) == 0
