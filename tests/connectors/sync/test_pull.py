"""The pull engine on a workbook file: what lands in the book, its state and its log.

The records come from a small in-memory source (a list of dicts per table): the engine is
what is under test here; the connectors that read real systems have tests of their own.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import openpyxl
from openpyxl.worksheet.table import Table as XlTable
from python_calamine import CalamineWorkbook

from sheetloop.connectors.sync import GONE, Records, Stream, load_state, pull
from sheetloop.errors import ExternalSystemError
from sheetloop.workbooks.file_book import FileBook
from sheetloop.workbooks.schema import CUSTOMERS, ITEMS

CUSTOMER_STREAM = Stream(CUSTOMERS, key=("Customer",), columns=("Customer", "Name", "Tier"))
ITEM_STREAM = Stream(ITEMS, key=("Item",), columns=("Item", "Name", "Lead Time"))


class ListSource:
    """Records held in memory; ``fail_on`` makes reading that table fail like a server."""

    def __init__(self, data: dict[str, list[tuple[str, dict[str, object]]]], fail_on: str = ""):
        self.connection = "crm"
        self.data = data
        self.fail_on = fail_on
        self.cursors: list[str | None] = []

    def streams(self) -> Sequence[Stream]:
        return [s for s in (CUSTOMER_STREAM, ITEM_STREAM) if s.name in self.data]

    def read(self, stream: Stream, cursor: str | None) -> Records:
        self.cursors.append(cursor)
        if stream.name == self.fail_on:
            raise ExternalSystemError("crm: the server answered 503")
        rows = self.data[stream.name]
        return Records([r for _, r in rows], [i for i, _ in rows], cursor=f"c{len(rows)}")


def customers_book(path: Path) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Customers"
    ws.append(["Customer", "Name", "Tier", "Account Manager"])
    ws.append(["ACME", "Acme", 2, "Ann"])  # typed by the user
    ws.add_table(XlTable(displayName="Customers", ref="A1:D2"))
    wb.save(path)
    return path


def rows_of(path: Path, sheet: str) -> list[list[object]]:
    return CalamineWorkbook.from_path(str(path)).get_sheet_by_name(sheet).to_python()


def test_pull_adds_records_beside_typed_rows_and_keeps_them_on_a_second_pull(
    tmp_path: Path,
) -> None:
    path = customers_book(tmp_path / "b.xlsx")
    source = ListSource({"Customers": [("7", {"Customer": "BOLT", "Name": "Bolt", "Tier": 1})]})
    book = FileBook.open(path)
    result = pull(book, source)
    book.save()
    assert result.entries[0].created == 1
    rows = rows_of(path, "Customers")
    assert rows[0] == [
        "Customer",
        "Name",
        "Tier",
        "Account Manager",
        "Origin",
        "Sync Status",
        "crm Id",
    ]
    assert rows[1][:4] == ["ACME", "Acme", 2.0, "Ann"] and rows[1][4:] == ["", "", ""]
    assert rows[2] == ["BOLT", "Bolt", 1.0, "", "crm", "synced", "7"]

    # The user writes in their own column of a pulled row; the system changes the tier.
    wb = openpyxl.load_workbook(path)
    wb["Customers"]["D3"] = "Bob"
    wb.save(path)
    source.data["Customers"] = [("7", {"Customer": "BOLT", "Name": "Bolt", "Tier": 3})]
    book = FileBook.open(path)
    again = pull(book, source)
    book.save()
    assert (again.entries[0].created, again.entries[0].updated) == (0, 1)
    rows = rows_of(path, "Customers")
    assert rows[2] == ["BOLT", "Bolt", 3.0, "Bob", "crm", "synced", "7"]
    assert len(rows) == 3  # no duplicate
    assert source.cursors == [None, "c1"]  # the second read resumes from the saved cursor
    assert load_state(FileBook.open(path), "crm", "Customers").cursor == "c1"


def test_dry_run_reports_the_diff_and_writes_nothing(tmp_path: Path) -> None:
    path = customers_book(tmp_path / "b.xlsx")
    before = path.read_bytes()
    source = ListSource({"Customers": [("7", {"Customer": "BOLT", "Name": "Bolt", "Tier": 1})]})
    book = FileBook.open(path)
    result = pull(book, source, dry_run=True)
    assert result.diffs[0].created == 1 and "(dry run)" in result.entries[0].message
    assert path.read_bytes() == before


def test_a_table_the_book_lacks_is_created(tmp_path: Path) -> None:
    path = customers_book(tmp_path / "b.xlsx")
    source = ListSource({"Items": [("1", {"Item": "A-100", "Name": "Frame", "Lead Time": 2})]})
    book = FileBook.open(path)
    pull(book, source)
    book.save()
    rows = rows_of(path, "Items")
    assert rows[1][:3] == ["A-100", "Frame", 2.0] and "crm" in rows[1]


def test_vanished_records_are_marked_gone(tmp_path: Path) -> None:
    path = customers_book(tmp_path / "b.xlsx")
    source = ListSource(
        {
            "Customers": [
                ("7", {"Customer": "BOLT", "Name": "Bolt", "Tier": 1}),
                ("8", {"Customer": "COGS", "Name": "Cogs", "Tier": 2}),
            ]
        }
    )
    book = FileBook.open(path)
    pull(book, source)
    book.save()
    source.data["Customers"] = source.data["Customers"][:1]
    book = FileBook.open(path)
    result = pull(book, source)
    book.save()
    assert result.entries[0].removed == 1
    rows = rows_of(path, "Customers")
    assert rows[3][0] == "COGS" and rows[3][5] == GONE
    assert rows[1][5] == ""  # the typed row is never marked


def test_a_failing_table_stops_the_pull_but_earlier_tables_are_kept(tmp_path: Path) -> None:
    path = customers_book(tmp_path / "b.xlsx")
    source = ListSource(
        {
            "Customers": [("7", {"Customer": "BOLT", "Name": "Bolt", "Tier": 1})],
            "Items": [("1", {"Item": "A", "Name": "A", "Lead Time": 1})],
        },
        fail_on="Items",
    )
    book = FileBook.open(path)
    result = pull(book, source)
    book.save()
    assert isinstance(result.error, ExternalSystemError)
    assert [(e.table, e.failed) for e in result.entries] == [("Customers", 0), ("Items", 1)]
    assert rows_of(path, "Customers")[2][0] == "BOLT"
    assert "Items" not in CalamineWorkbook.from_path(str(path)).sheet_names


def test_two_connections_pulling_into_one_table_add_their_columns_side_by_side(
    tmp_path: Path,
) -> None:
    path = customers_book(tmp_path / "b.xlsx")
    crm = ListSource({"Customers": [("7", {"Customer": "BOLT", "Name": "Bolt", "Tier": 1})]})
    erp = ListSource({"Customers": [("9", {"Customer": "COGS", "Name": "Cogs", "Tier": 2})]})
    erp.connection = "erp"
    book = FileBook.open(path)
    pull(book, crm)
    pull(book, erp)
    book.save()
    rows = rows_of(path, "Customers")
    assert rows[0][4:] == ["Origin", "Sync Status", "crm Id", "erp Id"]
    assert [r[0] for r in rows[1:]] == ["ACME", "BOLT", "COGS"]
    assert rows[2][6] == "7" and rows[3][7] == "9"


def test_a_record_kept_out_by_a_typed_row_leaves_no_sync_state(tmp_path: Path) -> None:
    path = customers_book(tmp_path / "b.xlsx")
    source = ListSource({"Customers": [("5", {"Customer": "ACME", "Name": "Acme!", "Tier": 1})]})
    book = FileBook.open(path)
    result = pull(book, source)
    book.save()
    assert result.entries[0].conflicts == 1
    assert "5" not in load_state(FileBook.open(path), "crm", "Customers").hashes
