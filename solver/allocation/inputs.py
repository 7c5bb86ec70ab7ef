"""Allocation inputs: the contract's frames turned into index arrays for the LP.

Supply is summed per (site, item, bucket): quantities before the horizon count in the
first bucket, quantities from the horizon's end on are outside the plan, and a negative
sum counts as zero. Demand due before the horizon counts as due in the first bucket;
demand due after the horizon is outside the plan (counted in ``beyond_horizon``).

An *arc* is a (demand line, site) pair the model may ship on: the site has supply of the
line's item, and either the line names that site (then it is served from there only, over
the customer's lane if one exists, else at cost 0 and transit 0) or the line names no
site and a lane reaches its customer (the customer's own lane wins over its region's).
Without a lanes table every site serves every customer at cost 0, transit 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from sheetloop.errors import SolverError
from sheetloop.solver.buckets import Calendar

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

DEFAULT_SITE = "MAIN"
DEFAULT_TIER = 3
LINE_COLUMNS = ["Demand", "Customer", "Item", "Site", "Tier", "Due", "Qty", "Target", "Group"]


@dataclass(frozen=True)
class AllocationData:
    """Everything the LP needs, by position.

    ``lines`` has one row per demand line inside the horizon (columns ``LINE_COLUMNS``;
    ``Due`` is a bucket index, ``Group`` numbers the (tier, customer, item) groups whose
    fill rates are shared fairly). ``supply[p, t]`` is the supply of pair ``p``
    (``pair_site[p]``, ``pair_item[p]``) arriving in bucket ``t``. Arcs are given by
    ``arc_line``, ``arc_pair``, ``arc_transit`` (buckets) and ``arc_cost`` (per unit)."""

    calendar: Calendar
    max_lateness: int
    lines: pd.DataFrame
    pair_site: npt.NDArray[np.object_]
    pair_item: npt.NDArray[np.object_]
    supply: FloatArray
    arc_line: IntArray
    arc_pair: IntArray
    arc_transit: IntArray
    arc_cost: FloatArray
    beyond_horizon: int

    @property
    def periods(self) -> int:
        return self.calendar.periods


def prepare(
    *,
    supply: pd.DataFrame,
    demand: pd.DataFrame,
    calendar: Calendar,
    customers: pd.DataFrame | None = None,
    lanes: pd.DataFrame | None = None,
    max_lateness: int = 4,
) -> AllocationData:
    """Check and index the inputs (see the module docstring for the rules)."""
    if max_lateness < 0 or int(max_lateness) != max_lateness:
        raise SolverError(f"Max Lateness must be a whole number of buckets ≥ 0, not {max_lateness}")
    lines, beyond = _lines(demand, customers, calendar)
    pair_site, pair_item, grid = _supply(supply, calendar)
    arcs = _arcs(lines, pair_site, pair_item, lanes)
    return AllocationData(
        calendar=calendar,
        max_lateness=int(max_lateness),
        lines=lines,
        pair_site=pair_site,
        pair_item=pair_item,
        supply=grid,
        arc_line=arcs["line"].to_numpy(np.int64),
        arc_pair=arcs["pair"].to_numpy(np.int64),
        arc_transit=arcs["Transit"].to_numpy(np.int64),
        arc_cost=arcs["Cost"].to_numpy(np.float64),
        beyond_horizon=beyond,
    )


def codes(values: pd.Series) -> pd.Series:
    """Codes as text, blanks as missing: ``123.0`` read from a number cell is ``"123"``."""

    def one(v: object) -> object:
        if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
            return None
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        text = str(v).strip()
        return text if text else None

    return values.astype(object).map(one).astype(object)


def _column(frame: pd.DataFrame, name: str, default: object = None) -> pd.Series:
    if name in frame.columns:
        return frame[name]
    return pd.Series([default] * len(frame), index=frame.index, dtype=object)


def _numbers(frame: pd.DataFrame, name: str, table: str, default: float | None) -> FloatArray:
    raw = _column(frame, name, np.nan if default is None else default)
    values = pd.to_numeric(raw, errors="coerce").to_numpy(np.float64)
    if default is not None:
        values = np.where(np.isnan(values), default, values)
    bad = ~np.isfinite(values)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise SolverError(
            f"the allocation model cannot be built: {table} row {row + 1} has no valid "
            f"{name} ({raw.iloc[row]!r}); correct it (sheetloop check lists every problem)"
        )
    return values


def _buckets(frame: pd.DataFrame, name: str, table: str, calendar: Calendar) -> IntArray:
    raw = _column(frame, name)
    if calendar.is_dated:
        stamps = pd.to_datetime(raw, errors="coerce")
        bad = stamps.isna().to_numpy()
    else:
        stamps = pd.to_numeric(raw, errors="coerce")
        bad = ~np.isfinite(stamps.to_numpy(np.float64))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        kind = "date" if calendar.is_dated else "period number"
        raise SolverError(
            f"the allocation model cannot be built: {table} row {row + 1} has no valid "
            f"{name} {kind} ({raw.iloc[row]!r}); correct it (sheetloop check lists every problem)"
        )
    return calendar.index_of(stamps)


def _lines(
    demand: pd.DataFrame, customers: pd.DataFrame | None, calendar: Calendar
) -> tuple[pd.DataFrame, int]:
    qty = _numbers(demand, "Qty", "Demand", None)
    due = _buckets(demand, "Due", "Demand", calendar)
    lines = pd.DataFrame(
        {
            "Demand": codes(_column(demand, "Demand")).to_numpy(object),
            "Customer": codes(_column(demand, "Customer")).to_numpy(object),
            "Item": codes(_column(demand, "Item")).to_numpy(object),
            "Site": codes(_column(demand, "Site")).to_numpy(object),
            "Due": np.maximum(due, 0),
            "Qty": qty,
        }
    )
    missing = lines["Demand"].isna() | lines["Item"].isna()
    if missing.any():
        row = int(np.flatnonzero(missing.to_numpy())[0])
        raise SolverError(
            f"the allocation model cannot be built: Demand row {row + 1} has no Demand id "
            "or no Item; correct it (sheetloop check lists every problem)"
        )
    inside = (lines["Due"] < calendar.periods) & (lines["Qty"] > 0)
    beyond = int((lines["Due"] >= calendar.periods).sum())
    lines = lines[inside].reset_index(drop=True)

    tier = np.full(len(lines), DEFAULT_TIER, dtype=np.int64)
    target = np.full(len(lines), np.nan)
    region = pd.Series(None, index=lines.index, dtype=object)
    if customers is not None and len(customers):
        table = pd.DataFrame(
            {
                "Customer": codes(_column(customers, "Customer")).to_numpy(object),
                "Tier": _numbers(customers, "Tier", "Customers", float(DEFAULT_TIER)),
                "Region": codes(_column(customers, "Region")).to_numpy(object),
                "Target": pd.to_numeric(_column(customers, "Service Target"), errors="coerce"),
            }
        )
        table = table.dropna(subset=["Customer"]).drop_duplicates("Customer")
        where = pd.Index(table["Customer"]).get_indexer(lines["Customer"].fillna("\0"))
        known = where >= 0
        tier[known] = table["Tier"].to_numpy(np.int64)[where[known]]
        target[known] = table["Target"].to_numpy(np.float64)[where[known]]
        region[known] = table["Region"].to_numpy(object)[where[known]]
    lines["Tier"] = tier
    lines["Target"] = target
    lines["Region"] = region.to_numpy(object)
    lines["Group"] = _row_numbers(lines["Tier"], lines["Customer"].fillna(""), lines["Item"])
    return lines[[*LINE_COLUMNS, "Region"]], beyond


def _row_numbers(*columns: pd.Series) -> IntArray:
    """The distinct rows of ``columns`` numbered 0, 1, ... in order of first appearance,
    from each column's codes (factorizing a MultiIndex of text is several times slower)."""
    key = np.zeros(len(columns[0]), dtype=np.int64)
    for column in columns:
        position, distinct = pd.factorize(column.to_numpy())
        # Shifted so that a missing value (-1) is a value of its own; numbered afresh each
        # time so that the key stays below the number of rows.
        key = pd.factorize(key * (len(distinct) + 1) + position + 1)[0].astype(np.int64)
    return key


