"""Reading tables: found by name wherever they sit, lenient headers, the contract's
defaults, yes/no values and codes that are always text."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from support.books import make_book

from sheetloop.workbooks.calamine_reader import CalamineReader
from sheetloop.workbooks.reading import parse_table
from sheetloop.workbooks.schema import DEMAND, ITEMS, PLANNED_ORDERS
from sheetloop.workbooks.validation import load_book


def test_a_table_is_found_by_its_name_on_any_sheet_and_at_any_place(tmp_path: Path):
    path = make_book(
        tmp_path / "b.xlsx",
        {"Master data": [["Item", "Lead Time"], ["A", 3]]},
        origin=(4, 3),
        table_names={"Master data": "Items"},
    )
    raw = CalamineReader(path).find_table("items")
    assert raw is not None
    assert (raw.sheet, raw.header_row, raw.first_col) == ("Master data", 4, 2)
    table, problems = parse_table(raw, ITEMS)
    assert problems == []
    assert table.frame["Lead Time"].tolist() == [3.0]
    assert table.cell(0, "Lead Time") == "D5"


def test_a_plain_sheet_with_a_header_at_a1_is_accepted(tmp_path: Path):
    path = make_book(tmp_path / "b.xlsx", {"Items": [["Item"], ["A"], ["B"]]}, as_tables=False)
    raw = CalamineReader(path).find_table("Items")
    assert raw is not None and not raw.is_table
    table, problems = parse_table(raw, ITEMS)
    assert problems == [] and table.frame["Item"].tolist() == ["A", "B"]


@pytest.mark.parametrize(
    "header", ["Lead Time", "lead_time", "LEADTIME", "lead-time", " Lead  time"]
)
def test_headers_match_leniently(tmp_path: Path, header: str):
    path = make_book(tmp_path / "b.xlsx", {"Items": [["ITEM", header], ["A", 7]]})
    table, problems = parse_table(CalamineReader(path).find_table("Items"), ITEMS)  # type: ignore[arg-type]
    assert problems == []
    assert table.frame["Lead Time"].tolist() == [7.0]


def test_empty_rows_are_skipped_and_empty_optional_cells_take_the_default(tmp_path: Path):
    path = make_book(
        tmp_path / "b.xlsx",
        {
            "Items": [
                ["Item", "Lot Rule", "UoM"],
                ["A", None, None],
                [None, None, None],
                ["B", "FOQ", "KG"],
            ]
        },
    )
    table, _ = parse_table(CalamineReader(path).find_table("Items"), ITEMS)  # type: ignore[arg-type]
    assert table.frame["Item"].tolist() == ["A", "B"]
    assert table.frame["Lot Rule"].tolist() == ["L4L", "FOQ"]
    assert table.frame["UoM"].tolist() == ["EA", "KG"]
    assert table.frame["Safety Stock"].tolist() == [0.0, 0.0]
    assert table.excel_rows.tolist() == [2, 4]


def test_unknown_extra_columns_are_kept_and_cause_no_error(tmp_path: Path):
    path = make_book(tmp_path / "b.xlsx", {"Items": [["Item", "Buyer's note"], ["A", "call Jo"]]})
    table, problems = parse_table(CalamineReader(path).find_table("Items"), ITEMS)  # type: ignore[arg-type]
    assert problems == []
    assert table.extra_columns == ["Buyer's note"]
    assert table.frame["Buyer's note"].tolist() == ["call Jo"]


def test_codes_are_always_text_and_keep_leading_zeros(tmp_path: Path):
    path = make_book(tmp_path / "b.xlsx", {"Items": [["Item"], ["00123"], [123], [12.5]]})
    table, _ = parse_table(CalamineReader(path).find_table("Items"), ITEMS)  # type: ignore[arg-type]
    assert table.frame["Item"].tolist() == ["00123", "123", "12.5"]


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("yes", True),
        ("Y", True),
        ("x", True),
        (1, True),
        (True, True),
        ("TRUE", True),
        ("no", False),
        ("n", False),
        (0, False),
        (False, False),
        (None, False),
    ],
)
def test_yes_no_cells_accept_the_contract_spellings(tmp_path: Path, cell: object, expected: object):
    path = make_book(tmp_path / "b.xlsx", {"PlannedOrders": [["Order", "Firm"], ["O1", cell]]})
    table, problems = parse_table(CalamineReader(path).find_table("PlannedOrders"), PLANNED_ORDERS)  # type: ignore[arg-type]
    assert [p for p in problems if "Firm" in p.message or "yes or no" in p.message] == []
    assert table.frame["Firm"].tolist() == [expected]


def test_dates_are_real_dates_and_iso_text_or_serials_are_understood(tmp_path: Path):
    path = make_book(
        tmp_path / "b.xlsx",
        {
            "Demand": [
                ["Demand", "Item", "Due", "Qty"],
                ["D1", "A", dt.date(2026, 12, 7), 1],
                ["D2", "A", "2026-12-08", 1],
                ["D3", "A", 46365, 1],
            ]
        },
    )
    table, problems = parse_table(CalamineReader(path).find_table("Demand"), DEMAND)  # type: ignore[arg-type]
    assert problems == []
    assert pd.to_datetime(table.frame["Due"]).dt.date.tolist() == [
        dt.date(2026, 12, 7),
        dt.date(2026, 12, 8),
        dt.date(2026, 12, 9),
    ]


def test_settings_default_when_absent_and_horizon_snaps_to_monday(tmp_path: Path):
    path = make_book(
        tmp_path / "b.xlsx",
        {
            "Settings": [["Setting", "Value"], ["Horizon Start", dt.date(2026, 12, 3)]],
            "Items": [["Item"], ["A"]],
            "Demand": [["Demand", "Item", "Due", "Qty"]],
        },
    )
    loaded = load_book(CalamineReader(path), "check")
    s = loaded.settings
    assert (s.bucket, s.periods, s.solver, s.time_limit, s.max_lateness) == (
        "week",
        26,
        "highs",
        600,
        4,
    )
    assert s.allocate_forecast is False and s.mrp_grid_items == 2000
    assert s.calendar.start == dt.date(2026, 11, 30)


def test_bucket_indexes_follow_the_calendar():
    from sheetloop.solver.buckets import Calendar

    week = Calendar.create("week", dt.date(2026, 12, 2), 4)
    dates = pd.Series(pd.to_datetime(["2026-11-29", "2026-11-30", "2026-12-06", "2026-12-07"]))
    assert week.index_of(dates).tolist() == [-1, 0, 0, 1]
    month = Calendar.create("month", dt.date(2026, 11, 15), 3)
    assert month.labels() == ["2026-11-01", "2026-12-01", "2027-01-01"]
    assert month.index_of(pd.Series(pd.to_datetime(["2026-10-31", "2027-01-31"]))).tolist() == [
        -1,
        2,
    ]
    periods = Calendar.create("period", dt.date(2026, 1, 1), 6)
    assert periods.index_of(pd.Series([0.0, 1.0, 6.0])).tolist() == [-1, 0, 5]
    assert np.array_equal(periods.labels(), ["1", "2", "3", "4", "5", "6"])
