"""The Tryton connector against a real local Tryton: what each table pulls, what push makes
of planned orders, customers and rows Tryton refuses, and how a connection is opened.

Every test works on records whose codes start with its own prefix, and the connector reads
only those (the connection's ``products`` option), so tests never see each other's data.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import tryton_records as records
from python_calamine import CalamineWorkbook
from support.books import make_book

from sheetloop.connectors.connections import Connection
from sheetloop.connectors.sync import Records, pull, push
from sheetloop.connectors.sync.push import PushRow
from sheetloop.connectors.tryton import LOCAL_ADMIN_PASSWORD, TrytonClient, TrytonConnector
from sheetloop.connectors.tryton.connector import (
    BOM_STREAM,
    DEMAND_STREAM,
    INVENTORY_STREAM,
    ITEMS_STREAM,
    PLANNED_ORDERS_STREAM,
    RECEIPTS_STREAM,
)
from sheetloop.errors import UsageError
from sheetloop.workbooks.file_book import FileBook
from sheetloop.workbooks.interface import TablePatch
from sheetloop.workbooks.schema import PLANNED_ORDERS

TODAY = dt.date.today()
SOON = TODAY + dt.timedelta(days=21)
LATER = TODAY + dt.timedelta(days=35)


@dataclass
class Company:
    """A small planning company in Tryton: a bike made of a frame and two wheels, both
    bought, plus a part nobody supplies, a customer, stock, and open orders."""

    setup: records.Company
    bike: records.Product
    frame: records.Product
    wheel: records.Product
    bolt: records.Product
    frames_from: int  # supplier parties
    wheels_from: int
    customer: int
    bom: int


def build_company(client: TrytonClient, code: Any) -> Company:
    setup = records.company(client)
    unit = setup.unit
    bike, frame, wheel, bolt = records.create_goods(
        client,
        [
            records.goods(
                code("BIKE"),
                "Bike",
                unit=unit,
                list_price=Decimal(300),
                cost_price=Decimal("120.50"),
                producible=True,
            ),
            records.goods(
                code("FRAME"), "Frame", unit=unit, list_price=Decimal(60), cost_price=Decimal(40)
            ),
            records.goods(
                code("WHEEL"), "Wheel", unit=unit, list_price=Decimal(20), cost_price=Decimal(9)
            ),
            records.goods(
                code("BOLT"), "Bolt", unit=unit, list_price=Decimal(1), cost_price=Decimal("0.1")
            ),
        ],
    )
    frames_from, wheels_from, customer = records.create_parties(
        client,
        [(code("FRAMES"), "Frame Works"), (code("WHEELS"), "Wheel Co"), (code("SHOP"), "Shop")],
    )
    client.create(
        "purchase.product_supplier",
        [
            {"template": frame.template, "party": frames_from, "lead_time": dt.timedelta(days=14)},
            {"template": wheel.template, "party": wheels_from, "lead_time": dt.timedelta(hours=36)},
        ],
    )
    bom = records.create_bom(client, setup, bike, [(frame, 1.0), (wheel, 2.0)], name=code("BOM"))
    return Company(setup, bike, frame, wheel, bolt, frames_from, wheels_from, customer, bom)


@pytest.fixture
def company(tryton) -> Company:
    return build_company(tryton.client, tryton.code)


def connector_for(tryton, **options: Any) -> TrytonConnector:
    """A connector with a fresh client (so its calls can be counted) that reads only this
    test's products."""
    return TrytonConnector(
        tryton.server.client(), connection="Tryton", products=f"{tryton.prefix}-%", **options
    )


def by_key(found: Records, key: str) -> dict[Any, dict[str, Any]]:
    return {
        row[key]: {**row, "_id": ident} for row, ident in zip(found.rows, found.ids, strict=True)
    }


def table(path: Path, name: str) -> list[dict[str, Any]]:
    """A sheet's rows as dicts by header, read with calamine (not sheetloop's reader)."""
    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_name(name).to_python()
    return [dict(zip(rows[0], row, strict=False)) for row in rows[1:] if any(v != "" for v in row)]


