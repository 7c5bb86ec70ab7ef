"""Worksheet functions: sheetloop's engines called from cells.

``SL_MRP``, ``SL_LOTSIZE``, ``SL_EOQ``, ``SL_EXPLODE`` and ``SL_ALLOCATE`` are thin
wrappers: each turns its cell ranges into typed values, calls the engine ``sheetloop plan``
and ``sheetloop allocate`` use (:mod:`sheetloop.solver.record`,
:mod:`sheetloop.solver.lot_rules`, :mod:`sheetloop.solver.allocation`) and hands back a
plain 2-D list. Register them with the open-source xlwings add-in (``UDF Modules =
sheetloop.addin.udfs``, then *Import Functions*); Excel 365 and 2021 spill the results as
dynamic arrays (legacy ``expand="table"`` is not used: it overwrites neighbouring cells).
Without Excel the decorators do nothing and the functions are ordinary Python.

Range shapes:

- a *row* argument (``gross``, ``receipts``, ``net_requirements``, ``demand`` of
  ``SL_EOQ``) is one row of cells, one per period (a single column is taken the same way);
  a blank cell is 0;
- a *table* argument (``bom_range`` and the ranges of ``SL_ALLOCATE``) has a header row;
  headers are matched like the workbook's tables (case, spaces, ``_`` and ``-`` ignored),
  empty rows are skipped, extra columns are ignored, a duplicate key is an error;
- every other argument is one cell; an empty cell takes the default.

Errors: a function never puts a Python traceback in a cell. Whatever is wrong, the result
is a single cell of text ``#SHEETLOOP! <argument>: <problem and what to do>`` (or
``#SHEETLOOP! <function>: ...`` when no single argument is at fault, e.g. a solver that
failed). Excel's own error values cannot carry a reason, and a text cell makes every
formula that depends on the result fail visibly. Unexpected failures (bugs) say so in the
same form and are logged with their traceback.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import math
from collections.abc import Callable
from dataclasses import replace
from typing import Any, ParamSpec, TypeVar, overload

import numpy as np
import numpy.typing as npt
import pandas as pd
import xlwings as xw

from sheetloop.errors import SheetloopError
from sheetloop.solver.allocation import allocate
from sheetloop.solver.bom import BomCycleError
from sheetloop.solver.buckets import Calendar
from sheetloop.solver.lot_rules import eoq
from sheetloop.solver.record import (
    LOT_RULES,
    ArgumentError,
    LotPolicy,
    explode,
    item_record,
    lot_sizes,
)
from sheetloop.workbooks.coerce import to_code, to_number
from sheetloop.workbooks.interface import RawTable
from sheetloop.workbooks.reading import parse_table
from sheetloop.workbooks.schema import Column, Kind, Role, Table, code, header_key, quantity
from sheetloop.workbooks.schema import table as contract_table

__all__ = [
    "ALLOCATE_TIME_LIMIT",
    "ERROR_PREFIX",
    "SL_ALLOCATE",
    "SL_EOQ",
    "SL_EXPLODE",
    "SL_LOTSIZE",
    "SL_MRP",
]

#: How every error result starts.
ERROR_PREFIX = "#SHEETLOOP!"
#: Seconds ``SL_ALLOCATE`` gives the solver: Excel waits for a worksheet function.
ALLOCATE_TIME_LIMIT = 30.0
#: The function wizard's category (classic xlwings on Windows).
CATEGORY = "sheetloop"

Cells = list[list[Any]]
FloatArray = npt.NDArray[np.float64]
P = ParamSpec("P")
R = TypeVar("R")

_log = logging.getLogger(__name__)
_SITE = "MAIN"
# A period calendar has no dates; its start only satisfies the dataclass.
_NO_DATE = dt.date(2000, 1, 1)
_RULES = ", ".join(LOT_RULES)


def _errors_in_cell(udf: Callable[P, R]) -> Callable[P, R | str]:
    """The module's error convention (see the module docstring), applied to one UDF."""
    name = udf.__name__

    @functools.wraps(udf)
    def in_cell(*args: P.args, **kwargs: P.kwargs) -> R | str:
        try:
            return udf(*args, **kwargs)
        except ArgumentError as exc:
            return f"{ERROR_PREFIX} {exc.argument}: {_one_line(exc.problem)}"
        except SheetloopError as exc:
            return f"{ERROR_PREFIX} {name}: {_one_line(exc.message)}"
        except Exception as exc:
            _log.exception("%s failed", name)
            return (
                f"{ERROR_PREFIX} {name}: internal error ({type(exc).__name__}: "
                f"{_one_line(str(exc))[:160]}); this is a bug in sheetloop: please report it "
                "with the arguments that caused it"
            )

    # Excel's function wizard shows the docstring as one paragraph of at most 255
    # characters (classic xlwings cuts it there): hand it over without line breaks.
    in_cell.__doc__ = _one_line(udf.__doc__ or "")
    return in_cell


