"""``allocate``: the workbook's supply and demand through the allocation LP and back.

Composition only: supply is the book's ``Supply`` table or, without one, derived as the
contract says (on hand − allocated in the first bucket, open receipts in their due bucket,
firm planned orders, and every planned order with ``Allocate Planned Orders``); demand is
the book's orders (and forecast with ``Allocate Forecast``); the engine is
:func:`sheetloop.solver.allocation.allocate`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sheetloop.addin.outputs import bucket_dates, exceptions_with
from sheetloop.solver.allocation import AllocationResult, allocate
from sheetloop.solver.buckets import Calendar
from sheetloop.workbooks.interface import (
    SHORTFALL,
    ChartSpec,
    ColumnSeries,
    ConditionalFormat,
    TableWrite,
    WorkbookReader,
)
from sheetloop.workbooks.reading import parse_table
from sheetloop.workbooks.schema import (
    ALLOCATION,
    BOTTLENECKS,
    CUSTOMER_SERVICE,
    DEMAND_STATUS,
    EXCEPTIONS,
    PLANNED_ORDERS,
)
from sheetloop.workbooks.validation import LoadedBook

PLAN_CODES = (
    "PAST_DUE_RELEASE",
    "PAST_DUE_DEMAND",
    "PAST_DUE_RECEIPT",
    "RESCHEDULE_IN",
    "RESCHEDULE_OUT",
    "CANCEL",
    "BELOW_SAFETY_STOCK",
)
NO_CUSTOMER = "(no customer)"
#: Customers the fill-rate chart shows (the least served first).
CHART_CUSTOMERS = 25


@dataclass
class AllocateOutputs:
    """Everything ``allocate`` writes, ready for a workbook."""

    writes: list[TableWrite]
    run_log: pd.DataFrame
    summary: list[str]
    result: AllocationResult


def derived_supply(book: WorkbookReader, loaded: LoadedBook) -> pd.DataFrame:
    """Supply when the book has no ``Supply`` table (contract §1.2, Supply)."""
    settings = loaded.settings
    calendar = settings.calendar
    first = _first_bucket(calendar)
    inv = loaded["Inventory"]
    parts = [
        pd.DataFrame(
            {
                "Site": inv["Site"].fillna("MAIN"),
                "Item": inv["Item"],
                "Available": first,
                "Qty": inv["On Hand"].fillna(0) - inv["Allocated"].fillna(0),
            }
        )
    ]
    rec = loaded["Receipts"]
    if len(rec):
        parts.append(
            pd.DataFrame(
                {
                    "Site": rec["Site"].fillna("MAIN"),
                    "Item": rec["Item"],
                    "Available": rec["Due"],
                    "Qty": rec["Qty"],
                }
            )
        )
    orders = _planned_orders(book, loaded)
    if len(orders):
        use = orders["Firm"].fillna(False).astype(bool)
        if settings.allocate_planned_orders:
            use = pd.Series(True, index=orders.index)
        chosen = orders[use]
        parts.append(
            pd.DataFrame(
                {
                    "Site": chosen["Site"].fillna("MAIN"),
                    "Item": chosen["Item"],
                    "Available": chosen["Due"],
                    "Qty": chosen["Qty"],
                }
            )
        )
    supply = pd.concat(parts, ignore_index=True)
    return supply[supply["Qty"].to_numpy(float) > 0].reset_index(drop=True)


def _first_bucket(calendar: Calendar) -> object:
    return 1.0 if not calendar.is_dated else pd.Timestamp(calendar.start)


def _planned_orders(book: WorkbookReader, loaded: LoadedBook) -> pd.DataFrame:
    raw = book.find_table(PLANNED_ORDERS.name)
    if raw is None:
        return pd.DataFrame(columns=["Site", "Item", "Due", "Qty", "Firm"])
    frame = parse_table(raw, PLANNED_ORDERS, periods=loaded.settings.bucket == "period")[0].frame
    return frame[frame["Item"].notna() & frame["Qty"].notna() & frame["Due"].notna()]


def allocate_book(
    book: WorkbookReader, loaded: LoadedBook, *, now: dt.datetime | None = None
) -> AllocateOutputs:
    """Run the allocation LP on a validated book and build every output table."""
    settings = loaded.settings
    calendar = settings.calendar
    supply_table = loaded.tables["Supply"]
    supply = supply_table.frame if supply_table.found else derived_supply(book, loaded)
    demand = loaded["Demand"]
    if not settings.allocate_forecast:
        demand = demand[demand["Kind"] != "forecast"]
    customers = loaded["Customers"] if loaded.tables["Customers"].found else None
    lanes = loaded["Lanes"] if loaded.tables["Lanes"].found else None
    result = allocate(
        supply=supply,
        demand=demand.reset_index(drop=True),
        calendar=calendar,
        customers=customers,
        lanes=lanes,
        max_lateness=settings.max_lateness,
        solver=settings.solver,
        time_limit=settings.time_limit,
    )
    allocation = result.allocation.copy()
    allocation["Ship"] = bucket_dates(allocation["Ship"], calendar).to_numpy()
    bottlenecks = result.bottlenecks.rename(columns={"Bucket": "When"}).copy()
    bottlenecks["When"] = bucket_dates(bottlenecks["When"], calendar).to_numpy()
    exceptions = exceptions_with(book, result.exceptions, calendar, PLAN_CODES)
    status = result.demand_status
    service = customer_service(status, customers)
    writes = [
        TableWrite(ALLOCATION, allocation),
        TableWrite(
            DEMAND_STATUS,
            status,
            formats=[
                ConditionalFormat(
                    ("Demand", "Customer", "Fill %"),
                    where={"Below Target": "yes"},
                    highlight=SHORTFALL,
                )
            ],
        ),
        TableWrite(
            CUSTOMER_SERVICE,
            service,
            formats=[
                ConditionalFormat(
                    ("Customer", "Fill %"), where={"Below Target": "yes"}, highlight=SHORTFALL
                )
            ],
            charts=_service_chart(service),
        ),
        TableWrite(BOTTLENECKS, bottlenecks),
        TableWrite(EXCEPTIONS, exceptions),
    ]
    summary = [result.summary.text()]
    short = status[status["Short"] > 0]
    if len(short):
        summary.append(
            f"{len(short)} demand line(s) short; least served: "
            + ", ".join(service.head(3)["Customer"].astype(str))
        )
    stamp = pd.Timestamp(now or dt.datetime.now()).floor("s")
    run_log = pd.DataFrame(
        {
            "Time": [stamp],
            "Command": ["allocate"],
            "Status": ["ok"],
            "Summary": ["; ".join(summary)],
        }
    )
    return AllocateOutputs(writes, run_log, summary, result)


def customer_service(status: pd.DataFrame, customers: pd.DataFrame | None) -> pd.DataFrame:
    """Fill rate per customer (all its lines), least served first."""
    columns = ["Customer", "Tier", "Qty", "Allocated", "Fill %", "Service Target", "Below Target"]
    if status.empty:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})
    status = status.assign(Customer=status["Customer"].astype(object).fillna(NO_CUSTOMER))
    grouped = (
        status.groupby("Customer")
        .agg(Tier=("Tier", "min"), Qty=("Qty", "sum"), Allocated=("Allocated", "sum"))
        .reset_index()
    )
    grouped["Fill %"] = np.where(grouped["Qty"] > 0, grouped["Allocated"] / grouped["Qty"], 1.0)
    targets = (
        customers.set_index("Customer")["Service Target"]
        if customers is not None and len(customers)
        else pd.Series(dtype=float)
    )
    grouped["Service Target"] = grouped["Customer"].map(targets)
    grouped["Below Target"] = grouped["Service Target"].notna() & (
        grouped["Fill %"] < grouped["Service Target"] - 1e-9
    )
    return grouped.sort_values(["Fill %", "Tier", "Customer"], kind="stable")[columns].reset_index(
        drop=True
    )


def _service_chart(service: pd.DataFrame) -> list[ChartSpec]:
    if service.empty:
        return []
    return [
        ChartSpec(
            "Fill rate by customer (least served first)",
            (ColumnSeries("Fill rate", "Fill %"),),
            kind="bar",
            categories="Customer",
            max_rows=CHART_CUSTOMERS,
            size=(10, 24),
        )
    ]
