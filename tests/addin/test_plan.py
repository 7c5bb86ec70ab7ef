"""``sheetloop plan`` on a workbook: what it writes, what it keeps, what it refuses."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from support.books import make_book, sha256

from sheetloop.addin import cli
from sheetloop.workbooks.file_book import FileBook
from sheetloop.workbooks.interface import TableWrite
from sheetloop.workbooks.reading import parse_table
from sheetloop.workbooks.schema import PLANNED_ORDERS

MONDAY = dt.date(2026, 11, 30)


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(args)
    out, err = capsys.readouterr()
    return code, out, err


#: A bike from a frame and two wheels; stock and one open order.
SMALL: dict[str, list[list[Any]]] = {
    "Settings": [["Setting", "Value"], ["Horizon Start", MONDAY], ["Periods", 6]],
    "Items": [
        ["Item", "Lead Time", "Lot Rule", "Lot Size"],
        ["BIKE", 7, "L4L", None],
        ["FRAME", 14, "FOQ", 10],
        ["WHEEL", 7, "L4L", None],
    ],
    "BOM": [["Parent", "Component", "Qty Per"], ["BIKE", "FRAME", 1], ["BIKE", "WHEEL", 2]],
    "Inventory": [["Item", "On Hand"], ["BIKE", 2], ["WHEEL", 4]],
    "Receipts": [
        ["Order", "Item", "Due", "Qty", "External Id"],
        ["PO-1", "WHEEL", MONDAY + dt.timedelta(weeks=2), 6, "ERP-9"],
    ],
    "Demand": [
        ["Demand", "Item", "Due", "Qty"],
        ["SO-1", "BIKE", MONDAY + dt.timedelta(weeks=2), 5],
        ["SO-2", "BIKE", MONDAY + dt.timedelta(weeks=4), 3],
    ],
}


def small_book(tmp_path: Path) -> Path:
    """A bike from a frame and two wheels; stock and one open order."""
    return make_book(tmp_path / "plan.xlsx", SMALL)


def table(path: Path, name: str) -> pd.DataFrame:
    from sheetloop.workbooks import schema

    raw = FileBook.open(path).find_table(name)
    assert raw is not None, f"{name} was not written"
    return parse_table(raw, schema.table(name))[0].frame


def test_plan_writes_planned_orders_pegging_grid_exceptions_and_a_run_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    path = small_book(tmp_path)
    code, out, _ = run(["plan", str(path)], capsys)
    assert code == 0, out
    orders = table(path, "PlannedOrders")
    bike = orders[orders["Item"] == "BIKE"]
    # 5 due in week 3 with 2 on hand: 3; then 3 in week 5.
    assert bike["Qty"].tolist() == [3.0, 3.0]
    assert bike["Order"].tolist() == ["BIKE@MAIN#2026-12-14", "BIKE@MAIN#2026-12-28"]
    assert pd.Timestamp(bike["Release"].iloc[0]).date() == dt.date(2026, 12, 7)
    frame = orders[orders["Item"] == "FRAME"]
    assert set(frame["Qty"]) == {10.0}  # whole lots of 10
    assert "SO-1" in bike["Pegged To"].iloc[0]
    pegging = table(path, "Pegging")
    frame_order = frame["Order"].iloc[0]
    # The frame bought for the bikes is pegged to the customer orders at the top.
    assert set(pegging[pegging["Order"] == frame_order]["Demand"]) >= {"SO-1"}
    grid = table(path, "MRP")
    assert set(grid["Line"]) == {
        "Gross Requirements",
        "Scheduled Receipts",
        "Projected On Hand",
        "Net Requirements",
        "Planned Receipts",
        "Planned Releases",
    }
    runlog = table(path, "RunLog")
    assert runlog["Command"].tolist() == ["plan"]
    assert run(["check", str(path)], capsys)[0] == 0


def test_pegged_quantities_add_up_to_each_orders_good_quantity(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    path = small_book(tmp_path)
    run(["plan", str(path)], capsys)
    orders = table(path, "PlannedOrders").set_index("Order")["Qty"]
    pegged = table(path, "Pegging").groupby("Order")["Qty"].sum()
    assert pegged.reindex(orders.index).round(6).tolist() == orders.round(6).tolist()


def test_pegging_lists_as_many_demands_per_order_as_the_settings_say(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    path = small_book(tmp_path)
    run(["plan", str(path)], capsys)
    frame_order = "FRAME@MAIN#2026-12-07"  # a lot of 10 frames for both bikes' orders
    pegging = table(path, "Pegging")
    assert pegging[pegging["Order"] == frame_order]["Demand"].tolist() == [
        "SO-1",
        "SO-2",
        "(lot excess)",
    ]
    fewer = make_book(
        tmp_path / "fewer.xlsx",
        {
            **SMALL,
            "Settings": [*SMALL["Settings"], ["Pegging Demands", 1]],
        },
    )
    assert run(["plan", str(fewer)], capsys)[0] == 0
    pegging = table(fewer, "Pegging")
    assert pegging[pegging["Order"] == frame_order][["Demand", "Qty"]].values.tolist() == [
        ["SO-1", 3.0],
        ["(lot excess)", 4.0],
        ["(other demands)", 3.0],
    ]


def test_pegging_demands_zero_switches_pegging_off(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    # A big unattended plan may not need pegging: it is the slowest part of one.
    path = make_book(
        tmp_path / "no-pegging.xlsx",
        {**SMALL, "Settings": [*SMALL["Settings"], ["Pegging Demands", 0]]},
    )
    code, out, _ = run(["plan", str(path)], capsys)
    assert code == 0
    orders = table(path, "PlannedOrders")
    assert len(orders) > 0
    assert orders["Pegged To"].isna().all() or (orders["Pegged To"].fillna("") == "").all()
    assert table(path, "Pegging").empty
    assert "pegging off" in out


def test_the_same_inputs_give_the_same_order_ids(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    path = small_book(tmp_path)
    run(["plan", str(path)], capsys)
    first = table(path, "PlannedOrders")["Order"].tolist()
    run(["plan", str(path)], capsys)
    assert table(path, "PlannedOrders")["Order"].tolist() == first


def _mark_firm(path: Path, order: str, *, qty: float, external: str | None = None) -> None:
    frame = table(path, "PlannedOrders")
    frame.loc[frame["Order"] == order, ["Firm", "Qty"]] = [True, qty]
    if external:
        frame["External Id"] = frame["External Id"].astype(object)
        frame.loc[frame["Order"] == order, "External Id"] = external
    frame["Buyer"] = ["ann" if o == order else None for o in frame["Order"]]
    book = FileBook.open(path)
    book.replace_table(TableWrite(PLANNED_ORDERS, frame))
    book.save()


def test_a_firm_planned_order_is_kept_as_the_planner_left_it_and_netted_as_supply(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    path = small_book(tmp_path)
    run(["plan", str(path)], capsys)
    _mark_firm(path, "BIKE@MAIN#2026-12-14", qty=8)
    assert run(["plan", str(path)], capsys)[0] == 0
    orders = table(path, "PlannedOrders")
    firm = orders[orders["Order"] == "BIKE@MAIN#2026-12-14"]
    assert firm["Firm"].tolist() == [True] and firm["Qty"].tolist() == [8.0]
    assert firm["Buyer"].tolist() == ["ann"]  # the planner's own column is carried over
    # 2 on hand + 8 firm cover both orders (5 + 3): no other bike orders.
    assert orders[orders["Item"] == "BIKE"]["Order"].tolist() == ["BIKE@MAIN#2026-12-14"]


def test_a_firm_order_that_came_back_from_the_erp_as_a_receipt_is_dropped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    path = small_book(tmp_path)
    run(["plan", str(path)], capsys)
    wheel_order = table(path, "PlannedOrders").query("Item == 'WHEEL'")["Order"].iloc[0]
    _mark_firm(path, wheel_order, qty=6, external="ERP-9")
    run(["plan", str(path)], capsys)
    orders = table(path, "PlannedOrders")
    assert "ERP-9" not in orders["External Id"].tolist()
    assert not orders[orders["Order"] == wheel_order]["Firm"].any()


def test_plan_writes_nothing_when_the_data_is_invalid(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    path = make_book(
        tmp_path / "bad.xlsx",
        {
            "Items": [["Item"], ["A"]],
            "Demand": [["Demand", "Item", "Due", "Qty"], ["D1", "A", MONDAY, -1]],
        },
    )
    before = sha256(path)
    code, _, err = run(["plan", str(path)], capsys)
    assert code == 1 and "Demand!D2" in err
    assert sha256(path) == before


def test_plan_with_out_leaves_the_book_and_export_writes_safe_csv(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    path = make_book(
        tmp_path / "plan.xlsx",
        {
            "Items": [["Item"], ["=EVIL()"]],
            "Demand": [["Demand", "Item", "Due", "Qty"], ["D1", "=EVIL()", MONDAY, 1]],
        },
    )
    before = sha256(path)
    out = tmp_path / "result.xlsx"
    code, _, _ = run(
        ["plan", str(path), "--out", str(out), "--export", str(tmp_path / "csv")], capsys
    )
    assert code == 0
    assert sha256(path) == before
    assert table(out, "PlannedOrders")["Item"].tolist() == ["=EVIL()"]
    with open(tmp_path / "csv" / "PlannedOrders.csv", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    assert rows[0]["Item"] == "'=EVIL()"


def test_the_demo_plans_with_exceptions_to_show(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    run(["demo", str(tmp_path), "--start", MONDAY.isoformat()], capsys)
    path = tmp_path / "sheetloop-demo.xlsx"
    code, out, _ = run(["plan", str(path)], capsys)
    assert code == 0 and "needs attention first" in out
    codes = set(table(path, "Exceptions")["Code"])
    assert {"PAST_DUE_DEMAND", "PAST_DUE_RECEIPT", "CANCEL", "RESCHEDULE_OUT"} <= codes


def test_a_table_too_big_for_a_sheet_goes_to_csv_whole_and_the_sheet_keeps_what_fits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    from sheetloop.addin import commands

    monkeypatch.setattr(commands, "SHEET_ROWS", 2)  # as if a sheet held two rows
    path = small_book(tmp_path)
    code, out, _ = run(["plan", str(path)], capsys)
    assert code == 0
    assert "more than a sheet holds" in out
    csv_path = tmp_path / "plan-export" / "PlannedOrders.csv"
    with open(csv_path, encoding="utf-8-sig") as f:
        all_rows = list(csv.DictReader(f))
    assert len(all_rows) > 2
    on_sheet = table(path, "PlannedOrders")
    assert on_sheet["Order"].tolist() == [r["Order"] for r in all_rows[:2]]


def test_run_plans_first_and_each_step_saves_on_its_own(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    path = small_book(tmp_path)
    code, out, _ = run(["run", str(path)], capsys)
    assert code == 0
    assert "planned" in out and "optimal" in out
    assert len(table(path, "PlannedOrders")) > 0
    assert len(table(path, "DemandStatus")) == 2
    assert table(path, "RunLog")["Command"].tolist() == ["plan", "allocate"]


def test_the_mrp_sheet_shows_shortfalls_and_a_chart_of_the_items_needing_attention(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    import zipfile

    path = small_book(tmp_path)
    run(["plan", str(path)], capsys)
    book = FileBook.open(path)
    assert "MRP Chart" in book.sheet_names
    grid = table(path, "MRP")
    assert "Safety Stock" in grid.columns
    with zipfile.ZipFile(path) as z:
        xml = "".join(
            z.read(n).decode() for n in z.namelist() if n.startswith("xl/worksheets/sheet")
        )
        charts = [n for n in z.namelist() if n.startswith("xl/charts/chart")]
        chart_xml = "".join(z.read(n).decode() for n in charts)
    assert '"Projected On Hand"' in xml and "conditionalFormatting" in xml
    assert len(charts) == 1 and "Projected on hand against safety stock" in chart_xml


def test_the_mrp_sheet_shows_the_items_needing_attention_first_as_many_as_set(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    items = [["Item", "Lead Time", "Lot Rule", "Lot Size", "Unit Cost"]]
    items += [[*row, cost] for row, cost in zip(SMALL["Items"][1:], [300, 40, 50], strict=True)]
    path = make_book(
        tmp_path / "grid.xlsx",
        {**SMALL, "Items": items, "Settings": [*SMALL["Settings"], ["MRP Grid Items", 1]]},
    )
    code, out, _ = run(["plan", str(path)], capsys)
    assert code == 0 and "needs attention first: FRAME, WHEEL" in out
    # FRAME and WHEEL have exceptions; of those a wheel's requirements are worth more.
    assert set(table(path, "MRP")["Item"]) == {"WHEEL"}
    note = FileBook.open(path).reader.sheet_rows("MRP")[0][0]
    assert note.startswith("Showing 1 of 3 items")


def test_a_firm_order_with_a_problem_stops_plan_naming_its_cell_and_others_do_not(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    path = small_book(tmp_path)
    run(["plan", str(path)], capsys)
    frame = table(path, "PlannedOrders")
    # Row 2 is not firm: its nonsense is not plan's business. Row 4 is firm, for an item
    # that is not in Items.
    frame.loc[0, "Qty"] = -5
    frame.loc[2, ["Firm", "Item"]] = [True, "GHOST"]
    book = FileBook.open(path)
    book.replace_table(TableWrite(PLANNED_ORDERS, frame))
    book.save()
    code, _, err = run(["plan", str(path)], capsys)
    assert code == 1
    assert "PlannedOrders!B4: firm order's item 'GHOST' is not in Items" in err
    assert "PlannedOrders!G2" not in err


def test_bucket_dates_are_each_buckets_first_day_or_its_period_number():
    from sheetloop.addin.outputs import bucket_dates
    from sheetloop.solver.buckets import Calendar

    weeks = Calendar.create("week", MONDAY, 104)
    dates = bucket_dates(pd.Series([0, 3, 0, 1_000]), weeks).dt.date.tolist()
    assert dates == [
        MONDAY,
        MONDAY + dt.timedelta(weeks=3),
        MONDAY,
        MONDAY + dt.timedelta(weeks=1_000),
    ]
    periods = Calendar.create("period", MONDAY, 6)
    assert bucket_dates(np.array([0, 5]), periods).tolist() == [1, 6]
