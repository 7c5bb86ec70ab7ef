"""Lot-sizing rules: how net requirements become planned orders.

Each rule is a small pure function. The static rules (L4L, FOQ, EOQ, POQ) are applied
inside the vectorised netting loop through :func:`lots_covering` and a coverage span; the
dynamic rules (LUC, SM, WW) decide, for one item's series of net requirements, in which
periods to order and how many periods each order covers.

References: J. Orlicky, *Material Requirements Planning* (3rd ed., Ptak & Smith, 2011),
ch. 8; S. Nahmias, *Production and Operations Analysis* (6th ed.), §7.5 (lot sizing with
time-varying demand); H. M. Wagner & T. M. Whitin, "Dynamic version of the economic lot
size model", *Management Science* 5 (1958); E. A. Silver & H. C. Meal, "A heuristic for
selecting lot size quantities for the case of a deterministic time-varying demand rate",
*Production and Inventory Management* 14 (1973).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Tolerance for comparing quantities: requirements are sums of decimal inputs.
EPS = 1e-9


def lots_covering(need: FloatArray, lot: FloatArray) -> FloatArray:
    """Fixed order quantity (FOQ, and EOQ once its lot is known): the smallest whole
    number of lots covering the need (Orlicky ch. 8, "fixed order quantity")."""
    return np.ceil(need / lot - EPS) * lot


def eoq(average_demand: float, setup_cost: float, holding_cost: float) -> float:
    """Economic order quantity sqrt(2·D·S/H) with D the average requirement per bucket,
    rounded up to a whole unit (Harris 1913; Nahmias §4.5). 0 when there is no demand."""
    if average_demand <= 0:
        return 0.0
    return float(math.ceil(math.sqrt(2 * average_demand * setup_cost / holding_cost) - EPS))


def poq_periods(average_demand: float, setup_cost: float, holding_cost: float) -> int:
    """Periods one POQ order covers when none are given: EOQ / D rounded half up, at least
    1 (Orlicky ch. 8, "period order quantity")."""
    if average_demand <= 0:
        return 1
    ratio = eoq(average_demand, setup_cost, holding_cost) / average_demand
    return max(1, math.floor(ratio + 0.5))


def eoq_lots(average: FloatArray, setup: FloatArray, holding: FloatArray) -> FloatArray:
    """:func:`eoq` for many records at once; NaN where there is no demand."""
    with np.errstate(divide="ignore", invalid="ignore"):
        lot = np.ceil(np.sqrt(2 * average * setup / holding) - EPS)
    return np.where(average > 0, lot, np.nan)


def poq_spans(average: FloatArray, setup: FloatArray, holding: FloatArray) -> FloatArray:
    """:func:`poq_periods` for many records at once."""
    with np.errstate(divide="ignore", invalid="ignore"):
        span = np.floor(eoq_lots(average, setup, holding) / average + 0.5)
    return np.where(average > 0, np.maximum(span, 1), 1)


class OrderSteps:
    """The contract's order-quantity steps after the lot rule, for a fixed set of records:
    divide by the good share (1 − Assembly Scrap %), raise to the minimum order quantity,
    round up to the order multiple (NaN: none). Per-record constants are prepared once,
    and a step no record uses is skipped: netting applies them bucket by bucket."""

    def __init__(self, scrap_pct: FloatArray, min_qty: FloatArray, multiple: FloatArray):
        self.good_share = 1.0 - np.asarray(scrap_pct, dtype=np.float64) / 100.0
        self.min_qty = np.nan_to_num(np.asarray(min_qty, dtype=np.float64), nan=0.0)
        has_multiple = np.isfinite(multiple) & (np.asarray(multiple) > 0)
        self.multiple = np.where(has_multiple, multiple, 0.0)
        self.any_scrap = bool((self.good_share != 1.0).any())
        self.any_min = bool((self.min_qty > 0).any())
        self.any_multiple = bool(has_multiple.any())

    def ordered(self, good: FloatArray, idx: IntArray) -> tuple[FloatArray, FloatArray]:
        """(ordered, good) quantities for good requirements ``good`` of records ``idx``."""
        qty = good / self.good_share[idx] if self.any_scrap else good
        if self.any_min:
            qty = np.maximum(qty, self.min_qty[idx])
        if self.any_multiple:
            multiple = self.multiple[idx]
            has = multiple > 0
            if has.any():
                qty = qty.copy() if qty is good else qty
                qty[has] = np.ceil(qty[has] / multiple[has] - EPS) * multiple[has]
        return qty, (qty * self.good_share[idx] if self.any_scrap else qty)


def order_quantity(
    good: FloatArray, scrap_pct: FloatArray, min_qty: FloatArray, multiple: FloatArray
) -> FloatArray:
    """The contract's order-quantity steps (see :class:`OrderSteps`) for one requirement
    per record."""
    steps = OrderSteps(scrap_pct, min_qty, multiple)
    return steps.ordered(np.asarray(good, dtype=np.float64), np.arange(len(steps.good_share)))[0]


def _covers_from_orders(orders: list[tuple[int, int]], periods: int) -> IntArray:
    cover = np.zeros(periods, dtype=np.int64)
    for start, end in orders:
        cover[start] = end - start + 1
    return cover


def wagner_whitin(net: FloatArray, setup_cost: float, holding_cost: float) -> IntArray:
    """Wagner-Whitin: the cost-minimal schedule of orders for known requirements.

    Dynamic programme over f(j) = min over i ≤ j of f(i−1) + S + H·Σ_{k=i..j} (k−i)·d_k,
    orders placed only in periods with a requirement (Wagner & Whitin 1958; Nahmias §7.5).
    Returns, for each period, how many periods an order placed there covers (0: no order).
    Ties go to the later, smaller order.
    """
    d = np.asarray(net, dtype=np.float64)
    n = len(d)
    need = d > EPS
    if not need.any():
        return np.zeros(n, dtype=np.int64)
    best = np.full(n + 1, np.inf)
    best[0] = 0.0
    choice = np.zeros(n + 1, dtype=np.int64)
    # Zero-requirement periods cost nothing: f over them carries forward.
    for j in range(1, n + 1):
        if not need[j - 1]:
            best[j], choice[j] = best[j - 1], -1
            continue
        for i in range(j, 0, -1):  # order in period i (1-based) covering i..j
            if not need[i - 1]:
                continue
            k = np.arange(i - 1, j)
            cost = best[i - 1] + setup_cost + holding_cost * float(((k - (i - 1)) * d[k]).sum())
            if cost < best[j] - EPS:
                best[j], choice[j] = cost, i
    orders: list[tuple[int, int]] = []
    j = n
    while j > 0:
        if choice[j] == -1:
            j -= 1
            continue
        i = int(choice[j])
        last = max(k for k in range(i - 1, j) if need[k])
        orders.append((i - 1, last))
        j = i - 1
    return _covers_from_orders(orders, n)


def _greedy(net: FloatArray, setup_cost: float, holding_cost: float, per_unit: bool) -> IntArray:
    d = np.asarray(net, dtype=np.float64)
    n = len(d)
    orders: list[tuple[int, int]] = []
    t = 0
    while t < n:
        if d[t] <= EPS:
            t += 1
            continue
        start, end, holding = t, t, 0.0
        qty = d[t]
        best = (setup_cost / qty) if per_unit else setup_cost
        k = t + 1
        while k < n:
            if d[k] <= EPS:  # a period without requirement adds nothing either way
                k += 1
                continue
            new_holding = holding + holding_cost * (k - start) * d[k]
            new_qty = qty + d[k]
            value = (
                (setup_cost + new_holding) / new_qty
                if per_unit
                else (setup_cost + new_holding) / (k - start + 1)
            )
            if value > best + EPS:
                break
            best, holding, qty, end = value, new_holding, new_qty, k
            k += 1
        orders.append((start, end))
        t = end + 1
    return _covers_from_orders(orders, n)


def silver_meal(net: FloatArray, setup_cost: float, holding_cost: float) -> IntArray:
    """Silver-Meal: extend an order period by period while the cost per period covered,
    (S + holding) / periods, does not rise (Silver & Meal 1973; Nahmias §7.5). Periods are
    counted from the order period, zero-requirement periods included.
    Returns coverage per period like :func:`wagner_whitin`."""
    return _greedy(net, setup_cost, holding_cost, per_unit=False)


def least_unit_cost(net: FloatArray, setup_cost: float, holding_cost: float) -> IntArray:
    """Least unit cost: extend an order while the cost per unit ordered,
    (S + holding) / units, does not rise (Orlicky ch. 8; Nahmias §7.5).
    Returns coverage per period like :func:`wagner_whitin`."""
    return _greedy(net, setup_cost, holding_cost, per_unit=True)


DYNAMIC_RULES = {"WW": wagner_whitin, "SM": silver_meal, "LUC": least_unit_cost}


def schedule_cost(
    net: FloatArray, cover: IntArray, setup_cost: float, holding_cost: float
) -> float:
    """Setup plus holding cost of a coverage schedule for these requirements (holding cost
    charged per unit per period carried, end of period convention)."""
    total = 0.0
    for t in np.flatnonzero(cover):
        span = np.arange(t, min(t + cover[t], len(net)))
        total += setup_cost + holding_cost * float(((span - t) * net[span]).sum())
    return total
