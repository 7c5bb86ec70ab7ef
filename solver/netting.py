"""Time-phased netting of many item-site records at once.

All records of one low-level code are netted together: the loop runs over buckets, and
each step is a handful of numpy operations across every record, so 100,000 records cost
about as much Python as one. Per bucket t:

    available(t) = POH(t−1) + scheduled receipts(t) + firm receipts(t) − gross(t)
    net(t)       = safety stock − available(t)   if available(t) < safety stock, else 0
    POH(t)       = available(t) + good quantity of the planned receipt in t

The lot rule turns a net requirement into the good quantity to plan: lot-for-lot, whole
lots (FOQ, EOQ), or enough to cover the requirements of a span of buckets (POQ, and the
dynamic rules' spans); then the contract's order-quantity steps apply (assembly scrap,
minimum, multiple).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from sheetloop.solver.lot_rules import EPS, lots_covering, order_quantity

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass
class NettingInput:
    """Records to net (rows) over buckets (columns). NaN in a parameter means "none"."""

    gross: FloatArray  # (n, T)
    scheduled: FloatArray  # (n, T) open receipts, netted where they are
    firm: FloatArray  # (n, T) good quantity of firm planned orders
    on_hand: FloatArray  # (n,) on hand − allocated
    safety_stock: FloatArray  # (n,)
    lot_size: FloatArray  # (n,) FOQ / EOQ lot; NaN: no lots
    cover: IntArray  # (n, T) buckets an order placed in t covers (1: only t)
    scrap_pct: FloatArray  # (n,) assembly scrap %
    min_qty: FloatArray  # (n,)
    multiple: FloatArray  # (n,)


@dataclass
class NettingResult:
    """Arrays of shape (n, T): transposed views of the bucket-major arrays the loop filled
    (no copy; the caller copies them once into its own arrays)."""

    net: FloatArray  # net requirements
    receipts: FloatArray  # good quantity of planned receipts
    qty: FloatArray  # ordered quantity of planned orders
    on_hand: FloatArray  # projected on hand at the end of each bucket


def net(inp: NettingInput) -> NettingResult:
    """Net every record over every bucket (see the module docstring)."""
    n, periods = inp.gross.shape
    # Work bucket-major: each step reads and writes one contiguous row per array.
    flow = np.ascontiguousarray((inp.scheduled + inp.firm - inp.gross).T)
    cumulative = np.cumsum(flow, axis=0)
    cover = np.ascontiguousarray(inp.cover.T)
    net_req = np.zeros((periods, n))
    good = np.zeros((periods, n))
    qty = np.zeros((periods, n))
    poh = np.zeros((periods, n))
    level = inp.on_hand.astype(np.float64).copy()
    has_lots = np.isfinite(inp.lot_size) & (inp.lot_size > 0)
    any_cover = bool((cover > 1).any())
    for t in range(periods):
        available = level + flow[t]
        short = inp.safety_stock - available
        idx = np.flatnonzero(short > EPS)
        if idx.size:
            need = short[idx]
            amount = need
            if any_cover:
                # Cover the span's later requirements too (POQ, dynamic rules): enough
                # that the span's last bucket still ends at safety stock.
                span_end = np.minimum(t + cover[t, idx] - 1, periods - 1)
                later = cumulative[span_end, idx] - cumulative[t, idx]
                amount = np.maximum(need, need - later)
            lots = has_lots[idx]
            if lots.any():
                amount = amount.copy()
                amount[lots] = lots_covering(amount[lots], inp.lot_size[idx][lots])
            ordered = order_quantity(
                amount, inp.scrap_pct[idx], inp.min_qty[idx], inp.multiple[idx]
            )
            received = ordered * (1.0 - inp.scrap_pct[idx] / 100.0)
            net_req[t, idx] = need
            qty[t, idx] = ordered
            good[t, idx] = received
            available[idx] += received
        poh[t] = available
        level = available
    return NettingResult(net_req.T, good.T, qty.T, poh.T)
