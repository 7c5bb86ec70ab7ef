"""Settings a planner tunes: read from the Settings table, refused with the cell named."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from support.books import make_book

from sheetloop.addin.cli import main
from sheetloop.workbooks.calamine_reader import CalamineReader
from sheetloop.workbooks.validation import load_book

MONDAY = dt.date(2026, 11, 30)


def settings_book(tmp_path: Path, *rows: list[Any]) -> Path:
    return make_book(
        tmp_path / "settings.xlsx",
        {
            "Settings": [["Setting", "Value"], ["Horizon Start", MONDAY], *rows],
            "Items": [["Item"], ["A"]],
            "Demand": [["Demand", "Item", "Due", "Qty"], ["D1", "A", MONDAY, 5]],
        },
    )


def test_pegging_lists_ten_demands_per_order_unless_the_settings_say_otherwise(tmp_path: Path):
    default = load_book(CalamineReader(settings_book(tmp_path)), "plan").settings
    assert default.pegging_demands == 10
    chosen = settings_book(tmp_path, ["Pegging Demands", 3])
    assert load_book(CalamineReader(chosen), "plan").settings.pegging_demands == 3


@pytest.mark.parametrize("value", [-2, 2.5, "many"])
def test_pegging_demands_is_a_whole_number_of_at_least_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: Any
):
    path = settings_book(tmp_path, ["Pegging Demands", value])
    code = main(["plan", str(path)])
    _, err = capsys.readouterr()
    assert code == 1
    assert "Settings!B3: Pegging Demands:" in err
