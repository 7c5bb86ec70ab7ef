"""Bad input gets a clear error naming sheet, cell and problem, and nothing is written.

Each case builds a small book by hand (openpyxl), runs ``sheetloop check`` on it and
checks the exit status, the message's place and that the file's bytes are unchanged.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from support.books import make_book, sha256

from sheetloop.addin.cli import main

MONDAY = dt.date(2026, 11, 30)


def run_check(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    before = sha256(path)
    code = main(["check", str(path)])
    out, err = capsys.readouterr()
    assert sha256(path) == before, "check must never change the book"
    return code, out, err


def book(tmp_path: Path, **sheets: list[list[Any]]) -> Path:
    tables: dict[str, list[list[Any]]] = {
        "Settings": [["Setting", "Value"], ["Horizon Start", MONDAY]],
        "Items": [["Item", "Lead Time"], ["A", 1], ["B", 2]],
        "Demand": [["Demand", "Item", "Due", "Qty"], ["D1", "A", MONDAY, 5]],
    }
    tables.update(sheets)
    return make_book(tmp_path / "book.xlsx", tables)


def test_a_valid_book_passes_with_exit_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    code, out, _ = run_check(book(tmp_path), capsys)
    assert code == 0
    assert "valid" in out


def test_a_missing_required_table_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    path = make_book(tmp_path / "b.xlsx", {"Items": [["Item"], ["A"]]})
    code, out, _ = run_check(path, capsys)
    assert code == 1
    assert "Demand!A1: the table Demand is missing" in out


def test_a_missing_required_column_is_named_at_the_header(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    path = book(tmp_path, Items=[["Description", "Lead Time"], ["x", 1]])
    code, out, _ = run_check(path, capsys)
    assert code == 1
    assert "Items!C1: table Items has no column 'Item'" in out


def test_a_duplicate_key_names_both_rows(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    path = book(tmp_path, Items=[["Item"], ["A"], ["B"], ["A"]])
    code, out, _ = run_check(path, capsys)
    assert code == 1
    assert "Items!A4: duplicate key Item=A: also in row 2" in out


def test_a_wrong_type_names_the_cell(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    path = book(tmp_path, Items=[["Item", "Lead Time"], ["A", "two weeks"]])
    code, out, _ = run_check(path, capsys)
    assert code == 1
    assert "Items!B2: expected a number, got 'two weeks'" in out


def test_a_negative_quantity_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    path = book(tmp_path, Demand=[["Demand", "Item", "Due", "Qty"], ["D1", "A", MONDAY, -5]])
    code, out, _ = run_check(path, capsys)
    assert code == 1
    assert "Demand!D2: -5 is out of range: Qty must be > 0" in out


def test_an_unknown_item_reference_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    path = book(tmp_path, Demand=[["Demand", "Item", "Due", "Qty"], ["D1", "ZZ", MONDAY, 5]])
    code, out, _ = run_check(path, capsys)
    assert code == 1
    assert "Demand!B2: unknown item 'ZZ': it is not in Items" in out


def test_an_unknown_customer_is_named_when_customers_exist(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    path = book(
        tmp_path,
        Customers=[["Customer", "Tier"], ["C1", 1]],
        Demand=[["Demand", "Item", "Customer", "Due", "Qty"], ["D1", "A", "C9", MONDAY, 5]],
    )
    code, out, _ = run_check(path, capsys)
    assert code == 1
    assert "Demand!C2: unknown customer 'C9': it is not in Customers" in out


def test_a_customer_without_a_customers_table_is_fine(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    path = book(
        tmp_path,
        Demand=[["Demand", "Item", "Customer", "Due", "Qty"], ["D1", "A", "C9", MONDAY, 5]],
    )
    code, _, _ = run_check(path, capsys)
    assert code == 0


def test_a_bom_cycle_names_the_loop(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    path = book(
        tmp_path,
        Items=[["Item"], ["A"], ["B"], ["C"]],
        BOM=[["Parent", "Component", "Qty Per"], ["A", "B", 1], ["B", "C", 1], ["C", "A", 2]],
    )
    code, out, _ = run_check(path, capsys)
    assert code == 1
    line = next(line for line in out.splitlines() if "BOM cycle" in line)
    assert line.startswith("BOM!A")
    loop = line.split("BOM cycle: ")[1].split(":")[0].split(" → ")
    assert loop[0] == loop[-1] and set(loop) == {"A", "B", "C"}


def test_an_unknown_setting_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    path = book(tmp_path, Settings=[["Setting", "Value"], ["Horizon Strat", MONDAY]])
    code, out, _ = run_check(path, capsys)
    assert code == 1
    assert "Settings!A2: unknown setting 'Horizon Strat'" in out


def test_a_non_whole_period_number_is_refused_with_bucket_period(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    path = book(
        tmp_path,
        Settings=[["Setting", "Value"], ["Bucket", "period"], ["Periods", 8]],
        Demand=[["Demand", "Item", "Due", "Qty"], ["D1", "A", 2.5, 5], ["D2", "A", 3, 5]],
    )
    code, out, _ = run_check(path, capsys)
    assert code == 1
    assert "Demand!C2: period numbers are whole numbers, got 2.5" in out
    assert "Demand!C3" not in out


def test_a_date_after_the_horizon_is_only_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    late = MONDAY + dt.timedelta(weeks=30)
    path = book(tmp_path, Demand=[["Demand", "Item", "Due", "Qty"], ["D1", "A", late, 5]])
    code, _, err = run_check(path, capsys)
    assert code == 0
    assert f"Demand!C2: warning: {late.isoformat()} is after the horizon" in err


def test_past_due_forecast_is_a_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    early = MONDAY - dt.timedelta(weeks=2)
    path = book(
        tmp_path,
        Demand=[["Demand", "Item", "Due", "Qty", "Kind"], ["F1", "A", early, 5, "forecast"]],
    )
    code, _, err = run_check(path, capsys)
    assert code == 0
    assert "Demand!C2: warning: forecast due" in err and "dropped" in err


def test_every_problem_is_listed_at_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    path = book(
        tmp_path,
        Items=[["Item", "Lead Time", "Lot Rule"], ["A", -1, "L4L"], ["B", 1, "magic"]],
        Demand=[["Demand", "Item", "Due", "Qty"], ["D1", "Q", "soon", 0]],
    )
    code, out, _ = run_check(path, capsys)
    assert code == 1
    for where in ("Items!B2", "Items!C3", "Demand!B2", "Demand!C2", "Demand!D2"):
        assert where in out


def test_codes_typed_as_numbers_match_text_codes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    path = book(
        tmp_path,
        Items=[["Item"], ["00123"], ["123"]],
        Demand=[["Demand", "Item", "Due", "Qty"], ["D1", 123, MONDAY, 5]],
    )
    code, _, _ = run_check(path, capsys)
    assert code == 0


def test_problems_in_tables_a_command_does_not_use_are_only_warnings_for_it(tmp_path: Path):
    from sheetloop.workbooks.calamine_reader import CalamineReader
    from sheetloop.workbooks.validation import load_book

    path = book(tmp_path, Lanes=[["Site", "Customer", "Cost"], ["MAIN", "C1", -3]])
    for_plan = load_book(CalamineReader(path), "plan")
    for_check = load_book(CalamineReader(path), "check")
    assert [str(p) for p in for_plan.errors] == []
    assert any(p.where == "Lanes!C2" for p in for_plan.warnings)
    assert any(p.where == "Lanes!C2" for p in for_check.errors)
