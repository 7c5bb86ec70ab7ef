"""Pegging: which demand each planned order ultimately serves, through every BOM level.

Within each (item, site) record, requirements (safety stock first, then demand and parent
orders by bucket, more important customers first) are served first-in-first-out by supply
(opening stock, open receipts, firm and planned orders, by bucket). Matching two sorted
streams is done for all records at once with cumulative sums: the breakpoints of both
running totals cut them into pieces, and each piece belongs to one requirement and one
supply. A component order that serves a parent order inherits the parent's pegging in
proportion (a sparse matrix product per level), so a purchase order is pegged to the
customer orders at the top of the BOM.

What no demand takes is pegged to ``(safety stock)`` or ``(lot excess)``. Each order lists
at most a given number of demands (its largest); the rest are summed as ``(other
demands)``.

The table can run to tens of millions of rows, so it is built lean: each level's pegging
is one sparse block (an order per row, a demand or marker per column), the table is laid
out from the blocks without sorting its rows, and ``Order`` and ``Demand`` are
categoricals whose codes index the orders and the demands.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp

from sheetloop.solver.lot_rules import EPS
from sheetloop.solver.mrp import MrpResult

SAFETY_STOCK = "(safety stock)"
LOT_EXCESS = "(lot excess)"
OTHER_DEMANDS = "(other demands)"
MARKERS = (SAFETY_STOCK, LOT_EXCESS, OTHER_DEMANDS)
#: Demands listed per order by default (the ``Pegging Demands`` setting); the rest are
#: summed into one "(other demands)" row. Shared components deep in a BOM serve thousands
#: of end-item orders: listing every one would grow the table with the product of the
#: fan-outs of all levels.
MAX_DEMANDS_PER_ORDER = 10

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Int32Array = npt.NDArray[np.int32]


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
    # Every entry ends at its group's running total on its side. Running totals are kept
    # per group: one running total over all groups reaches 1e11 in a big plan, where a
    # float's resolution (1e-5) would cut pieces that are not there.
    # Entries of no quantity take part in nothing (and would tie with their neighbours).
    r_real = np.flatnonzero(req_qty > EPS)
    s_real = np.flatnonzero(sup_qty > EPS)
    req_group, sup_group = req_group[r_real], sup_group[s_real]
    r_end = _running(req_group, req_qty[r_real])
    s_end = _running(sup_group, sup_qty[s_real])
    # All ends of a group on one line, from the group's start (a 0 first): consecutive
    # ends bound the pieces. A stable sort keeps the start first among equal ends.
    group = np.concatenate([np.arange(n_groups), req_group, sup_group])
    value = np.concatenate([np.zeros(n_groups), r_end, s_end])
    side = np.concatenate(
        [np.zeros(n_groups, np.int8), np.ones(len(r_end), np.int8), np.full(len(s_end), 2, np.int8)]
    )
    order = _by_group_then_value(group, value)
    group, value, side = group[order], value[order], side[order]
    lengths = np.diff(value)
    piece = np.flatnonzero((group[1:] == group[:-1]) & (lengths > EPS))
    # A piece belongs, on each side, to the first entry ending at or after it: each
    # side's ends come in its own order, so that entry is the count of the side's ends
    # before the piece ends. If it is in a later group, the piece lies beyond the side's
    # total: nothing to match.
    ri = np.cumsum(side == 1)[piece]
    # Ends up to a piece: one group start per group so far, the requirement ends, the rest
    # supply ends.
    si = piece - group[piece] - ri
    ok = (ri < len(r_end)) & (si < len(s_end))
    piece, ri, si = piece[ok], ri[ok], si[ok]
    ok = (req_group[ri] == group[piece]) & (sup_group[si] == group[piece])
    return r_real[ri[ok]], s_real[si[ok]], lengths[piece[ok]]


def _by_group_then_value(group: IntArray, value: FloatArray) -> IntArray:
    """The stable order of rows by group, then value."""
    # Complex numbers sort by real part, then imaginary part: one exact key, and the rows
    # (a few runs already in order) sort in near-linear time, several times faster than
    # a sort per key.
    return np.argsort(group + 1j * value, kind="stable")


def _running(group: IntArray, qty: FloatArray) -> FloatArray:
    """The running total of ``qty`` within each group (rows sorted by group)."""
    if not len(qty):
        return np.zeros(0)
    running = pd.Series(qty).groupby(group, sort=False).cumsum()
    return np.asarray(running, dtype=np.float64)


def _positions(index: pd.Index, values: pd.Series) -> IntArray:
    """Where each of ``values`` is in ``index`` (-1: nowhere). A categorical's categories
    are looked up once rather than once per row: hashing millions of strings costs
    seconds."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes = np.asarray(values.cat.codes, dtype=np.int64)
        found = np.append(index.get_indexer(values.cat.categories), -1)
        return found[codes].astype(np.int64)
    return index.get_indexer(pd.Index(values)).astype(np.int64)


