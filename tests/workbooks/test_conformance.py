"""One suite for both adapters of the workbook interface: the file on disk (``FileBook``)
and a live Excel book through xlwings (``XlwingsBook``).

Every rule is checked on each adapter: reads against what python-calamine reads from the
file, and writes (the same ``replace_table``/``append_rows``/``add_table``/``set_state``
calls) by reading the result back with python-calamine. The xlwings adapter runs on
xlwings' remote engine: its recorded actions are applied to a copy of the original file
with openpyxl (``support.xlwings_remote.apply_actions``, a model of what Excel does with
them). Writes are also compared across the adapters, table by table.

Compared: table names, sheets, headers, positions, cell values and sheetloop's state.
Not compared: presentation (number formats as such, column widths, data validation,
conditional formats, charts, hidden sheets), which the remote engine does not apply and
the adapter lists in ``skipped_features``. Not shown here: a remote book does not see its
own writes until its client runs them, and the Windows/macOS COM path is not exercised.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
from support.books import make_book
from support.corpus import corpus_files
from support.xlwings_remote import apply_actions, remote_book

from sheetloop.addin import commands
from sheetloop.addin.planning import plan_book
from sheetloop.addin.xlwings_book import CHARTS, CONDITIONAL_FORMATS, XlwingsBook
from sheetloop.errors import UsageError
from sheetloop.workbooks.calamine_reader import CalamineReader
from sheetloop.workbooks.demo_data import demo_company
from sheetloop.workbooks.file_book import FileBook
from sheetloop.workbooks.interface import RawTable, TableWrite, Workbook
from sheetloop.workbooks.schema import (
    EXCEPTIONS,
    HELP,
    MRP_GRID,
    PLANNED_ORDERS,
    RUN_LOG,
    TEMPLATE_TABLES,
)
from sheetloop.workbooks.template import help_frame, init_book, table_write
from sheetloop.workbooks.validation import load_book

MONDAY = dt.date(2026, 11, 30)
RUN_AT = dt.datetime(2026, 11, 30, 8, 15, 30)
HOSTILE = ['=HYPERLINK("http://x")', "+1+1", "-2", "@SUM(A1)", "'quoted", "00123", "2026-12-07"]

Calls = Callable[[Workbook], None]


@dataclass(frozen=True)
class Adapter:
    """How a test opens a book with one adapter and gets its writes into a file."""

    name: str
    open: Callable[[Path], Workbook]
    write: Callable[[Path, Calls, Path], Workbook]  # (book, calls, out) -> the writer


def _file_write(original: Path, calls: Calls, out: Path) -> Workbook:
    shutil.copyfile(original, out)
    book = FileBook.open(out)
    calls(book)
    book.save()
    return book


def _xlwings_write(original: Path, calls: Calls, out: Path) -> Workbook:
    book = XlwingsBook(remote_book(original))
    calls(book)
    book.save()
    apply_actions(book.book.json()["actions"], original, out)
    return book


ADAPTERS = {
    "file": Adapter("file", FileBook.open, _file_write),
    "xlwings": Adapter("xlwings", lambda p: XlwingsBook(remote_book(p)), _xlwings_write),
}


@pytest.fixture(params=list(ADAPTERS))
def adapter(request: pytest.FixtureRequest) -> Adapter:
    return ADAPTERS[request.param]


# --- books ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def books(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The books both adapters read: sheetloop's template, the demo company before and
    after a plan and allocate, and hand-made books (tables moved, plain sheets)."""
    folder = tmp_path_factory.mktemp("books")
    template = folder / "template.xlsx"
    init_book(template)
    demo = folder / "demo.xlsx"
    init_book(demo, demo_company(MONDAY))
    planned = folder / "planned.xlsx"
    shutil.copyfile(demo, planned)
    commands.plan(planned)
    commands.allocate(planned)
    moved = make_book(
        folder / "moved.xlsx",
        {
            "Stock": [["Item", "On Hand", "Counted"], ["A", 5, MONDAY], ["B", 2.5, None]],
            "Orders": [["Order", "Due"], ["PO-1", dt.datetime(2026, 12, 1, 9, 30)]],
        },
        origin=(4, 3),
        table_names={"Stock": "Inventory", "Orders": "planned_orders"},
    )
    plain = make_book(
        folder / "plain.xlsx",
        {
            "Items": [["Item", "Lead Time", None, "beyond"], ["00123", 1], ["B", None], []],
            "demand": [["Demand", "Due", "Qty"], ["SO-1", MONDAY, 3]],
        },
        as_tables=False,
    )
    return {
        "template": template,
        "demo": demo,
        "planned": planned,
        "moved": moved,
        "plain": plain,
    }


