"""Published MRP records as plan() inputs, and their expected rows."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from sheetloop.solver.buckets import Calendar
from sheetloop.solver.mrp import MrpResult, plan

SHARED = Path(__file__).parents[2] / ".." / "shared" / "reference-cases" / "mrp"
OWN = Path(__file__).parents[1] / "solver" / "reference_cases" / "mrp"


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def run_case(case: dict[str, Any]) -> MrpResult:
    """Plan a reference case with period buckets numbered from 1 as in the sources."""
    items = pd.DataFrame(
        [
            {
                "Item": i["item"],
                "Lead Time": float(i.get("lead_time", 0)),
                "Safety Stock": float(i.get("safety_stock", 0)),
                "Lot Rule": i.get("lot_rule", "L4L"),
                "Lot Size": i.get("lot_size"),
                "POQ Periods": i.get("poq_periods"),
                "Min Order Qty": float(i.get("min_order_qty", 0) or 0),
                "Order Multiple": i.get("order_multiple"),
                "Assembly Scrap %": float(i.get("scrap_pct", 0) or 0),
                "Setup Cost": i.get("setup_cost"),
                "Holding Cost": i.get("holding_cost"),
            }
            for i in case["items"]
        ]
    )
    for c in ("Lot Size", "POQ Periods", "Order Multiple", "Setup Cost", "Holding Cost"):
        items[c] = pd.to_numeric(items[c])
    bom = pd.DataFrame(
        [
            {
                "Parent": b["parent"],
                "Component": b["component"],
                "Qty Per": float(b["qty_per"]),
                "Scrap %": float(b.get("scrap_pct", 0)),
            }
            for b in case["bom"]
        ],
        columns=["Parent", "Component", "Qty Per", "Scrap %"],
    )
    inventory = pd.DataFrame(
        [
            {
                "Item": i["item"],
                "Site": "MAIN",
                "On Hand": float(i["on_hand"]),
                "Allocated": float(i.get("allocated", 0)),
            }
            for i in case["items"]
        ]
    )
    demand = pd.DataFrame(
        [
            {
                "Demand": f"G{k}",
                "Item": g["item"],
                "Site": "MAIN",
                "Due": float(g["period"]),
                "Qty": float(g["qty"]),
                "Kind": "order",
            }
            for k, g in enumerate(case["gross_requirements"])
        ],
        columns=["Demand", "Item", "Site", "Due", "Qty", "Kind"],
    )
    receipts = pd.DataFrame(
        [
            {
                "Order": f"R{k}",
                "Item": r["item"],
                "Site": "MAIN",
                "Due": float(r["period"]),
                "Qty": float(r["qty"]),
            }
            for k, r in enumerate(case["scheduled_receipts"])
        ],
        columns=["Order", "Item", "Site", "Due", "Qty"],
    )
    calendar = Calendar.create("period", dt.date(2000, 1, 1), int(case["periods"]))
    return plan(
        items=items,
        calendar=calendar,
        bom=bom,
        inventory=inventory,
        receipts=receipts,
        demand=demand,
    )


def row(result: MrpResult, item: str, line: str) -> list[float]:
    """One line of an item's record, as a list over the periods."""
    k = int((result.records["Item"] == item).to_numpy().nonzero()[0][0])
    arrays = {
        "gross": result.gross,
        "scheduled": result.scheduled,
        "projected_on_hand": result.on_hand,
        "net_requirements": result.net,
        "planned_order_receipts": result.receipts,
        "planned_order_releases": result.releases,
    }
    return [round(float(v), 6) for v in arrays[line][k]]


def expected_row(case: dict[str, Any], item: str, line: str) -> list[float]:
    value = case["expected"][line][item]
    if isinstance(value, list):
        return [float(v) for v in value]
    out = [0.0] * int(case["periods"])
    for period, qty in value.items():
        out[int(period) - 1] = float(qty)
    return out


def reference_plan(
    items_frame: pd.DataFrame,
    bom: pd.DataFrame,
    inventory: pd.DataFrame,
    open_receipts: pd.DataFrame,
    demand: pd.DataFrame,
    T: int,
) -> dict[str, dict[str, list[float]]]:
    """The textbook procedure, one item and one bucket at a time (period buckets)."""
    items = items_frame.set_index("Item")
    order = _topological(list(items.index), bom)
    gross = {i: [0.0] * T for i in items.index}
    for d in demand.itertuples():
        gross[d.Item][max(int(d.Due) - 1, 0)] += d.Qty
    stock = inventory.groupby("Item")["On Hand"].sum().to_dict()
    out: dict[str, dict[str, list[float]]] = {}
    for item in order:
        p = items.loc[item]
        sched = [0.0] * T
        for r in open_receipts[open_receipts["Item"] == item].itertuples():
            sched[int(r.Due) - 1] += r.Qty
        poh = float(stock.get(item, 0.0))
        good_share = 1 - p["Assembly Scrap %"] / 100
        receipts, qtys, ohs = [0.0] * T, [0.0] * T, [0.0] * T
        for t in range(T):
            available = poh + sched[t] - gross[item][t]
            need = p["Safety Stock"] - available
            if need > 1e-9:
                amount = need
                if p["Lot Rule"] == "POQ":
                    end = min(t + int(p["POQ Periods"]) - 1, T - 1)
                    later = sum(sched[k] - gross[item][k] for k in range(t + 1, end + 1))
                    amount = max(need, need - later)
                if p["Lot Rule"] == "FOQ":
                    amount = math.ceil(amount / p["Lot Size"] - 1e-9) * p["Lot Size"]
                qty = max(amount / good_share, p["Min Order Qty"])
                if not math.isnan(p["Order Multiple"]):
                    qty = math.ceil(qty / p["Order Multiple"] - 1e-9) * p["Order Multiple"]
                qtys[t] = qty
                receipts[t] = qty * good_share
                available += receipts[t]
            ohs[t] = available
            poh = available
        releases = [0.0] * T
        for t in range(T):
            releases[max(t - int(p["Lead Time"]), 0)] += qtys[t]
        for e in bom[bom["Parent"] == item].itertuples():
            per = e._3 * (1 + e._4 / 100)
            for t in range(T):
                gross[e.Component][t] += releases[t] * per
        out[item] = {
            "receipts": receipts,
            "releases": releases,
            "on_hand": ohs,
            "gross": gross[item],
        }
    return out


def _topological(items: list[str], bom: pd.DataFrame) -> list[str]:
    level = dict.fromkeys(items, 0)
    for _ in items:
        for e in bom.itertuples():
            level[e.Component] = max(level[e.Component], level[e.Parent] + 1)
    return sorted(items, key=lambda i: level[i])
