"""The live-Excel adapter (xlwings) on xlwings' remote engine.

The remote engine stands in for Excel: it builds a book from the JSON an xlwings client
sends (made here from an .xlsx file) and records what the book should become as actions,
which ``apply_actions`` runs on a copy of the file with openpyxl, modelling what Excel does
with them. What this cannot show: writes are not visible to later reads of the same remote
book; data validation, conditional formats, charts and hiding sheets are not applied there
(the adapter skips them and says so); and the Windows/macOS COM path, where they are
applied, is not exercised here.
"""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
import xlwings as xw
from support.books import make_book
from support.xlwings_remote import (
    UnknownActionError,
    action_names,
    apply_actions,
    payload_from_openpyxl,
    remote_book,
)

from sheetloop.addin.excel_ui import excel_ui
from sheetloop.addin.xlwings_book import (
    CHARTS,
    CONDITIONAL_FORMATS,
    DATA_VALIDATION,
    HIDDEN_STATE_SHEET,
    XlwingsBook,
    excel_text,
    raw_value,
)
from sheetloop.errors import UsageError
from sheetloop.workbooks.file_book import STATE_SHEET, FileBook
from sheetloop.workbooks.interface import (
    ChartSpec,
    ColumnSeries,
    ConditionalFormat,
    TableWrite,
    Validation,
)
from sheetloop.workbooks.schema import EXCEPTIONS, MRP_GRID, PLANNED_ORDERS
from sheetloop.workbooks.template import init_book

MONDAY = dt.date(2026, 11, 30)
HOSTILE = ['=HYPERLINK("http://x")', "+1+1", "-2", "@SUM(A1)", "'quoted", "00123", "2026-11-30"]


def planned(orders: list[str], qty: float = 10.0) -> pd.DataFrame:
    n = len(orders)
    return pd.DataFrame(
        {
            "Order": orders,
            "Item": ["A"] * n,
            "Site": ["MAIN"] * n,
            "Kind": ["buy"] * n,
            "Release": pd.to_datetime([MONDAY] * n),
            "Due": pd.to_datetime([MONDAY + dt.timedelta(weeks=1)] * n),
            "Qty": [qty] * n,
        }
    )


def actions_of(book: XlwingsBook) -> list[dict[str, Any]]:
    return list(book.book.json()["actions"])


def applied(book: XlwingsBook, original: Path, tmp_path: Path) -> FileBook:
    """The saved book's actions run on a copy of ``original``, opened as a file."""
    out = apply_actions(actions_of(book), original, tmp_path / f"applied-{original.name}")
    return FileBook.open(out)


@pytest.fixture
def template(tmp_path: Path) -> Path:
    path = tmp_path / "plan.xlsx"
    init_book(path)
    return path


@pytest.fixture
def with_orders(template: Path) -> Path:
    """The template after a run wrote four planned orders (sheetloop owns their sheet)."""
    book = FileBook.open(template)
    book.replace_table(TableWrite(PLANNED_ORDERS, planned(["A#1", "A#2", "A#3", "A#4"])))
    book.save()
    return template


# --- reading ----------------------------------------------------------------------------------


def test_a_table_is_found_by_its_name_anywhere_with_the_raw_values_of_the_file_reader(
    tmp_path: Path,
):
    path = make_book(
        tmp_path / "moved.xlsx",
        {"Stock": [["Item", "On Hand", "Counted"], ["A", 5, MONDAY], ["B", 2.5, None]]},
        origin=(3, 2),
        table_names={"Stock": "Inventory"},
    )
    raw = XlwingsBook(remote_book(path)).find_table("inventory")
    assert raw is not None
    assert (raw.name, raw.sheet, raw.header_row, raw.first_col) == ("Inventory", "Stock", 3, 1)
    assert raw.headers == ["Item", "On Hand", "Counted"]
    # Numbers are floats, whole-day dates are dates and empty cells '' (python-calamine's).
    assert raw.rows == [["A", 5.0, MONDAY], ["B", 2.5, ""]]
    assert type(raw.rows[0][1]) is float and type(raw.rows[0][2]) is dt.date


def test_a_sheet_without_a_table_is_read_from_its_header_row_at_a1(tmp_path: Path):
    path = make_book(
        tmp_path / "plain.xlsx",
        {"Items": [["Item", "Lead Time", None, "beyond"], ["A", 1], ["B", 2]]},
        as_tables=False,
    )
    raw = XlwingsBook(remote_book(path)).find_table("ITEMS")
    assert raw is not None and not raw.is_table
    assert raw.headers == ["Item", "Lead Time"]  # the header ends at its first empty cell
    assert raw.rows == [["A", 1.0], ["B", 2.0]]