# --- pull -------------------------------------------------------------------------------


def test_items_pull_codes_names_costs_suppliers_lead_days_and_make_or_buy(tryton, company):
    items = by_key(connector_for(tryton).read(ITEMS_STREAM, None), "Item")
    assert sorted(items) == sorted(tryton.code(c) for c in ("BIKE", "FRAME", "WHEEL", "BOLT"))
    bike, frame, wheel, bolt = (items[tryton.code(c)] for c in ("BIKE", "FRAME", "WHEEL", "BOLT"))
    assert (bike["Type"], bike["Description"], bike["Unit Cost"]) == ("make", "Bike", 120.5)
    assert (frame["Type"], frame["Supplier"], frame["Lead Time"]) == (
        "buy",
        tryton.code("FRAMES"),
        14,
    )
    assert (wheel["Supplier"], wheel["Lead Time"]) == (tryton.code("WHEELS"), 2)  # 36 h → 2 days
    assert (bolt["Supplier"], bolt["Lead Time"], bolt["UoM"]) == (None, None, "u")
    assert frame["_id"] == f"product.product,{company.frame.id}"


def test_bom_rows_give_component_quantity_per_unit_of_the_parent(tryton, company):
    client = tryton.client
    # A second BOM output line makes two bikes per run: quantities per bike halve.
    client.create(
        "production.bom.output",
        [
            {
                "bom": company.bom,
                "product": company.bike.id,
                "quantity": 1.0,
                "unit": company.setup.unit,
            }
        ],
    )
    rows = by_key(connector_for(tryton).read(BOM_STREAM, None), "Component")
    assert {c: r["Qty Per"] for c, r in rows.items()} == {
        tryton.code("FRAME"): 0.5,
        tryton.code("WHEEL"): 1.0,
    }
    assert {r["Parent"] for r in rows.values()} == {tryton.code("BIKE")}
    assert rows[tryton.code("WHEEL")]["_id"] == (
        f"production.bom,{company.bom}/{company.bike.id}/{company.wheel.id}"
    )


def test_inventory_is_the_stock_of_each_product_in_the_warehouse(tryton, company):
    client = tryton.client
    inventory = client.create(
        "stock.inventory",
        [
            {
                "location": company.setup.storage,
                "date": TODAY,
                "company": company.setup.company,
                "lines": [("create", [{"product": company.wheel.id, "quantity": 6.0}])],
            }
        ],
    )
    client.button("stock.inventory", "confirm", inventory)
    rows = by_key(connector_for(tryton).read(INVENTORY_STREAM, None), "Item")
    assert rows[tryton.code("WHEEL")]["On Hand"] == 6.0
    assert rows[tryton.code("FRAME")]["On Hand"] == 0.0
    assert {r["Site"] for r in rows.values()} == {"WH"}
    assert len(rows) == 4


def test_the_sites_option_renames_warehouses_in_every_table(tryton, company):
    found = connector_for(tryton, sites={"WH": "MAIN"}).read(INVENTORY_STREAM, None)
    assert {row["Site"] for row in found.rows} == {"MAIN"}