def _supply(
    supply: pd.DataFrame, calendar: Calendar
) -> tuple[npt.NDArray[np.object_], npt.NDArray[np.object_], FloatArray]:
    periods = calendar.periods
    qty = _numbers(supply, "Qty", "Supply", 0.0)
    bucket = np.maximum(_buckets(supply, "Available", "Supply", calendar), 0)
    frame = pd.DataFrame(
        {
            "Site": codes(_column(supply, "Site")).fillna(DEFAULT_SITE).to_numpy(object),
            "Item": codes(_column(supply, "Item")).to_numpy(object),
            "Bucket": bucket,
            "Qty": qty,
        }
    )
    frame = frame[(frame["Bucket"] < periods) & frame["Item"].notna()]
    pairs = frame.groupby(["Site", "Item"], sort=True)
    keys = pairs.ngroup().to_numpy(np.int64)
    names = pairs.size().index
    grid = np.zeros((len(names), periods))
    np.add.at(grid, (keys, frame["Bucket"].to_numpy(np.int64)), frame["Qty"].to_numpy(np.float64))
    grid = np.maximum(grid, 0.0)
    keep = grid.sum(axis=1) > 0
    site = np.asarray(names.get_level_values(0), dtype=object)[keep]
    item = np.asarray(names.get_level_values(1), dtype=object)[keep]
    return site, item, grid[keep]