def _record_of(records: pd.DataFrame, items: pd.Series, sites: pd.Series) -> IntArray:
    """The record (row of ``records``) of each (item, site) pair, -1 for none."""
    item_index = pd.Index(pd.unique(records["Item"].to_numpy(object)))
    site_index = pd.Index(pd.unique(records["Site"].to_numpy(object)))
    n_sites = max(len(site_index), 1)
    table = np.full(len(item_index) * n_sites, -1, dtype=np.int64)
    table[
        _positions(item_index, records["Item"]) * n_sites + _positions(site_index, records["Site"])
    ] = np.arange(len(records))
    item = _positions(item_index, items)
    site = _positions(site_index, sites)
    found = (item >= 0) & (site >= 0)
    return np.where(found, table[np.where(found, item * n_sites + site, 0)], -1)


def _by_level(level: IntArray, n_levels: int) -> tuple[IntArray, IntArray]:
    """Rows grouped by level (stable) and where each level starts: rows of level L are
    ``order[starts[L]:starts[L + 1]]``. Rows of level -1 (no record) are left out."""
    # Levels are small: as 16-bit integers they sort stably in linear time (radix).
    order = np.argsort(level.astype(np.int16), kind="stable")
    starts = np.searchsorted(level[order], np.arange(n_levels + 1))
    return order, starts


def peg(
    result: MrpResult,
    demand: pd.DataFrame | None = None,
    tiers: pd.Series | None = None,
    *,
    max_demands: int = MAX_DEMANDS_PER_ORDER,
) -> pd.DataFrame:
    """The Pegging table (``Order``, ``Demand``, ``Qty``): how much of each order's good
    quantity each demand takes, through every BOM level, an order's rows together in the
    order of ``result.planned_orders``, its demands by due bucket (then tier), then
    ``(safety stock)``, ``(lot excess)`` and ``(other demands)``.

    Each order lists its ``max_demands`` largest demands (ties: the earlier first) and sums
    the rest into ``(other demands)``; safety stock and lot excess always keep rows of
    their own. ``demand`` is not used (the engine's bucketed demand, ``result.demand``,
    is); ``tiers`` maps customers to tiers (default 3)."""
    if max_demands < 1:
        raise ValueError(f"an order lists at least one demand, not {max_demands}")
    orders = result.planned_orders
    if orders.empty:
        empty = np.zeros(0, np.int32)
        return _pegging_frame(empty, pd.Index([]), empty, [], [])
    dem = _demand_targets(result.demand, tiers)
    targets = [*dem["Demand"].astype(str).tolist(), *MARKERS]
    network = _Network.of(result, dem)
    blocks: list[sp.csr_matrix] = []
    for lvl in range(network.n_levels):
        blocks.append(_level_block(network, lvl, blocks, max_demands))
    orders_by, orders_at = network.orders_by, network.orders_at
    del network  # its arrays (millions of dependent requirements) go before the table comes
    return _assemble(blocks, orders_by, orders_at, orders["Order"], targets, len(orders))


def _demand_targets(demand: pd.DataFrame, tiers: pd.Series | None) -> pd.DataFrame:
    """Demand lines in the horizon with their tiers, in target order: by due bucket, then
    tier, then id (the columns of the pegging, before the markers)."""
    dem = demand[(demand["Bucket"] >= 0)].copy() if len(demand) else demand.copy()
    tier = (
        dem["Customer"].map(tiers)
        if tiers is not None and "Customer" in dem and len(dem)
        else pd.Series(3.0, index=dem.index)
    ).fillna(3.0)
    dem["Tier"] = tier.to_numpy(float) if len(dem) else []
    return dem.sort_values(["Bucket", "Tier", "Demand"], kind="stable").reset_index(drop=True)


