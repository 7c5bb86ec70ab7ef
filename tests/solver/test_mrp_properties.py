"""MRP on random networks: the vectorised engine equals a deliberately simple reference,
and every plan keeps the material balance, safety stock, lot rules and pegging totals."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.mrp_reference import reference_plan

from sheetloop.solver.buckets import Calendar
from sheetloop.solver.mrp import MrpResult, plan
from sheetloop.solver.pegging import peg

T = 8


@dataclass
class Network:
    items: pd.DataFrame
    bom: pd.DataFrame
    inventory: pd.DataFrame
    receipts: pd.DataFrame
    demand: pd.DataFrame


@st.composite
def networks(draw: st.DrawFn) -> Network:
    n = draw(st.integers(1, 6))
    names = [f"I{i}" for i in range(n)]
    rows = []
    for name in names:
        rule = draw(st.sampled_from(["L4L", "FOQ", "POQ"]))
        rows.append(
            {
                "Item": name,
                "Lead Time": float(draw(st.integers(0, 2))),
                "Safety Stock": float(draw(st.sampled_from([0, 0, 3, 10]))),
                "Lot Rule": rule,
                "Lot Size": float(draw(st.integers(1, 25))) if rule == "FOQ" else np.nan,
                "POQ Periods": float(draw(st.integers(1, 3))) if rule == "POQ" else np.nan,
                "Min Order Qty": float(draw(st.sampled_from([0, 0, 12]))),
                "Order Multiple": float(draw(st.sampled_from([np.nan, np.nan, 5]))),
                "Assembly Scrap %": float(draw(st.sampled_from([0, 0, 10]))),
            }
        )
    edges = []
    for i in range(n):
        for j in range(i + 1, n):
            if draw(st.integers(0, 3)) == 0:
                edges.append(
                    {
                        "Parent": names[i],
                        "Component": names[j],
                        "Qty Per": float(draw(st.sampled_from([1, 2, 0.5]))),
                        "Scrap %": float(draw(st.sampled_from([0, 0, 20]))),
                    }
                )
    demand = [
        {
            "Demand": f"D{k}",
            "Item": draw(st.sampled_from(names)),
            "Site": "MAIN",
            "Due": float(draw(st.integers(0, T))),
            "Qty": float(draw(st.integers(1, 40))),
            "Kind": "order",
        }
        for k in range(draw(st.integers(0, 8)))
    ]
    receipts = [
        {
            "Order": f"R{k}",
            "Item": draw(st.sampled_from(names)),
            "Site": "MAIN",
            "Due": float(draw(st.integers(1, T))),
            "Qty": float(draw(st.integers(1, 30))),
        }
        for k in range(draw(st.integers(0, 3)))
    ]
    inventory = [
        {"Item": name, "Site": "MAIN", "On Hand": float(draw(st.integers(0, 30))), "Allocated": 0.0}
        for name in names
    ]
    return Network(
        pd.DataFrame(rows),
        pd.DataFrame(edges, columns=["Parent", "Component", "Qty Per", "Scrap %"]),
        pd.DataFrame(inventory),
        pd.DataFrame(receipts, columns=["Order", "Item", "Site", "Due", "Qty"]),
        pd.DataFrame(demand, columns=["Demand", "Item", "Site", "Due", "Qty", "Kind"]),
    )


def run(net: Network) -> MrpResult:
    return plan(
        items=net.items,
        calendar=Calendar.create("period", dt.date(2000, 1, 1), T),
        bom=net.bom,
        inventory=net.inventory,
        receipts=net.receipts,
        demand=net.demand,
    )


@settings(max_examples=120, deadline=None)
@given(networks())
def test_the_vectorised_engine_equals_the_simple_reference(net: Network):
    result = run(net)
    expected = reference_plan(net.items, net.bom, net.inventory, net.receipts, net.demand, T)
    for k, item in enumerate(result.records["Item"]):
        for name, array in (
            ("receipts", result.receipts),
            ("releases", result.releases),
            ("on_hand", result.on_hand),
            ("gross", result.gross),
        ):
            assert array[k].tolist() == pytest.approx(expected[item][name]), (item, name)


@settings(max_examples=120, deadline=None)
@given(networks())
def test_every_plan_keeps_the_material_balance_and_safety_stock(net: Network):
    result = run(net)
    start = np.concatenate([result.initial[:, None], result.on_hand[:, :-1]], axis=1)
    balance = start + result.scheduled + result.receipts - result.gross
    assert np.allclose(balance, result.on_hand)
    ss = result.records["Safety Stock"].to_numpy()[:, None]
    below = result.on_hand < ss - 1e-9
    flagged = set(
        zip(
            result.exceptions.query("Code == 'BELOW_SAFETY_STOCK'")["Item"],
            result.exceptions.query("Code == 'BELOW_SAFETY_STOCK'")["Site"],
            strict=True,
        )
    )
    for k in np.flatnonzero(below.any(axis=1)):
        assert (result.records["Item"].iat[k], result.records["Site"].iat[k]) in flagged


@settings(max_examples=120, deadline=None)
@given(networks())
def test_every_order_obeys_its_lot_rule_and_the_order_quantity_steps(net: Network):
    result = run(net)
    items = net.items.set_index("Item")
    for o in result.planned_orders.itertuples():
        p = items.loc[o.Item]
        assert o.Qty >= p["Min Order Qty"] - 1e-9
        if not math.isnan(p["Order Multiple"]):
            assert o.Qty / p["Order Multiple"] == pytest.approx(round(o.Qty / p["Order Multiple"]))
        good = o.Qty * (1 - p["Assembly Scrap %"] / 100)
        assert o._8 == pytest.approx(good)  # Good Qty
        if (
            p["Lot Rule"] == "FOQ"
            and p["Min Order Qty"] == 0
            and math.isnan(p["Order Multiple"])
            and p["Assembly Scrap %"] == 0
        ):
            assert o.Qty / p["Lot Size"] == pytest.approx(round(o.Qty / p["Lot Size"]))


@settings(max_examples=120, deadline=None)
@given(networks())
def test_pegged_quantities_and_marked_excess_sum_to_each_orders_good_quantity(net: Network):
    result = run(net)
    pegging = peg(result)
    totals = pegging.groupby("Order")["Qty"].sum()
    for o in result.planned_orders.itertuples():
        assert totals.get(o.Order, 0.0) == pytest.approx(o._8, abs=1e-4)  # rows rounded to 1e-6