BOOKS = ["template", "demo", "planned", "moved", "plain"]


def reference(path: Path) -> CalamineReader:
    return CalamineReader(path)


# --- reading ----------------------------------------------------------------------------------


@pytest.mark.parametrize("which", BOOKS)
def test_every_table_and_sheet_reads_as_python_calamine_reads_the_file(
    adapter: Adapter, books: dict[str, Path], which: str
):
    path = books[which]
    book, truth = adapter.open(path), reference(path)
    assert book.sheet_names == truth.sheet_names
    assert sorted(book.table_names()) == sorted(truth.table_names())
    for name in [*truth.table_names(), *truth.sheet_names]:
        assert book.find_table(name) == truth.find_table(name), name


@pytest.mark.parametrize("which", BOOKS)
def test_both_adapters_read_the_same_tables(books: dict[str, Path], which: str):
    path = books[which]
    file_book, live = ADAPTERS["file"].open(path), ADAPTERS["xlwings"].open(path)
    for name in [*file_book.table_names(), *file_book.sheet_names]:
        ours, theirs = file_book.find_table(name), live.find_table(name)
        assert ours is not None and theirs is not None, name
        assert (theirs.headers, theirs.rows) == (ours.headers, ours.rows), name


def test_a_missing_table_is_none(adapter: Adapter, books: dict[str, Path]):
    assert adapter.open(books["planned"]).find_table("NoSuchTable") is None


@pytest.mark.parametrize("asked", ["planned orders", "PLANNED_ORDERS", "Planned-Orders"])
def test_table_names_match_leniently(adapter: Adapter, books: dict[str, Path], asked: str):
    raw = adapter.open(books["moved"]).find_table(asked)
    assert raw is not None
    assert (raw.name, raw.sheet, raw.header_row, raw.first_col) == (
        "planned_orders",
        "Orders",
        4,
        2,
    )
    assert raw.rows == [["PO-1", dt.datetime(2026, 12, 1, 9, 30)]]


def test_a_plain_sheet_is_found_by_its_lenient_name_with_its_header_at_a1(
    adapter: Adapter, books: dict[str, Path]
):
    raw = adapter.open(books["plain"]).find_table("DEMAND")
    assert raw == RawTable("demand", "demand", 1, 0, ["Demand", "Due", "Qty"],
                           [["SO-1", MONDAY, 3.0]], is_table=False)  # fmt: skip


def test_the_state_reads_the_same(adapter: Adapter, books: dict[str, Path]):
    state = adapter.open(books["planned"]).state()
    assert state == FileBook.open(books["planned"]).state()
    assert state["contract_version"]


def test_corpus_books_read_the_same_through_both_adapters():
    """Excel-made books: every worksheet and table reads the same (a chart sheet is no
    sheet to xlwings' clients, so only worksheets are compared)."""
    for path in corpus_files():
        file_book, live = FileBook.open(path), XlwingsBook(remote_book(path))
        worksheets = openpyxl.load_workbook(path, read_only=True).sheetnames
        charts = set(worksheets) - {ws for ws in live.sheet_names}
        assert [s for s in file_book.sheet_names if s not in charts] == live.sheet_names
        assert sorted(file_book.table_names()) == sorted(live.table_names()), path.name
        for name in [*file_book.table_names(), *live.sheet_names]:
            assert live.find_table(name) == file_book.find_table(name), (path.name, name)


# --- writing ----------------------------------------------------------------------------------


def planned(orders: list[str]) -> pd.DataFrame:
    n = len(orders)
    return pd.DataFrame(
        {
            "Order": orders,
            "Item": ["A-100"] * n,
            "Site": ["MAIN"] * n,
            "Kind": ["buy"] * n,
            "Release": pd.to_datetime([MONDAY] * n),
            "Due": pd.to_datetime([MONDAY + dt.timedelta(weeks=1)] * n),
            "Qty": [float(10 + i) for i in range(n)],
            "Firm": [i % 2 == 0 for i in range(n)],
        }
    )


def grid(buckets: int) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "Item": ["A-100", "A-100"],
            "Site": ["MAIN", "MAIN"],
            "Line": ["Gross Requirements", "Projected On Hand"],
            "Safety Stock": [5.0, 5.0],
        }
    )
    for b in range(buckets):
        day = (MONDAY + dt.timedelta(weeks=b)).isoformat()
        frame[day] = [float(b), None if b % 2 else -float(b)]
    return frame