@dataclass
class _Network:
    """What pegging works on, as arrays: records (item-site) with their level, safety
    stock, opening stock and receipts; orders, demand lines and dependent requirements
    (an order's release × quantity per, at each component), each grouped by level."""

    result: MrpResult
    levels: IntArray
    n_levels: int
    order_rec: IntArray
    order_level: IntArray
    orders_by: IntArray
    orders_at: IntArray
    local: IntArray  # each order's row within its level's block
    row_total: FloatArray  # what each order's row pegs in all (filled level by level)
    good: FloatArray
    due: IntArray
    safety: FloatArray
    initial: FloatArray
    recs_by: IntArray
    recs_at: IntArray
    dem_rec: IntArray
    dem_bucket: IntArray
    dem_tier: FloatArray
    dem_qty: FloatArray
    dem_by: IntArray
    dem_at: IntArray
    d_order: Int32Array
    d_rec: Int32Array
    d_bucket: Int32Array
    d_qty: FloatArray
    dep_by: IntArray
    dep_at: IntArray
    n_targets: int
    n_buckets: int
    prios: FloatArray

    @classmethod
    def of(cls, result: MrpResult, dem: pd.DataFrame) -> _Network:
        records, orders = result.records, result.planned_orders
        levels = records["Level"].to_numpy(np.int64)
        n_levels = int(levels.max(initial=-1)) + 1

        def level_of(rec: npt.NDArray[np.integer[Any]]) -> IntArray:
            return np.where(rec >= 0, levels[np.maximum(rec, 0)], -1)

        order_rec = _record_of(records, orders["Item"], orders["Site"])
        order_level = level_of(order_rec)
        orders_by, orders_at = _by_level(order_level, n_levels)
        local = np.zeros(len(orders), dtype=np.int64)
        for lvl in range(n_levels):
            members = orders_by[orders_at[lvl] : orders_at[lvl + 1]]
            local[members] = np.arange(len(members))
        dem_rec = _record_of(records, dem["Item"].astype(str), dem["Site"].astype(str))
        release = orders["Release"].to_numpy(np.int64)
        qty = orders["Qty"].to_numpy(float)
        # Tens of millions in a big plan: kept as 32-bit integers where they fit.
        d_order, d_edge = _dependent(order_rec, result.edge_parent)
        d_rec = result.edge_component[d_edge].astype(np.int32)
        d_qty = qty[d_order] * result.edge_per[d_edge]
        del d_edge
        recs_by, recs_at = _by_level(levels, n_levels)
        dem_by, dem_at = _by_level(level_of(dem_rec), n_levels)
        dep_by, dep_at = _by_level(level_of(d_rec), n_levels)
        due = orders["Due"].to_numpy(np.int64)
        dem_bucket = dem["Bucket"].to_numpy(np.int64)
        dem_tier = dem["Tier"].to_numpy(float)
        periods = result.gross.shape[1] if result.gross.ndim == 2 else 0
        last = max(due.max(initial=0), release.max(initial=0), dem_bucket.max(initial=0), periods)
        return cls(
            result=result,
            levels=levels,
            n_levels=n_levels,
            order_rec=order_rec,
            order_level=order_level,
            orders_by=orders_by,
            orders_at=orders_at,
            local=local,
            row_total=np.zeros(len(orders)),
            good=orders["Good Qty"].to_numpy(float),
            due=due,
            safety=records["Safety Stock"].to_numpy(float),
            initial=np.asarray(result.initial, dtype=float),
            recs_by=recs_by,
            recs_at=recs_at,
            dem_rec=dem_rec,
            dem_bucket=dem_bucket,
            dem_tier=dem_tier,
            dem_qty=dem["Qty"].to_numpy(float),
            dem_by=dem_by,
            dem_at=dem_at,
            d_order=d_order,
            d_rec=d_rec,
            d_bucket=release[d_order].astype(np.int32),
            d_qty=d_qty,
            dep_by=dep_by,
            dep_at=dep_at,
            n_targets=len(dem) + len(MARKERS),
            n_buckets=int(last) + 2,
            # Requirements are served by record, bucket (-1: safety stock, opening stock),
            # then priority: safety stock 0, demand its tier, parent orders 9.
            prios=np.unique(np.concatenate([[0.0, 9.0], dem_tier])),
        )


