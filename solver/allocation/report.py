"""The allocation's output tables, from the final solution of the staged LP.

Buckets stay bucket indexes (0 = the first bucket of the horizon); whoever writes the
tables turns them into dates or period numbers. Messages name buckets the planner's way
already (the bucket's start date, or its period number).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
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
        bottlenecks=_bottlenecks(model, staged.tier_duals, status["Short"].to_numpy() > QTY_TOL),
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


def _bottlenecks(
    model: AllocationModel, tier_duals: dict[int, FloatArray], short: npt.NDArray[np.bool_]
) -> pd.DataFrame:
    """One row per (site, item) and price step: the most important tier that one more
    unit of supply would serve, and how many units of it one unit serves (``short``: the
    lines not served in full).

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
    item_of, items = pd.factorize(
        np.concatenate([data.lines["Item"].to_numpy(object), data.pair_item])
    )
    line_item, pair_item = item_of[: len(line_tier)], item_of[len(line_tier) :]
    servable_short = short & (model.line_row >= 0)
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
        # More of an item serves no more of a tier that has every line of it in full. Its
        # dual may still be positive: where supply exactly matches demand the optimum is
        # degenerate, and the solver may price the supply rather than the demand.
        wanting = np.zeros(len(items), dtype=bool)
        wanting[line_item[servable_short & (line_tier == k)]] = True
        usable &= wanting[pair_item][:, None]
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
    """``SHORTAGE`` per short line, ``LATE`` per late shipment. A big run has hundreds of
    thousands of them, so messages are assembled column by column, each distinct number
    and bucket formatted once."""
    lines = model.data.lines
    lateness = model.data.max_lateness
    item = lines["Item"].to_numpy(object)
    due = lines["Due"].to_numpy(np.int64)
    short = status["Short"].to_numpy(np.float64)
    demand = _demand_of(lines)
    labels = _labels(model.data.calendar, int(due.max(initial=0)) + lateness + 1)

    i = np.flatnonzero(short > QTY_TOL)
    # Codes are text or missing (``inputs.codes``).
    has_site = lines["Site"].notna().to_numpy()[i]
    at = lines["Site"].to_numpy(object)[i]
    at[~has_site] = None
    where = np.where(has_site, _cat("at site ", np.where(has_site, at, "")), "on a lane to it")
    why = np.where(
        model.line_row[i] < 0,
        _cat(": no supply of ", item[i], " ", where, " can arrive by ", labels[due[i] + lateness]),
        _cat(" (", _each(status["Fill %"].to_numpy(np.float64)[i], "{:.0%}".format), " served)"),
    )
    message = _cat(
        demand[i],
        " is short ",
        _each(short[i], number),
        " of ",
        _each(lines["Qty"].to_numpy(np.float64)[i], number),
        " due ",
        labels[due[i]],
        why,
    )
    shortage = _exception_rows(item[i], at, due[i], "SHORTAGE", message)

    j = np.flatnonzero((ship > QTY_TOL) & (model.ship_late > 0))
    line, late, bucket = model.ship_line[j], model.ship_late[j], model.ship_bucket[j]
    message = _cat(
        demand[line],
        ": ",
        _each(ship[j], number),
        " ship ",
        labels[bucket],
        " and arrive ",
        _each(late, str),
        np.where(late != 1, " buckets", " bucket").astype(object),
        " after the due ",
        labels[due[line]],
    )
    late_rows = _exception_rows(
        item[line], model.data.pair_site[model.ship_pair[j]], bucket, "LATE", message
    )

    if not len(i) and not len(j):
        return pd.DataFrame([], columns=EXCEPTION_COLUMNS)
    # One frame from whole columns, so that pandas infers each column's type once.
    frame = pd.DataFrame(
        {
            name: np.concatenate([shortage[k], late_rows[k]])
            for k, name in enumerate(EXCEPTION_COLUMNS)
        }
    )
    frame = frame.sort_values(["Bucket", "Code", "Item"], kind="stable")
    return frame.reset_index(drop=True)


def _exception_rows(
    item: npt.NDArray[np.object_],
    site: npt.NDArray[np.object_],
    bucket: npt.NDArray[np.int64],
    code: str,
    message: npt.NDArray[np.object_],
) -> list[npt.NDArray[Any]]:
    """The columns of ``EXCEPTION_COLUMNS``."""
    return [item, site, bucket.astype(np.int64), np.full(len(item), code, dtype=object), message]


def _demand_of(lines: pd.DataFrame) -> npt.NDArray[np.object_]:
    """Per line: ``demand SO-1 of ACME (tier 1)``, or ``demand SO-1 (tier 3)`` when the
    line has no customer."""
    named = lines["Customer"].notna().to_numpy()
    customer = np.where(named, lines["Customer"].to_numpy(object), "")
    of = np.where(named, _cat(" of ", customer), "")
    tier = _each(lines["Tier"].to_numpy(np.int64), str)
    return _cat("demand ", lines["Demand"].to_numpy(object), of, " (tier ", tier, ")")


def _labels(calendar: Calendar, count: int) -> npt.NDArray[np.object_]:
    """``label`` of buckets 0 .. count - 1."""
    return np.array([label(calendar, b) for b in range(count)], dtype=object)


def _each(values: npt.NDArray[Any], text: Callable[[Any], str]) -> npt.NDArray[np.object_]:
    """``text`` of every value, called once per distinct value."""
    if not len(values):
        return np.zeros(0, dtype=object)
    distinct, position = np.unique(values, return_inverse=True)
    texts = np.array([text(v) for v in distinct.tolist()], dtype=object)
    out: npt.NDArray[np.object_] = texts[position.reshape(-1)]
    return out


def _cat(*parts: str | npt.NDArray[Any]) -> npt.NDArray[np.object_]:
    """Element-wise concatenation of text arrays (and constant texts)."""
    out: Any = np.asarray(parts[0], dtype=object)
    for part in parts[1:]:
        out = out + np.asarray(part, dtype=object)
    return np.asarray(out, dtype=object)