def test_a_missing_table_is_none(template: Path):
    assert XlwingsBook(remote_book(template)).find_table("NoSuchTable") is None


def test_text_that_reads_like_a_zoneless_iso_date_stays_text(tmp_path: Path):
    # xlwings' remote engine fails on such text itself; the adapter reads it as sent.
    path = make_book(tmp_path / "s.xlsx", {"Notes": [["Note"], ["2026-11-25T12:51:44"]]})
    raw = XlwingsBook(remote_book(path)).find_table("Notes")
    assert raw is not None and raw.rows == [["2026-11-25T12:51:44"]]


def test_the_state_recorded_by_the_file_adapter_reads_the_same(with_orders: Path):
    state = XlwingsBook(remote_book(with_orders)).state()
    assert state == FileBook.open(with_orders).state()
    assert "PlannedOrders" in state["owned_sheets"].split("\n")


# --- staged writes ----------------------------------------------------------------------------


def test_nothing_reaches_the_book_before_save(template: Path):
    book = XlwingsBook(remote_book(template))
    book.replace_table(TableWrite(PLANNED_ORDERS, planned(["A#1"])))
    book.set_state("cursor", "7")
    assert actions_of(book) == []
    book.save()
    assert actions_of(book) != []


def test_a_new_table_gets_its_own_sheet_formats_values_and_a_list_object(template: Path):
    book = XlwingsBook(remote_book(template))
    book.replace_table(TableWrite(PLANNED_ORDERS, planned(["A#1", "A#2"])))
    book.save()
    actions = actions_of(book)
    names = [a["func"] for a in actions]
    # The table: a sheet, number formats before values (text columns must be text first),
    # the values, then the ListObject over them; then the state sheet is rewritten.
    first_table = names.index("addTable")
    assert names[0] == "addSheet" and actions[0]["args"][1] == "PlannedOrders"
    assert names.index("setNumberFormat") < names.index("setValues") < first_table
    header = actions[names.index("setValues")]["values"][0]
    assert header == [*planned([]).columns]
    assert actions[first_table]["args"] == [
        "$A$1:$G$3",
        True,
        "TableStyleMedium2",
        "PlannedOrders",
    ]
    assert set(names) <= {
        "addSheet",
        "setNumberFormat",
        "setValues",
        "addTable",
        "setAutofit",
        "sheetClearContents",
        "activateSheet",
    }


def test_formula_looking_text_is_written_with_a_quote_prefix_and_reads_back_as_text(
    template: Path, tmp_path: Path
):
    book = XlwingsBook(remote_book(template))
    book.replace_table(TableWrite(PLANNED_ORDERS, planned(HOSTILE)))
    book.save()
    values = next(a["values"] for a in actions_of(book) if a["func"] == "setValues")
    assert [row[0] for row in values[1:]] == ["'" + text for text in HOSTILE]
    back = applied(book, template, tmp_path)
    raw = back.find_table("PlannedOrders")
    assert raw is not None
    assert [r[0] for r in raw.rows] == HOSTILE
    with zipfile.ZipFile(back.path) as z:
        sheets = "".join(z.read(n).decode() for n in z.namelist() if n.startswith("xl/worksheets/"))
    assert "<f>" not in sheets and "<f " not in sheets


def test_the_excel_model_would_turn_unquoted_formula_text_into_a_formula(tmp_path: Path):
    """The check above can fail: without the quote prefix the text becomes a formula."""
    plain = make_book(tmp_path / "plain.xlsx", {"Sheet": [["x"]]}, as_tables=False)
    actions = [
        {
            "func": "setValues",
            "values": [["=1+1", "-x", "00123"]],
            "sheet_position": 0,
            "start_row": 0,
            "start_column": 0,
            "row_count": 1,
            "column_count": 3,
        }
    ]
    out = apply_actions(actions, plain, tmp_path / "unquoted.xlsx")
    ws = openpyxl.load_workbook(out).worksheets[0]
    assert [ws["A1"].data_type, ws["B1"].data_type] == ["f", "f"]
    assert ws["C1"].value == 123  # and a code loses its zeros


def test_text_cells_quote_only_what_excel_or_a_client_would_convert():
    assert excel_text("A-100", text_cell=True) == "A-100"
    assert excel_text("=SUM(A1)", text_cell=True) == "'=SUM(A1)"
    assert excel_text("2026-11-30", text_cell=True) == "'2026-11-30"
    assert excel_text("'x", text_cell=True) == "''x"
    assert excel_text("A-100", text_cell=False) == "'A-100"  # General cells parse anything