def _scheduled(result: MrpResult, rows: IntArray) -> tuple[IntArray, IntArray, FloatArray]:
    """The open receipts of some records: (row among ``rows``, bucket, quantity). Read off
    the engine's sparse line where it keeps one: made dense, it would take a quarter of a
    gigabyte at 100,000 items."""
    sparse = result.sparse_lines.get("Scheduled Receipts")
    if sparse is None:
        dense = result.scheduled[rows]
        at_row, bucket = np.nonzero(dense > EPS)
        return at_row, bucket, dense[at_row, bucket]
    part = sparse[rows].tocoo()
    keep = part.data > EPS
    return (
        part.row[keep].astype(np.int64),
        part.col[keep].astype(np.int64),
        np.asarray(part.data[keep], dtype=np.float64),
    )


def _level_block(
    net: _Network, lvl: int, blocks: list[sp.csr_matrix], max_demands: int
) -> sp.csr_matrix:
    """The pegging of the orders of one level (a row per order, a column per target),
    given the blocks of the levels above it."""
    members = net.orders_by[net.orders_at[lvl] : net.orders_at[lvl + 1]]
    n_demands = net.n_targets - len(MARKERS)
    ss_target, excess_target, other_target = n_demands, n_demands + 1, n_demands + 2
    rec_rows = net.recs_by[net.recs_at[lvl] : net.recs_at[lvl + 1]]
    i_rows = net.dem_by[net.dem_at[lvl] : net.dem_at[lvl + 1]]
    j_rows = net.dep_by[net.dep_at[lvl] : net.dep_at[lvl + 1]]
    ss_recs = rec_rows[net.safety[rec_rows] > EPS]
    # Requirements of this level's records: safety stock, demand, parent orders.
    req_group = np.concatenate([ss_recs, net.dem_rec[i_rows], net.d_rec[j_rows]])
    req_bucket = np.concatenate(
        [np.full(len(ss_recs), -1), net.dem_bucket[i_rows], net.d_bucket[j_rows]]
    )
    req_prio = np.concatenate(
        [np.zeros(len(ss_recs)), net.dem_tier[i_rows], np.full(len(j_rows), 9.0)]
    )
    req_qty = np.concatenate([net.safety[ss_recs], net.dem_qty[i_rows], net.d_qty[j_rows]])
    n_direct = len(ss_recs) + len(i_rows)
    req_ref = np.concatenate([np.full(len(ss_recs), ss_target), i_rows, j_rows])
    # Supply of this level's records: opening stock, receipts, orders.
    sched_r, sched_t, sched_qty = _scheduled(net.result, rec_rows)
    sup_group = np.concatenate([rec_rows, rec_rows[sched_r], net.order_rec[members]])
    sup_bucket = np.concatenate([np.full(len(rec_rows), -1), sched_t, net.due[members]])
    sup_qty = np.concatenate([np.maximum(net.initial[rec_rows], 0), sched_qty, net.good[members]])
    sup_order = np.concatenate([np.full(len(rec_rows) + len(sched_r), -1), members])
    # One integer key per side (record, bucket, priority) sorted stably: cheaper than a
    # sort per key.
    r_sort = np.argsort(
        (req_group * net.n_buckets + req_bucket + 1) * len(net.prios)
        + np.searchsorted(net.prios, req_prio),
        kind="stable",
    )
    s_sort = np.argsort(
        (sup_group * net.n_buckets + sup_bucket + 1) * 2 + (sup_order < 0), kind="stable"
    )
    ri, si, amount = _fifo(
        req_group[r_sort], req_qty[r_sort], sup_group[s_sort], sup_qty[s_sort], len(net.levels)
    )
    ri, si = r_sort[ri], s_sort[si]
    o = sup_order[si]
    is_order = o >= 0
    ri, o, amount = ri[is_order], o[is_order], amount[is_order]
    direct = ri < n_direct
    shape = (len(members), net.n_targets)
    block = sp.csr_matrix(
        (amount[direct], (net.local[o[direct]], req_ref[ri[direct]])), shape=shape
    )
    # Through parent orders: spread by each parent's pegging, in proportion.
    parents = net.d_order[req_ref[ri[~direct]]]
    weight = np.divide(
        amount[~direct],
        net.row_total[parents],
        out=np.zeros(len(parents)),
        where=net.row_total[parents] > EPS,
    )
    child = net.local[o[~direct]]
    parent_level = net.order_level[parents]
    for k in np.unique(parent_level).tolist():
        at = parent_level == k
        via = sp.csr_matrix(
            (weight[at], (child[at], net.local[parents[at]])),
            shape=(len(members), blocks[k].shape[0]),
        )
        block = block + via @ blocks[k]
    block = _cap(block, max_demands, n_demands, other_target)
    # Whatever of an order no requirement took is lot excess.
    taken = np.asarray(block.sum(axis=1)).ravel()
    left = np.maximum(net.good[members] - taken, 0)
    rows = np.flatnonzero(left > 0)
    block = block + sp.csr_matrix(
        (left[rows], (rows, np.full(len(rows), excess_target))), shape=shape
    )
    block.sum_duplicates()
    block.sort_indices()
    net.row_total[members] = np.asarray(block.sum(axis=1)).ravel()
    return block


