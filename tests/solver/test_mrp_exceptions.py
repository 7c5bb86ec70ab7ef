"""Past-due releases are reported once per item and site, naming the most overdue order."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from sheetloop.solver.buckets import Calendar
from sheetloop.solver.mrp import plan


def test_one_past_due_release_per_record_names_its_most_overdue_order_and_counts_the_rest():
    calendar = Calendar.create("period", dt.date(2026, 11, 30), 6)
    items = pd.DataFrame({"Item": ["A", "B"], "Lead Time": [3, 1], "Type": ["buy", "buy"]})
    demand = pd.DataFrame(
        {
            "Demand": ["D1", "D2", "D3"],
            "Item": ["A", "A", "B"],
            "Site": "MAIN",
            "Due": [1.0, 2.0, 1.0],
            "Qty": [5.0, 7.0, 2.0],
        }
    )
    result = plan(items=items, calendar=calendar, demand=demand)
    late = result.exceptions[result.exceptions["Code"] == "PAST_DUE_RELEASE"]
    assert late[["Item", "Site", "Bucket"]].to_dict("records") == [
        {"Item": "A", "Site": "MAIN", "Bucket": 0},
        {"Item": "B", "Site": "MAIN", "Bucket": 0},
    ]
    assert late["Message"].tolist() == [
        "planned order A@MAIN#1 (and 1 more) should have been released 3 bucket(s) "
        "before the horizon: expedite it",
        "planned order B@MAIN#1 should have been released 1 bucket(s) before the horizon: "
        "expedite it",
    ]