def run_log(status: str) -> pd.DataFrame:
    return pd.DataFrame(
        {"Time": [pd.Timestamp(RUN_AT)], "Command": ["plan"], "Status": [status], "Summary": ["-"]}
    )


def new_outputs(book: Workbook) -> None:
    """A first run: output tables the book lacks, a log and state."""
    book.replace_table(TableWrite(PLANNED_ORDERS, planned(HOSTILE)))
    book.replace_table(TableWrite(MRP_GRID, grid(3), note="grid shows 1 of 7 items"))
    codes = pd.DataFrame({"Item": ["A-100"], "When": [pd.Timestamp(MONDAY)], "Code": ["CANCEL"]})
    book.replace_table(TableWrite(EXCEPTIONS, codes))
    book.append_rows(RUN_LOG, run_log("ok"))
    book.set_state("cursor:erp", "2026-11-30T08:00:00")


def rerun(book: Workbook) -> None:
    """A later run on a book that has outputs: fewer and reordered rows, the note gone,
    more buckets, no exceptions at all, one more log row."""
    book.replace_table(TableWrite(PLANNED_ORDERS, planned(["00123", "-2", "new"])))
    book.replace_table(TableWrite(MRP_GRID, grid(5)))
    book.replace_table(TableWrite(EXCEPTIONS, pd.DataFrame({"Code": pd.Series([], dtype=object)})))
    book.append_rows(RUN_LOG, run_log("failed"))


def init_missing(book: Workbook) -> None:
    """``init`` on an existing book: every template table, added only where missing."""
    book.add_table(TableWrite(HELP, help_frame(), sheet="Help"))
    for spec in TEMPLATE_TABLES:
        book.add_table(table_write(spec))


def replan(book: Workbook) -> None:
    """``plan`` itself, reading the inputs through the adapter."""
    loaded = load_book(book, "plan", today=MONDAY)
    outputs = plan_book(book, loaded, now=RUN_AT)
    for write in outputs.writes:
        book.replace_table(write)
    book.append_rows(RUN_LOG, outputs.run_log)