def _dependent(order_rec: IntArray, edge_parent: IntArray) -> tuple[Int32Array, IntArray]:
    """(order, BOM edge) of every dependent requirement: each order once per edge whose
    parent is the order's record."""
    if not len(edge_parent):
        return np.zeros(0, np.int32), np.zeros(0, np.int64)
    sorter = np.argsort(edge_parent, kind="stable")
    sorted_parent = edge_parent[sorter]
    starts = np.searchsorted(sorted_parent, order_rec, side="left")
    counts = np.searchsorted(sorted_parent, order_rec, side="right") - starts
    d_order = np.repeat(np.arange(len(order_rec), dtype=np.int32), counts)
    offsets = np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
    return d_order, sorter[offsets]


def _cap(matrix: sp.csr_matrix, keep: int, n_demands: int, other: int) -> sp.csr_matrix:
    """Per row, the ``keep`` largest demand entries (columns below ``n_demands``; of equal
    ones the earlier column); the row's other demand entries are summed into column
    ``other``. Marker columns are left as they are."""
    matrix = matrix.tocsr()
    matrix.sum_duplicates()
    matrix.sort_indices()
    n_rows = matrix.shape[0]
    # Rows a few million entries at a time: the sort's working arrays stay a fraction of
    # the matrix (the deepest level's can hold tens of millions).
    step = 4_000_000
    bounds = np.unique(
        np.r_[np.searchsorted(matrix.indptr, np.arange(0, matrix.nnz, step), "right") - 1, n_rows]
    )
    kept = np.ones(matrix.nnz, dtype=bool)
    rest = np.zeros(n_rows)
    for start, stop in itertools.pairwise(bounds):
        lo, hi = matrix.indptr[start], matrix.indptr[stop]
        dropped = _beyond(
            matrix.indptr[start : stop + 1] - lo,
            matrix.indices[lo:hi],
            matrix.data[lo:hi],
            keep,
            n_demands,
        )
        kept[lo + dropped] = False
        row = np.searchsorted(matrix.indptr, lo + dropped, side="right") - 1
        rest += np.bincount(row, weights=matrix.data[lo + dropped], minlength=n_rows)
    if kept.all():
        return matrix
    row = np.repeat(np.arange(n_rows, dtype=np.int32), np.diff(matrix.indptr))
    into = np.flatnonzero(rest > 0)
    pruned = sp.csr_matrix(
        (
            np.concatenate([matrix.data[kept], rest[into]]),
            (
                np.concatenate([row[kept], into]),
                np.concatenate([matrix.indices[kept], np.full(len(into), other)]),
            ),
        ),
        shape=matrix.shape,
    )
    pruned.sum_duplicates()
    return pruned


def _beyond(
    indptr: IntArray, indices: IntArray, data: FloatArray, keep: int, n_demands: int
) -> IntArray:
    """Of rows in CSR form (sorted columns), the entries past each row's ``keep`` largest
    demand entries (columns below ``n_demands``)."""
    n_rows = len(indptr) - 1
    row = np.repeat(np.arange(n_rows, dtype=np.int32), np.diff(indptr))
    is_demand = indices < n_demands
    heavy = np.bincount(row[is_demand], minlength=n_rows) > keep
    if not heavy.any():
        return np.zeros(0, dtype=np.int64)
    pick = np.flatnonzero(is_demand & heavy[row])
    rows = row[pick]
    # Rank within each row by size: one sort on (row, -size) as a complex key (see
    # _by_group_then_value); stable, so of equal entries the earlier column comes first.
    first = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
    counts = np.diff(np.r_[first, len(rows)])
    order = np.argsort(rows - 1j * data[pick], kind="stable")
    rank = np.arange(len(order)) - np.repeat(first, counts)
    return np.asarray(pick[order[rank >= keep]], dtype=np.int64)