def test_receipts_are_open_purchase_lines_and_firm_productions_not_drafts(tryton, company):
    client, setup = tryton.client, company.setup
    quoted = records.create_draft_purchase(
        client,
        setup,
        company.frames_from,
        [(company.frame, 5.0, Decimal(40)), (company.wheel, 8.0, Decimal(9))],
        purchase_date=TODAY,
        reference=tryton.code("PO"),
    )
    lines = client.search("purchase.line", [("purchase", "=", quoted)], order=[("id", "ASC")])
    client.write(
        "purchase.line", [(lines, {"delivery_date_edit": True, "delivery_date_store": SOON})]
    )
    client.button("purchase.purchase", "quote", [quoted])
    records.create_draft_purchase(  # a draft is not an order yet
        client,
        setup,
        company.frames_from,
        [(company.frame, 99.0, Decimal(40))],
        purchase_date=TODAY,
        reference=tryton.code("DRAFT"),
    )
    production = records.create_draft_production(
        client,
        setup,
        company.bike,
        company.bom,
        [(company.frame, 1.0), (company.wheel, 2.0)],
        quantity=3.0,
        start=SOON,
        due=LATER,
    )
    (number,) = client.read("purchase.purchase", [quoted], ["number"])
    found = connector_for(tryton).read(RECEIPTS_STREAM, None)
    rows = {row["External Id"]: row for row in found.rows}
    assert found.ids == [row["External Id"] for row in found.rows]
    assert set(rows) == {
        f"purchase.line,{lines[0]}",
        f"purchase.line,{lines[1]}",
        f"production,{production}",
    }
    first = rows[f"purchase.line,{lines[0]}"]
    assert first == {
        "Order": f"{number['number']}/1",
        "Item": tryton.code("FRAME"),
        "Site": "WH",
        "Due": SOON,
        "Qty": 5.0,
        "Kind": "PO",
        "External Id": f"purchase.line,{lines[0]}",
    }
    assert rows[f"purchase.line,{lines[1]}"]["Order"] == f"{number['number']}/2"
    made = rows[f"production,{production}"]
    assert (made["Kind"], made["Qty"], made["Due"], made["Item"]) == (
        "WO",
        3.0,
        LATER,
        tryton.code("BIKE"),
    )


def test_demand_is_the_open_lines_of_quoted_and_confirmed_sales(tryton, company):
    client, setup = tryton.client, company.setup
    quoted = records.create_draft_sale(
        client,
        setup,
        company.customer,
        [(company.bike, 4.0, Decimal(300))],
        sale_date=TODAY,
        reference=tryton.code("SO"),
    )
    client.write("sale.sale", [([quoted], {"shipping_date": LATER})])
    client.button("sale.sale", "quote", [quoted])
    records.create_draft_sale(  # a draft sale is no demand yet
        client,
        setup,
        company.customer,
        [(company.bike, 50.0, Decimal(300))],
        sale_date=TODAY,
        reference=tryton.code("DRAFT"),
    )
    (sale,) = client.read("sale.sale", [quoted], ["number", "lines"])
    found = connector_for(tryton).read(DEMAND_STREAM, None)
    assert found.rows == [
        {
            "Demand": f"{sale['number']}/1",
            "Item": tryton.code("BIKE"),
            "Site": "WH",
            "Customer": tryton.code("SHOP"),
            "Due": LATER,
            "Qty": 4.0,
            "Kind": "order",
        }
    ]
    assert found.ids == [f"sale.line,{sale['lines'][0]}"]


def test_customers_are_parties_with_sales_and_their_tier_category(tryton, company):
    client, setup = tryton.client, company.setup
    prefix = f"{tryton.prefix} Tier"
    (tier_two,) = client.create("party.category", [{"name": f"{prefix} 2"}])
    client.write("party.party", [([company.customer], {"categories": [("add", [tier_two])]})])
    records.create_draft_sale(
        client,
        setup,
        company.customer,
        [(company.bike, 1.0, Decimal(300))],
        sale_date=TODAY,
        reference=tryton.code("SO"),
    )
    source = connector_for(tryton, tier_category=prefix)
    stream = next(s for s in source.streams() if s.name == "Customers")
    found = source.read(stream, None)
    assert found.rows == [{"Customer": tryton.code("SHOP"), "Name": "Shop", "Tier": 2}]
    assert found.ids == [f"party.party,{company.customer}"]
    assert len(found.versions) == 1 and found.versions[0]  # write dates, for conflicts
    without_tiers = connector_for(tryton, tier_category=None)
    assert next(s for s in without_tiers.streams() if s.name == "Customers").columns == (
        "Customer",
        "Name",
    )


