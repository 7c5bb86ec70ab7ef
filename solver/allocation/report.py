"""The allocation's output tables, from the final solution of the staged LP.

Buckets stay bucket indexes (0 = the first bucket of the horizon); whoever writes the
tables turns them into dates or period numbers. Messages name buckets the planner's way
already (the bucket's start date, or its period number).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sheetloop.solver.allocation.lexicographic import StagedResult
from sheetloop.solver.allocation.lp import FloatArray
from sheetloop.solver.allocation.model import AllocationModel
from sheetloop.solver.buckets import Calendar

QTY_TOL = 1e-6  # quantities below this are solver noise
PRICE_TOL = 1e-7  # shadow prices below this are not bottlenecks
DECIMALS = 6

ALLOCATION_COLUMNS = ["Demand", "Customer", "Item", "Site", "Ship", "Qty", "Late", "Cost"]
STATUS_COLUMNS = [
    "Demand",
    "Customer",
    "Tier",
    "Item",
    "Qty",
    "Allocated",
    "Short",
    "Fill %",
    "Below Target",
]
BOTTLENECK_COLUMNS = ["Site", "Item", "Bucket", "Shadow Price", "Helps Tier"]
EXCEPTION_COLUMNS = ["Item", "Site", "Bucket", "Code", "Message"]


@dataclass(frozen=True)
class Tables:
    allocation: pd.DataFrame
    demand_status: pd.DataFrame
    bottlenecks: pd.DataFrame
    exceptions: pd.DataFrame


def label(calendar: Calendar, bucket: int) -> str:
    """A bucket as a planner reads it: its first day, or its period number."""
    if calendar.is_dated:
        return calendar.start_of(bucket).isoformat()
    return str(bucket + 1)


def number(value: float) -> str:
    return str(np.format_float_positional(round(float(value), 3), trim="-"))


def clean(values: FloatArray, precision: float) -> FloatArray:
    """Quantities as the solver meant them: what lies within the solver's precision of a
    whole number is that number (an LP with whole-number data mostly has whole-number
    optima; the last digits are the solver's rounding and the slack of held optima),
    the rest is rounded to ``DECIMALS``, and noise below ``QTY_TOL`` is zero."""
    nearest = np.round(values)
    snapped = np.where(
        np.abs(values - nearest) <= precision * np.maximum(1.0, np.abs(values)), nearest, values
    )
    out = np.asarray(np.round(snapped, DECIMALS), dtype=np.float64)
    out[np.abs(out) < QTY_TOL] = 0.0
    return out


def tables(model: AllocationModel, staged: StagedResult) -> Tables:
    """Allocation, DemandStatus, Bottlenecks and the allocation exceptions."""
    ship = clean(np.asarray(staged.x[: model.num_ship], dtype=np.float64), staged.precision)
    allocation = _allocation(model, ship)
    status = _demand_status(model, ship)
    return Tables(
        allocation=allocation,
        demand_status=status,
        bottlenecks=_bottlenecks(model, staged.tier_duals),
        exceptions=_exceptions(model, ship, status),
    )


def _allocation(model: AllocationModel, ship: FloatArray) -> pd.DataFrame:
    lines = model.data.lines
    used = np.flatnonzero(ship > QTY_TOL) if len(ship) else np.zeros(0, np.int64)
    line = model.ship_line[used]
    qty = ship[used]
    frame = pd.DataFrame(
        {
            "Demand": lines["Demand"].to_numpy(object)[line],
            "Customer": lines["Customer"].to_numpy(object)[line],
            "Item": lines["Item"].to_numpy(object)[line],
            "Site": model.data.pair_site[model.ship_pair[used]],
            "Ship": model.ship_bucket[used],
            "Qty": qty,
            "Late": model.ship_late[used],
            "Cost": np.round(qty * model.ship_cost[used], DECIMALS),
        },
        columns=ALLOCATION_COLUMNS,
    )
    frame["_line"] = line
    frame = frame.sort_values(["_line", "Ship", "Site"], kind="stable")
    return frame.drop(columns="_line").reset_index(drop=True)


def allocated_by_line(model: AllocationModel, ship: FloatArray) -> FloatArray:
    """Units allocated to each demand line."""
    counts = np.bincount(model.ship_line, weights=ship, minlength=len(model.data.lines))
    return np.asarray(counts, dtype=np.float64)


def _demand_status(model: AllocationModel, ship: FloatArray) -> pd.DataFrame:
    lines = model.data.lines
    qty = lines["Qty"].to_numpy(np.float64)
    allocated = np.minimum(np.round(allocated_by_line(model, ship), DECIMALS), qty)
    short = np.round(qty - allocated, DECIMALS)
    frame = pd.DataFrame(
        {
            "Demand": lines["Demand"].to_numpy(object),
            "Customer": lines["Customer"].to_numpy(object),
            "Tier": lines["Tier"].to_numpy(np.int64),
            "Item": lines["Item"].to_numpy(object),
            "Qty": qty,
            "Allocated": allocated,
            "Short": short,
            "Fill %": np.round(allocated / qty, DECIMALS) if len(qty) else np.zeros(0),
        }
    )
    # A customer is below target when its fill rate over all its lines is.
    customer = lines["Customer"]
    totals = pd.DataFrame({"c": customer, "q": qty, "a": allocated}).groupby("c")[["q", "a"]].sum()
    rate = (totals["a"] / totals["q"]).reindex(customer).to_numpy(np.float64)
    target = lines["Target"].to_numpy(np.float64)
    below = customer.notna().to_numpy() & ~np.isnan(target) & (rate < target - 1e-9)
    frame["Below Target"] = below
    return frame[STATUS_COLUMNS]


def _bottlenecks(model: AllocationModel, tier_duals: dict[int, FloatArray]) -> pd.DataFrame:
    """One row per (site, item) and price step: the most important tier that one more
    unit of supply would serve, and how many units of it one unit serves.

    Stock carries over, so a unit arriving earlier is worth at least as much as one
    arriving later: the prices of a (site, item) never rise with the bucket. Each row is
    the *last* bucket at which that price holds ("supply arriving by then is worth
    this"), so a short item gives one row per step, not one per bucket."""
    data = model.data
    n_pairs, periods = data.supply.shape
    found = np.zeros((n_pairs, periods), dtype=bool)
    tier = np.zeros((n_pairs, periods), dtype=np.int64)
    price = np.zeros((n_pairs, periods))
    line_tier = data.lines["Tier"].to_numpy(np.int64)
    buckets = np.arange(periods)[None, :]
    for k in sorted(tier_duals):
        duals = tier_duals[k].reshape(n_pairs, periods)
        # A unit arriving after the last bucket any of this tier's shipments can leave
        # serves nothing: a positive dual there is only degeneracy (the balance rows
        # chain through stock), so it is no bottleneck.
        last_ship = np.full(n_pairs, -1, dtype=np.int64)
        of_tier = line_tier[model.ship_line] == k
        np.maximum.at(last_ship, model.ship_pair[of_tier], model.ship_bucket[of_tier])
        usable = buckets <= last_ship[:, None]
        take = ~found & usable & (duals > PRICE_TOL)
        found |= take
        tier[take] = k
        price[take] = duals[take]
    price = np.round(price, DECIMALS)
    nxt_found = np.zeros_like(found)
    nxt_found[:, :-1] = found[:, 1:]
    same_next = np.zeros_like(found)
    same_next[:, :-1] = (tier[:, 1:] == tier[:, :-1]) & (price[:, 1:] == price[:, :-1])
    keep = found & ~(nxt_found & same_next)
    p, t = np.nonzero(keep)
    frame = pd.DataFrame(
        {
            "Site": data.pair_site[p],
            "Item": data.pair_item[p],
            "Bucket": t.astype(np.int64),
            "Shadow Price": price[p, t],
            "Helps Tier": tier[p, t],
        },
        columns=BOTTLENECK_COLUMNS,
    )
    frame = frame.sort_values(
        ["Helps Tier", "Shadow Price", "Site", "Item", "Bucket"],
        ascending=[True, False, True, True, True],
        kind="stable",
    )
    return frame.reset_index(drop=True)


def _exceptions(model: AllocationModel, ship: FloatArray, status: pd.DataFrame) -> pd.DataFrame:
    calendar = model.data.calendar
    lines = model.data.lines
    lateness = model.data.max_lateness
    demand = lines["Demand"].to_numpy(object)
    customer = lines["Customer"].to_numpy(object)
    item = lines["Item"].to_numpy(object)
    site = lines["Site"].to_numpy(object)
    tier = lines["Tier"].to_numpy(np.int64)
    due = lines["Due"].to_numpy(np.int64)
    qty = lines["Qty"].to_numpy(np.float64)
    short = status["Short"].to_numpy(np.float64)
    fill = status["Fill %"].to_numpy(np.float64)
    rows: list[tuple[object, object, int, str, str]] = []
    for i in np.flatnonzero(short > QTY_TOL).tolist():
        at = site[i] if isinstance(site[i], str) else None
        if model.line_row[i] < 0:
            where = f"at site {at}" if at else "on a lane to it"
            why = (
                f": no supply of {item[i]} {where} can arrive by "
                f"{label(calendar, int(due[i]) + lateness)}"
            )
        else:
            why = f" ({fill[i]:.0%} served)"
        rows.append(
            (
                item[i],
                at,
                int(due[i]),
                "SHORTAGE",
                f"demand {demand[i]}{_who(customer[i], int(tier[i]))} is short "
                f"{number(short[i])} of {number(qty[i])} due {label(calendar, int(due[i]))}{why}",
            )
        )
    late = np.flatnonzero((ship > QTY_TOL) & (model.ship_late > 0))
    for j in late.tolist():
        i, n, t = int(model.ship_line[j]), int(model.ship_late[j]), int(model.ship_bucket[j])
        rows.append(
            (
                item[i],
                model.data.pair_site[model.ship_pair[j]],
                t,
                "LATE",
                f"demand {demand[i]}{_who(customer[i], int(tier[i]))}: "
                f"{number(ship[j])} ship {label(calendar, t)} and arrive {n} "
                f"bucket{'s' if n != 1 else ''} after the due {label(calendar, int(due[i]))}",
            )
        )
    frame = pd.DataFrame(rows, columns=EXCEPTION_COLUMNS)
    if len(frame):
        frame = frame.sort_values(["Bucket", "Code", "Item"], kind="stable")
    return frame.reset_index(drop=True)


def _who(customer: object, tier: int) -> str:
    if isinstance(customer, str):
        return f" of {customer} (tier {tier})"
    return f" (tier {tier})"
