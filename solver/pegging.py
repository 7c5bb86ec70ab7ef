"""Pegging: which demand each planned order ultimately serves, through every BOM level.

Within each (item, site) record, requirements (safety stock first, then demand and parent
orders by bucket, more important customers first) are served first-in-first-out by supply
(opening stock, open receipts, firm and planned orders, by bucket). Matching two sorted
streams is done for all records at once with cumulative sums: the breakpoints of both
running totals cut them into pieces, and each piece belongs to one requirement and one
supply. A component order that serves a parent order inherits the parent's pegging in
proportion (a sparse matrix product per level), so a purchase order is pegged to the
customer orders at the top of the BOM.

What no demand takes is pegged to ``(safety stock)`` or ``(lot excess)``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp

from sheetloop.solver.lot_rules import EPS
from sheetloop.solver.mrp import MrpResult

SAFETY_STOCK = "(safety stock)"
LOT_EXCESS = "(lot excess)"
OTHER_DEMANDS = "(other demands)"
#: Demands listed per order; the rest are summed into one "(other demands)" row. Shared
#: components deep in a BOM serve thousands of end-item orders: listing every one would
#: grow the table with the product of the fan-outs of all levels.
MAX_DEMANDS_PER_ORDER = 10

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def _fifo(
    req_group: IntArray,
    req_qty: FloatArray,
    sup_group: IntArray,
    sup_qty: FloatArray,
    n_groups: int,
) -> tuple[IntArray, IntArray, FloatArray]:
    """Match requirements to supply first-in-first-out within each group (both already
    sorted by group, then priority). Returns (requirement, supply, quantity) pieces.
    Unmatched tails of either side are dropped."""
    req_tot = np.bincount(req_group, weights=req_qty, minlength=n_groups)
    sup_tot = np.bincount(sup_group, weights=sup_qty, minlength=n_groups)
    # Pad each group so both sides have the same total: the running totals then line up
    # at every group boundary and one global merge serves all groups.
    pad = np.maximum(req_tot, sup_tot)
    req_pad = pad - req_tot
    sup_pad = pad - sup_tot
    r_group = np.concatenate([req_group, np.arange(n_groups)])
    r_qty = np.concatenate([req_qty, req_pad])
    r_real = np.concatenate([np.arange(len(req_qty)), np.full(n_groups, -1)])
    s_group = np.concatenate([sup_group, np.arange(n_groups)])
    s_qty = np.concatenate([sup_qty, sup_pad])
    s_real = np.concatenate([np.arange(len(sup_qty)), np.full(n_groups, -1)])
    r_order = np.lexsort((r_real < 0, r_group))
    s_order = np.lexsort((s_real < 0, s_group))
    r_end = np.cumsum(r_qty[r_order])
    s_end = np.cumsum(s_qty[s_order])
    cuts = np.unique(np.concatenate([[0.0], r_end, s_end]))
    lengths = np.diff(cuts)
    mids = cuts[:-1] + lengths / 2
    keep = lengths > EPS
    mids, lengths = mids[keep], lengths[keep]
    ri = r_real[r_order][np.minimum(np.searchsorted(r_end, mids), len(r_end) - 1)]
    si = s_real[s_order][np.minimum(np.searchsorted(s_end, mids), len(s_end) - 1)]
    ok = (ri >= 0) & (si >= 0)
    return ri[ok], si[ok], lengths[ok]


def peg(
    result: MrpResult, demand: pd.DataFrame | None = None, tiers: pd.Series | None = None
) -> pd.DataFrame:
    """The Pegging table (``Order``, ``Demand``, ``Qty``): how much of each order's good
    quantity each demand takes, through every BOM level."""
    orders = result.planned_orders
    records = result.records
    n_rec = len(records)
    if orders.empty:
        return pd.DataFrame({"Order": [], "Demand": [], "Qty": []})
    rec_index = pd.MultiIndex.from_arrays([records["Item"], records["Site"]])
    order_rec = rec_index.get_indexer(pd.MultiIndex.from_arrays([orders["Item"], orders["Site"]]))
    n_orders = len(orders)
    levels = records["Level"].to_numpy()

    # Targets: demand lines, then the two markers.
    dem = result.demand
    dem = dem[(dem["Bucket"] >= 0)].copy() if len(dem) else dem
    tier = (
        dem["Customer"].map(tiers)
        if tiers is not None and "Customer" in dem and len(dem)
        else pd.Series(3.0, index=dem.index)
    ).fillna(3.0)
    dem["Tier"] = tier.to_numpy(float) if len(dem) else []
    dem = dem.sort_values(["Bucket", "Tier", "Demand"], kind="stable").reset_index(drop=True)
    targets = [*dem["Demand"].astype(str).tolist(), SAFETY_STOCK, LOT_EXCESS, OTHER_DEMANDS]
    n_targets = len(targets)
    ss_target, excess_target, other_target = n_targets - 3, n_targets - 2, n_targets - 1
    dem_rec = rec_index.get_indexer(
        pd.MultiIndex.from_arrays([dem["Item"].astype(str), dem["Site"].astype(str)])
    )

    good = orders["Good Qty"].to_numpy(float)
    due = orders["Due"].to_numpy(np.int64)
    release = orders["Release"].to_numpy(np.int64)
    qty = orders["Qty"].to_numpy(float)

    # Dependent requirements: each order's release × quantity per, at each component.
    e_parent, e_comp, e_per = result.edge_parent, result.edge_component, result.edge_per
    edges_by_parent = pd.Series(np.arange(len(e_parent))).groupby(e_parent).apply(list)
    dep_order: list[IntArray] = []
    dep_edge: list[IntArray] = []
    order_ids = np.arange(n_orders)
    has_edges = np.isin(order_rec, e_parent)
    if has_edges.any() and len(e_parent):
        sorter = np.argsort(e_parent, kind="stable")
        starts = np.searchsorted(e_parent[sorter], order_rec[has_edges], side="left")
        ends = np.searchsorted(e_parent[sorter], order_rec[has_edges], side="right")
        counts = ends - starts
        dep_order.append(np.repeat(order_ids[has_edges], counts))
        offsets = np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
        dep_edge.append(sorter[offsets])
    del edges_by_parent
    d_order = np.concatenate(dep_order) if dep_order else np.zeros(0, dtype=np.int64)
    d_edge = np.concatenate(dep_edge) if dep_edge else np.zeros(0, dtype=np.int64)
    d_rec = e_comp[d_edge]
    d_bucket = release[d_order]
    d_qty = qty[d_order] * e_per[d_edge]

    pegged = sp.csr_matrix((n_orders, n_targets))  # quantities, filled level by level
    for lvl in range(int(levels.max(initial=-1)) + 1):
        rec_mask = levels == lvl
        # Requirements of this level's records.
        i_rows = np.flatnonzero(rec_mask[dem_rec]) if len(dem_rec) else np.zeros(0, np.int64)
        j_rows = np.flatnonzero(rec_mask[d_rec]) if len(d_rec) else np.zeros(0, np.int64)
        ss_recs = np.flatnonzero(rec_mask & (records["Safety Stock"].to_numpy(float) > EPS))
        req_group = np.concatenate([ss_recs, dem_rec[i_rows], d_rec[j_rows]])
        req_bucket = np.concatenate(
            [np.full(len(ss_recs), -1), dem["Bucket"].to_numpy(np.int64)[i_rows], d_bucket[j_rows]]
        )
        req_prio = np.concatenate(
            [
                np.zeros(len(ss_recs)),
                dem["Tier"].to_numpy(float)[i_rows] if len(i_rows) else np.zeros(0),
                np.full(len(j_rows), 9.0),
            ]
        )
        req_qty = np.concatenate(
            [
                records["Safety Stock"].to_numpy(float)[ss_recs],
                dem["Qty"].to_numpy(float)[i_rows],
                d_qty[j_rows],
            ]
        )
        req_kind = np.concatenate(
            [
                np.zeros(len(ss_recs), np.int64),
                np.ones(len(i_rows), np.int64),
                np.full(len(j_rows), 2, np.int64),
            ]
        )
        req_ref = np.concatenate([np.full(len(ss_recs), ss_target), i_rows, j_rows])
        # Supply of this level's records: opening stock, receipts, orders.
        rec_rows = np.flatnonzero(rec_mask)
        sched_r, sched_t = np.nonzero(result.scheduled[rec_rows] > EPS)
        o_rows = np.flatnonzero(rec_mask[order_rec])
        sup_group = np.concatenate([rec_rows, rec_rows[sched_r], order_rec[o_rows]])
        sup_bucket = np.concatenate([np.full(len(rec_rows), -1), sched_t, due[o_rows]])
        sup_qty = np.concatenate(
            [
                np.maximum(result.initial[rec_rows], 0),
                result.scheduled[rec_rows][sched_r, sched_t],
                good[o_rows],
            ]
        )
        sup_order = np.concatenate([np.full(len(rec_rows) + len(sched_r), -1), o_rows])
        r_sort = np.lexsort((req_prio, req_bucket, req_group))
        s_sort = np.lexsort((sup_order < 0, sup_bucket, sup_group))
        ri, si, amount = _fifo(
            req_group[r_sort], req_qty[r_sort], sup_group[s_sort], sup_qty[s_sort], n_rec
        )
        ri, si = r_sort[ri], s_sort[si]
        o = sup_order[si]
        is_order = o >= 0
        ri, o, amount = ri[is_order], o[is_order], amount[is_order]
        kind = req_kind[ri]
        ref = req_ref[ri]
        direct = kind < 2
        direct_matrix = sp.csr_matrix(
            (amount[direct], (o[direct], ref[direct])), shape=(n_orders, n_targets)
        )
        # Through parent orders: spread by the parent's pegging fractions.
        parents = d_order[ref[~direct]]
        via = sp.csr_matrix((amount[~direct], (o[~direct], parents)), shape=(n_orders, n_orders))
        parent_good = np.asarray(pegged.sum(axis=1)).ravel()
        scale = np.divide(1.0, parent_good, out=np.zeros_like(parent_good), where=parent_good > EPS)
        fractions = sp.diags(scale) @ pegged
        level_pegged = _keep_largest(
            direct_matrix + via @ fractions, MAX_DEMANDS_PER_ORDER, other_target
        )
        # Whatever of an order no requirement took is lot excess.
        taken = np.asarray(level_pegged.sum(axis=1)).ravel()
        left = np.where(rec_mask[order_rec], good - taken, 0.0)
        extra = sp.csr_matrix(
            (np.maximum(left, 0), (np.arange(n_orders), np.full(n_orders, excess_target))),
            shape=(n_orders, n_targets),
        )
        pegged = pegged + level_pegged + extra

    coo = pegged.tocoo()
    keep = coo.data > EPS
    frame = pd.DataFrame(
        {
            "Order": orders["Order"].to_numpy(object)[coo.row[keep]],
            "Demand": np.array(targets, dtype=object)[coo.col[keep]],
            "Qty": np.round(coo.data[keep], 6),
            "_order": coo.row[keep],
            "_target": coo.col[keep],
        }
    )
    return (
        frame.sort_values(["_order", "_target"])
        .drop(columns=["_order", "_target"])
        .reset_index(drop=True)
    )


def _keep_largest(matrix: sp.csr_matrix, keep: int, other: int) -> sp.csr_matrix:
    """Per row, the ``keep`` largest entries; the rest summed into column ``other``."""
    matrix = matrix.tocsr()
    counts = np.diff(matrix.indptr)
    heavy = np.flatnonzero(counts > keep)
    if not heavy.size:
        return matrix
    light_rows = np.ones(matrix.shape[0], dtype=bool)
    light_rows[heavy] = False
    light = sp.diags(light_rows.astype(np.float64)) @ matrix
    sub = matrix[heavy].tocoo()
    # Within each heavy row, rank entries by size with one sort on a combined key: the row
    # number plus a fraction that falls as the entry grows.
    key = sub.row + (1.0 - sub.data / (float(sub.data.max()) * (1 + 1e-9)))
    order = np.argsort(key)
    rows, cols, data = sub.row[order], sub.col[order], sub.data[order]
    rank = np.arange(len(rows)) - np.searchsorted(rows, rows, side="left")
    kept = (rank < keep) & (cols != other)
    rest = np.bincount(rows[~kept], weights=data[~kept], minlength=len(heavy))
    pruned = sp.csr_matrix(
        (
            np.concatenate([data[kept], rest]),
            (
                np.concatenate([heavy[rows[kept]], heavy]),
                np.concatenate([cols[kept], np.full(len(heavy), other)]),
            ),
        ),
        shape=matrix.shape,
    )
    return (light + pruned).tocsr()


def pegged_to(
    orders: pd.Series, pegging: pd.DataFrame, shown: int = 3, limit: int = 250
) -> list[str]:
    """A short summary per order: its first demands, then "+N more" (never over a cell)."""
    if pegging.empty:
        return [""] * len(orders)
    real = pegging[~pegging["Demand"].isin([SAFETY_STOCK, LOT_EXCESS, OTHER_DEMANDS])]
    order_codes = pd.Index(orders.astype(str))
    row_order = order_codes.get_indexer(pd.Index(real["Order"].astype(str)))
    known = row_order >= 0
    row_order = row_order[known]
    demands = real["Demand"].to_numpy(object)[known]
    # Rank each demand within its order (pegging lists an order's demands together).
    sort = np.argsort(row_order, kind="stable")
    row_order, demands = row_order[sort], demands[sort]
    rank = np.arange(len(row_order)) - np.searchsorted(row_order, row_order, side="left")
    counts = np.bincount(row_order, minlength=len(orders))
    text = np.full(len(orders), "", dtype=object)
    for k in range(shown):
        at = rank == k
        part = demands[at]
        target = row_order[at]
        text[target] = (text[target] + ", " + part) if k else part
    more = counts > shown
    text[more] = text[more] + np.array([f" +{n - shown} more" for n in counts[more]], dtype=object)
    return [t[:limit] for t in text.tolist()]
