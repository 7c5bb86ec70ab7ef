"""Patching a user's own table (what ``pull`` writes): named cells change, the table grows
only into empty cells, and everything else the user made stays as it was."""

from __future__ import annotations

import zipfile
from pathlib import Path

import openpyxl
import pytest
from openpyxl.formatting.rule import CellIsRule
from openpyxl.styles import PatternFill
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.table import Table as XlTable
from openpyxl.worksheet.table import TableFormula
from python_calamine import CalamineWorkbook
from support.books import sha256
from support.libreoffice import recalculated_values, soffice_path
from support.ooxml import invariant_violations

from sheetloop.errors import UsageError
from sheetloop.workbooks.file_book import FileBook
from sheetloop.workbooks.interface import TablePatch
from sheetloop.workbooks.schema import CUSTOMERS, ITEMS


def items_book(path: Path, *, rows: int = 3, below: str | None = None) -> Path:
    """An Items table with a user formula column, a dropdown, a highlight rule and a note
    beside it, as a planner would make it."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Items"
    ws.append(["Item", "Name", "Lead Time", "Double LT", "Origin"])
    for i in range(rows):
        r = i + 2
        ws.append([f"I{i}", f"Item {i}", i + 1, "=Items[[#This Row],[Lead Time]]*2", "erp"])
        ws.cell(row=r, column=3).number_format = "0.0"
    ws.cell(row=1, column=8, value="my note, right of the table")
    table = XlTable(displayName="Items", ref=f"A1:E{rows + 1}")
    table._initialise_columns()
    for column, header in zip(
        table.tableColumns, ["Item", "Name", "Lead Time", "Double LT", "Origin"], strict=True
    ):
        column.name = header
    table.tableColumns[3].calculatedColumnFormula = TableFormula(
        attr_text="Items[[#This Row],[Lead Time]]*2"
    )
    ws.add_table(table)
    dv = DataValidation(type="list", formula1='"erp,other"', allow_blank=True)
    dv.add(f"E2:E{rows + 1}")
    ws.add_data_validation(dv)
    ws.conditional_formatting.add(
        f"C2:C{rows + 1}",
        CellIsRule(operator="greaterThan", formula=["2"], fill=PatternFill("solid", "FFC7CE")),
    )
    if below:
        ws[below] = "in the way"
    other = wb.create_sheet("Other")
    other["A1"] = "=Items!C2+1"
    wb.save(path)
    return path


def calamine_rows(path: Path, sheet: str) -> list[list[object]]:
    return CalamineWorkbook.from_path(str(path)).get_sheet_by_name(sheet).to_python()


def sheet_xml(path: Path, part: str = "xl/worksheets/sheet1.xml") -> str:
    with zipfile.ZipFile(path) as z:
        return z.read(part).decode()


def table_xml(path: Path) -> str:
    with zipfile.ZipFile(path) as z:
        name = next(n for n in z.namelist() if n.startswith("xl/tables/"))
        return z.read(name).decode()


def test_updated_cells_change_and_the_rest_of_the_row_keeps_its_formula(tmp_path: Path) -> None:
    path = items_book(tmp_path / "b.xlsx")
    book = FileBook.open(path)
    book.patch_table(TablePatch(ITEMS, updates={1: {"Name": "Renamed", "Lead Time": 7}}))
    book.save()
    rows = calamine_rows(path, "Items")
    assert rows[2][:3] == ["I1", "Renamed", 7.0]
    assert rows[1][1] == "Item 0"  # untouched row
    xml = sheet_xml(path)
    assert xml.count("<f>") == 3  # the user's formulas are all still there
    wb = openpyxl.load_workbook(path)
    assert wb["Items"]["C3"].number_format == "0.0"  # the cell kept its style
    assert wb["Items"]["H1"].value == "my note, right of the table"
    assert invariant_violations(path) == []


def test_appended_rows_grow_the_table_validation_and_highlight_rules(tmp_path: Path) -> None:
    path = items_book(tmp_path / "b.xlsx")
    book = FileBook.open(path)
    book.patch_table(
        TablePatch(
            ITEMS,
            appends=[
                {"Item": "N1", "Name": "New one", "Lead Time": 3, "Origin": "erp"},
                {"Item": "N2", "Name": "=cmd|'/c calc'!A1", "Lead Time": 4, "Origin": "erp"},
            ],
        )
    )
    book.save()
    assert 'ref="A1:E6"' in table_xml(path)
    wb = openpyxl.load_workbook(path)
    ws = wb["Items"]
    assert ws["A6"].value == "N2"
    assert ws["B6"].data_type == "s"  # formula-looking text stays text
    assert ws["D6"].value == "=Items[[#This Row],[Lead Time]]*2"  # the calculated column
    assert ws["C6"].number_format == "0.0"  # new rows take the style of the row above
    assert str(ws.data_validations.dataValidation[0].sqref) == "E2:E6"
    assert [str(r.sqref) for r in ws.conditional_formatting] == ["C2:C6"]
    assert invariant_violations(path) == []


def test_a_table_that_cannot_grow_is_refused_naming_the_cells_and_nothing_is_written(
    tmp_path: Path,
) -> None:
    path = items_book(tmp_path / "b.xlsx", below="B5")
    before = sha256(path)
    book = FileBook.open(path)
    book.patch_table(TablePatch(ITEMS, appends=[{"Item": "N1"}]))
    with pytest.raises(UsageError, match=r"Items: .*in the way: B5\. Move them"):
        book.save()
    assert sha256(path) == before


def test_new_sync_columns_are_added_at_the_right_of_the_table(tmp_path: Path) -> None:
    path = items_book(tmp_path / "b.xlsx")
    book = FileBook.open(path)
    book.patch_table(
        TablePatch(ITEMS, new_columns=["Sync Status", "erp Id"], updates={0: {"erp Id": "17"}})
    )
    book.save()
    rows = calamine_rows(path, "Items")
    assert rows[0][:7] == [
        "Item",
        "Name",
        "Lead Time",
        "Double LT",
        "Origin",
        "Sync Status",
        "erp Id",
    ]
    assert rows[1][6] == "17"
    xml = table_xml(path)
    assert 'ref="A1:G4"' in xml and 'count="7"' in xml and 'name="erp Id"' in xml
    assert invariant_violations(path) == []


def test_a_column_that_would_cover_user_cells_is_refused(tmp_path: Path) -> None:
    path = items_book(tmp_path / "b.xlsx", below="F3")
    book = FileBook.open(path)
    book.patch_table(TablePatch(ITEMS, new_columns=["Sync Status"]))
    with pytest.raises(UsageError, match="F3"):
        book.save()


def test_prune_closes_up_rows_within_the_table_only(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Customers"
    ws.append(["Customer", "Tier", "Origin", None, "Beside"])
    for i, c in enumerate(["A", "B", "C", "D"]):
        ws.append([c, i + 1, "crm", None, f"side {c}"])
    ws.add_table(XlTable(displayName="Customers", ref="A1:C5"))
    dv = DataValidation(type="whole", operator="between", formula1="1", formula2="3")
    dv.add("B2:B5")
    ws.add_data_validation(dv)
    path = tmp_path / "c.xlsx"
    wb.save(path)
    book = FileBook.open(path)
    book.patch_table(TablePatch(CUSTOMERS, removes=[1], updates={2: {"Tier": 9}}))
    book.save()
    rows = calamine_rows(path, "Customers")
    assert [r[0] for r in rows[1:4]] == ["A", "C", "D"]
    assert rows[2][1] == 9.0  # the update landed on C, now one row higher
    assert [r[4] for r in rows[1:5]] == ["side A", "side B", "side C", "side D"]
    assert len(rows) == 5 and rows[4][:3] == ["", "", ""]
    assert 'ref="A1:C4"' in table_xml(path)
    dvs = openpyxl.load_workbook(path)["Customers"].data_validations.dataValidation
    assert [str(d.sqref) for d in dvs] == ["B2:B4"]  # the dropdown shrank with the table
    assert invariant_violations(path) == []


def test_prune_refuses_to_move_formulas_with_cell_references(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Customers"
    ws.append(["Customer", "Tier", "Check"])
    ws.append(["A", 1, "=B2*2"])
    ws.append(["B", 2, "=B3*2"])
    ws.add_table(XlTable(displayName="Customers", ref="A1:C3"))
    path = tmp_path / "c.xlsx"
    wb.save(path)
    before = sha256(path)
    book = FileBook.open(path)
    book.patch_table(TablePatch(CUSTOMERS, removes=[0]))
    with pytest.raises(UsageError, match=r"Customers!C3: --prune would move this formula"):
        book.save()
    assert sha256(path) == before


def test_a_table_with_a_totals_row_is_not_grown(tmp_path: Path) -> None:
    path = items_book(tmp_path / "b.xlsx")
    with zipfile.ZipFile(path) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    name = next(n for n in parts if n.startswith("xl/tables/"))
    parts[name] = parts[name].replace(b"<table ", b'<table totalsRowCount="1" ', 1)
    with zipfile.ZipFile(path, "w") as z:
        for n, data in parts.items():
            z.writestr(n, data)
    book = FileBook.open(path)
    book.patch_table(TablePatch(ITEMS, appends=[{"Item": "N"}]))
    with pytest.raises(UsageError, match="totals row"):
        book.save()


def test_long_state_values_survive_the_cell_size_limit(tmp_path: Path) -> None:
    path = items_book(tmp_path / "b.xlsx")
    book = FileBook.open(path)
    value = "".join(f"{i:08d}" for i in range(20_000))  # 160,000 characters
    book.set_state("sync:erp:Items", value)
    book.save()
    assert FileBook.open(path).state()["sync:erp:Items"] == value


def test_libreoffice_recalculates_the_grown_table(tmp_path: Path) -> None:
    if soffice_path() is None:
        pytest.skip("LibreOffice is not installed: ./scripts/test.sh installs it when root")
    path = items_book(tmp_path / "b.xlsx")
    book = FileBook.open(path)
    book.patch_table(
        TablePatch(ITEMS, updates={0: {"Lead Time": 10}}, appends=[{"Item": "N", "Lead Time": 5}])
    )
    book.save()
    values = recalculated_values(path, tmp_path / "lo")
    items = values["Items"]
    assert items[1][3] == 20  # the user's formula sees the pulled value
    assert items[4][0] == "N" and items[4][3] == 10  # and the new row got the table's formula
    assert values["Other"][0][0] == 11


def test_rows_added_to_an_empty_table_fill_its_empty_row_first(tmp_path: Path) -> None:
    from sheetloop.workbooks.template import init_book

    path = tmp_path / "t.xlsx"
    init_book(path)
    book = FileBook.open(path)
    book.patch_table(
        TablePatch(CUSTOMERS, appends=[{"Customer": "X", "Tier": 1}, {"Customer": "Y"}])
    )
    book.save()
    raw = FileBook.open(path).find_table("Customers")
    assert raw is not None and [r[0] for r in raw.rows] == ["X", "Y"]
    wb = openpyxl.load_workbook(path)
    assert wb["Customers"].tables["Customers"].ref == "A1:G3"
    assert invariant_violations(path) == []


def test_state_staged_in_a_run_is_seen_before_the_save(tmp_path: Path) -> None:
    path = items_book(tmp_path / "b.xlsx")
    book = FileBook.open(path)
    book.set_state("sync:erp:Items", "{}")
    assert book.state()["sync:erp:Items"] == "{}"
    assert "sync:erp:Items" not in FileBook.open(path).state()
