"""The push engine on a workbook file: only changed rows go, twice sends nothing new,
conflicts are held back, and the sync columns record what happened.

The system here is an in-memory record store (the engine is under test); the Tryton and
HubSpot connectors are tested against their own servers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import openpyxl
from openpyxl.worksheet.table import Table as XlTable
from python_calamine import CalamineWorkbook

from sheetloop.connectors.sync import Stream
from sheetloop.connectors.sync.push import PushRow, Sent, push
from sheetloop.errors import ExternalSystemError
from sheetloop.workbooks.file_book import FileBook
from sheetloop.workbooks.schema import CUSTOMERS, PLANNED_ORDERS

CUSTOMERS_OUT = Stream(CUSTOMERS, key=("Customer",), columns=("Customer", "Name", "Tier"))
ORDERS_OUT = Stream(
    PLANNED_ORDERS, key=("Order",), columns=("Order", "Item", "Site", "Kind", "Due", "Qty")
)


class Store:
    """Records by id, each with a revision that moves on every write."""

    def __init__(self) -> None:
        self.connection = "erp"
        self.records: dict[str, dict[str, object]] = {}
        self.revision: dict[str, int] = {}
        self.calls = 0
        self.fail = False
        self.reject: set[str] = set()

    def push_streams(self) -> Sequence[Stream]:
        return [CUSTOMERS_OUT, ORDERS_OUT]

    def versions(self, stream: Stream, record_ids: Sequence[str]) -> dict[str, str]:
        return {i: str(self.revision[i]) for i in record_ids if i in self.revision}

    def send(self, stream: Stream, rows: Sequence[PushRow]) -> list[Sent]:
        self.calls += 1
        if self.fail:
            raise ExternalSystemError("erp: cannot reach http://127.0.0.1:1/")
        out = []
        for row in rows:
            key = str(row.values[stream.key[0]])
            if key in self.reject:
                out.append(Sent(row.index, error="the supplier is unknown"))
                continue
            rid = row.record_id or str(len(self.records) + 1)
            self.records[rid] = dict(row.values)
            self.revision[rid] = self.revision.get(rid, 0) + 1
            out.append(Sent(row.index, rid, f"PO-{rid}", version=str(self.revision[rid])))
        return out

    def edit_in_system(self, rid: str) -> None:
        self.revision[rid] += 1


def book_with_customers(path: Path) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Customers"
    ws.append(["Customer", "Name", "Tier"])
    ws.append(["ACME", "Acme", 1])
    ws.append(["BOLT", "Bolt", 2])
    ws.add_table(XlTable(displayName="Customers", ref="A1:C3"))
    wb.save(path)
    return path


def rows_of(path: Path, sheet: str) -> list[list[object]]:
    return CalamineWorkbook.from_path(str(path)).get_sheet_by_name(sheet).to_python()


def push_once(path: Path, store: Store, **kw: object) -> object:
    book = FileBook.open(path)
    result = push(book, store, tables=["Customers"], **kw)  # type: ignore[arg-type]
    book.save()
    return result


def test_a_first_push_sends_every_row_and_records_ids(tmp_path: Path) -> None:
    path = book_with_customers(tmp_path / "b.xlsx")
    store = Store()
    result = push_once(path, store)
    assert result.entries[0].created == 2  # type: ignore[attr-defined]
    rows = rows_of(path, "Customers")
    assert rows[0][3:] == ["erp Id", "External Id", "Synced At", "Sync Status"]
    assert rows[1][3] == "1" and rows[1][4] == "PO-1" and rows[1][6] == "pushed"
    assert isinstance(rows[1][5], dt.datetime)


def test_pushing_twice_sends_nothing_new(tmp_path: Path) -> None:
    path = book_with_customers(tmp_path / "b.xlsx")
    store = Store()
    push_once(path, store)
    again = push_once(path, store)
    assert store.calls == 1 and len(store.records) == 2
    assert again.entries[0].unchanged == 2  # type: ignore[attr-defined]


def test_only_a_row_changed_in_the_book_is_sent_again(tmp_path: Path) -> None:
    path = book_with_customers(tmp_path / "b.xlsx")
    store = Store()
    push_once(path, store)
    wb = openpyxl.load_workbook(path)
    wb["Customers"]["C3"] = 1
    wb.save(path)
    result = push_once(path, store)
    assert result.entries[0].updated == 1 and result.entries[0].unchanged == 1  # type: ignore[attr-defined]
    assert store.records["2"]["Tier"] == 1


def test_a_row_changed_in_both_places_is_a_conflict_kept_unless_forced(tmp_path: Path) -> None:
    path = book_with_customers(tmp_path / "b.xlsx")
    store = Store()
    push_once(path, store)
    wb = openpyxl.load_workbook(path)
    wb["Customers"]["B2"] = "Acme Inc"
    wb.save(path)
    store.edit_in_system("1")
    result = push_once(path, store)
    assert result.conflicts and "ACME" in result.conflicts[0]  # type: ignore[attr-defined]
    assert store.records["1"]["Name"] == "Acme"
    assert rows_of(path, "Customers")[1][6] == "conflict"
    forced = push_once(path, store, force=True)
    assert forced.conflicts == [] and store.records["1"]["Name"] == "Acme Inc"  # type: ignore[attr-defined]


def test_dry_run_counts_and_writes_nothing(tmp_path: Path) -> None:
    path = book_with_customers(tmp_path / "b.xlsx")
    before = path.read_bytes()
    store = Store()
    book = FileBook.open(path)
    result = push(book, store, tables=["Customers"], dry_run=True)
    assert result.entries[0].created == 2 and store.calls == 0
    assert path.read_bytes() == before


def test_a_row_the_system_rejects_is_marked_failed_and_retried_next_time(tmp_path: Path) -> None:
    path = book_with_customers(tmp_path / "b.xlsx")
    store = Store()
    store.reject = {"BOLT"}
    result = push_once(path, store)
    assert result.entries[0].failed == 1 and result.entries[0].created == 1  # type: ignore[attr-defined]
    assert rows_of(path, "Customers")[2][6] == "failed: the supplier is unknown"
    store.reject = set()
    again = push_once(path, store)
    assert again.entries[0].created == 1 and len(store.records) == 2  # type: ignore[attr-defined]


def test_a_failing_system_is_reported_and_a_rerun_creates_no_duplicates(tmp_path: Path) -> None:
    path = book_with_customers(tmp_path / "b.xlsx")
    store = Store()
    store.fail = True
    result = push_once(path, store)
    assert isinstance(result.error, ExternalSystemError)  # type: ignore[attr-defined]
    store.fail = False
    push_once(path, store)
    push_once(path, store)
    assert len(store.records) == 2


def test_pushed_planned_orders_become_firm(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "PlannedOrders"
    ws.append(["Order", "Item", "Site", "Kind", "Release", "Due", "Qty", "Firm"])
    ws.append(["A@MAIN#1", "A", "MAIN", "buy", None, None, 10, None])
    ws.add_table(XlTable(displayName="PlannedOrders", ref="A1:H2"))
    path = tmp_path / "p.xlsx"
    wb.save(path)
    book = FileBook.open(path)
    push(book, Store(), tables=["PlannedOrders"])
    book.save()
    rows = rows_of(path, "PlannedOrders")
    assert rows[1][7] == "yes" and rows[1][rows[0].index("External Id")] == "PO-1"


def test_rows_a_system_took_before_failing_are_recorded_and_not_sent_twice(
    tmp_path: Path,
) -> None:
    from sheetloop.connectors.sync import PartialSendError

    class FailsAfterFirst(Store):
        def send(self, stream: Stream, rows: Sequence[PushRow]) -> list[Sent]:
            taken = super().send(stream, rows[:1])
            if len(rows) > 1:
                raise PartialSendError("erp: the server stopped answering", taken)
            return taken

    path = book_with_customers(tmp_path / "b.xlsx")
    store = FailsAfterFirst()
    result = push_once(path, store)
    assert result.error is not None and result.entries[0].created == 1  # type: ignore[attr-defined]
    assert result.entries[0].failed == 1  # type: ignore[attr-defined]
    push_once(path, store)
    assert len(store.records) == 2  # ACME was not created a second time


def test_values_a_sink_adds_count_towards_changed(tmp_path: Path) -> None:
    class WithShipDate(Store):
        ship = "2026-12-07"

        def extra_values(self, stream: Stream, values: dict[str, object]) -> dict[str, object]:
            return {"Ship": self.ship}

    path = book_with_customers(tmp_path / "b.xlsx")
    store = WithShipDate()
    push_once(path, store)
    assert push_once(path, store).entries[0].unchanged == 2  # type: ignore[attr-defined]
    store.ship = "2026-12-14"
    assert push_once(path, store).entries[0].updated == 2  # type: ignore[attr-defined]