def _arcs(
    lines: pd.DataFrame,
    pair_site: npt.NDArray[np.object_],
    pair_item: npt.NDArray[np.object_],
    lanes: pd.DataFrame | None,
) -> pd.DataFrame:
    pairs = pd.DataFrame({"pair": np.arange(len(pair_site)), "At": pair_site, "Item": pair_item})
    cand = lines[["Item", "Site", "Customer", "Region"]].assign(line=np.arange(len(lines)))
    cand = cand.merge(pairs, on="Item", how="inner")
    fixed_site = cand["Site"].notna().to_numpy()
    same_site = (cand["Site"] == cand["At"]).to_numpy(dtype=bool, na_value=False)
    cand = cand[~fixed_site | same_site]
    fixed_site = cand["Site"].notna().to_numpy()
    if lanes is None:
        return cand.assign(Cost=0.0, Transit=0).sort_values(["line", "pair"])

    table = pd.DataFrame(
        {
            "At": codes(_column(lanes, "Site")).fillna(DEFAULT_SITE).to_numpy(object),
            "Customer": codes(_column(lanes, "Customer")).to_numpy(object),
            "Region": codes(_column(lanes, "Region")).to_numpy(object),
            "Cost": _numbers(lanes, "Cost", "Lanes", 0.0),
            "Transit": _numbers(lanes, "Transit", "Lanes", 0.0),
        }
    )
    if (table["Cost"] < 0).any() or (table["Transit"] < 0).any():
        raise SolverError(
            "the allocation model cannot be built: a lane has a negative Cost or Transit; "
            "correct the Lanes table (sheetloop check lists every problem)"
        )
    table["Transit"] = np.ceil(table["Transit"]).astype(np.int64)
    own = table[table["Customer"].notna()].drop_duplicates(["At", "Customer"])
    regional = table[table["Customer"].isna() & table["Region"].notna()]
    regional = regional.drop_duplicates(["At", "Region"])
    cand = cand.merge(
        own[["At", "Customer", "Cost", "Transit"]].assign(own=True),
        on=["At", "Customer"],
        how="left",
    )
    cand = cand.merge(
        regional[["At", "Region", "Cost", "Transit"]].assign(regional=True),
        on=["At", "Region"],
        how="left",
        suffixes=("", "_region"),
    )
    has_own = cand["own"].eq(True).to_numpy()
    has_region = cand["regional"].eq(True).to_numpy()
    fixed_site = cand["Site"].notna().to_numpy()
    cost = np.where(has_own, cand["Cost"], np.where(has_region, cand["Cost_region"], 0.0))
    transit = np.where(has_own, cand["Transit"], np.where(has_region, cand["Transit_region"], 0))
    cand = cand.assign(Cost=cost.astype(np.float64), Transit=transit.astype(np.int64))
    cand = cand[has_own | has_region | fixed_site]
    return cand[["line", "pair", "Cost", "Transit"]].sort_values(["line", "pair"])