def _one_line(text: str) -> str:
    return " ".join(text.split())


# --- the worksheet functions ------------------------------------------------------------------

_LOT_SIZE_DOC = (
    "FOQ: the lot (orders are whole lots). POQ: periods one order covers (empty: EOQ / "
    "average demand). Ignored by other rules."
)
_SETUP_DOC = "Cost per order. Needed by EOQ, LUC, SM, WW (and POQ without periods)."
_HOLDING_DOC = "Cost of holding one unit for one period (> 0). Needed with setup_cost."
_MIN_DOC = "Minimum order quantity (≥ 0). Empty: none."
_MULTIPLE_DOC = "Orders are rounded up to a multiple of this (> 0). Empty: none."


@xw.func(category=CATEGORY)
@xw.arg("gross", ndim=2, doc="Gross requirements: one row of numbers, one cell per period.")
@xw.arg("on_hand", doc="On hand at the start, less what is allocated. Empty: 0.")
@xw.arg(
    "receipts",
    ndim=2,
    doc="Scheduled (open) receipts: a row as long as gross, blank where none. "
    "One empty cell: none.",
)
@xw.arg("lead_time", doc="Lead time in whole periods (≥ 0). Empty: 0.")
@xw.arg("safety_stock", doc="Projected on hand is kept at or above this. Empty: 0.")
@xw.arg("lot_rule", doc=f"One of {_RULES}. Empty: L4L.")
@xw.arg("lot_size", doc=_LOT_SIZE_DOC)
@xw.arg("min_qty", doc=_MIN_DOC)
@xw.arg("multiple", doc=_MULTIPLE_DOC)
@xw.arg("setup_cost", doc=_SETUP_DOC)
@xw.arg("holding_cost", doc=_HOLDING_DOC)
@_errors_in_cell
def SL_MRP(
    gross: Any,
    on_hand: Any,
    receipts: Any,
    lead_time: Any,
    safety_stock: Any = None,
    lot_rule: Any = None,
    lot_size: Any = None,
    min_qty: Any = None,
    multiple: Any = None,
    setup_cost: Any = None,
    holding_cost: Any = None,
) -> Cells:
    """MRP record of one item, netted as sheetloop plan does. Six rows, line name first:
    gross requirements, scheduled receipts, projected on hand (end of period), net
    requirements, planned receipts, planned releases; one column per period."""
    demand = _row("gross", gross)
    record = item_record(
        demand,
        on_hand=_number("on_hand", on_hand, 0.0),
        receipts=_optional_row("receipts", receipts, len(demand)),
        lead_time=_number("lead_time", lead_time, 0.0),
        safety_stock=_number("safety_stock", safety_stock, 0.0),
        policy=_policy(lot_rule, lot_size, min_qty, multiple, setup_cost, holding_cost),
    )
    return [[name, *_values(values)] for name, values in record.lines()]


@xw.func(category=CATEGORY)
@xw.arg(
    "net_requirements", ndim=2, doc="Net requirements: one row of numbers, one cell per period."
)
@xw.arg("rule", doc=f"Lot rule: one of {_RULES}. Empty: L4L.")
@xw.arg("lot_size", doc=_LOT_SIZE_DOC)
@xw.arg("setup_cost", doc=_SETUP_DOC)
@xw.arg("holding_cost", doc=_HOLDING_DOC)
@xw.arg("min_qty", doc=_MIN_DOC)
@xw.arg("multiple", doc=_MULTIPLE_DOC)
@_errors_in_cell
def SL_LOTSIZE(
    net_requirements: Any,
    rule: Any,
    lot_size: Any = None,
    setup_cost: Any = None,
    holding_cost: Any = None,
    min_qty: Any = None,
    multiple: Any = None,
) -> Cells:
    """Planned receipts (one row, one cell per period) that a lot rule makes of a row of
    net requirements: L4L, FOQ, EOQ, POQ, LUC (least unit cost), SM (Silver-Meal) or WW
    (Wagner-Whitin, the least total cost)."""
    net = _row("net_requirements", net_requirements)
    policy = _policy(rule, lot_size, min_qty, multiple, setup_cost, holding_cost, "rule")
    return [_values(lot_sizes(net, policy))]


