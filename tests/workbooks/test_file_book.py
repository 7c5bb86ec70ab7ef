"""Writing output tables into a workbook file: safely, as text, keeping the user's work."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from support.books import make_book, sha256

from sheetloop import CONTRACT_VERSION
from sheetloop.errors import UsageError
from sheetloop.workbooks.file_book import STATE_SHEET, FileBook
from sheetloop.workbooks.interface import TableWrite
from sheetloop.workbooks.schema import EXCEPTIONS, PLANNED_ORDERS, RUN_LOG
from sheetloop.workbooks.template import init_book


def planned(orders: list[str], qty: list[float] | None = None) -> pd.DataFrame:
    n = len(orders)
    return pd.DataFrame(
        {
            "Order": orders,
            "Item": ["A"] * n,
            "Site": ["MAIN"] * n,
            "Kind": ["buy"] * n,
            "Release": pd.to_datetime(["2026-11-30"] * n),
            "Due": pd.to_datetime(["2026-12-07"] * n),
            "Qty": qty or [10.0] * n,
        }
    )


@pytest.fixture
def template(tmp_path: Path) -> Path:
    path = tmp_path / "plan.xlsx"
    init_book(path)
    return path


def test_text_that_looks_like_a_formula_is_written_as_text(template: Path):
    hostile = ['=HYPERLINK("http://x")', "+1+1", "-2", "@SUM(A1)"]
    book = FileBook.open(template)
    book.replace_table(TableWrite(PLANNED_ORDERS, planned(hostile)))
    book.save()
    with zipfile.ZipFile(template) as z:
        sheets = [n for n in z.namelist() if n.startswith("xl/worksheets/")]
        xml = "".join(z.read(n).decode() for n in sheets)
    assert "<f>" not in xml and "<f " not in xml
    back = FileBook.open(template).find_table("PlannedOrders")
    assert back is not None
    assert [r[0] for r in back.rows] == hostile


def test_columns_the_user_added_to_an_output_table_survive_a_rewrite(template: Path):
    book = FileBook.open(template)
    book.replace_table(TableWrite(PLANNED_ORDERS, planned(["A@MAIN#1", "A@MAIN#2"])))
    book.save()
    # The planner adds a column and notes (simulated by rewriting the table with it).
    raw = FileBook.open(template).find_table("PlannedOrders")
    assert raw is not None
    with_note = planned(["A@MAIN#1", "A@MAIN#2"])
    with_note["Buyer Note"] = ["call supplier", None]
    book = FileBook.open(template)
    book._staged.clear()
    book.replace_table(TableWrite(PLANNED_ORDERS, with_note))
    book.save()
    # Next run: sheetloop writes only its columns; rows are matched by Order.
    book = FileBook.open(template)
    book.replace_table(TableWrite(PLANNED_ORDERS, planned(["A@MAIN#2", "A@MAIN#1", "A@MAIN#3"])))
    book.save()
    back = FileBook.open(template).find_table("PlannedOrders")
    assert back is not None
    note = back.headers.index("Buyer Note")
    assert {r[0]: r[note] for r in back.rows} == {
        "A@MAIN#1": "call supplier",
        "A@MAIN#2": "",
        "A@MAIN#3": "",
    }


def test_rewriting_an_output_table_of_only_sheetloops_columns_does_not_read_its_rows(
    template: Path, monkeypatch: pytest.MonkeyPatch
):
    book = FileBook.open(template)
    book.replace_table(TableWrite(PLANNED_ORDERS, planned(["A@MAIN#1", "A@MAIN#2"])))
    book.save()
    # Its columns are in the table's definition: reading a million rows to learn that no
    # column of the user's is among them would cost seconds.
    book = FileBook.open(template)
    monkeypatch.setattr(book.reader, "find_table", lambda name: pytest.fail(f"read {name}"))
    book.replace_table(TableWrite(PLANNED_ORDERS, planned(["A@MAIN#3"])))
    book.save()
    back = FileBook.open(template).find_table("PlannedOrders")
    assert back is not None and [r[0] for r in back.rows] == ["A@MAIN#3"]


def test_a_saved_book_records_the_contract_version_and_recalculates_on_open(template: Path):
    book = FileBook.open(template)
    book.replace_table(TableWrite(EXCEPTIONS, pd.DataFrame({"Code": ["CANCEL"]})))
    book.save()
    state = FileBook.open(template).state()
    assert state["contract_version"] == CONTRACT_VERSION
    with zipfile.ZipFile(template) as z:
        workbook = z.read("xl/workbook.xml").decode()
    assert 'fullCalcOnLoad="1"' in workbook
    assert f'name="{STATE_SHEET}"' in workbook and 'state="veryHidden"' in workbook


def test_log_tables_are_appended_never_rewritten(template: Path):
    for status in ("ok", "failed"):
        book = FileBook.open(template)
        row = pd.DataFrame(
            {
                "Time": [pd.Timestamp("2026-11-30 08:00")],
                "Command": ["plan"],
                "Status": [status],
                "Summary": ["x"],
            }
        )
        book.append_rows(RUN_LOG, row)
        book.save()
    back = FileBook.open(template).find_table("RunLog")
    assert back is not None
    assert [r[2] for r in back.rows] == ["ok", "failed"]
    assert back.rows[0][0] == dt.datetime(2026, 11, 30, 8, 0)


def test_a_failed_save_leaves_the_original_whole(template: Path, monkeypatch: pytest.MonkeyPatch):
    from sheetloop.workbooks import zip_package

    before = sha256(template)

    def explode(self: object, out: object) -> None:
        out.write(b"PK\x03\x04 half a zip")  # type: ignore[attr-defined]
        raise OSError("disk full")

    monkeypatch.setattr(zip_package.Package, "save_to", explode)
    book = FileBook.open(template)
    book.replace_table(TableWrite(PLANNED_ORDERS, planned(["A@MAIN#1"])))
    with pytest.raises(OSError, match="disk full"):
        book.save()
    assert sha256(template) == before
    assert sorted(p.name for p in template.parent.iterdir()) == [template.name]


def test_an_output_table_on_a_users_own_sheet_is_not_overwritten(tmp_path: Path):
    path = make_book(
        tmp_path / "b.xlsx",
        {"My sheet": [["Order", "Item"], ["keep me", "A"]]},
        table_names={"My sheet": "PlannedOrders"},
    )
    before = sha256(path)
    book = FileBook.open(path)
    book.replace_table(TableWrite(PLANNED_ORDERS, planned(["A@MAIN#1"])))
    with pytest.raises(UsageError, match="does not own"):
        book.save()
    assert sha256(path) == before


def test_writing_to_another_file_leaves_the_source_untouched(template: Path, tmp_path: Path):
    before = sha256(template)
    out = tmp_path / "copy.xlsx"
    book = FileBook.open(template)
    book.replace_table(TableWrite(PLANNED_ORDERS, planned(["A@MAIN#1"])))
    book.save(out)
    assert sha256(template) == before
    assert FileBook.open(out).find_table("PlannedOrders") is not None


def test_an_empty_output_table_is_a_valid_table_that_reads_back_empty(template: Path):
    book = FileBook.open(template)
    book.replace_table(TableWrite(PLANNED_ORDERS, planned([])))
    book.save()
    back = FileBook.open(template).find_table("PlannedOrders")
    assert back is not None
    assert back.headers[:3] == ["Order", "Item", "Site"]
    assert all(all(v == "" for v in r) for r in back.rows)