def _assemble(
    blocks: list[sp.csr_matrix],
    orders_by: IntArray,
    orders_at: IntArray,
    order_ids: pd.Series,
    targets: list[str],
    n_orders: int,
) -> pd.DataFrame:
    """The table from the level blocks: each order's rows together, in order, without
    sorting the rows. Quantities are rounded to 6 decimals; what rounds to 0 is float noise
    and has no row."""
    kept: list[npt.NDArray[np.bool_]] = []
    counts = np.zeros(n_orders, dtype=np.int64)
    for lvl, block in enumerate(blocks):
        members = orders_by[orders_at[lvl] : orders_at[lvl + 1]]
        block.data = np.round(block.data, 6)
        keep = block.data > 0
        row = np.repeat(np.arange(block.shape[0], dtype=np.int32), np.diff(block.indptr))
        counts[members] = np.bincount(row[keep], minlength=block.shape[0])
        kept.append(keep)
    starts = np.cumsum(counts) - counts
    total = int(counts.sum())
    columns = np.empty(total, dtype=np.int32)
    qty = np.empty(total)
    for lvl, block in enumerate(blocks):
        members = orders_by[orders_at[lvl] : orders_at[lvl + 1]]
        keep = kept[lvl]
        n_kept = counts[members]
        # Entries stay in row order, so each one's place is its row's start plus its rank.
        at = np.repeat(starts[members] - (np.cumsum(n_kept) - n_kept), n_kept)
        at += np.arange(len(at))
        columns[at] = block.indices[keep]
        qty[at] = block.data[keep]
        blocks[lvl] = sp.csr_matrix((0, 0))  # its rows are placed: let it go
        del at
    order_codes = np.repeat(np.arange(n_orders, dtype=np.int32), counts)
    return _pegging_frame(order_codes, pd.Index(order_ids), columns, targets, qty)


def _pegging_frame(
    order_codes: Int32Array,
    order_ids: pd.Index,
    target_codes: Int32Array,
    targets: list[str],
    qty: FloatArray | list[float],
) -> pd.DataFrame:
    # Two demands may share a name (a demand called like a marker): one category each.
    target_map, names = pd.factorize(pd.Index(targets, dtype=object))
    demand_codes = target_map.astype(np.int32)[target_codes]
    return pd.DataFrame(
        {
            "Order": _categorical(order_codes, order_ids),
            "Demand": _categorical(demand_codes, pd.Index(names, dtype=object)),
            "Qty": np.asarray(qty, dtype=float),
        },
        copy=False,
    )


def _categorical(codes: Int32Array, labels: pd.Index) -> pd.Categorical:
    """A categorical of ``labels[codes]``, for labels known to be unique. Order ids are
    unique by the contract (the engine makes them so), and checking that again hashes
    millions of strings (seconds at 7 million orders): where pandas offers its unchecked
    path, it is taken."""
    labels = pd.Index(labels, dtype=object)
    fast: Any = getattr(pd.CategoricalDtype, "_from_fastpath", None)
    dtype = fast(labels, False) if fast is not None else pd.CategoricalDtype(labels)
    return pd.Categorical.from_codes(codes, dtype=dtype, validate=False)