@xw.func(category=CATEGORY)
@xw.arg(
    "demand",
    ndim=2,
    doc="Average demand per period, or a row of per-period demands (their average is used).",
)
@xw.arg("setup_cost", doc="Cost per order (≥ 0).")
@xw.arg("holding_cost", doc="Cost of holding one unit for one period (> 0).")
@_errors_in_cell
def SL_EOQ(demand: Any, setup_cost: Any, holding_cost: Any) -> float:
    """Economic order quantity sqrt(2 × demand × setup cost / holding cost), rounded up to
    a whole unit, as the EOQ lot rule computes it (0 without demand)."""
    demands = _row("demand", demand)
    if (demands < 0).any():
        at = int(np.flatnonzero(demands < 0)[0])
        raise ArgumentError(
            "demand", f"cell {at + 1} of the range is {demands[at]:g}: demand is ≥ 0"
        )
    average = float(demands.mean())
    setup = _number("setup_cost", setup_cost, None)
    holding = _number("holding_cost", holding_cost, None)
    if setup is None or holding is None:
        missing = "setup_cost" if setup is None else "holding_cost"
        raise ArgumentError(missing, "is empty: give the cost per order and per unit and period")
    LotPolicy("EOQ", setup_cost=setup, holding_cost=holding).checked()
    return eoq(average, setup, holding)


@xw.func(category=CATEGORY)
@xw.arg(
    "bom_range",
    ndim=2,
    doc="Bill of material with a header row: Parent, Component, Qty Per, optional Scrap %.",
)
@xw.arg("item", doc="The item to explode (a parent in bom_range).")
@xw.arg("qty", doc="How many of the item (≥ 0).")
@_errors_in_cell
def SL_EXPLODE(bom_range: Any, item: Any, qty: Any) -> Cells:
    """Indented multi-level bill of material for qty of item: a header row, then Level,
    Component, Qty Per and Extended Qty (qty × Qty Per × (1 + Scrap %/100) through every
    level), depth-first in the order of bom_range."""
    bom = _table("bom_range", bom_range, contract_table("BOM"))
    parent = _code("item", item)
    if parent is None:
        raise ArgumentError("item", "is empty: give the item to explode")
    amount = _number("qty", qty, None)
    if amount is None:
        raise ArgumentError("qty", "is empty: give how many of the item to explode")
    try:
        lines = explode(bom, parent, amount)
    except BomCycleError as exc:
        raise ArgumentError(
            "bom_range", f"{exc.message}: a component cannot contain its own parent; fix the loop"
        ) from exc
    header: list[Any] = ["Level", "Component", "Qty Per", "Extended Qty"]
    return [header] + [
        [line.level, line.component, _value(line.qty_per), _value(line.extended_qty)]
        for line in lines
    ]


_SUPPLY = Table(
    "supply",
    Role.INPUT,
    (code("Item", required=True), Column("Qty", Kind.NUMBER, required=True, minimum=0)),
    key=("Item",),
)
_DEMAND = Table(
    "demand",
    Role.INPUT,
    (code("Demand", required=True), code("Customer"), code("Item", required=True), quantity()),
    key=("Demand",),
)
_PRIORITIES = Table(
    "priorities",
    Role.INPUT,
    (
        code("Customer", required=True),
        Column("Tier", Kind.INTEGER, minimum=1, default=3),
        Column("Weight", Kind.NUMBER),
    ),
    key=("Customer",),
)
_COSTS = Table(
    "costs",
    Role.INPUT,
    (code("Customer", required=True), Column("Cost", Kind.NUMBER, required=True, minimum=0)),
    key=("Customer",),
)


