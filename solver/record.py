"""Single-item views of the planning engines: one item's MRP record, one lot-sizing of a
row of net requirements, one indented bill of material.

Worksheet functions and quick what-if questions need the answer for one item from a few
numbers, not a whole planning book. These helpers put those numbers through the same
engine as ``sheetloop plan`` (:func:`sheetloop.solver.mrp.plan` on a one-item, one-site
plan with period buckets), so a record computed here is, figure for figure, the record
``plan`` writes for the same inputs. They check their arguments first and raise
:class:`ArgumentError` naming the argument and what to do.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from sheetloop.errors import UsageError
from sheetloop.solver.bom import low_level_codes
from sheetloop.solver.buckets import Calendar
from sheetloop.solver.lot_rules import EPS
from sheetloop.solver.mrp import LINES, plan

FloatArray = npt.NDArray[np.float64]

#: The contract's order-quantity rules (§1.2), in the order the README lists them.
LOT_RULES = ("L4L", "FOQ", "EOQ", "POQ", "LUC", "SM", "WW")
#: Rules that price orders: they need a setup cost and a holding cost.
COSTED_RULES = ("EOQ", "LUC", "SM", "WW")

_ITEM = "ITEM"
_SITE = "MAIN"
# A period calendar has no dates; its start only satisfies the dataclass.
_NO_DATE = dt.date(2000, 1, 1)


class ArgumentError(UsageError):
    """One argument of a single-item calculation is invalid (exit 2).

    ``argument`` names it as the caller spelled it; ``problem`` says what is wrong and what
    to do."""

    def __init__(self, argument: str, problem: str) -> None:
        super().__init__(f"{argument}: {problem}")
        self.argument = argument
        self.problem = problem


@dataclass(frozen=True)
class LotPolicy:
    """How net requirements become orders: the contract's ``Items`` columns of one item.

    ``lot_size`` is the FOQ lot; ``poq_periods`` how many buckets one POQ order covers
    (``None``: EOQ / average demand, which needs the costs). ``setup_cost`` and
    ``holding_cost`` (per unit and bucket) are required by EOQ, LUC, SM and WW."""

    rule: str = "L4L"
    lot_size: float | None = None
    poq_periods: int | None = None
    min_qty: float = 0.0
    multiple: float | None = None
    setup_cost: float | None = None
    holding_cost: float | None = None

    def checked(self) -> LotPolicy:
        """This policy with its rule spelled canonically; :class:`ArgumentError` for a
        parameter the rule needs but lacks, or one out of range."""
        rule = str(self.rule).strip().upper() or "L4L"
        if rule not in LOT_RULES:
            raise ArgumentError(
                "lot_rule", f"{self.rule!r} is not a lot rule: use one of {', '.join(LOT_RULES)}"
            )
        _at_least("min_qty", self.min_qty, 0.0)
        if self.lot_size is not None:
            _positive("lot_size", self.lot_size)
        if self.multiple is not None:
            _positive("multiple", self.multiple)
        if self.setup_cost is not None:
            _at_least("setup_cost", self.setup_cost, 0.0)
        if self.holding_cost is not None:
            _positive("holding_cost", self.holding_cost)
        if self.poq_periods is not None and (
            self.poq_periods < 1 or int(self.poq_periods) != self.poq_periods
        ):
            raise ArgumentError(
                "poq_periods",
                f"{self.poq_periods:g} is not a whole number of periods ≥ 1: give how many "
                "periods one order covers, or leave it empty to derive it from the costs",
            )
        if rule == "FOQ" and self.lot_size is None:
            raise ArgumentError("lot_size", "FOQ orders whole lots: give the lot size (> 0)")
        needs_costs = rule in COSTED_RULES or (rule == "POQ" and self.poq_periods is None)
        if needs_costs:
            why = "POQ without a number of periods" if rule == "POQ" else rule
            for name, value in (
                ("setup_cost", self.setup_cost),
                ("holding_cost", self.holding_cost),
            ):
                if value is None:
                    raise ArgumentError(
                        name,
                        f"{why} needs a setup cost (per order) and a holding cost (per unit "
                        "and period): give both",
                    )
        return LotPolicy(
            rule,
            self.lot_size,
            self.poq_periods,
            self.min_qty,
            self.multiple,
            self.setup_cost,
            self.holding_cost,
        )


@dataclass(frozen=True)
class ItemRecord:
    """The time-phased record of one item, one value per period (the contract's ``MRP``
    lines; projected on hand at the end of each period, planned receipts as received,
    planned releases as ordered)."""

    gross: FloatArray
    scheduled: FloatArray
    projected_on_hand: FloatArray
    net: FloatArray
    planned_receipts: FloatArray
    planned_releases: FloatArray

    def lines(self) -> list[tuple[str, FloatArray]]:
        """The six lines with the names the ``MRP`` grid gives them, in its order."""
        values = (
            self.gross,
            self.scheduled,
            self.projected_on_hand,
            self.net,
            self.planned_receipts,
            self.planned_releases,
        )
        return list(zip(LINES, values, strict=True))


def item_record(
    gross: Sequence[float] | FloatArray,
    *,
    on_hand: float = 0.0,
    receipts: Sequence[float] | FloatArray | None = None,
    lead_time: float = 0.0,
    safety_stock: float = 0.0,
    policy: LotPolicy | None = None,
) -> ItemRecord:
    """Plan one item over ``len(gross)`` periods exactly as ``sheetloop plan`` would with
    ``Bucket = period``: ``gross`` requirements and scheduled ``receipts`` per period,
    ``on_hand`` (on hand − allocated; negative is a backlog) at the start, ``lead_time`` in
    whole periods. A release that would fall before period 1 is reported in period 1, as
    ``plan`` does (with its ``PAST_DUE_RELEASE`` exception)."""
    policy = (policy or LotPolicy()).checked()
    demand = _row("gross", gross)
    periods = len(demand)
    supply = np.zeros(periods) if receipts is None else _row("receipts", receipts)
    if len(supply) != periods:
        raise ArgumentError(
            "receipts",
            f"has {len(supply)} periods but gross has {periods}: give one value per period "
            "of gross (0 or blank where nothing arrives)",
        )
    _finite("on_hand", on_hand)
    _at_least("lead_time", lead_time, 0.0)
    if int(lead_time) != lead_time:
        raise ArgumentError(
            "lead_time", f"{lead_time:g} is not a whole number of periods: round it"
        )
    _at_least("safety_stock", safety_stock, 0.0)

    buckets = np.arange(1, periods + 1, dtype=np.float64)  # period numbers, from 1
    needed, arriving = demand > 0, supply > 0
    items = pd.DataFrame(
        {
            "Item": [_ITEM],
            "Lead Time": [float(lead_time)],
            "Safety Stock": [float(safety_stock)],
            "Lot Rule": [policy.rule],
            "Lot Size": [_or_nan(policy.lot_size)],
            "POQ Periods": [_or_nan(policy.poq_periods)],
            "Min Order Qty": [float(policy.min_qty)],
            "Order Multiple": [_or_nan(policy.multiple)],
            "Setup Cost": [_or_nan(policy.setup_cost)],
            "Holding Cost": [_or_nan(policy.holding_cost)],
        }
    )
    result = plan(
        items=items,
        calendar=Calendar("period", _NO_DATE, periods),
        inventory=pd.DataFrame({"Item": [_ITEM], "Site": [_SITE], "On Hand": [float(on_hand)]}),
        receipts=pd.DataFrame(
            {
                "Order": [f"R{int(p)}" for p in buckets[arriving]],
                "Item": _ITEM,
                "Site": _SITE,
                "Due": buckets[arriving],
                "Qty": supply[arriving],
            },
            columns=["Order", "Item", "Site", "Due", "Qty"],
        ),
        demand=pd.DataFrame(
            {
                "Demand": [f"G{int(p)}" for p in buckets[needed]],
                "Item": _ITEM,
                "Site": _SITE,
                "Due": buckets[needed],
                "Qty": demand[needed],
                "Kind": "order",
            },
            columns=["Demand", "Item", "Site", "Due", "Qty", "Kind"],
        ),
    )
    return ItemRecord(
        gross=result.gross[0].copy(),
        scheduled=result.scheduled[0].copy(),
        projected_on_hand=result.on_hand[0].copy(),
        net=result.net[0].copy(),
        planned_receipts=result.receipts[0].copy(),
        planned_releases=result.releases[0].copy(),
    )


def lot_sizes(net_requirements: Sequence[float] | FloatArray, policy: LotPolicy) -> FloatArray:
    """Planned receipts for a row of net requirements under ``policy``: the record of an
    item with nothing on hand, no receipts, no safety stock and no lead time, whose gross
    requirements are these net requirements (how textbooks compare lot-sizing rules)."""
    net = _row("net_requirements", net_requirements)
    return item_record(net, policy=policy).planned_receipts


@dataclass(frozen=True)
class BomLine:
    """One line of an indented bill: ``level`` 1 for the item's own components."""

    level: int
    component: str
    qty_per: float
    extended_qty: float