def test_a_rewritten_table_is_resized_in_place_keeping_user_columns_by_key(
    with_orders: Path, tmp_path: Path
):
    # The planner added a column to the owned table (simulated through the file adapter).
    book = FileBook.open(with_orders)
    noted = planned(["A#1", "A#2", "A#3", "A#4"])
    noted["Buyer Note"] = ["call", None, None, "late"]
    book.replace_table(TableWrite(PLANNED_ORDERS, noted))
    book.save()

    live = XlwingsBook(remote_book(with_orders))
    live.replace_table(TableWrite(PLANNED_ORDERS, planned(["A#4", "A#1"])))
    live.save()
    names = action_names(live.book)
    resize = next(a for a in actions_of(live) if a["func"] == "resizeTable")
    assert "addTable" not in names and "addSheet" not in names
    assert names.index("sheetClearContents") < names.index("resizeTable")
    assert resize["args"] == [0, "$A$1:$H$3"]  # 2 rows now; the 2 left over are cleared
    raw = applied(live, with_orders, tmp_path).find_table("PlannedOrders")
    assert raw is not None
    assert raw.headers[-1] == "Buyer Note"
    assert [(r[0], r[-1]) for r in raw.rows] == [("A#4", "late"), ("A#1", "call")]


def test_a_note_above_a_table_moves_its_header_to_row_3_by_inserting_rows(
    template: Path, tmp_path: Path
):
    grid = pd.DataFrame(
        {"Item": ["A"], "Site": ["MAIN"], "Line": ["Gross Requirements"], "2026-11-30": [4.0]}
    )
    first = FileBook.open(template)
    first.replace_table(TableWrite(MRP_GRID, grid))
    first.save()
    live = XlwingsBook(remote_book(template))
    live.replace_table(TableWrite(MRP_GRID, grid, note="grid shows 1 of 3 items"))
    live.save()
    insert = next(a for a in actions_of(live) if a["func"] == "rangeInsert")
    assert (insert["start_row"], insert["row_count"]) == (0, 2)
    back = applied(live, template, tmp_path)
    raw = back.find_table("MRP")
    assert raw is not None and raw.header_row == 3
    assert raw.headers[-1] == "2026-11-30"  # a bucket header stays text, not a date
    assert raw.rows == [["A", "MAIN", "Gross Requirements", 4.0]]


def test_a_table_on_a_sheet_sheetloop_does_not_own_is_refused_before_anything_is_written(
    tmp_path: Path,
):
    path = make_book(tmp_path / "mine.xlsx", {"Orders": [["Order", "Qty"], ["X", 1]]},
                     table_names={"Orders": "PlannedOrders"})  # fmt: skip
    book = XlwingsBook(remote_book(path))
    book.replace_table(TableWrite(PLANNED_ORDERS, planned(["A#1"])))
    with pytest.raises(UsageError, match="'Orders', which sheetloop does not own"):
        book.save()
    assert actions_of(book) == []


def test_the_state_sheet_is_written_with_the_contract_version(template: Path, tmp_path: Path):
    book = XlwingsBook(remote_book(template))
    book.set_state("cursor", "2026-11-30T08:00:00")
    book.save()
    state = applied(book, template, tmp_path).state()
    assert state["cursor"] == "2026-11-30T08:00:00"
    assert state["contract_version"] == FileBook.open(template).state()["contract_version"]


def test_a_new_state_sheet_cannot_be_hidden_on_the_remote_engine_and_says_so(tmp_path: Path):
    path = make_book(tmp_path / "bare.xlsx", {"Items": [["Item"], ["A"]]})
    book = XlwingsBook(remote_book(path))
    book.set_state("k", "v")
    book.save()
    assert STATE_SHEET in [a["args"][1] for a in actions_of(book) if a["func"] == "addSheet"]
    assert book.skipped_features == [HIDDEN_STATE_SHEET]


def test_presentation_the_remote_engine_lacks_is_skipped_and_listed_not_failed(
    template: Path, tmp_path: Path
):
    frame = pd.DataFrame({"Item": ["A", "B"], "Code": ["LATE", "CANCEL"], "When": [1.0, 2.0]})
    write = TableWrite(
        EXCEPTIONS,
        frame,
        validations=[Validation("Code", ("LATE", "CANCEL"))],
        formats=[ConditionalFormat(("When",), op=">", value=1.0)],
        charts=[ChartSpec("When", (ColumnSeries("When", "When"),), categories="Item")],
    )
    book = XlwingsBook(remote_book(template))
    book.replace_table(write)
    book.save()
    assert book.skipped_features == [DATA_VALIDATION, CONDITIONAL_FORMATS, CHARTS]
    assert not {"setDataValidationList", "addConditionalFormat", "addChart"} & set(
        action_names(book.book)
    )
    raw = applied(book, template, tmp_path).find_table("Exceptions")
    assert raw is not None and [r[:2] for r in raw.rows] == [["A", "LATE"], ["B", "CANCEL"]]


