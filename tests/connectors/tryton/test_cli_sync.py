"""``sheetloop pull`` / ``push`` against a real Tryton, through the command line: the whole
planning loop (pull, plan, push, pull back, plan), edits after a push, conflicts, the
allocation note, and failures that end with exit 3 and a book left whole.

Tests share one Tryton server; each works on records whose codes start with its own prefix
and reads only those (the connection's ``products`` option).
"""

from __future__ import annotations

import datetime as dt
import socket
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import tryton_records as records
from python_calamine import CalamineWorkbook

from sheetloop.addin import cli
from sheetloop.connectors.tryton import LOCAL_ADMIN_PASSWORD, LocalTryton, TrytonClient
from sheetloop.workbooks.file_book import FileBook
from sheetloop.workbooks.interface import TablePatch
from sheetloop.workbooks.schema import CONNECTIONS, TABLES
from sheetloop.workbooks.template import init_book

PASSWORD_VARIABLE = "SHEETLOOP_TEST_TRYTON_PASSWORD"
TODAY = dt.date.today()
DUE = TODAY + dt.timedelta(days=42)


@dataclass
class Shop:
    """A bike shop in Tryton: bikes made of a frame and two wheels, bells bought ready, a
    customer who ordered bikes and bells (a quoted sale), and the ids tests check."""

    prefix: str
    setup: records.Company
    bike: records.Product
    frame: records.Product
    wheel: records.Product
    bell: records.Product
    frames_and_bells: int  # supplier parties
    wheels: int
    customer: int
    sale: int
    bike_line: int  # the sale's lines

    def code(self, name: str) -> str:
        return f"{self.prefix}-{name}"


def open_shop(client: TrytonClient, prefix: str) -> Shop:
    setup = records.company(client)
    code = f"{prefix}-{{}}".format
    bike, frame, wheel, bell = records.create_goods(
        client,
        [
            records.goods(
                code("BIKE"),
                "Bike",
                unit=setup.unit,
                list_price=Decimal(300),
                cost_price=Decimal(120),
                producible=True,
            ),
            records.goods(
                code("FRAME"),
                "Frame",
                unit=setup.unit,
                list_price=Decimal(60),
                cost_price=Decimal(40),
            ),
            records.goods(
                code("WHEEL"),
                "Wheel",
                unit=setup.unit,
                list_price=Decimal(20),
                cost_price=Decimal(9),
            ),
            records.goods(
                code("BELL"), "Bell", unit=setup.unit, list_price=Decimal(5), cost_price=Decimal(2)
            ),
        ],
    )
    frames_and_bells, wheels, customer = records.create_parties(
        client, [(code("PARTS"), "Parts Ltd"), (code("RIMS"), "Rims Inc"), (code("SHOP"), "Shop")]
    )
    client.create(
        "purchase.product_supplier",
        [
            {"template": frame.template, "party": frames_and_bells, "lead_time": dt.timedelta(7)},
            {"template": bell.template, "party": frames_and_bells, "lead_time": dt.timedelta(7)},
            {"template": wheel.template, "party": wheels, "lead_time": dt.timedelta(7)},
        ],
    )
    records.create_bom(client, setup, bike, [(frame, 1.0), (wheel, 2.0)], name=code("BOM"))
    sale = records.create_draft_sale(
        client,
        setup,
        customer,
        [(bike, 10.0, Decimal(300)), (bell, 4.0, Decimal(5))],
        sale_date=TODAY,
        reference=code("SO"),
    )
    client.write("sale.sale", [([sale], {"shipping_date": DUE})])
    client.button("sale.sale", "quote", [sale])
    lines = client.search("sale.line", [("sale", "=", sale)], order=[("id", "ASC")])
    return Shop(
        prefix, setup, bike, frame, wheel, bell, frames_and_bells, wheels, customer, sale, lines[0]
    )


@pytest.fixture
def shop(tryton) -> Shop:
    return open_shop(tryton.client, tryton.prefix)


@pytest.fixture(autouse=True)
def password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_VARIABLE, LOCAL_ADMIN_PASSWORD)


def shop_book(
    path: Path, url: str, database: str, prefix: str, *, options: str = "", user: str = "admin"
) -> Path:
    """A new planning book whose Connections row points at the Tryton server."""
    row = {
        "Connection": "Tryton",
        "System": "tryton",
        "URL": url,
        "Database": database,
        "User": user,
        "Auth": f"env:{PASSWORD_VARIABLE}",
        "Options": f"products={prefix}-%" + (f"; {options}" if options else ""),
    }
    init_book(path, {"Connections": pd.DataFrame([row])})
    return path


