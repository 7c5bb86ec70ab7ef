"""Forecast consumption (contract §1.2, Demand): gross = max(orders, forecast) per bucket;
with day buckets, an ISO week's orders consume its forecast from its earliest day on."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from sheetloop.solver.buckets import Calendar
from sheetloop.solver.mrp import plan

MONDAY = dt.date(2026, 11, 30)


def gross(calendar: Calendar, demand: list[tuple[str, dt.date, float]]) -> list[float]:
    frame = pd.DataFrame(
        [
            {
                "Demand": f"D{k}",
                "Item": "A",
                "Site": "MAIN",
                "Due": pd.Timestamp(day),
                "Qty": qty,
                "Kind": kind,
            }
            for k, (kind, day, qty) in enumerate(demand)
        ]
    )
    result = plan(items=pd.DataFrame({"Item": ["A"]}), calendar=calendar, demand=frame)
    return result.gross[0].tolist()


def test_weekly_gross_is_the_larger_of_orders_and_forecast():
    week = Calendar.create("week", MONDAY, 3)
    assert gross(
        week,
        [
            ("forecast", MONDAY, 10),
            ("order", MONDAY + dt.timedelta(days=2), 4),
            ("forecast", MONDAY + dt.timedelta(weeks=1), 5),
            ("order", MONDAY + dt.timedelta(weeks=1), 8),
            ("order", MONDAY + dt.timedelta(weeks=2), 3),
        ],
    ) == [10, 8, 3]


def test_daily_orders_consume_the_weeks_forecast_from_its_earliest_day_on():
    day = Calendar.create("day", MONDAY, 7)
    # Forecast 10 on Monday and 10 on Wednesday; an order of 15 on Tuesday consumes
    # Monday's 10 and 5 of Wednesday's: Tuesday 15, Wednesday 5 (the week still sums to 20).
    result = gross(
        day,
        [
            ("forecast", MONDAY, 10),
            ("forecast", MONDAY + dt.timedelta(days=2), 10),
            ("order", MONDAY + dt.timedelta(days=1), 15),
        ],
    )
    assert result == [0, 15, 5, 0, 0, 0, 0]


def test_forecast_of_another_item_or_week_is_not_consumed():
    day = Calendar.create("day", MONDAY, 14)
    result = gross(day, [("forecast", MONDAY + dt.timedelta(days=7), 6), ("order", MONDAY, 4)])
    assert result[0] == 4 and result[7] == 6