class AsDesktop:
    """A remote book that does not say it is remote: the adapter then tries every feature,
    and the remote engine raises on those its client lacks, as a desktop Excel may."""

    def __init__(self, book: xw.Book) -> None:
        self._book = book

    @property
    def app(self) -> object:
        raise AttributeError("no application")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._book, name)


def test_a_feature_the_engine_raises_on_is_skipped_and_the_write_completes(
    template: Path, tmp_path: Path
):
    write = TableWrite(
        EXCEPTIONS,
        pd.DataFrame({"Item": ["A"], "Code": ["LATE"]}),
        validations=[Validation("Code", ("LATE", "CANCEL"))],
    )
    book = XlwingsBook(AsDesktop(remote_book(template)))
    book.replace_table(write)
    book.save()
    assert DATA_VALIDATION in book.skipped_features  # "only supported with Office.js clients"
    raw = applied(book, template, tmp_path).find_table("Exceptions")
    assert raw is not None and raw.rows == [["A", "LATE"]]


def test_values_as_a_desktop_excel_hands_them_become_the_file_readers_values():
    assert raw_value(None) == ""
    assert raw_value(3) == 3.0 and type(raw_value(3)) is float
    assert raw_value(True) is True
    assert raw_value(dt.datetime(2026, 11, 30)) == dt.date(2026, 11, 30)
    assert raw_value(dt.datetime(2026, 11, 30, 8, 5)) == dt.datetime(2026, 11, 30, 8, 5)
    assert raw_value(dt.datetime(1899, 12, 30, 8, 30)) == dt.time(8, 30)  # a time-only cell


def test_apply_actions_refuses_an_action_it_does_not_model(template: Path, tmp_path: Path):
    with pytest.raises(UnknownActionError, match="addChart"):
        apply_actions([{"func": "addChart"}], template, tmp_path / "x.xlsx")


def test_the_payload_carries_the_xlwings_version_tables_and_dates_as_the_vba_client_does(
    tmp_path: Path,
):
    path = make_book(
        tmp_path / "p.xlsx",
        {"Receipts": [["Order", "Due", "Qty"], ["PO-1", MONDAY, 5], ["PO-2", None, 2.5]]},
        origin=(2, 1),
    )
    payload = payload_from_openpyxl(path)
    assert payload["version"] == xw.__version__ and payload["client"] == "VBA"
    (sheet,) = payload["sheets"]
    assert sheet["tables"] == [
        {
            "name": "Receipts",
            "range_address": "$A$2:$C$4",
            "header_row_range_address": "$A$2:$C$2",
            "data_body_range_address": "$A$3:$C$4",
            "total_row_range_address": None,
            "show_headers": True,
            "show_totals": False,
            "table_style": "",
            "show_autofilter": True,
        }
    ]
    # The used range from A1; dates as ISO text ending in Z; empty cells as ''.
    assert sheet["values"] == [
        ["", "", ""],
        ["Order", "Due", "Qty"],
        ["PO-1", "2026-11-30T00:00:00.000Z", 5],
        ["PO-2", "", 2.5],
    ]


# --- excel_ui ------------------------------------------------------------------------------------


class FakeApp:
    """An Excel application that records every setting made."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []
        self._values: dict[str, object] = {"status_bar": False, "screen_updating": True}

    def __getattr__(self, name: str) -> object:
        if name.startswith("_") or name == "calls":
            raise AttributeError(name)
        return self._values[name]

    def __setattr__(self, name: str, value: object) -> None:
        if name.startswith("_") or name == "calls":
            object.__setattr__(self, name, value)
            return
        self.calls.append((name, value))
        self._values[name] = value


class FakeBook:
    def __init__(self) -> None:
        self.app = FakeApp()


def test_excel_ui_restores_screen_updating_and_the_status_bar_even_after_an_error():
    book = FakeBook()
    with pytest.raises(RuntimeError), excel_ui(book) as ui:
        ui.progress("planning 3 items")
        raise RuntimeError("the solver failed")
    assert book.app.calls == [
        ("screen_updating", False),
        ("status_bar", "planning 3 items"),
        ("screen_updating", True),
        ("status_bar", False),
    ]


def test_excel_ui_does_nothing_on_the_remote_engine(template: Path):
    remote = remote_book(template)
    with excel_ui(remote) as ui:
        ui.progress("planning")
    assert remote.json()["actions"] == []