def explode(bom: pd.DataFrame, item: str, qty: float = 1.0) -> list[BomLine]:
    """Multi-level explosion of ``qty`` of ``item`` through ``bom`` (columns ``Parent``,
    ``Component``, ``Qty Per``, optional ``Scrap %``), depth-first in the order of the
    BOM's rows: the indented bill. ``extended_qty`` is what ``qty`` of the item needs of
    the component along that path, component scrap included: the parent's extended
    quantity × Qty Per × (1 + Scrap %/100). A component used under several parents
    appears under each. A loop anywhere in ``bom`` raises
    :class:`sheetloop.solver.bom.BomCycleError` naming it."""
    _at_least("qty", qty, 0.0)
    parents = bom["Parent"].astype(str).tolist()
    components = bom["Component"].astype(str).tolist()
    per = pd.to_numeric(bom["Qty Per"]).to_numpy(np.float64)
    scrap = (
        pd.to_numeric(bom["Scrap %"]).fillna(0.0).to_numpy(np.float64)
        if "Scrap %" in bom
        else np.zeros(len(bom))
    )
    codes = pd.Index(pd.unique(np.array(parents + components, dtype=object)))
    low_level_codes(
        len(codes),
        codes.get_indexer(pd.Index(parents)),
        codes.get_indexer(pd.Index(components)),
        names=[str(c) for c in codes],
    )
    children: dict[str, list[int]] = {}
    for row, parent in enumerate(parents):
        children.setdefault(parent, []).append(row)
    if item not in children:
        raise ArgumentError(
            "item",
            f"{item!r} is not a parent in the bill of material: check its spelling, or add "
            "its components",
        )
    lines: list[BomLine] = []
    # Iterative depth-first walk: a deep bill must not hit Python's recursion limit.
    stack: list[tuple[int, int, float]] = [(row, 1, float(qty)) for row in reversed(children[item])]
    while stack:
        row, level, parent_qty = stack.pop()
        extended = parent_qty * float(per[row]) * (1.0 + float(scrap[row]) / 100.0)
        component = components[row]
        lines.append(BomLine(level, component, float(per[row]), extended))
        stack.extend(
            (child, level + 1, extended) for child in reversed(children.get(component, []))
        )
    return lines