@pytest.fixture(scope="module")
def bases(books: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Books the scenarios start from."""
    folder = tmp_path_factory.mktemp("bases")
    first_run = _file_write(books["template"], new_outputs, folder / "first-run.xlsx")
    # The planner added a column to PlannedOrders and notes in it.
    noted = planned(HOSTILE)
    noted["Buyer Note"] = [f"note {i}" for i in range(len(HOSTILE))]
    after_first = folder / "after-first-run.xlsx"
    _file_write(
        Path(first_run.path),
        lambda b: b.replace_table(TableWrite(PLANNED_ORDERS, noted)),
        after_first,
    )
    return {"template": books["template"], "outputs": after_first, "plain": books["plain"]}


SCENARIOS: dict[str, tuple[str, Calls]] = {
    "first run": ("template", new_outputs),
    "rerun": ("outputs", rerun),
    "init on a book with plain sheets": ("plain", init_missing),
    "init on a full book": ("template", init_missing),
}


def written(adapter: Adapter, base: Path, calls: Calls, tmp_path: Path) -> FileBook:
    out = tmp_path / f"{adapter.name}-{base.name}"
    adapter.write(base, calls, out)
    return FileBook.open(out)


def test_formula_looking_text_reads_back_as_the_same_text(
    adapter: Adapter, bases: dict[str, Path], tmp_path: Path
):
    back = written(adapter, bases["template"], new_outputs, tmp_path)
    raw = back.find_table("PlannedOrders")
    assert raw is not None
    assert [r[0] for r in raw.rows] == HOSTILE
    assert [r[raw.headers.index("Firm")] for r in raw.rows] == ["yes", "no"] * 3 + ["yes"]


def test_a_rerun_keeps_user_columns_by_key_and_clears_left_over_rows(
    adapter: Adapter, bases: dict[str, Path], tmp_path: Path
):
    back = written(adapter, bases["outputs"], rerun, tmp_path)
    raw = back.find_table("PlannedOrders")
    assert raw is not None
    assert raw.headers[-1] == "Buyer Note"
    assert [(r[0], r[-1]) for r in raw.rows] == [("00123", "note 5"), ("-2", "note 2"), ("new", "")]
    exceptions = back.find_table("Exceptions")
    assert exceptions is not None and all(v == "" for r in exceptions.rows for v in r)


def test_a_note_puts_the_header_on_row_3_and_dropping_it_moves_it_back(
    adapter: Adapter, bases: dict[str, Path], tmp_path: Path
):
    first = written(adapter, bases["template"], new_outputs, tmp_path).find_table("MRP")
    again = written(adapter, bases["outputs"], rerun, tmp_path).find_table("MRP")
    assert first is not None and again is not None
    assert (first.header_row, again.header_row) == (3, 1)
    assert again.headers[4:] == [(MONDAY + dt.timedelta(weeks=b)).isoformat() for b in range(5)]
    assert again.rows[1][4:6] == [-0.0, ""]


def test_log_rows_are_appended(adapter: Adapter, bases: dict[str, Path], tmp_path: Path):
    raw = written(adapter, bases["outputs"], rerun, tmp_path).find_table("RunLog")
    assert raw is not None
    assert [(r[0], r[2]) for r in raw.rows] == [(RUN_AT, "ok"), (RUN_AT, "failed")]


def test_state_is_recorded_with_the_contract_version(
    adapter: Adapter, bases: dict[str, Path], tmp_path: Path
):
    state = written(adapter, bases["template"], new_outputs, tmp_path).state()
    assert state["cursor:erp"] == "2026-11-30T08:00:00"
    assert {"contract_version", "sheetloop_version", "saved_at"} <= set(state)
    assert {"PlannedOrders", "MRP", "Exceptions", "RunLog"} <= set(state["owned_sheets"].split())


def test_init_adds_only_the_tables_a_book_lacks_and_leaves_user_sheets_alone(
    adapter: Adapter, bases: dict[str, Path], tmp_path: Path
):
    back = written(adapter, bases["plain"], init_missing, tmp_path)
    items = back.find_table("Items")
    assert items is not None and not items.is_table  # the user's own sheet, untouched
    assert items.rows[0][0] == "00123"
    assert "Settings" in back.table_names() and "Demand" not in back.table_names()


def test_a_table_on_a_sheet_sheetloop_does_not_own_is_refused(
    adapter: Adapter, books: dict[str, Path], tmp_path: Path
):
    with pytest.raises(UsageError, match="does not own"):
        adapter.write(
            books["moved"],
            lambda b: b.replace_table(TableWrite(PLANNED_ORDERS, planned(["A"]))),
            tmp_path / "refused.xlsx",
        )


def digits(rows: list[list[Any]]) -> list[list[Any]]:
    """Numbers to 15 significant digits: openpyxl, which runs the remote engine's actions
    here, writes 16 where Excel would keep the whole double."""
    return [[float(f"{v:.15g}") if isinstance(v, float) else v for v in row] for row in rows]


def assert_same_tables(
    ours: FileBook, theirs: FileBook, charts_sheets: frozenset[str] = frozenset()
) -> None:
    """Same tables, sheets and state; ``charts_sheets`` are sheets only the file adapter
    made (it draws charts, the remote engine skips them)."""
    assert sorted(theirs.table_names()) == sorted(ours.table_names())
    assert theirs.sheet_names == [s for s in ours.sheet_names if s not in charts_sheets]
    for name in ours.table_names():
        a, b = ours.find_table(name), theirs.find_table(name)
        assert a is not None and b is not None, name
        assert (b.sheet, b.header_row, b.first_col) == (a.sheet, a.header_row, a.first_col), name
        assert b.headers == a.headers, name
        assert digits(b.rows) == digits(a.rows), name
    mine, other = dict(ours.state()), dict(theirs.state())
    mine.pop("saved_at"), other.pop("saved_at")
    owned = [s for s in mine.pop("owned_sheets").split("\n") if s not in charts_sheets]
    assert other.pop("owned_sheets").split("\n") == owned
    assert other == mine


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_both_adapters_write_the_same_tables(bases: dict[str, Path], scenario: str, tmp_path: Path):
    base, calls = SCENARIOS[scenario]
    ours = written(ADAPTERS["file"], bases[base], calls, tmp_path)
    theirs = written(ADAPTERS["xlwings"], bases[base], calls, tmp_path)
    assert_same_tables(ours, theirs)


def test_plan_through_either_adapter_writes_the_same_tables(books: dict[str, Path], tmp_path: Path):
    """The MRP grid's conditional formats and charts are presentation: the file adapter
    draws the charts on a sheet of their own, the remote engine skips both."""
    ours = written(ADAPTERS["file"], books["demo"], replan, tmp_path)
    live: Any = ADAPTERS["xlwings"].write(books["demo"], replan, tmp_path / "live.xlsx")
    theirs = FileBook.open(tmp_path / "live.xlsx")
    assert_same_tables(ours, theirs, charts_sheets=frozenset({"MRP Chart"}))
    assert {CONDITIONAL_FORMATS, CHARTS} <= set(live.skipped_features)