def test_reads_are_batched_so_calls_do_not_grow_with_the_number_of_records(tryton):
    client = tryton.client
    unit = records.company(client).unit
    templates = [
        records.goods(
            tryton.code(f"P{i:03}"),
            f"Part {i}",
            unit=unit,
            list_price=Decimal(1),
            cost_price=Decimal(1),
        )
        for i in range(150)
    ]
    client.create("product.template", templates, batch=50)  # SQLite's parser limits bigger ones
    source = connector_for(tryton)
    source.client.login()
    before = source.client.calls
    items = source.read(ITEMS_STREAM, None)
    inventory = source.read(INVENTORY_STREAM, None)
    assert len(items.rows) == len(inventory.rows) == 150
    # products, units, suppliers and lead times; then one stock page per warehouse
    assert source.client.calls - before <= 6


# --- push -------------------------------------------------------------------------------


def planned_book(path: Path, items: list[list[Any]], orders: list[list[Any]]) -> Path:
    """A book with Items (item, supplier) and PlannedOrders rows."""
    return make_book(
        path,
        {
            "Items": [["Item", "Supplier"], *items],
            "PlannedOrders": [
                ["Order", "Item", "Site", "Kind", "Release", "Due", "Qty", "Firm"],
                *orders,
            ],
        },
    )


def push_orders(path: Path, sink: TrytonConnector) -> Any:
    book = FileBook.open(path)
    result = push(book, sink, tables=["PlannedOrders"])
    book.save()
    return result


def purchase_lines(client: TrytonClient, prefix: str) -> list[dict[str, Any]]:
    return client.search_read(
        "purchase.line",
        [("product.code", "like", f"{prefix}-%")],
        ["purchase", "purchase.party", "purchase.state", "product", "quantity", "delivery_date"],
        order=[("id", "ASC")],
    )


def test_buy_orders_become_one_draft_purchase_per_supplier_and_make_orders_productions(
    tryton, company, tmp_path
):
    code = tryton.code
    path = planned_book(
        tmp_path / "plan.xlsx",
        [
            [code("FRAME"), code("FRAMES")],
            [code("BOLT"), code("FRAMES")],
            [code("WHEEL"), code("WHEELS")],
        ],
        [
            [code("F1"), code("FRAME"), "WH", "buy", SOON - dt.timedelta(14), SOON, 5, None],
            [code("B1"), code("BOLT"), "WH", "buy", SOON, SOON, 40, None],
            [code("W1"), code("WHEEL"), "WH", "buy", SOON, LATER, 12, None],
            [code("K1"), code("BIKE"), "WH", "make", SOON, LATER, 6, None],
        ],
    )
    result = push_orders(path, connector_for(tryton))
    assert result.error is None and result.entries[0].created == 4

    lines = purchase_lines(tryton.client, tryton.prefix)
    by_product = {line["product"]: line for line in lines}
    assert {line["purchase."]["state"] for line in lines} == {"draft"}
    assert len({line["purchase"] for line in lines}) == 2  # one purchase per supplier
    frame, bolt, wheel = (by_product[p.id] for p in (company.frame, company.bolt, company.wheel))
    assert frame["purchase"] == bolt["purchase"]
    assert frame["purchase."]["party"] == company.frames_from
    assert wheel["purchase."]["party"] == company.wheels_from
    assert (frame["quantity"], frame["delivery_date"]) == (5.0, SOON)
    assert (wheel["quantity"], wheel["delivery_date"]) == (12.0, LATER)

    (production,) = tryton.client.search_read(
        "production",
        [("product", "=", company.bike.id)],
        ["state", "quantity", "planned_date", "planned_start_date", "bom", "inputs", "reference"],
    )
    assert production["state"] == "draft"
    assert (production["quantity"], production["planned_date"]) == (6.0, LATER)
    assert (production["planned_start_date"], production["bom"]) == (SOON, company.bom)
    assert production["reference"] == code("K1")
    moves = tryton.client.read("stock.move", production["inputs"], ["product", "quantity"])
    assert {m["product"]: m["quantity"] for m in moves} == {
        company.frame.id: 6.0,
        company.wheel.id: 12.0,
    }

    rows = {row["Order"]: row for row in table(path, "PlannedOrders")}
    assert rows[code("F1")]["External Id"] == f"purchase.line,{frame['id']}"
    assert rows[code("K1")]["External Id"] == f"production,{production['id']}"
    assert rows[code("K1")]["Tryton Id"] == f"production,{production['id']}"
    assert {row["Firm"] for row in rows.values()} == {"yes"}
    assert {row["Sync Status"] for row in rows.values()} == {"pushed"}


