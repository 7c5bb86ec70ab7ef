"""``plan``: the workbook's tables through the MRP engine and back into the workbook.

Composition only: the tables come from a :class:`~sheetloop.workbooks.interface.Workbook`
(either adapter), the engine is :func:`sheetloop.solver.mrp.plan`, and the outputs go back
through the same interface.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from sheetloop.addin.outputs import bucket_dates, exceptions_with
from sheetloop.errors import InvalidDataError
from sheetloop.solver.buckets import Calendar
from sheetloop.solver.mrp import LINES, MrpResult
from sheetloop.solver.mrp import plan as run_mrp
from sheetloop.solver.pegging import peg, pegged_to
from sheetloop.workbooks.coerce import to_code, to_yesno
from sheetloop.workbooks.interface import (
    SHORTFALL,
    WARNING,
    ChartSpec,
    ConditionalFormat,
    RawTable,
    RowSeries,
    TableWrite,
    WorkbookReader,
)
from sheetloop.workbooks.problems import Problem
from sheetloop.workbooks.reading import parse_table
from sheetloop.workbooks.schema import (
    EXCEPTIONS,
    MRP_GRID,
    PEGGING,
    PLANNED_ORDERS,
    header_key,
)
from sheetloop.workbooks.sheet_xml import EXCEL_MAX_ROWS
from sheetloop.workbooks.validation import LoadedBook

ALLOCATION_CODES = ("SHORTAGE", "LATE")
#: Item-site records the MRP chart shows (the first of the grid: those needing attention).
CHART_RECORDS = 3


@dataclass
class PlanOutputs:
    """Everything ``plan`` writes, ready for a workbook."""

    writes: list[TableWrite]
    run_log: pd.DataFrame
    summary: list[str]
    result: MrpResult


def firm_orders(book: WorkbookReader, loaded: LoadedBook) -> pd.DataFrame:
    """Rows of the existing PlannedOrders a planner marked Firm, minus those an ERP order
    now stands for (their External Id came back in Receipts)."""
    raw = book.find_table(PLANNED_ORDERS.name)
    if raw is None:
        return pd.DataFrame(columns=["Order", "Item", "Site", "Due", "Release", "Qty"])
    periods = loaded.settings.bucket == "period"
    table, problems = parse_table(_firm_rows_only(raw), PLANNED_ORDERS, periods=periods)
    frame = table.frame
    firm = frame[frame["Firm"].fillna(False).astype(bool)]
    errors = [p for p in problems if _row_of(p) in set(table.excel_rows[firm.index].tolist())]
    known = set(loaded["Items"]["Item"].dropna())
    for pos in firm.index[~firm["Item"].isin(known)]:
        errors.append(
            table.problem(
                int(pos), "Item", f"firm order's item {frame['Item'].iat[pos]!r} is not in Items"
            )
        )
    if errors:
        raise InvalidDataError("firm planned orders have problems: fix them and run again", errors)
    external = (
        set(loaded["Receipts"]["External Id"].dropna())
        if "External Id" in loaded["Receipts"]
        else set()
    )
    keep = firm[~firm["External Id"].isin(external) | firm["External Id"].isna()]
    return keep[["Order", "Item", "Site", "Due", "Release", "Qty", "External Id"]]


def _firm_rows_only(raw: RawTable) -> RawTable:
    """The table with the rows firm orders are about (the firm rows, and rows sharing an
    Order with one, for the duplicate check) and every other row blanked, so each cell
    keeps its row number. A big plan's PlannedOrders has a million rows and few firm ones:
    parsing them all would cost seconds."""
    keys = [header_key(h) for h in raw.headers]
    if "firm" not in keys or "order" not in keys:
        return raw
    firm_at, order_at = keys.index("firm"), keys.index("order")
    firm, _ = to_yesno([r[firm_at] if firm_at < len(r) else None for r in raw.rows])
    orders, _ = to_code([r[order_at] if order_at < len(r) else None for r in raw.rows])
    ids = {o for o, f in zip(orders, firm, strict=True) if f}
    blank: list[Any] = [""] * len(raw.headers)
    rows = [
        r if f or o in ids else (blank if len(r) == len(blank) else [""] * len(r))
        for r, f, o in zip(raw.rows, firm, orders, strict=True)
    ]
    return replace(raw, rows=rows)


def _row_of(problem: Problem) -> int:
    digits = "".join(ch for ch in problem.cell if ch.isdigit())
    return int(digits) if digits else 0


def plan_book(
    book: WorkbookReader, loaded: LoadedBook, *, now: dt.datetime | None = None
) -> PlanOutputs:
    """Run MRP on a validated book and build every output table."""
    settings = loaded.settings
    calendar = settings.calendar
    firm = firm_orders(book, loaded)
    demand = loaded["Demand"]
    result = run_mrp(
        items=loaded["Items"],
        calendar=calendar,
        bom=loaded["BOM"],
        inventory=loaded["Inventory"],
        receipts=loaded["Receipts"],
        demand=demand,
        item_sites=loaded["ItemSites"],
        firm=firm,
    )
    tiers = _tiers(loaded)
    # Pegging Demands = 0 switches pegging off: in a big plan it is the slowest output.
    pegging = (
        peg(result, demand, tiers, max_demands=settings.pegging_demands)
        if settings.pegging_demands > 0
        else pd.DataFrame({"Order": pd.Series(dtype=object), "Demand": [], "Qty": []})
    )
    orders = _planned_orders_frame(result, calendar, pegging, firm)
    exceptions = exceptions_with(book, result.exceptions, calendar, ALLOCATION_CODES)
    grid, note = _grid_frame(result, calendar, settings.mrp_grid_items, loaded)
    formats, charts = _grid_presentation(grid, calendar)
    writes = [
        TableWrite(PLANNED_ORDERS, orders),
        TableWrite(PEGGING, pegging),
        TableWrite(
            MRP_GRID, grid, note=note, formats=formats, charts=charts, chart_sheet="MRP Chart"
        ),
        TableWrite(EXCEPTIONS, exceptions),
    ]
    attention = _attention(result)
    planned = int((~result.planned_orders["Firm"]).sum())
    plan_exceptions = len(result.exceptions)
    summary = [
        f"planned {planned} order(s) for {result.records['Item'].nunique()} item(s) at "
        f"{result.records['Site'].nunique()} site(s) over {calendar.periods} "
        f"{settings.bucket} bucket(s); {plan_exceptions} exception(s)",
    ]
    if attention:
        summary.append("needs attention first: " + ", ".join(attention))
    if settings.pegging_demands == 0:
        summary.append("pegging off (Pegging Demands = 0)")
    stamp = pd.Timestamp(now or dt.datetime.now()).floor("s")
    run_log = pd.DataFrame(
        {"Time": [stamp], "Command": ["plan"], "Status": ["ok"], "Summary": ["; ".join(summary)]}
    )
    return PlanOutputs(writes, run_log, summary, result)


def _tiers(loaded: LoadedBook) -> pd.Series:
    customers = loaded["Customers"]
    if not len(customers):
        return pd.Series(dtype=float)
    return customers.set_index("Customer")["Tier"]


def _planned_orders_frame(
    result: MrpResult, calendar: Calendar, pegging: pd.DataFrame, firm: pd.DataFrame
) -> pd.DataFrame:
    orders = result.planned_orders
    frame = pd.DataFrame(
        {
            "Order": orders["Order"].to_numpy(object),
            "Item": _repeated(orders["Item"]),
            "Site": _repeated(orders["Site"]),
            "Kind": _repeated(orders["Kind"]),
            "Release": bucket_dates(orders["Release"], calendar),
            "Due": bucket_dates(orders["Due"], calendar),
            "Qty": orders["Qty"].to_numpy(float),
            "Pegged To": pegged_to(orders["Order"], pegging),
            "Firm": orders["Firm"].to_numpy(bool),
        }
    )
    if len(firm):
        # A firm row keeps the dates the planner gave it. Only the firm rows are looked
        # up: matching millions of order ids would cost seconds.
        given = firm.set_index("Order")
        rows = np.flatnonzero(frame["Firm"].to_numpy(bool))
        ids = frame["Order"].iloc[rows]
        for column in ("Due", "Release"):
            if column in given:
                keep = ids.map(given[column])
                values = frame[column].to_numpy(copy=True)
                values[rows] = keep.where(keep.notna(), frame[column].iloc[rows]).to_numpy()
                frame[column] = values
        external = np.full(len(frame), None, dtype=object)
        external[rows] = ids.map(given["External Id"]).to_numpy(object)
        frame["External Id"] = external
    return frame


def _repeated(values: pd.Series) -> pd.Series | np.ndarray:
    """A column whose values repeat over millions of orders (Item, Site, Kind): a
    categorical, as the engine gives them, is kept, so writers handle each distinct value
    once; anything else as objects."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.reset_index(drop=True)
    return values.to_numpy(object)


