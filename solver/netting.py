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

Arrays are bucket-major, shape (T, n): each step reads and writes one contiguous row per
array. The caller may hand in the output arrays (views into its own, larger arrays), so
a whole plan's grids are allocated once; at 100,000 items × 104 buckets each grid is a
few hundred megabytes, and fresh memory, not arithmetic, is what costs most here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from sheetloop.solver.lot_rules import EPS, OrderSteps, lots_covering

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass
class NettingInput:
    """Records to net (columns) over buckets (rows). NaN in a parameter means "none"."""

    gross: FloatArray  # (T, n)
    scheduled: FloatArray  # (T, n) open receipts, netted where they are
    firm: FloatArray | None  # (T, n) good quantity of firm planned orders; None: none
    on_hand: FloatArray  # (n,) on hand − allocated
    safety_stock: FloatArray  # (n,)
    lot_size: FloatArray  # (n,) FOQ / EOQ lot; NaN: no lots
    cover: npt.NDArray[np.integer] | None  # (T, n) buckets an order placed in t covers; None: 1
    scrap_pct: FloatArray  # (n,) assembly scrap %
    min_qty: FloatArray  # (n,)
    multiple: FloatArray  # (n,)


@dataclass
class NettingGrids:
    """The (T, n) grids netting fills. ``net`` and ``receipts`` must start at zero (only
    buckets with an order are written); ``on_hand`` is written in full."""

    net: FloatArray  # net requirements
    receipts: FloatArray  # good quantity of planned receipts
    on_hand: FloatArray  # projected on hand at the end of each bucket

    @classmethod
    def zeros(cls, periods: int, n: int) -> NettingGrids:
        return cls(np.zeros((periods, n)), np.zeros((periods, n)), np.empty((periods, n)))


@dataclass
class PlannedReceipts:
    """Every planned order netting made, bucket by bucket (within a bucket by record)."""

    bucket: IntArray  # due bucket
    record: IntArray  # column of the netted arrays
    qty: FloatArray  # ordered quantity
    good: FloatArray  # good quantity (after assembly scrap)

    def take(self, order: IntArray) -> PlannedReceipts:
        """These orders in another order (or a subset)."""
        return PlannedReceipts(
            self.bucket[order], self.record[order], self.qty[order], self.good[order]
        )


@dataclass
class NettingResult:
    grids: NettingGrids
    orders: PlannedReceipts


def net(inp: NettingInput, out: NettingGrids | None = None) -> NettingResult:
    """Net every record over every bucket (see the module docstring)."""
    periods, n = inp.gross.shape
    grids = out if out is not None else NettingGrids.zeros(periods, n)
    steps = OrderSteps(inp.scrap_pct, inp.min_qty, inp.multiple)
    has_lots = np.isfinite(inp.lot_size) & (inp.lot_size > 0)
    any_lots = bool(has_lots.any())
    ss_floor = inp.safety_stock - EPS
    # Spans: the running total of flows, for the records that ever cover more than one
    # bucket only (POQ and the dynamic rules; most records are lot-for-lot).
    cover = inp.cover
    spanning = (
        np.flatnonzero((cover > 1).any(axis=0)) if cover is not None else np.zeros(0, np.int64)
    )
    if spanning.size and cover is not None:
        flow = inp.scheduled[:, spanning] - inp.gross[:, spanning]
        if inp.firm is not None:
            flow += inp.firm[:, spanning]
        cumulative = np.cumsum(flow, axis=0)
        span_col = np.full(n, -1, dtype=np.int64)
        span_col[spanning] = np.arange(spanning.size)
    buckets: list[IntArray] = []
    records: list[IntArray] = []
    quantities: list[FloatArray] = []
    goods: list[FloatArray] = []
    previous = inp.on_hand.astype(np.float64)
    for t in range(periods):
        row = grids.on_hand[t]
        np.add(previous, inp.scheduled[t], out=row)
        row -= inp.gross[t]
        if inp.firm is not None:
            row += inp.firm[t]
        idx = np.flatnonzero(row < ss_floor)
        if idx.size:
            need = inp.safety_stock[idx] - row[idx]
            amount = need
            if spanning.size and cover is not None:
                # Cover the span's later requirements too: enough that the span's last
                # bucket still ends at safety stock.
                span = cover[t, idx]
                wide = np.flatnonzero(span > 1)
                if wide.size:
                    col = span_col[idx[wide]]
                    end = np.minimum(t + span[wide] - 1, periods - 1)
                    later = cumulative[end, col] - cumulative[t, col]
                    amount = need.copy()
                    amount[wide] = np.maximum(need[wide], need[wide] - later)
            if any_lots:
                lots = has_lots[idx]
                if lots.any():
                    amount = amount.copy() if amount is need else amount
                    amount[lots] = lots_covering(amount[lots], inp.lot_size[idx[lots]])
            ordered, received = steps.ordered(amount, idx)
            grids.net[t, idx] = need
            grids.receipts[t, idx] = received
            row[idx] += received
            buckets.append(np.full(idx.size, t, dtype=np.int64))
            records.append(idx)
            quantities.append(ordered)
            goods.append(received)
        previous = row
    orders = PlannedReceipts(
        np.concatenate(buckets) if buckets else np.zeros(0, np.int64),
        np.concatenate(records).astype(np.int64) if records else np.zeros(0, np.int64),
        np.concatenate(quantities) if quantities else np.zeros(0),
        np.concatenate(goods) if goods else np.zeros(0),
    )
    return NettingResult(grids, orders)