def test_a_buy_order_goes_to_the_products_tryton_supplier_when_the_book_names_none(
    tryton, company, tmp_path
):
    path = planned_book(
        tmp_path / "plan.xlsx",
        [[tryton.code("WHEEL"), None]],
        [[tryton.code("W1"), tryton.code("WHEEL"), "WH", "buy", SOON, SOON, 3, None]],
    )
    push_orders(path, connector_for(tryton))
    (line,) = purchase_lines(tryton.client, tryton.prefix)
    assert line["purchase."]["party"] == company.wheels_from


def test_a_buy_order_without_a_supplier_is_marked_failed_saying_what_to_fill_in(
    tryton, company, tmp_path
):
    code = tryton.code
    path = planned_book(
        tmp_path / "plan.xlsx",
        [[code("BOLT"), None], [code("FRAME"), "NOBODY-" + tryton.prefix]],
        [
            [code("B1"), code("BOLT"), "WH", "buy", SOON, SOON, 3, None],
            [code("F1"), code("FRAME"), "WH", "buy", SOON, SOON, 3, None],
            [code("X1"), code("FRAME"), "ELSEWHERE", "buy", SOON, SOON, 3, None],
        ],
    )
    result = push_orders(path, connector_for(tryton))
    assert result.error is None and result.entries[0].failed == 3
    assert purchase_lines(tryton.client, tryton.prefix) == []
    status = {row["Order"]: row["Sync Status"] for row in table(path, "PlannedOrders")}
    assert status[code("B1")].startswith("failed: ")
    assert "has no supplier: fill Supplier in Items" in status[code("B1")]
    assert f"supplier NOBODY-{tryton.prefix}" in status[code("F1")]
    assert "correct it in Items" in status[code("F1")]
    assert "site ELSEWHERE is no Tryton warehouse (Tryton has: WH)" in status[code("X1")]


def test_a_row_tryton_refuses_is_marked_failed_with_trytons_reason_and_the_rest_is_sent(
    tryton, company, tmp_path
):
    code = tryton.code
    tryton.client.write("product.template", [([company.bolt.template], {"purchasable": False})])
    path = planned_book(
        tmp_path / "plan.xlsx",
        [[code("FRAME"), code("FRAMES")], [code("BOLT"), code("FRAMES")]],
        [
            [code("F1"), code("FRAME"), "WH", "buy", SOON, SOON, 3, None],
            [code("B1"), code("BOLT"), "WH", "buy", SOON, SOON, 3, None],
        ],
    )
    result = push_orders(path, connector_for(tryton))
    assert (result.entries[0].created, result.entries[0].failed) == (1, 1)
    (line,) = purchase_lines(tryton.client, tryton.prefix)
    assert (line["product"], line["quantity"]) == (company.frame.id, 3.0)
    status = {row["Order"]: row["Sync Status"] for row in table(path, "PlannedOrders")}
    assert status[code("F1")] == "pushed"
    assert "Tryton refused it" in status[code("B1")]
    assert "is not valid according to its domain" in status[code("B1")]


