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
array. The caller may hand in the projected-on-hand grid (a view into its own, larger
one), so a whole plan's grids are allocated once; at 100,000 items × 104 buckets each
grid is a few hundred megabytes, and fresh memory, not arithmetic, is what costs most
here. What is sparse stays sparse: receipts already decided come in as a sparse matrix,
and planned orders (with the net requirement each answers) go out as a list.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from sheetloop.solver.lot_rules import EPS, OrderSteps, lots_covering

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass
class NettingInput:
    """Records to net (columns) over buckets (rows). NaN in a parameter means "none"."""

    gross: FloatArray  # (T, n)
    # (T, n) good quantity of supply already decided, netted where it is: open receipts and
    # firm planned orders. Sparse: few records have any.
    fixed: sp.csr_matrix
    on_hand: FloatArray  # (n,) on hand − allocated
    safety_stock: FloatArray  # (n,)
    lot_size: FloatArray  # (n,) FOQ / EOQ lot; NaN: no lots
    cover: npt.NDArray[np.integer] | None  # (T, n) buckets an order placed in t covers; None: 1
    scrap_pct: FloatArray  # (n,) assembly scrap %
    min_qty: FloatArray  # (n,)
    multiple: FloatArray  # (n,)


@dataclass
class PlannedReceipts:
    """Every planned order netting made, bucket by bucket (within a bucket by record)."""

    bucket: IntArray  # due bucket
    record: IntArray  # column of the netted arrays
    need: FloatArray  # the net requirement it answers
    qty: FloatArray  # ordered quantity
    good: FloatArray  # good quantity (after assembly scrap)

    def take(self, order: IntArray) -> PlannedReceipts:
        """These orders in another order (or a subset)."""
        return PlannedReceipts(
            self.bucket[order],
            self.record[order],
            self.need[order],
            self.qty[order],
            self.good[order],
        )


@dataclass
class NettingResult:
    on_hand: FloatArray  # (T, n) projected on hand at the end of each bucket
    orders: PlannedReceipts


def net(inp: NettingInput, on_hand: FloatArray | None = None) -> NettingResult:
    """Net every record over every bucket (see the module docstring). ``on_hand``: the
    (T, n) grid to write projected on hand into (a view of the caller's), or None."""
    periods, n = inp.gross.shape
    poh = on_hand if on_hand is not None else np.empty((periods, n))
    steps = OrderSteps(inp.scrap_pct, inp.min_qty, inp.multiple)
    has_lots = np.isfinite(inp.lot_size) & (inp.lot_size > 0)
    any_lots = bool(has_lots.any())
    ss_floor = inp.safety_stock - EPS
    fixed = inp.fixed.tocsr()
    fixed.sum_duplicates()
    fixed_at = fixed.indptr.tolist()
    # Spans: the running total of flows, for the records that ever cover more than one
    # bucket only (POQ and the dynamic rules; most records are lot-for-lot).
    cover = inp.cover
    spanning = (
        np.flatnonzero((cover > 1).any(axis=0)) if cover is not None else np.zeros(0, np.int64)
    )
    if spanning.size and cover is not None:
        cumulative = np.cumsum(fixed[:, spanning].toarray() - inp.gross[:, spanning], axis=0)
        span_col = np.full(n, -1, dtype=np.int64)
        span_col[spanning] = np.arange(spanning.size)
    parts: list[tuple[IntArray, FloatArray, FloatArray, FloatArray]] = []
    buckets: list[int] = []
    previous = inp.on_hand.astype(np.float64)
    for t in range(periods):
        row = poh[t]
        np.subtract(previous, inp.gross[t], out=row)
        lo, hi = fixed_at[t], fixed_at[t + 1]
        if hi > lo:
            row[fixed.indices[lo:hi]] += fixed.data[lo:hi]
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
            row[idx] += received
            parts.append((idx, need, ordered, received))
            buckets.append(t)
        previous = row
    if not parts:
        empty = np.zeros(0, np.int64)
        return NettingResult(poh, PlannedReceipts(empty, empty, *(np.zeros(0),) * 3))
    sizes = [len(p[0]) for p in parts]
    orders = PlannedReceipts(
        np.repeat(np.array(buckets, dtype=np.int64), sizes),
        np.concatenate([p[0] for p in parts]).astype(np.int64),
        np.concatenate([p[1] for p in parts]),
        np.concatenate([p[2] for p in parts]),
        np.concatenate([p[3] for p in parts]),
    )
    return NettingResult(poh, orders)