def pegged_to(
    orders: pd.Series, pegging: pd.DataFrame, shown: int = 3, limit: int = 250
) -> list[str]:
    """A short summary per order: its first demands, then "+N more" (never over a cell)."""
    if pegging.empty:
        return [""] * len(orders)
    order_pos = _codes_in(pegging["Order"], orders)
    demand_codes, names = _codes(pegging["Demand"])
    real = ~pd.Index(names).isin(list(MARKERS))
    rows = np.flatnonzero(
        real[np.maximum(demand_codes, 0)] & (demand_codes >= 0) & (order_pos >= 0)
    )
    at_order, demand_codes = order_pos[rows], demand_codes[rows]
    # Rank each demand within its order (the table lists an order's demands together).
    if np.any(at_order[1:] < at_order[:-1]):
        sort = np.argsort(at_order, kind="stable")
        at_order, demand_codes = at_order[sort], demand_codes[sort]
    first = np.flatnonzero(np.r_[True, at_order[1:] != at_order[:-1]]) if len(rows) else rows
    counts = np.zeros(len(orders), dtype=np.int64)
    counts[at_order[first]] = np.diff(np.r_[first, len(rows)])
    starts = np.zeros(len(orders), dtype=np.int64)
    starts[at_order[first]] = first
    # The k-th demand of each order (-1: it has fewer).
    listed = [
        np.where(counts > k, demand_codes[np.minimum(starts + k, max(len(rows) - 1, 0))], -1)
        if len(rows)
        else np.full(len(orders), -1)
        for k in range(shown)
    ]
    more = np.maximum(counts - shown, 0)
    encoded = [str(n).encode("utf-8") for n in names]
    if any(b"\n" in e or b"\0" in e for e in encoded):
        return _summaries_one_by_one(names, listed, more, limit)
    text = _summaries(np.array(encoded or [b""], dtype=bytes), listed, more)
    return [t if len(t) <= limit else t[:limit] for t in text]


def _summaries(names: npt.NDArray[np.bytes_], listed: list[IntArray], more: IntArray) -> list[str]:
    """Every order's summary ("A, B, C +N more"), built as rows of bytes: each order's
    parts side by side in a matrix padded with NUL bytes, the NULs squeezed out, the rows
    split at their newlines. A string operation per order would cost seconds at 7 million
    orders."""
    width = names.dtype.itemsize
    tails = np.array([f" +{n} more".encode() for n in range(int(more.max(initial=0)) + 1)])
    tails[0] = b""
    out: list[str] = []
    chunk = 500_000
    for start in range(0, len(more), chunk):
        stop = min(start + chunk, len(more))
        parts = []
        for k, codes in enumerate(listed):
            part = codes[start:stop]
            has = (part >= 0)[:, None]
            if k:
                parts.append(np.where(has, np.frombuffer(b", ", np.uint8), 0).astype(np.uint8))
            parts.append(names[np.maximum(part, 0)].view(np.uint8).reshape(-1, width) * has)
        tail = tails[more[start:stop]]
        parts.append(tail.view(np.uint8).reshape(-1, tail.dtype.itemsize))
        parts.append(np.full((stop - start, 1), ord("\n"), dtype=np.uint8))
        matrix = np.concatenate(parts, axis=1).ravel()
        out += matrix[matrix != 0].tobytes().decode("utf-8").split("\n")[:-1]
    return out


def _summaries_one_by_one(
    names: npt.NDArray[np.object_], listed: list[IntArray], more: IntArray, limit: int
) -> list[str]:
    """The summaries one order at a time (demand names with line breaks or NULs)."""
    out = []
    for i in range(len(more)):
        text = ", ".join(str(names[codes[i]]) for codes in listed if codes[i] >= 0)
        if more[i]:
            text += f" +{more[i]} more"
        out.append(text[:limit])
    return out


def _codes(values: pd.Series) -> tuple[IntArray, npt.NDArray[np.object_]]:
    """Each value's code and the distinct values (a categorical's own, without hashing)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes = np.asarray(values.cat.codes, dtype=np.int64)
        return codes, values.cat.categories.to_numpy(object)
    found, uniques = pd.factorize(values.astype(object))
    names = np.array([str(v) for v in uniques], dtype=object)
    return np.asarray(found, dtype=np.int64), names


def _codes_in(values: pd.Series, labels: pd.Series) -> IntArray:
    """The position in ``labels`` of each of ``values`` (-1: not there). A categorical
    made over ``labels`` themselves (as ``peg`` makes the Order column) is read off its
    codes: looking up millions of order ids would cost seconds."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        categories = values.cat.categories.to_numpy(object)
        own = labels.to_numpy(object)
        if len(categories) == len(own) and np.array_equal(categories, own):
            return np.asarray(values.cat.codes, dtype=np.int64)
    if not isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype(str)
    return _positions(pd.Index(labels.astype(str)), values)