@xw.func(category=CATEGORY, call_in_wizard=False)
@xw.arg("supply", ndim=2, doc="Header row Item, Qty: what is available to allocate.")
@xw.arg("demand", ndim=2, doc="Header row Demand, Customer, Item, Qty: one row per demand line.")
@xw.arg(
    "priorities",
    ndim=2,
    doc="Header row Customer and Tier (1 = most important) or Weight (larger = first).",
)
@xw.arg(
    "costs",
    ndim=2,
    doc="Optional. Header row Customer, Cost: cost per unit served; breaks ties only.",
)
@_errors_in_cell
def SL_ALLOCATE(supply: Any, demand: Any, priorities: Any, costs: Any = None) -> Cells:
    """Allocates supply by customer priority with the allocation LP of sheetloop allocate:
    more important tiers first, fair shares within a tier. A header row, then Demand,
    Customer, Item, Allocated and Short per demand line."""
    have = _table("supply", supply, _SUPPLY)
    want = _table("demand", demand, _DEMAND)
    tiers = _tiers(priorities)
    unknown = sorted({c for c in want["Customer"].dropna() if c not in tiers.index})
    if unknown:
        raise ArgumentError(
            "demand",
            f"customer {unknown[0]!r} is not in priorities"
            + (f" (nor {len(unknown) - 1} more)" if len(unknown) > 1 else "")
            + ": add it with its tier or weight",
        )
    lanes = None
    if costs is not None:
        cost = _table("costs", costs, _COSTS)
        lanes = pd.DataFrame(
            {"Site": _SITE, "Customer": cost["Customer"], "Cost": cost["Cost"], "Transit": 0.0}
        )
    result = allocate(
        supply=pd.DataFrame(
            {"Site": _SITE, "Item": have["Item"], "Available": 1.0, "Qty": have["Qty"]}
        ),
        # Every line names the one site: it is served from there, over the customer's lane
        # when costs give one, else at cost 0 (a customer without a cost is still served).
        demand=pd.DataFrame(
            {
                "Demand": want["Demand"],
                "Item": want["Item"],
                "Site": _SITE,
                "Customer": want["Customer"],
                "Due": 1.0,
                "Qty": want["Qty"],
            }
        ),
        calendar=Calendar("period", _NO_DATE, 1),
        customers=pd.DataFrame({"Customer": tiers.index, "Tier": tiers.to_numpy()}),
        lanes=lanes,
        max_lateness=0,
        time_limit=ALLOCATE_TIME_LIMIT,
    )
    status = result.demand_status
    allocated = dict(zip(status["Demand"], status["Allocated"].astype(float), strict=True))
    short = dict(zip(status["Demand"], status["Short"].astype(float), strict=True))
    rows: Cells = [["Demand", "Customer", "Item", "Allocated", "Short"]]
    for line in want.itertuples(index=False):
        rows.append(
            [
                line.Demand,
                line.Customer or "",
                line.Item,
                _value(allocated[line.Demand]),
                _value(short[line.Demand]),
            ]
        )
    return rows


# --- reading arguments ---------------------------------------------------------------------------


def _grid(argument: str, value: Any) -> list[list[Any]]:
    """A range argument as rows of cells (Excel hands ``ndim=2`` ranges over as such; a
    Python caller may pass a number, a flat list or an array)."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, tuple):
        value = list(value)
    if not isinstance(value, list):
        return [[value]]
    if not value:
        return [[]]
    if not isinstance(value[0], list | tuple):
        return [list(value)]
    return [list(r) for r in value]


def _row(argument: str, value: Any) -> FloatArray:
    """One row (or column) of numbers; blank cells are 0."""
    grid = _grid(argument, value)
    rows, cols = len(grid), max((len(r) for r in grid), default=0)
    if rows > 1 and cols > 1:
        raise ArgumentError(
            argument,
            f"is a block of {rows} rows × {cols} columns: select one row, one cell per period",
        )
    cells = [v for r in grid for v in r]
    numbers, bad = to_number(cells)
    if bad:
        at, message = bad[0]
        raise ArgumentError(
            argument, f"cell {at + 1} of the range: {message}; type a number or leave it blank"
        )
    if not len(numbers) or np.isnan(numbers).all():
        raise ArgumentError(argument, "is empty: select a row with one number per period")
    infinite = np.isinf(numbers)
    if infinite.any():
        at = int(np.flatnonzero(infinite)[0])
        raise ArgumentError(argument, f"cell {at + 1} of the range is not a finite number")
    return np.nan_to_num(numbers, nan=0.0)


def _optional_row(argument: str, value: Any, periods: int) -> FloatArray | None:
    """A row that one empty cell (or a single 0) may leave out."""
    grid = _grid(argument, value)
    cells = [v for r in grid for v in r]
    if len(cells) <= 1:
        single = _number(argument, cells[0] if cells else None, 0.0)
        if single == 0.0:
            return None
        if periods > 1:
            raise ArgumentError(
                argument,
                f"is one cell but gross has {periods} periods: give one value per period",
            )
    return _row(argument, value)


def _scalar(argument: str, value: Any) -> Any:
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, list | tuple):
        cells = [v for r in value for v in (r if isinstance(r, list | tuple) else [r])]
        if len(cells) != 1:
            raise ArgumentError(
                argument, f"is a range of {len(cells)} cells: point it at a single cell"
            )
        value = cells[0]
    return value


@overload
def _number(argument: str, value: Any, default: float) -> float: ...
@overload
def _number(argument: str, value: Any, default: None) -> float | None: ...
def _number(argument: str, value: Any, default: float | None) -> float | None:
    """One cell's number; an empty cell is ``default``."""
    numbers, bad = to_number([_scalar(argument, value)])
    if bad:
        raise ArgumentError(argument, f"{bad[0][1]}: type a number or leave the cell empty")
    number = float(numbers[0])
    if math.isnan(number):
        return default
    if not math.isfinite(number):
        raise ArgumentError(argument, f"{number} is not a finite number")
    return number


