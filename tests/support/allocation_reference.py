"""An independent, deliberately plain solve of the allocation's staged model.

Written from the model's rules, not from the engine's code, for small instances in
period buckets, with ``scipy.optimize.linprog(method="highs")`` and dense matrices:

- one variable per (demand line, site allowed by the lane rules, ship bucket) for
  *every* ship bucket whose arrival is no later than due + max lateness (the engine
  leaves out ship buckets earlier than needed; equal optima confirm that this loses
  nothing);
- supply as cumulative rows (shipped by bucket t ≤ supplied by bucket t) instead of the
  engine's stock balance;
- the stages: each tier's served quantity; fair share as *exact* leximin levels (a group
  is blocked when its own maximum fill, with the others held at the level, does not
  exceed the level: one LP per group), up to three levels, skipped when the tier is
  served in full or not at all or has one group; lateness; cost.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.optimize import linprog

HOLD = 1e-6  # how far a held optimum may give
SLACK = 1e-5  # what the holds can add up to: levels and fill rates closer than this are equal
LEVELS = 3


@dataclass
class ReferenceResult:
    served: dict[int, float]
    fill_levels: dict[int, list[float]] = field(default_factory=dict)
    lateness: float = 0.0
    cost: float = 0.0


@dataclass
class _Var:
    line: int
    site: str
    item: str
    ship: int
    late: int
    cost: float


def _text(v: object) -> str | None:
    if v is None or (isinstance(v, float) and np.isnan(v)) or v == "":
        return None
    return str(v)


def _lane(
    lanes: pd.DataFrame | None, site: str, customer: str | None, region: str | None
) -> tuple[float, int] | None:
    if lanes is None:
        return (0.0, 0)
    own = None
    regional = None
    for row in lanes.itertuples(index=False):
        if row.Site != site:
            continue
        if customer is not None and _text(row.Customer) == customer:
            own = (float(row.Cost), int(row.Transit))
        elif _text(row.Customer) is None and region is not None and _text(row.Region) == region:
            regional = (float(row.Cost), int(row.Transit))
    return own if own is not None else regional


def reference_solve(
    *,
    supply: pd.DataFrame,
    demand: pd.DataFrame,
    customers: pd.DataFrame | None,
    lanes: pd.DataFrame | None,
    periods: int,
    max_lateness: int,
) -> ReferenceResult:
    """The staged optimum of the instance (``Due`` and ``Available`` are period numbers)."""
    tier_of: dict[str, int] = {}
    region_of: dict[str, str | None] = {}
    if customers is not None:
        for row in customers.itertuples(index=False):
            tier_of[str(row.Customer)] = int(row.Tier)
            region_of[str(row.Customer)] = _text(row.Region)

    lines = []
    for row in demand.itertuples(index=False):
        due = max(int(row.Due) - 1, 0)
        if due >= periods:
            continue
        customer = _text(row.Customer)
        lines.append(
            {
                "site": _text(row.Site),
                "item": str(row.Item),
                "customer": customer,
                "tier": tier_of.get(customer or "", 3),
                "region": region_of.get(customer or ""),
                "due": due,
                "qty": float(row.Qty),
            }
        )

    stock: dict[tuple[str, str], np.ndarray] = {}
    for row in supply.itertuples(index=False):
        t = max(int(row.Available) - 1, 0)
        if t >= periods:
            continue
        key = (str(row.Site), str(row.Item))
        stock.setdefault(key, np.zeros(periods))[t] += float(row.Qty)

    variables: list[_Var] = []
    for i, line in enumerate(lines):
        for site, item in stock:
            if item != line["item"]:
                continue
            if line["site"] is not None and line["site"] != site:
                continue
            lane = _lane(lanes, site, line["customer"], line["region"])
            if lane is None:
                if line["site"] is None:
                    continue
                lane = (0.0, 0)
            cost, transit = lane
            for t in range(periods):
                arrive = t + transit
                if arrive <= line["due"] + max_lateness:
                    late = max(0, arrive - line["due"])
                    variables.append(_Var(i, site, item, t, late, cost))

    n = len(variables)
    rows: list[np.ndarray] = []
    rhs: list[float] = []
    for (site, item), amounts in stock.items():
        for t in range(periods):
            row = np.zeros(n)
            for j, v in enumerate(variables):
                if v.site == site and v.item == item and v.ship <= t:
                    row[j] = 1.0
            rows.append(row)
            rhs.append(float(amounts[: t + 1].sum()))
    for i, line in enumerate(lines):
        row = np.array([1.0 if v.line == i else 0.0 for v in variables])
        rows.append(row)
        rhs.append(line["qty"])

    a_ub = [r for r in rows]
    b_ub = list(rhs)

    def optimum(c: np.ndarray, extra_a: list[np.ndarray], extra_b: list[float]) -> float:
        res = linprog(
            c,
            A_ub=np.array(a_ub + extra_a) if a_ub or extra_a else None,
            b_ub=np.array(b_ub + extra_b) if a_ub or extra_a else None,
            bounds=[(0, None)] * len(c),
            method="highs",
        )
        assert res.status == 0, res.message
        return float(res.fun)

    result = ReferenceResult(served={})
    if n == 0:
        result.served = dict.fromkeys({line["tier"] for line in lines}, 0.0)
        return result
    # A line is servable when it can get something with no other line in the way.
    servable = set()
    for i in range(len(lines)):
        own = np.array([1.0 if v.line == i else 0.0 for v in variables])
        if own.any() and -optimum(-own, [], []) > 1e-9:
            servable.add(i)
    for tier in sorted({line["tier"] for line in lines}):
        mask = np.array([1.0 if lines[v.line]["tier"] == tier else 0.0 for v in variables])
        reachable_lines = {i for i in servable if lines[i]["tier"] == tier}
        if not reachable_lines:
            result.served[tier] = 0.0
            continue
        z = -optimum(-mask, [], [])
        result.served[tier] = z
        a_ub.append(-mask)
        b_ub.append(-(z - HOLD))
        reachable = sum(lines[i]["qty"] for i in reachable_lines)
        groups: dict[tuple[str | None, str], list[int]] = {}
        for i, line in enumerate(lines):
            if line["tier"] == tier:
                groups.setdefault((line["customer"], line["item"]), []).append(i)
        open_groups = [g for g, members in groups.items() if set(members) & reachable_lines]
        if z <= SLACK or z >= reachable - SLACK or len(open_groups) < 2:
            continue
        result.fill_levels[tier] = _leximin(
            variables, groups, open_groups, lines, a_ub, b_ub, optimum
        )

    late = np.array([float(v.late) for v in variables])
    if late.any():
        z = optimum(late, [], [])
        result.lateness = z
        a_ub.append(late)
        b_ub.append(z + HOLD)
    cost = np.array([v.cost for v in variables])
    if cost.any():
        result.cost = optimum(cost, [], [])
    return result


def _leximin(variables, groups, open_groups, lines, a_ub, b_ub, optimum):
    """Exact leximin levels (in place: the floors join ``a_ub``/``b_ub``)."""
    n = len(variables)
    levels: list[float] = []

    def served_row(group: tuple[str | None, str]) -> tuple[np.ndarray, float]:
        members = set(groups[group])
        row = np.array([1.0 if v.line in members else 0.0 for v in variables])
        return row, sum(lines[i]["qty"] for i in members)

    rounds = 0
    while open_groups and len(levels) < LEVELS and rounds < 2 * LEVELS:
        rounds += 1
        # max phi: variables x plus phi (last); rows served_g - Q_g phi >= 0.
        extra_a, extra_b = [], []
        for g in open_groups:
            row, q = served_row(g)
            extra_a.append(np.append(-row, q))
            extra_b.append(0.0)
        padded = [np.append(r, 0.0) for r in a_ub]
        c = np.zeros(n + 1)
        c[-1] = -1.0
        res = linprog(
            c,
            A_ub=np.array(padded + extra_a),
            b_ub=np.array(b_ub + extra_b),
            bounds=[(0, None)] * n + [(None, None)],
            method="highs",
        )
        assert res.status == 0, res.message
        level = -float(res.fun)
        if not levels or level > levels[-1] + SLACK:
            levels.append(level)
        floors_a, floors_b = [], []
        for g in open_groups:
            row, q = served_row(g)
            floors_a.append(-row)
            floors_b.append(-(q * level - HOLD))
        blocked = []
        for g in open_groups:
            row, q = served_row(g)
            best = -optimum(-row, floors_a, floors_b)
            if best / q <= level + SLACK:
                blocked.append(g)
        a_ub.extend(floors_a)
        b_ub.extend(floors_b)
        open_groups = [g for g in open_groups if g not in blocked]
        if level >= 1 - 1e-9:
            break
    return levels
