"""Hypothesis strategies for small allocation instances in period buckets."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from hypothesis import strategies as st

from sheetloop.solver.buckets import Calendar
from support.allocation_cases import Instance

PERIODS = 4
SITES = ["S1", "S2", "S3"]
ITEMS = ["A", "B"]
CUSTOMERS = ["C1", "C2", "C3", "C4"]
REGIONS = ["NORTH", "SOUTH"]


def calendar(periods: int = PERIODS) -> Calendar:
    return Calendar.create("period", dt.date(2026, 1, 5), periods)


@st.composite
def instances(
    draw: st.DrawFn,
    *,
    with_lanes: bool | None = None,
    max_lines: int = 6,
    periods: int = PERIODS,
) -> Instance:
    """Up to 3 sites, 2 items, 4 customers in 2 tiers and 2 regions, ``max_lines`` demand
    lines (some tied to a site, some past due, some beyond the horizon), random supply
    and, unless ``with_lanes`` is False, random region and customer lanes."""
    sites = SITES[: draw(st.integers(1, 3))]
    items = ITEMS[: draw(st.integers(1, 2))]
    customers = CUSTOMERS[: draw(st.integers(1, 4))]
    customer_table = pd.DataFrame(
        {
            "Customer": customers,
            "Tier": [draw(st.integers(1, 2)) for _ in customers],
            "Region": [draw(st.sampled_from(REGIONS)) for _ in customers],
            "Service Target": [draw(st.sampled_from([0.5, 0.9, 1.0])) for _ in customers],
        }
    )
    supply = pd.DataFrame(
        [
            {
                "Site": draw(st.sampled_from(sites)),
                "Item": draw(st.sampled_from(items)),
                "Available": float(draw(st.integers(0, periods))),
                "Qty": float(draw(st.integers(1, 30))),
            }
            for _ in range(draw(st.integers(1, 5)))
        ],
        columns=["Site", "Item", "Available", "Qty"],
    )
    demand = pd.DataFrame(
        [
            {
                "Demand": f"D{k}",
                "Item": draw(st.sampled_from(items)),
                "Site": draw(st.sampled_from([None, None, *sites])),
                "Customer": draw(st.sampled_from(customers)),
                "Due": float(draw(st.integers(0, periods + 1))),
                "Qty": float(draw(st.integers(1, 30))),
            }
            for k in range(draw(st.integers(1, max_lines)))
        ],
        columns=["Demand", "Item", "Site", "Customer", "Due", "Qty"],
    )
    lanes = None
    if with_lanes is True or (with_lanes is None and draw(st.booleans())):
        rows = []
        for site in sites:
            for region in REGIONS:
                if draw(st.integers(0, 3)):
                    rows.append(
                        {
                            "Site": site,
                            "Customer": None,
                            "Region": region,
                            "Cost": float(draw(st.integers(0, 9))),
                            "Transit": draw(st.integers(0, 2)),
                        }
                    )
            for customer in customers:
                if draw(st.integers(0, 4)) == 0:
                    rows.append(
                        {
                            "Site": site,
                            "Customer": customer,
                            "Region": None,
                            "Cost": float(draw(st.integers(0, 9))),
                            "Transit": draw(st.integers(0, 2)),
                        }
                    )
        lanes = pd.DataFrame(rows, columns=["Site", "Customer", "Region", "Cost", "Transit"])
    return Instance(
        supply=supply,
        demand=demand,
        customers=customer_table,
        lanes=lanes,
        calendar=calendar(periods),
        max_lateness=draw(st.integers(0, 2)),
    )
