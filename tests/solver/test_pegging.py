"""Pegging: which demands each order serves, how many it lists, and its summaries."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from sheetloop.solver.buckets import Calendar
from sheetloop.solver.mrp import MrpResult, plan
from sheetloop.solver.pegging import LOT_EXCESS, OTHER_DEMANDS, peg, pegged_to


def test_pegged_to_lists_the_first_demands_then_how_many_more():
    pegging = pd.DataFrame(
        {
            "Order": ["O1"] * 5 + ["O2", "O2"],
            "Demand": ["SO-1", "SO-2", "SO-3", "SO-4", "SO-5", "SO-9", LOT_EXCESS],
            "Qty": [1.0] * 7,
        }
    )
    assert pegged_to(pd.Series(["O1", "O2", "O3"]), pegging) == [
        "SO-1, SO-2, SO-3 +2 more",
        "SO-9",
        "",
    ]


def test_pegged_to_never_exceeds_a_cell():
    pegging = pd.DataFrame(
        {"Order": ["O1"] * 3, "Demand": ["X" * 200, "Y" * 200, "Z"], "Qty": [1.0] * 3}
    )
    assert len(pegged_to(pd.Series(["O1"]), pegging)[0]) <= 250


def items(*rows: dict[str, object]) -> pd.DataFrame:
    """Items with every planning column: L4L, no lead time, unless a row says otherwise."""
    defaults = {
        "Lead Time": 0.0,
        "Safety Stock": 0.0,
        "Lot Rule": "L4L",
        "Lot Size": np.nan,
        "POQ Periods": np.nan,
        "Min Order Qty": 0.0,
        "Order Multiple": np.nan,
        "Assembly Scrap %": 0.0,
    }
    return pd.DataFrame([{**defaults, **row} for row in rows])


def demand(*lines: tuple[str, str, float, float]) -> pd.DataFrame:
    """(Demand, Item, Due period, Qty) order lines at MAIN."""
    frame = pd.DataFrame(lines, columns=["Demand", "Item", "Due", "Qty"])
    return frame.assign(Site="MAIN", Kind="order")


def plan_periods(
    item_rows: pd.DataFrame, lines: pd.DataFrame, bom: pd.DataFrame | None = None
) -> MrpResult:
    return plan(
        items=item_rows,
        calendar=Calendar.create("period", dt.date(2026, 11, 30), 4),
        bom=bom,
        demand=lines,
    )


def rows_of(pegging: pd.DataFrame) -> list[tuple[str, str, float]]:
    return [(str(o), str(d), q) for o, d, q in pegging.itertuples(index=False)]


# One order of a lot of 100 serves three demands of the same week; 40 is left over.
LOT = items({"Item": "BIKE", "Lot Rule": "FOQ", "Lot Size": 100.0})
THREE = demand(("D1", "BIKE", 1, 30.0), ("D2", "BIKE", 1, 20.0), ("D3", "BIKE", 1, 10.0))


def test_an_order_lists_its_demands_then_what_no_demand_takes():
    result = plan_periods(LOT, THREE)
    (order,) = result.planned_orders["Order"]
    assert rows_of(peg(result)) == [
        (order, "D1", 30.0),
        (order, "D2", 20.0),
        (order, "D3", 10.0),
        (order, LOT_EXCESS, 40.0),
    ]


def test_an_order_lists_as_many_demands_as_asked_and_sums_the_rest():
    result = plan_periods(LOT, THREE)
    (order,) = result.planned_orders["Order"]
    # The largest demand, the rest as one row; the lot excess is no demand: a row of its own.
    assert rows_of(peg(result, max_demands=1)) == [
        (order, "D1", 30.0),
        (order, LOT_EXCESS, 40.0),
        (order, OTHER_DEMANDS, 30.0),
    ]
    assert [d for _, d, _ in rows_of(peg(result, max_demands=2))] == [
        "D1",
        "D2",
        LOT_EXCESS,
        OTHER_DEMANDS,
    ]


def test_of_equal_demands_the_one_due_first_is_listed():
    lines = demand(("LATE", "BIKE", 2, 25.0), ("EARLY", "BIKE", 1, 25.0))
    result = plan_periods(items({"Item": "BIKE", "Lot Rule": "FOQ", "Lot Size": 50.0}), lines)
    assert [d for _, d, _ in rows_of(peg(result, max_demands=1))] == ["EARLY", OTHER_DEMANDS]


def test_a_component_order_inherits_its_parents_demands_and_excess_under_the_cap():
    bom = pd.DataFrame(
        {"Parent": ["BIKE"], "Component": ["WHEEL"], "Qty Per": [2.0], "Scrap %": [0.0]}
    )
    result = plan_periods(pd.concat([LOT, items({"Item": "WHEEL"})], ignore_index=True), THREE, bom)
    wheel = result.planned_orders.query("Item == 'WHEEL'")["Order"].iloc[0]
    # 200 wheels for the lot of 100 bikes: in proportion, 60 for D1, 80 of excess.
    listed = [(d, q) for o, d, q in rows_of(peg(result, max_demands=1)) if o == wheel]
    assert listed == [("D1", 60.0), (LOT_EXCESS, 80.0), (OTHER_DEMANDS, 60.0)]


def test_pegging_stays_exact_when_a_big_plan_runs_to_billions():
    # 3,000 items of 10 million units each: running totals over every item reach 3e10,
    # where a float cannot tell pieces of a few millionths apart. Each order serves its
    # own item's demand, whole, and nothing else.
    n = 3_000
    names = [f"I{k}" for k in range(n)]
    lines = demand(*((f"D{k}", names[k], 2, 1e7 + 0.3 + k / 100) for k in range(n)))
    result = plan_periods(items(*({"Item": name} for name in names)), lines)
    pegging = peg(result).astype({"Order": str, "Demand": str})
    item_of = dict(zip(result.planned_orders["Order"], result.planned_orders["Item"], strict=True))
    assert len(pegging) == n
    assert (pegging["Order"].map(item_of).str[1:] == pegging["Demand"].str[1:]).all()
    wanted = dict(zip(lines["Demand"], lines["Qty"].round(6), strict=True))
    assert dict(zip(pegging["Demand"], pegging["Qty"], strict=True)) == wanted


def test_the_table_shares_its_ids_and_has_no_row_of_nothing():
    result = plan_periods(LOT, THREE)
    pegging = peg(result)
    # Tens of millions of rows in a big plan: ids are categories, a row costs 16 bytes.
    assert pegging.memory_usage(index=False).sum() <= 16 * len(pegging) + 1_000
    assert list(pegging["Order"].cat.categories) == result.planned_orders["Order"].tolist()
    assert (pegging["Qty"] > 0).all()


def test_an_order_lists_at_least_one_demand():
    with pytest.raises(ValueError, match="at least one demand"):
        peg(plan_periods(LOT, THREE), max_demands=0)


def test_pegged_to_reads_the_categorical_table_peg_makes():
    result = plan_periods(LOT, THREE)
    orders = result.planned_orders["Order"]
    assert pegged_to(orders, peg(result)) == ["D1, D2, D3"]
    assert pegged_to(orders, peg(result), shown=1) == ["D1 +2 more"]


def test_pegged_to_keeps_demand_names_that_break_lines():
    pegging = pd.DataFrame({"Order": ["O1", "O1"], "Demand": ["SO\n1", "SO-2"], "Qty": [1.0, 1.0]})
    assert pegged_to(pd.Series(["O1"]), pegging) == ["SO\n1, SO-2"]


@pytest.mark.parametrize("cap", [1, 2, 10])
def test_whatever_the_cap_each_order_is_pegged_whole_and_lists_at_most_that_many(cap: int):
    rng = np.random.default_rng(cap)
    names = [f"I{k}" for k in range(12)]
    rows = [
        {"Item": name, "Lot Rule": "FOQ", "Lot Size": float(rng.integers(5, 60))}
        if k % 3
        else {"Item": name, "Safety Stock": float(rng.integers(0, 20))}
        for k, name in enumerate(names)
    ]
    edges = [
        (names[a], names[b]) for a in range(12) for b in range(a + 1, 12) if rng.random() < 0.3
    ]
    bom = pd.DataFrame(edges, columns=["Parent", "Component"]).assign(
        **{"Qty Per": 1.5, "Scrap %": 0.0}
    )
    lines = demand(
        *(
            (
                f"D{k}",
                names[int(rng.integers(0, 12))],
                int(rng.integers(0, 4)),
                float(rng.integers(1, 40)),
            )
            for k in range(40)
        )
    )
    result = plan_periods(items(*rows), lines, bom)
    pegging = peg(result, max_demands=cap).astype({"Order": str, "Demand": str})
    good = result.planned_orders.set_index("Order")["Good Qty"]
    totals = pegging.groupby("Order")["Qty"].sum().reindex(good.index, fill_value=0.0)
    assert np.allclose(totals, good, atol=1e-5)
    real = pegging[~pegging["Demand"].isin([LOT_EXCESS, OTHER_DEMANDS, "(safety stock)"])]
    assert real.groupby("Order").size().max() <= cap
