"""The template: every input table, dropdowns for fixed values, Settings with defaults and
a Help sheet generated from the schema."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import openpyxl
import pytest

from sheetloop.workbooks.file_book import FileBook
from sheetloop.workbooks.schema import SETTING_SPECS, TABLES, TEMPLATE_TABLES
from sheetloop.workbooks.template import init_book


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("t") / "plan.xlsx"
    init_book(path)
    return path


def test_every_input_table_is_there_with_the_contracts_headers(template: Path):
    book = FileBook.open(template)
    for spec in TEMPLATE_TABLES:
        raw = book.find_table(spec.name)
        assert raw is not None and raw.is_table, spec.name
        assert raw.headers == spec.column_names


def test_enumerated_columns_have_dropdowns(template: Path):
    # Read by openpyxl, an independent reader of data validations.
    wb = openpyxl.load_workbook(template)
    items = wb["Items"]
    rules = {str(dv.sqref): dv.formula1 for dv in items.data_validations.dataValidation}
    lot_rule_col = TABLES["Items"].column_names.index("Lot Rule")
    letter = openpyxl.utils.get_column_letter(lot_rule_col + 1)
    formula = next(f for ref, f in rules.items() if ref.startswith(f"{letter}2"))
    assert formula == '"L4L,FOQ,EOQ,POQ,LUC,SM,WW"'
    settings_rules = [dv.formula1 for dv in wb["Settings"].data_validations.dataValidation]
    assert any("Horizon Start" in f for f in settings_rules)


def test_settings_are_prefilled_with_the_defaults(template: Path):
    raw = FileBook.open(template).find_table("Settings")
    assert raw is not None
    values = {r[0]: r[1] for r in raw.rows}
    assert [r[0] for r in raw.rows] == [s.name for s in SETTING_SPECS]
    assert values["Bucket"] == "week" and values["Periods"] == 26  # a number, not text
    assert values["Allocate Forecast"] == "no" and values["Horizon Start"] == ""


def test_the_help_sheet_explains_every_column_of_every_table(template: Path):
    raw = FileBook.open(template).find_table("SheetloopHelp")
    assert raw is not None and raw.sheet == "Help"
    explained = {(r[0], r[1]) for r in raw.rows}
    for spec in TABLES.values():
        if spec.name == "SheetloopHelp":
            continue
        for column in spec.columns:
            assert (spec.name, column.name) in explained


def test_the_template_opens_on_the_help_sheet_and_has_frozen_headers(template: Path):
    with zipfile.ZipFile(template) as z:
        workbook = z.read("xl/workbook.xml").decode()
        first = re.search(r'<sheet name="([^"]+)"', workbook)
        assert first is not None and first.group(1) == "Help"
        sheets = [n for n in z.namelist() if n.startswith("xl/worksheets/sheet")]
        assert all(
            'state="frozen"' in z.read(n).decode()
            for n in sheets
            if b"contract_version" not in z.read(n)
        )