# --- argument checks -------------------------------------------------------------------------


def _row(argument: str, values: Sequence[float] | FloatArray) -> FloatArray:
    row = np.asarray(values, dtype=np.float64).ravel()
    if not len(row):
        raise ArgumentError(argument, "is empty: give one value per period")
    bad = ~np.isfinite(row)
    if bad.any():
        raise ArgumentError(
            argument, f"period {int(np.flatnonzero(bad)[0]) + 1} is not a finite number"
        )
    negative = row < -EPS
    if negative.any():
        at = int(np.flatnonzero(negative)[0])
        raise ArgumentError(
            argument,
            f"period {at + 1} is {row[at]:g}: quantities are ≥ 0 (leave the cell blank or 0 "
            "when there is nothing)",
        )
    return np.maximum(row, 0.0)


def _finite(argument: str, value: float) -> None:
    if not math.isfinite(value):
        raise ArgumentError(argument, f"{value!r} is not a finite number")


def _at_least(argument: str, value: float, minimum: float) -> None:
    _finite(argument, value)
    if value < minimum:
        raise ArgumentError(argument, f"{value:g} is negative: give a number ≥ {minimum:g}")


def _positive(argument: str, value: float) -> None:
    _finite(argument, value)
    if value <= 0:
        raise ArgumentError(
            argument, f"{value:g} is not positive: give a number > 0, or leave it empty"
        )


def _or_nan(value: float | None) -> float:
    return np.nan if value is None else float(value)


__all__ = [
    "COSTED_RULES",
    "LOT_RULES",
    "ArgumentError",
    "BomLine",
    "ItemRecord",
    "LotPolicy",
    "explode",
    "item_record",
    "lot_sizes",
]