@pytest.fixture
def book(tryton, shop, tmp_path: Path) -> Path:
    return shop_book(
        tmp_path / "shop.xlsx", tryton.server.url, tryton.server.database, tryton.prefix
    )


def sheetloop(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def table(path: Path, name: str) -> list[dict[str, Any]]:
    """The rows of an Excel table as dicts by header, read with calamine."""
    found = CalamineWorkbook.from_path(str(path), load_tables=True).get_table_by_name(name)
    return [
        dict(zip(found.columns, row, strict=True))
        for row in found.to_python()
        if any(v != "" for v in row)
    ]


def edit(path: Path, name: str, where: dict[str, Any], values: dict[str, Any]) -> None:
    """Change cells of the rows of table ``name`` that match ``where``, as a planner would."""
    rows = table(path, name)
    matches = [i for i, row in enumerate(rows) if all(row[k] == v for k, v in where.items())]
    assert matches, f"no {name} row with {where}"
    book = FileBook.open(path)
    book.patch_table(TablePatch(TABLES[name], updates={i: dict(values) for i in matches}))
    book.save()


def purchase_lines(client: TrytonClient, prefix: str) -> list[dict[str, Any]]:
    return client.search_read(
        "purchase.line",
        [("product.code", "like", f"{prefix}-%")],
        ["purchase", "purchase.party", "product", "quantity", "delivery_date"],
        order=[("id", "ASC")],
    )


def productions(client: TrytonClient, prefix: str) -> list[dict[str, Any]]:
    return client.search_read(
        "production",
        [("product.code", "like", f"{prefix}-%")],
        ["quantity", "planned_date", "inputs", "state"],
        order=[("id", "ASC")],
    )


def book_text(path: Path) -> str:
    """Every part of the workbook package as text, to look for what must not be there."""
    with zipfile.ZipFile(path) as package:
        return "\n".join(package.read(n).decode("utf-8", "replace") for n in package.namelist())


def assert_whole(path: Path) -> None:
    """The book opens in calamine with every table and passes ``sheetloop check``."""
    workbook = CalamineWorkbook.from_path(str(path), load_tables=True)
    assert {"Items", "Inventory", "Receipts", "Demand", "SyncLog"} <= set(workbook.table_names)
    for name in workbook.table_names:
        found = workbook.get_table_by_name(name)
        assert all(len(row) == len(found.columns) for row in found.to_python()), name
    assert cli.main(["check", str(path)]) == 0


def pull_plan_push(capsys: pytest.CaptureFixture[str], book: Path) -> None:
    for command in (["pull", str(book)], ["plan", str(book)], ["push", str(book), "Tryton"]):
        code, _, err = sheetloop(capsys, *command)
        assert code == 0, err


# --- the loop ---------------------------------------------------------------------------


def test_pull_plan_push_then_pull_back_and_plan_drops_the_orders_tryton_now_has(
    tryton, shop, book, capsys
):
    code, out, err = sheetloop(capsys, "pull", str(book))
    assert code == 0, err
    assert "Tryton pull Items: 4 created" in out
    assert {r["Item"] for r in table(book, "Items")} == {
        shop.code(c) for c in ("BIKE", "FRAME", "WHEEL", "BELL")
    }
    assert [(r["Item"], r["Qty"], r["Customer"]) for r in table(book, "Demand")] == [
        (shop.code("BIKE"), 10.0, shop.code("SHOP")),
        (shop.code("BELL"), 4.0, shop.code("SHOP")),
    ]

    assert sheetloop(capsys, "plan", str(book))[0] == 0
    planned = {r["Item"]: r for r in table(book, "PlannedOrders")}
    assert {i: (r["Kind"], r["Qty"]) for i, r in planned.items()} == {
        shop.code("BIKE"): ("make", 10.0),
        shop.code("FRAME"): ("buy", 10.0),
        shop.code("WHEEL"): ("buy", 20.0),
        shop.code("BELL"): ("buy", 4.0),
    }

    code, out, err = sheetloop(capsys, "push", str(book), "Tryton")
    assert code == 0, err
    assert "Tryton push PlannedOrders: 4 created" in out
    lines = purchase_lines(tryton.client, shop.prefix)
    assert len(lines) == 3
    by_party: dict[int, set[int]] = {}
    for line in lines:
        by_party.setdefault(line["purchase."]["party"], set()).add(line["purchase"])
    assert {party: len(purchases) for party, purchases in by_party.items()} == {
        shop.frames_and_bells: 1,  # frame and bell on one purchase
        shop.wheels: 1,
    }
    quantities = {line["product"]: line["quantity"] for line in lines}
    assert quantities == {shop.frame.id: 10.0, shop.wheel.id: 20.0, shop.bell.id: 4.0}
    assert {line["delivery_date"] for line in lines} == {planned[shop.code("FRAME")]["Due"]}
    (made,) = productions(tryton.client, shop.prefix)
    assert (made["quantity"], made["planned_date"]) == (10.0, planned[shop.code("BIKE")]["Due"])
    pushed = {r["Item"]: r for r in table(book, "PlannedOrders")}
    assert {r["Firm"] for r in pushed.values()} == {"yes"}
    assert {r["Sync Status"] for r in pushed.values()} == {"pushed"}
    assert all(isinstance(r["Synced At"], dt.datetime) for r in pushed.values())
    assert pushed[shop.code("BIKE")]["External Id"] == f"production,{made['id']}"
    assert {pushed[shop.code(c)]["External Id"] for c in ("FRAME", "WHEEL", "BELL")} == {
        f"purchase.line,{line['id']}" for line in lines
    }

    code, out, _ = sheetloop(capsys, "push", str(book), "Tryton")
    assert code == 0
    assert "Tryton push PlannedOrders: 0 created, 0 updated, 4 unchanged" in out
    assert len(purchase_lines(tryton.client, shop.prefix)) == 3
    assert len(productions(tryton.client, shop.prefix)) == 1

    # The buyer sends the drafts to the suppliers: they become open purchases.
    purchases = sorted({line["purchase"] for line in lines})
    tryton.client.button("purchase.purchase", "quote", purchases)
    assert sheetloop(capsys, "pull", str(book))[0] == 0
    receipts = {r["External Id"]: r for r in table(book, "Receipts")}
    assert set(receipts) == {r["External Id"] for r in pushed.values()}
    assert receipts[f"production,{made['id']}"]["Kind"] == "WO"
    assert sheetloop(capsys, "plan", str(book))[0] == 0
    assert table(book, "PlannedOrders") == []  # the receipts stand for every order now


def test_a_quantity_or_date_edited_after_push_updates_the_same_draft(tryton, shop, book, capsys):
    pull_plan_push(capsys, book)
    (frame_line,) = [
        line
        for line in purchase_lines(tryton.client, shop.prefix)
        if line["product"] == shop.frame.id
    ]
    later = DUE + dt.timedelta(days=7)
    edit(book, "PlannedOrders", {"Item": shop.code("FRAME")}, {"Qty": 15, "Due": later})
    edit(book, "PlannedOrders", {"Item": shop.code("BIKE")}, {"Qty": 12})

    code, out, err = sheetloop(capsys, "push", str(book), "Tryton")
    assert code == 0, err
    assert "Tryton push PlannedOrders: 0 created, 2 updated, 2 unchanged" in out
    lines = purchase_lines(tryton.client, shop.prefix)
    assert len(lines) == 3
    (frame_now,) = [line for line in lines if line["product"] == shop.frame.id]
    assert frame_now["id"] == frame_line["id"]
    assert (frame_now["quantity"], frame_now["delivery_date"]) == (15.0, later)
    (made,) = productions(tryton.client, shop.prefix)
    assert made["quantity"] == 12.0
    moves = tryton.client.read("stock.move", made["inputs"], ["product", "quantity"])
    assert {m["product"]: m["quantity"] for m in moves} == {
        shop.frame.id: 12.0,
        shop.wheel.id: 24.0,
    }


def test_a_row_changed_in_tryton_and_in_the_book_is_a_conflict_until_forced(
    tryton, shop, book, capsys
):
    pull_plan_push(capsys, book)
    (line,) = [
        line
        for line in purchase_lines(tryton.client, shop.prefix)
        if line["product"] == shop.wheel.id
    ]
    tryton.client.write("purchase.line", [([line["id"]], {"quantity": 22.0})])  # the buyer
    edit(book, "PlannedOrders", {"Item": shop.code("WHEEL")}, {"Qty": 26})  # the planner

    code, out, err = sheetloop(capsys, "push", str(book), "Tryton")
    assert code == 5
    assert f"PlannedOrders {shop.code('WHEEL')}@WH" in out + err
    assert "--force" in err
    (kept,) = tryton.client.read("purchase.line", [line["id"]], ["quantity"])
    assert kept["quantity"] == 22.0
    status = {r["Item"]: r["Sync Status"] for r in table(book, "PlannedOrders")}
    assert status[shop.code("WHEEL")] == "conflict"

    code, _, err = sheetloop(capsys, "push", str(book), "Tryton", "--force")
    assert code == 0, err
    (forced,) = tryton.client.read("purchase.line", [line["id"]], ["quantity"])
    assert forced["quantity"] == 26.0
    assert sheetloop(capsys, "push", str(book), "Tryton")[0] == 0  # settled: no conflict left


def test_allocation_results_are_written_into_the_sale_lines_note_and_replaced_later(
    tryton, shop, book, capsys
):
    client, setup = tryton.client, shop.setup
    client.write("sale.line", [([shop.bike_line], {"note": "Gate code 1234"})])
    stock = [{"product": p.id, "quantity": q} for p, q in ((shop.bike, 10.0), (shop.bell, 4.0))]
    counted = client.create(
        "stock.inventory",
        [
            {
                "location": setup.storage,
                "date": TODAY,
                "company": setup.company,
                "lines": [("create", stock)],
            }
        ],
    )
    client.button("stock.inventory", "confirm", counted)
    for command in (["pull", str(book)], ["run", str(book)]):
        assert sheetloop(capsys, *command)[0] == 0
    first_ship = min(r["Ship"] for r in table(book, "Allocation") if r["Item"] == shop.code("BIKE"))
    code, out, err = sheetloop(capsys, "push", str(book), "Tryton", "--tables", "DemandStatus")
    assert code == 0, err
    assert "Tryton push DemandStatus: 2 created" in out
    (line,) = client.read("sale.line", [shop.bike_line], ["note"])
    user_line, ours = line["note"].splitlines()
    assert user_line == "Gate code 1234"
    assert ours.startswith(f"sheetloop: confirmed 10 on {first_ship:%Y-%m-%d} (run ")

    # A later allocation confirms less and ships later: the note says so, once.
    later = first_ship + dt.timedelta(days=7)
    edit(book, "DemandStatus", {"Item": shop.code("BIKE")}, {"Allocated": 6})
    edit(book, "Allocation", {"Item": shop.code("BIKE")}, {"Ship": later})
    assert sheetloop(capsys, "push", str(book), "Tryton", "--tables", "DemandStatus")[0] == 0
    (line,) = client.read("sale.line", [shop.bike_line], ["note"])
    user_line, ours = line["note"].splitlines()
    assert user_line == "Gate code 1234"
    assert ours.startswith(f"sheetloop: confirmed 6 of 10, first on {later:%Y-%m-%d} (run ")

    # A ship date that moves on its own (same quantity) reaches the note too.
    latest = later + dt.timedelta(days=7)
    edit(book, "Allocation", {"Item": shop.code("BIKE")}, {"Ship": latest})
    assert sheetloop(capsys, "push", str(book), "Tryton", "--tables", "DemandStatus")[0] == 0
    (line,) = client.read("sale.line", [shop.bike_line], ["note"])
    assert (
        line["note"]
        .splitlines()[1]
        .startswith(f"sheetloop: confirmed 6 of 10, first on {latest:%Y-%m-%d} (run ")
    )


# --- failures ---------------------------------------------------------------------------


@pytest.fixture
def own_server(needs_tryton) -> Iterator[LocalTryton]:
    """A server of the test's own, which it may kill."""
    with LocalTryton.start() as server:
        yield server


def test_a_server_down_before_pull_exits_3_and_leaves_the_tables_as_they_were(
    own_server, tmp_path, capsys
):
    path = shop_book(tmp_path / "b.xlsx", own_server.url, own_server.database, "x")
    own_server.kill()
    code, _, err = sheetloop(capsys, "pull", str(path))
    assert code == 3
    assert f"cannot reach Tryton at {own_server.url}" in err
    assert "is the server running?" in err.lower()
    assert "run pull again once it is fixed" in err
    assert table(path, "Items") == []
    (logged,) = table(path, "SyncLog")
    assert (logged["Table"], logged["Failed"]) == ("Items", 1)
    assert_whole(path)


def test_a_server_killed_during_pull_keeps_whole_tables_and_a_rerun_adds_no_duplicates(
    own_server, tmp_path, capsys, monkeypatch
):
    with own_server.client() as client:
        client.login()
        shop = open_shop(client, "k")
    path = shop_book(tmp_path / "b.xlsx", own_server.url, own_server.database, shop.prefix)

    def crash_before_inventory(line: str) -> None:
        if line.startswith("pulling Inventory"):
            own_server.kill()

    monkeypatch.setattr(cli, "_progress", crash_before_inventory)
    code, out, err = sheetloop(capsys, "pull", str(path))
    assert code == 3
    assert "cannot reach Tryton" in err
    logged = {r["Table"]: (r["Created"], r["Failed"]) for r in table(path, "SyncLog")}
    assert logged == {"Items": (4, 0), "BOM": (2, 0), "Inventory": (0, 1)}
    assert len(table(path, "Items")) == 4 and len(table(path, "BOM")) == 2
    assert table(path, "Inventory") == [] and table(path, "Demand") == []
    assert_whole(path)

    # The server comes back (its database as the crash left it): pull completes.
    with LocalTryton.start(own_server.database_path) as back:
        book = FileBook.open(path)
        book.patch_table(
            TablePatch(CONNECTIONS, updates={0: {"URL": back.url, "Database": back.database}})
        )
        book.save()
        code, out, err = sheetloop(capsys, "pull", str(path))
    assert code == 0, err
    assert "Tryton pull Items: 0 created, 0 updated, 4 unchanged" in out
    assert len(table(path, "Items")) == 4 and len(table(path, "BOM")) == 2
    assert len(table(path, "Inventory")) == 4 and len(table(path, "Demand")) == 2


def test_a_wrong_password_exits_3_saying_to_check_user_and_auth_without_showing_it(
    tryton, shop, book, capsys, monkeypatch
):
    wrong = f"wrong-{tryton.prefix}-Pa55"
    monkeypatch.setenv(PASSWORD_VARIABLE, wrong)
    code, out, err = sheetloop(capsys, "pull", str(book))
    assert code == 3
    assert "refused the login of user 'admin'" in err
    assert "Check User and the secret named in Auth" in err
    assert wrong not in out + err
    assert wrong not in book_text(book)
    assert table(book, "Items") == []
    assert_whole(book)

    monkeypatch.setenv(PASSWORD_VARIABLE, LOCAL_ADMIN_PASSWORD)  # the secret is fixed
    for _ in range(2):
        assert sheetloop(capsys, "pull", str(book))[0] == 0
    assert len(table(book, "Items")) == 4 and len(table(book, "Demand")) == 2


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


def test_a_server_that_does_not_answer_in_time_exits_3_after_the_timeout(
    silent_port, tmp_path, capsys
):
    path = shop_book(
        tmp_path / "b.xlsx", f"http://127.0.0.1:{silent_port}/", "erp", "x", options="timeout=0.5"
    )
    code, _, err = sheetloop(capsys, "pull", str(path))
    assert code == 3
    assert "did not answer" in err and "within 0.5 s" in err
    assert LOCAL_ADMIN_PASSWORD not in err
    assert table(path, "Items") == []
    assert_whole(path)


def test_a_row_tryton_refuses_is_marked_failed_and_a_rerun_after_the_fix_sends_only_it(
    tryton, shop, book, capsys
):
    tryton.client.write("product.template", [([shop.bell.template], {"purchasable": False})])
    assert sheetloop(capsys, "pull", str(book))[0] == 0
    assert sheetloop(capsys, "plan", str(book))[0] == 0
    code, out, err = sheetloop(capsys, "push", str(book), "Tryton")
    assert code == 0, err
    assert (
        "Tryton push PlannedOrders: 3 created, 0 updated, 0 unchanged, 0 removed, 1 failed" in out
    )
    status = {r["Item"]: r["Sync Status"] for r in table(book, "PlannedOrders")}
    assert status[shop.code("BELL")].startswith(f"failed: PlannedOrders {shop.code('BELL')}@WH")
    assert "Tryton refused it" in status[shop.code("BELL")]
    assert len(purchase_lines(tryton.client, shop.prefix)) == 2
    assert_whole(book)

    tryton.client.write("product.template", [([shop.bell.template], {"purchasable": True})])
    code, out, err = sheetloop(capsys, "push", str(book), "Tryton")
    assert code == 0, err
    assert "Tryton push PlannedOrders: 1 created, 0 updated, 3 unchanged" in out
    lines = purchase_lines(tryton.client, shop.prefix)
    assert sorted(line["product"] for line in lines) == sorted(
        [shop.frame.id, shop.wheel.id, shop.bell.id]
    )
    assert len(productions(tryton.client, shop.prefix)) == 1


def test_a_connection_without_a_database_exits_2_naming_it(tmp_path, capsys):
    path = shop_book(tmp_path / "b.xlsx", "http://127.0.0.1:9/", "", "x")
    code, _, err = sheetloop(capsys, "pull", str(path))
    assert code == 2
    assert "Connections (Tryton): a tryton connection needs Database" in err