def test_quantities_are_rounded_up_to_the_units_rounding_so_tryton_takes_them(
    tryton, company, tmp_path
):
    code = tryton.code
    path = planned_book(
        tmp_path / "plan.xlsx",
        [[code("FRAME"), code("FRAMES")]],
        [
            # float noise from the plan, and a fraction of a whole unit: neither may be
            # refused, and an order never brings less than planned
            [code("F1"), code("FRAME"), "WH", "buy", SOON, SOON, 3.0000000000000004, None],
            [code("F2"), code("FRAME"), "WH", "buy", SOON, LATER, 2.5, None],
        ],
    )
    result = push_orders(path, connector_for(tryton))
    assert (result.entries[0].created, result.entries[0].failed) == (2, 0)
    quantities = sorted(line["quantity"] for line in purchase_lines(tryton.client, tryton.prefix))
    assert quantities == [3.0, 3.0]


def test_drafts_an_unrecorded_push_made_are_adopted_instead_of_duplicated(
    tryton, company, tmp_path
):
    code = tryton.code
    path = planned_book(
        tmp_path / "plan.xlsx",
        [[code("FRAME"), code("FRAMES")]],
        [
            [code("F1"), code("FRAME"), "WH", "buy", SOON, SOON, 5, None],
            [code("K1"), code("BIKE"), "WH", "make", SOON, LATER, 2, None],
        ],
    )
    sink = connector_for(tryton)
    # A push that reached Tryton but died before the book was saved.
    sink.prepare(FileBook.open(path))
    lost = sink.send(
        PLANNED_ORDERS_STREAM,
        [
            PushRow(
                0,
                {
                    "Order": code("F1"),
                    "Item": code("FRAME"),
                    "Site": "WH",
                    "Kind": "buy",
                    "Due": SOON,
                    "Qty": 5,
                },
            ),
            PushRow(
                1,
                {
                    "Order": code("K1"),
                    "Item": code("BIKE"),
                    "Site": "WH",
                    "Kind": "make",
                    "Due": LATER,
                    "Qty": 2,
                },
            ),
        ],
    )
    assert [s.error for s in lost] == [None, None]

    push_orders(path, connector_for(tryton))
    assert len(purchase_lines(tryton.client, tryton.prefix)) == 1
    assert tryton.client.search_count("production", [("product", "=", company.bike.id)]) == 1
    ids = {row["Order"]: row["External Id"] for row in table(path, "PlannedOrders")}
    assert ids == {code("F1"): lost[0].external_id, code("K1"): lost[1].external_id}


def test_an_id_carried_to_a_row_never_pushed_makes_a_new_order_and_leaves_the_old_alone(
    tryton, company, tmp_path
):
    code = tryton.code
    path = planned_book(
        tmp_path / "plan.xlsx",
        [[code("FRAME"), code("FRAMES")]],
        [[code("F1"), code("FRAME"), "WH", "buy", SOON, SOON, 5, None]],
    )
    push_orders(path, connector_for(tryton))
    (old,) = purchase_lines(tryton.client, tryton.prefix)
    # What plan leaves when the pushed row was dropped and a new order took its Order id:
    # the connection's id column carried over, External Id and Firm not.
    book = FileBook.open(path)
    book.patch_table(
        TablePatch(PLANNED_ORDERS, updates={0: {"Qty": 9, "External Id": None, "Firm": None}})
    )
    book.save()
    push_orders(path, connector_for(tryton))
    lines = purchase_lines(tryton.client, tryton.prefix)
    assert [(line["id"], line["quantity"]) for line in lines] == [
        (old["id"], 5.0),
        (lines[1]["id"], 9.0),
    ]


def test_versions_are_write_dates_that_move_when_tryton_edits_a_record(tryton, company, tmp_path):
    path = planned_book(
        tmp_path / "plan.xlsx",
        [[tryton.code("FRAME"), tryton.code("FRAMES")]],
        [[tryton.code("F1"), tryton.code("FRAME"), "WH", "buy", SOON, SOON, 5, None]],
    )
    push_orders(path, connector_for(tryton))
    (line,) = purchase_lines(tryton.client, tryton.prefix)
    rid = f"purchase.line,{line['id']}"
    sink = connector_for(tryton)
    before = sink.versions(PLANNED_ORDERS_STREAM, [rid, "purchase.line,999999999"])
    assert list(before) == [rid]  # a record Tryton does not have has no version
    tryton.client.write("purchase.line", [([line["id"]], {"quantity": 6.0})])
    after = sink.versions(PLANNED_ORDERS_STREAM, [rid])
    assert after[rid] > before[rid]