def _code(argument: str, value: Any) -> str | None:
    codes, bad = to_code([_scalar(argument, value)])
    if bad:
        raise ArgumentError(argument, f"{bad[0][1]}: give the code as text")
    return codes[0]


def _policy(
    rule: Any,
    lot_size: Any,
    min_qty: Any,
    multiple: Any,
    setup_cost: Any,
    holding_cost: Any,
    rule_argument: str = "lot_rule",
) -> LotPolicy:
    """The lot rule's parameters; ``lot_size`` is the lot of FOQ and the periods of POQ."""
    name = _code(rule_argument, rule) or "L4L"
    size = _number("lot_size", lot_size, None)
    policy = LotPolicy(
        rule=name,
        min_qty=_number("min_qty", min_qty, 0.0) or 0.0,
        multiple=_number("multiple", multiple, None),
        setup_cost=_number("setup_cost", setup_cost, None),
        holding_cost=_number("holding_cost", holding_cost, None),
    )
    rule_name = name.strip().upper()
    try:
        if rule_name == "POQ" and size is not None:
            if size < 1 or not float(size).is_integer():
                raise ArgumentError(
                    "lot_size",
                    f"for POQ it is the number of periods one order covers: {size:g} is not a "
                    "whole number ≥ 1",
                )
            return replace(policy, poq_periods=int(size)).checked()
        if rule_name == "FOQ":
            return replace(policy, lot_size=size).checked()
        return policy.checked()
    except ArgumentError as exc:
        if exc.argument == "lot_rule":
            raise ArgumentError(rule_argument, exc.problem) from exc
        raise


def _table(argument: str, value: Any, spec: Table) -> pd.DataFrame:
    """A range with a header row, read like a workbook table of that shape."""
    grid = _grid(argument, value)
    if not grid or not grid[0] or all(_blank(v) for v in grid[0]):
        raise ArgumentError(
            argument,
            f"has no header row: start the range with the headers "
            f"{', '.join(c.name for c in spec.columns if c.required)}",
        )
    headers = ["" if _blank(h) else str(h) for h in grid[0]]
    raw = RawTable(argument, argument, 1, 0, headers, grid[1:])
    loaded, problems = parse_table(raw, spec)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        first = errors[0]
        row = int("".join(ch for ch in first.cell if ch.isdigit()) or 1)
        where = f"row {row} of the range: " if row > 1 else ""
        more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
        raise ArgumentError(argument, f"{where}{first.message}{more}")
    if not len(loaded.frame):
        raise ArgumentError(argument, "has a header row but no data rows: include the rows")
    return loaded.frame


def _tiers(priorities: Any) -> pd.Series:
    """Tier of each customer: given, or ranked from weights (the largest weight is tier 1).
    Weights only order customers: the allocation serves tiers one after the other, it
    never trades one customer's units against another's."""
    frame = _table("priorities", priorities, _PRIORITIES)
    given = {header_key(h) for h in _grid("priorities", priorities)[0] if not _blank(h)}
    has_tier, has_weight = "tier" in given, "weight" in given
    if has_tier == has_weight:
        raise ArgumentError(
            "priorities",
            "needs one column Tier (1 = most important) or Weight (larger = more important)"
            + (", not both" if has_tier else ""),
        )
    customers = pd.Index(frame["Customer"], dtype=object)
    if has_tier:
        return pd.Series(frame["Tier"].to_numpy(np.float64).astype(np.int64), index=customers)
    weight = frame["Weight"].to_numpy(np.float64)
    if np.isnan(weight).any():
        at = int(np.flatnonzero(np.isnan(weight))[0])
        raise ArgumentError(
            "priorities", f"row {at + 2} of the range has no Weight: give every customer one"
        )
    ranks = pd.Series(-weight).rank(method="dense").to_numpy(np.int64)
    return pd.Series(ranks, index=customers)


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _value(number: float) -> float:
    # Solver noise and floating-point dust should not show in a cell; -0.0 neither.
    return float(round(number, 6)) + 0.0


def _values(row: FloatArray) -> list[float]:
    return [_value(float(v)) for v in row]