def _grid_frame(
    result: MrpResult, calendar: Calendar, limit: int, loaded: LoadedBook
) -> tuple[pd.DataFrame, str | None]:
    """The textbook MRP record for the items that need attention first."""
    records = result.records
    cost = loaded["Items"].set_index("Item")["Unit Cost"].astype(float)
    value = records["Item"].map(cost).fillna(0).to_numpy() * result.gross.sum(axis=1)
    flagged = records.set_index(["Item", "Site"]).index.isin(
        result.exceptions.set_index(["Item", "Site"]).index
    )
    order = np.lexsort((-value, ~flagged))
    item_codes, _ = pd.factorize(records["Item"])
    # Items in the order their first record comes: the first ``limit`` are shown.
    first_seen = np.full(item_codes.max(initial=-1) + 1, len(order))
    np.minimum.at(first_seen, item_codes[order], np.arange(len(order)))
    shown = np.zeros(len(first_seen), dtype=bool)
    shown[np.argsort(first_seen, kind="stable")[:limit]] = True
    chosen = order[shown[item_codes[order]]][: (EXCEL_MAX_ROWS - 10) // len(LINES)]
    shown_items = int(shown.sum())
    labels = calendar.labels()
    n = len(chosen)
    data: dict[str, object] = {
        "Item": np.repeat(records["Item"].to_numpy(object)[chosen], len(LINES)),
        "Site": np.repeat(records["Site"].to_numpy(object)[chosen], len(LINES)),
        "Line": np.tile(np.array(LINES, dtype=object), n),
        "Safety Stock": np.repeat(records["Safety Stock"].to_numpy(float)[chosen], len(LINES)),
    }
    # Only the shown records' lines: the engine holds some lines sparse for all of them.
    lines = result.lines(chosen)
    stacked = (
        np.stack([lines[line] for line in LINES], axis=1).reshape(n * len(LINES), -1)
        if n
        else np.zeros((0, len(labels)))
    )
    for j, label in enumerate(labels):
        data[label] = np.round(stacked[:, j], 6)
    total_items = records["Item"].nunique()
    note = None
    if shown_items < total_items:
        note = (
            f"Showing {shown_items:,} of {total_items:,} items (items with exceptions "
            "first, then by value): raise the MRP Grid Items setting to see more."
        )
    return pd.DataFrame(data), note


def _grid_presentation(
    grid: pd.DataFrame, calendar: Calendar
) -> tuple[list[ConditionalFormat], list[ChartSpec]]:
    """Shortfalls in red and net requirements in amber on the grid, and a chart of projected
    on hand against safety stock for the first records shown (those needing attention)."""
    buckets = tuple(calendar.labels())
    formats = [
        ConditionalFormat(
            buckets,
            "<",
            against="Safety Stock",
            where={"Line": "Projected On Hand"},
            highlight=SHORTFALL,
        ),
        ConditionalFormat(
            buckets, ">", value=0, where={"Line": "Net Requirements"}, highlight=WARNING
        ),
    ]
    shown = grid.drop_duplicates(["Item", "Site"]).head(CHART_RECORDS)
    series = tuple(
        s
        for item, site in zip(shown["Item"], shown["Site"], strict=True)
        for s in (
            RowSeries(
                f"{item} at {site}", {"Item": item, "Site": site, "Line": "Projected On Hand"}
            ),
            RowSeries(
                f"{item} safety stock",
                {"Item": item, "Site": site, "Line": "Projected On Hand"},
                level="Safety Stock",
            ),
        )
    )
    charts = (
        [ChartSpec("Projected on hand against safety stock", series, across=buckets, size=(16, 22))]
        if series
        else []
    )
    return formats, charts


def _attention(result: MrpResult, count: int = 5) -> list[str]:
    exc = result.exceptions
    if exc.empty:
        return []
    return [str(i) for i in pd.unique(exc["Item"].astype(str))[:count]]