def test_customers_push_writes_names_and_tiers_back_to_parties(tryton, company, tmp_path):
    code = tryton.code
    path = make_book(
        tmp_path / "customers.xlsx",
        {
            "Customers": [
                ["Customer", "Name", "Tier"],
                [code("SHOP"), "Shop & Sons", 1],
                [code("NOBODY"), "Unknown", 2],
            ]
        },
    )
    prefix = f"{tryton.prefix} Tier"
    sink = connector_for(tryton, tier_category=prefix)
    book = FileBook.open(path)
    result = push(book, sink, tables=["Customers"])
    book.save()
    assert (result.entries[0].created, result.entries[0].failed) == (1, 1)
    (party,) = tryton.client.read("party.party", [company.customer], ["name", "categories.name"])
    assert party["name"] == "Shop & Sons"
    assert [c["name"] for c in party["categories."]] == [f"{prefix} 1"]
    status = {row["Customer"]: row["Sync Status"] for row in table(path, "Customers")}
    assert status[code("SHOP")] == "pushed"
    assert "no Tryton party has this code" in status[code("NOBODY")]


# --- opening a connection ---------------------------------------------------------------


def connection(**fields: Any) -> Connection:
    values: dict[str, Any] = {
        "name": "erp",
        "system": "tryton",
        "url": "http://127.0.0.1:9/",
        "database": "tryton",
        "user": "admin",
        "auth": "env:SHEETLOOP_TEST_TRYTON",
    }
    return Connection(**(values | fields))


@pytest.mark.parametrize("missing", ["url", "database", "user"])
def test_a_connection_without_url_database_or_user_is_a_usage_error_naming_it(missing, monkeypatch):
    monkeypatch.setenv("SHEETLOOP_TEST_TRYTON", "x")
    with pytest.raises(UsageError) as caught:
        TrytonConnector.from_connection(connection(**{missing: ""}), Path("."))
    message = str(caught.value)
    assert "Connections (erp)" in message
    assert {"url": "URL", "database": "Database", "user": "User"}[missing] in message


def test_the_password_comes_from_the_secret_auth_names_and_never_shows(monkeypatch):
    monkeypatch.setenv("SHEETLOOP_TEST_TRYTON", LOCAL_ADMIN_PASSWORD)
    sink = TrytonConnector.from_connection(
        connection(options={"timeout": "2.5", "sites": "WH:MAIN"}), Path(".")
    )
    assert LOCAL_ADMIN_PASSWORD not in repr(sink)
    assert sink.connection == "erp"
    monkeypatch.delenv("SHEETLOOP_TEST_TRYTON")
    with pytest.raises(UsageError, match="SHEETLOOP_TEST_TRYTON"):
        TrytonConnector.from_connection(connection(), Path("."))


def test_a_timeout_option_that_is_no_positive_number_is_refused(monkeypatch):
    monkeypatch.setenv("SHEETLOOP_TEST_TRYTON", "x")
    with pytest.raises(UsageError, match="timeout must be a number of seconds above 0"):
        TrytonConnector.from_connection(connection(options={"timeout": "soon"}), Path("."))


def test_a_pull_through_the_engine_fills_every_table_of_a_new_book(tryton, company, tmp_path):
    path = make_book(tmp_path / "b.xlsx", {"Settings": [["Setting", "Value"]]})
    book = FileBook.open(path)
    result = pull(book, connector_for(tryton))
    book.save()
    assert result.error is None
    assert [e.table for e in result.entries] == [
        "Items",
        "BOM",
        "Inventory",
        "Receipts",
        "Demand",
        "Customers",
    ]
    assert len(table(path, "Items")) == 4
    assert {row["Origin"] for row in table(path, "BOM")} == {"Tryton"}
