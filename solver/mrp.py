"""MRP: from master data, stock, open orders and demand to planned orders, level by level.

Pandas in, pandas out. Inputs use the contract's column names (``Item``, ``Lead Time``,
``Qty Per``...). Every (item, site) record is planned once, at its item's low-level code,
after all its parents; all records of a level are netted together (``netting.net``), and
their planned releases become the gross requirements of their components at the same
site through one sparse matrix product per level.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp

from sheetloop.solver.bom import low_level_codes
from sheetloop.solver.buckets import Calendar
from sheetloop.solver.lot_rules import DYNAMIC_RULES, EPS, eoq_lots, poq_spans
from sheetloop.solver.netting import NettingInput, PlannedReceipts, net

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

DEFAULT_SITE = "MAIN"
LINES = (
    "Gross Requirements",
    "Scheduled Receipts",
    "Projected On Hand",
    "Net Requirements",
    "Planned Receipts",
    "Planned Releases",
)
PARAMS = (
    "Lead Time",
    "Safety Stock",
    "Lot Rule",
    "Lot Size",
    "POQ Periods",
    "Min Order Qty",
    "Order Multiple",
    "Supplier",
)


@dataclass
class MrpResult:
    """What MRP decided, in bucket indexes (0 = first bucket of the horizon).

    The lines of the MRP record are (records × buckets) arrays: ``gross`` and ``on_hand``
    are held dense; ``scheduled``, ``net``, ``receipts`` and ``releases``, filled only
    where there is an order, are held sparse and made dense on first use (:meth:`lines`
    gives some records' lines without that)."""

    calendar: Calendar
    records: pd.DataFrame  # one row per (Item, Site): Level, then the arrays below by index
    gross: FloatArray
    on_hand: FloatArray
    planned_orders: pd.DataFrame  # Order, Item, Site, Kind, Release, Due, Qty, Good Qty, Firm
    exceptions: pd.DataFrame  # Item, Site, Bucket, Code, Message
    # Sparse (records × buckets) lines: open receipts, net requirements, planned receipts
    # and releases.
    sparse_lines: dict[str, sp.csr_matrix] = field(default_factory=dict)
    # What pegging needs: demand in buckets, opening stock, BOM edges between records.
    demand: pd.DataFrame = field(default_factory=pd.DataFrame)  # Demand, Item, Site, Bucket...
    initial: FloatArray = field(default_factory=lambda: np.zeros(0))  # on hand − allocated
    edge_parent: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    edge_component: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    edge_per: FloatArray = field(default_factory=lambda: np.zeros(0))

    @cached_property
    def scheduled(self) -> FloatArray:
        """Scheduled receipts (open orders), records × buckets."""
        return np.asarray(self.sparse_lines["Scheduled Receipts"].toarray())

    @cached_property
    def net(self) -> FloatArray:
        """Net requirements, records × buckets."""
        return np.asarray(self.sparse_lines["Net Requirements"].toarray())

    @cached_property
    def receipts(self) -> FloatArray:
        """Planned receipts (good quantity of planned orders), records × buckets."""
        return np.asarray(self.sparse_lines["Planned Receipts"].toarray())

    @cached_property
    def releases(self) -> FloatArray:
        """Planned releases (planned and firm orders' quantities), records × buckets."""
        return np.asarray(self.sparse_lines["Planned Releases"].toarray())

    def lines(self, rows: IntArray) -> dict[str, FloatArray]:
        """The six lines of the MRP record (:data:`LINES`) of some records, each
        (len(rows) × buckets), without making the sparse lines dense for every record."""
        dense = {"Gross Requirements": self.gross, "Projected On Hand": self.on_hand}
        return {
            line: (
                np.asarray(dense[line][rows])
                if line in dense
                else np.asarray(self.sparse_lines[line][rows].toarray())
            )
            for line in LINES
        }


def _empty(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})


def plan(
    *,
    items: pd.DataFrame,
    calendar: Calendar,
    bom: pd.DataFrame | None = None,
    inventory: pd.DataFrame | None = None,
    receipts: pd.DataFrame | None = None,
    demand: pd.DataFrame | None = None,
    item_sites: pd.DataFrame | None = None,
    firm: pd.DataFrame | None = None,
) -> MrpResult:
    """Plan every item at every site it is needed.

    ``demand`` and ``receipts`` carry dates (or period numbers with ``Bucket = period``) in
    ``Due``; ``firm`` are planned orders a planner fixed (``Order``, ``Item``, ``Site``,
    ``Due``, ``Qty``, optional ``Release``)."""
    periods = calendar.periods
    bom = bom if bom is not None else _empty(["Parent", "Component", "Qty Per", "Scrap %"])
    inventory = inventory if inventory is not None else _empty(["Item", "Site", "On Hand"])
    receipts = receipts if receipts is not None else _empty(["Order", "Item", "Site", "Due", "Qty"])
    demand = (
        demand if demand is not None else _empty(["Demand", "Item", "Site", "Due", "Qty", "Kind"])
    )
    firm = firm if firm is not None else _empty(["Order", "Item", "Site", "Due", "Qty"])
    exceptions: list[dict[str, object]] = []
    frames: list[pd.DataFrame] = []  # exceptions found in bulk

    item_codes = pd.Index(items["Item"].astype(str))
    n_items = len(item_codes)
    parent_idx = item_codes.get_indexer(pd.Index(bom["Parent"].astype(str)))
    comp_idx = item_codes.get_indexer(pd.Index(bom["Component"].astype(str)))
    levels = low_level_codes(n_items, parent_idx, comp_idx, names=item_codes.tolist()).level
    has_components = np.zeros(n_items, dtype=bool)
    has_components[parent_idx] = True

    dem = _bucketed(demand, "Due", calendar)
    dem["Site"] = dem["Site"].fillna(DEFAULT_SITE) if "Site" in dem else DEFAULT_SITE
    kind = dem["Kind"].fillna("order") if "Kind" in dem else pd.Series("order", dem.index)
    dem["Kind"] = kind
    past_orders = (dem["Bucket"] < 0) & (dem["Kind"] == "order")
    frames.append(
        _flagged(
            dem[past_orders],
            "PAST_DUE_DEMAND",
            "demand ",
            "Demand",
            " was due before the horizon: planned in the first bucket",
        )
    )
    dem.loc[past_orders, "Bucket"] = 0
    dem = dem[(dem["Bucket"] >= 0) & (dem["Bucket"] < periods)]

    rec = _bucketed(receipts, "Due", calendar)
    rec["Site"] = rec["Site"].fillna(DEFAULT_SITE) if "Site" in rec else DEFAULT_SITE
    frames.append(
        _flagged(
            rec[rec["Bucket"] < 0],
            "PAST_DUE_RECEIPT",
            "receipt ",
            "Order",
            " was due before the horizon: counted in the first bucket; expedite or correct "
            "its date",
        )
    )
    rec.loc[rec["Bucket"] < 0, "Bucket"] = 0
    rec = rec[rec["Bucket"] < periods]

    frm = _bucketed(firm, "Due", calendar)
    frm["Site"] = frm["Site"].fillna(DEFAULT_SITE) if "Site" in frm else DEFAULT_SITE
    frm = frm[(frm["Bucket"] >= 0) & (frm["Bucket"] < periods)]

    inv = inventory.copy()
    inv["Site"] = inv["Site"].fillna(DEFAULT_SITE) if "Site" in inv else DEFAULT_SITE

    # --- the records to plan: every (item, site) with any activity, and the components of
    # every record at the same site (the BOM applies at every site).
    seeds = pd.concat(
        [dem[["Item", "Site"]], rec[["Item", "Site"]], frm[["Item", "Site"]], inv[["Item", "Site"]]]
        + ([item_sites[["Item", "Site"]]] if item_sites is not None else []),
        ignore_index=True,
    ).drop_duplicates()
    seed_items = item_codes.get_indexer(pd.Index(seeds["Item"].astype(str)))
    site_codes = pd.Index(np.sort(seeds["Site"].astype(str).unique().astype(object)))
    seed_sites = site_codes.get_indexer(pd.Index(seeds["Site"].astype(str)))
    present = np.zeros((len(site_codes), n_items), dtype=bool)
    present[seed_sites, seed_items] = True
    # Propagate presence downwards level by level: a component is present wherever a parent is.
    for lvl in range(int(levels.max(initial=0)) + 1):
        at_level = levels[parent_idx] == lvl
        if at_level.any():
            p, c = parent_idx[at_level], comp_idx[at_level]
            present[:, c] |= present[:, p]
    item_of, site_of = np.nonzero(present.T)  # item by item, then site
    # Planning order: by low-level code (then as items and sites came), so each level's
    # records are one contiguous slice of every grid: views to net, never copies.
    by_level = np.argsort(levels[item_of], kind="stable")
    item_of, site_of = item_of[by_level], site_of[by_level]
    n = len(item_of)
    records = pd.DataFrame(
        {"Item": item_codes[item_of], "Site": site_codes[site_of], "Level": levels[item_of]}
    )

    params = _parameters(items, item_sites, records, has_components[item_of])
    safety_stock = params["Safety Stock"].to_numpy(np.float64)
    records["Safety Stock"] = safety_stock

    # Record of each (site, item): two lookups of text and one of integers, not a
    # MultiIndex of (item, site) pairs.
    record_of = np.full((len(site_codes) + 1, n_items + 1), -1, dtype=np.int64)
    record_of[site_of, item_of] = np.arange(n)

    def rows_of(frame: pd.DataFrame) -> IntArray:
        """Records of a frame's rows (-1: an item or site the plan does not know)."""
        item = item_codes.get_indexer(pd.Index(frame["Item"].astype(str)))
        site = site_codes.get_indexer(pd.Index(frame["Site"].astype(str)))
        # -1 (unknown) indexes the extra row or column, which holds no record.
        return np.asarray(record_of[site, item], dtype=np.int64)

    # Every grid is bucket-major (T, n): netting steps through buckets, reading and writing
    # one contiguous row at a time. MrpResult hands out their (n, T) transposed views.
    gross = np.zeros((periods, n))
    dem = consume_forecast(dem, calendar)
    # Independent demand (forecast already consumed) into the gross requirements.
    np.add.at(
        gross, (dem["Bucket"].to_numpy(np.int64), rows_of(dem)), dem["Qty"].to_numpy(np.float64)
    )
    rec_rows = rows_of(rec)
    rec_bucket = rec["Bucket"].to_numpy(np.int64)
    rec_qty = rec["Qty"].to_numpy(np.float64)
    on_hand = np.zeros(n)
    if len(inv):
        allocated = inv["Allocated"].fillna(0) if "Allocated" in inv else 0
        np.add.at(on_hand, rows_of(inv), (inv["On Hand"].fillna(0) - allocated).to_numpy(float))

    scrap = params["Assembly Scrap %"].to_numpy(np.float64)
    firm_rows = rows_of(frm)
    release_of = ReleaseTable.create(params["Lead Time"].to_numpy(np.float64), calendar)
    firm_due = frm["Bucket"].to_numpy(np.int64)
    firm_good = frm["Qty"].to_numpy(np.float64) * (1 - scrap[firm_rows] / 100)
    # Supply already decided, netted where it is: open receipts and firm planned orders.
    fixed = sp.csr_matrix(
        (
            np.concatenate([rec_qty, firm_good]),
            (np.concatenate([rec_bucket, firm_due]), np.concatenate([rec_rows, firm_rows])),
        ),
        shape=(periods, n),
    )
    if len(frm):
        rel = release_of.at(firm_rows, firm_due)
        if "Release" in frm and frm["Release"].notna().any():
            given = _bucketed(frm, "Release", calendar)["Bucket"].to_numpy(np.float64)
            rel = np.where(np.isnan(given), rel, given).astype(np.int64)
        firm_release = np.clip(rel, 0, periods - 1)
    else:
        firm_release = np.zeros(0, dtype=np.int64)
    firm_qty = frm["Qty"].to_numpy(np.float64)

    # BOM as a sparse matrix between records: parent record -> component record.
    edges = _record_edges(bom, parent_idx, comp_idx, item_of, site_of, n_items, len(site_codes), n)
    explode = sp.csr_matrix((edges.data, (edges.row, edges.col)), shape=(n, n))

    poh = np.empty((periods, n))
    rec_levels = records["Level"].to_numpy()
    bounds = np.searchsorted(rec_levels, np.arange(int(rec_levels.max(initial=-1)) + 2))
    lot_rule = params["Lot Rule"].to_numpy(object)
    min_qty = params["Min Order Qty"].to_numpy(np.float64)
    multiple = params["Order Multiple"].to_numpy(np.float64)
    made: list[PlannedReceipts] = []
    starts: list[IntArray] = []  # release buckets of the orders made, level by level
    for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        if a == b:
            continue
        cols = slice(a, b)
        fixed_here = fixed[:, cols]
        cover, lot = _coverage(cols, lot_rule, params, gross, fixed_here, on_hand, periods)
        result = net(
            NettingInput(
                gross=gross[:, cols],
                fixed=fixed_here,
                on_hand=on_hand[cols],
                safety_stock=safety_stock[cols],
                lot_size=lot,
                cover=cover,
                scrap_pct=scrap[cols],
                min_qty=min_qty[cols],
                multiple=multiple[cols],
            ),
            poh[:, cols],
        )
        # Releases: lead-time offset, past-due releases pulled into the first bucket; with
        # the firm orders', in a grid of this level's records. Two orders of a record share
        # a release bucket only there (distinct due buckets have distinct release
        # buckets), so the others are added without np.add.at; in the order netting made
        # them (bucket by bucket), which keeps the writes local.
        made_here = result.orders
        release = release_of.at(made_here.record + a, made_here.bucket)
        level_releases = np.zeros((periods, b - a))
        firm_here = (firm_rows >= a) & (firm_rows < b)
        np.add.at(
            level_releases,
            (firm_release[firm_here], firm_rows[firm_here] - a),
            firm_qty[firm_here],
        )
        later = release > 0
        level_releases[release[later], made_here.record[later]] += made_here.qty[later]
        np.add.at(level_releases[0], made_here.record[~later], made_here.qty[~later])
        # Record by record, then by due bucket.
        by_record = np.argsort(made_here.record, kind="stable")
        made_here.record += a
        made.append(made_here.take(by_record))
        starts.append(release[by_record])
        # Explode them to the components' gross requirements: one sparse (components x
        # level records) by dense (level records x buckets) product. About half the cells
        # of a release grid are filled, so a dense operand is the fast one.
        uses = explode[a:b]
        if uses.nnz:
            comps = np.unique(uses.indices)
            dependent = uses[:, comps].T @ np.ascontiguousarray(level_releases.T)
            gross[:, comps] += dependent.T

    planned = _concatenated(made)
    release_at = np.concatenate(starts) if starts else np.zeros(0, np.int64)
    orders = _planned_orders(
        records,
        params,
        planned,
        release_at,
        calendar,
        frm,
        firm_rows,
        release_of,
        frames,
    )
    first_need = np.full(n, periods, dtype=np.int64)
    if len(planned.record):
        first = np.flatnonzero(np.r_[True, planned.record[1:] != planned.record[:-1]])
        first_need[planned.record[first]] = planned.bucket[first]
    frames.append(_receipt_exceptions(calendar, rec, rec_rows, poh, first_need, safety_stock))
    exceptions += _safety_stock_exceptions(records, poh, safety_stock)

    # Planned orders are sorted by record, then bucket: their CSR structure is at hand.
    starts_at = np.r_[0, np.cumsum(np.bincount(planned.record, minlength=n))]

    def record_major(values: FloatArray, buckets: IntArray) -> sp.csr_matrix:
        return sp.csr_matrix((values, buckets, starts_at), shape=(n, periods))

    # Past-due releases share bucket 0: those rows repeat a column, which csr allows
    # (repeated entries add up when made dense).
    planned_releases = record_major(planned.qty, np.clip(release_at, 0, periods - 1))
    if len(frm):
        planned_releases = planned_releases + sp.csr_matrix(
            (firm_qty, (firm_rows, firm_release)), shape=(n, periods)
        )

    return MrpResult(
        calendar,
        records,
        gross.T,
        poh.T,
        orders,
        _exceptions_frame(exceptions, frames),
        sparse_lines={
            "Scheduled Receipts": sp.csr_matrix(
                (rec_qty, (rec_rows, rec_bucket)), shape=(n, periods)
            ),
            "Net Requirements": record_major(planned.need, planned.bucket),
            "Planned Receipts": record_major(planned.good, planned.bucket),
            "Planned Releases": planned_releases,
        },
        demand=dem,
        initial=on_hand,
        edge_parent=edges.row,
        edge_component=edges.col,
        edge_per=edges.data,
    )


def _concatenated(parts: list[PlannedReceipts]) -> PlannedReceipts:
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return PlannedReceipts(empty, empty, np.zeros(0), np.zeros(0), np.zeros(0))
    return PlannedReceipts(
        np.concatenate([p.bucket for p in parts]),
        np.concatenate([p.record for p in parts]),
        np.concatenate([p.need for p in parts]),
        np.concatenate([p.qty for p in parts]),
        np.concatenate([p.good for p in parts]),
    )


def _bucketed(frame: pd.DataFrame, column: str, calendar: Calendar) -> pd.DataFrame:
    out = frame.copy()
    values = out[column]
    valid = values.notna().to_numpy()
    bucket = np.full(len(out), np.iinfo(np.int64).min // 2, dtype=np.int64)
    if valid.any():
        bucket[valid] = calendar.index_of(values[valid])
    out["Bucket"] = bucket
    if "Qty" in out:
        out["Qty"] = pd.to_numeric(out["Qty"]).astype(np.float64)
    out["Item"] = out["Item"].astype(str) if len(out) else out["Item"]
    return out[valid] if column != "Release" else out


def consume_forecast(dem: pd.DataFrame, calendar: Calendar) -> pd.DataFrame:
    """Demand with forecast reduced to what orders did not consume.

    Forecast is consumed by orders of the same item, site and bucket, so a bucket's gross
    requirement is max(orders, forecast). With day buckets an ISO week's orders consume
    that week's forecast from its earliest day on."""
    if not len(dem):
        return dem
    out = dem.copy()
    out["Qty"] = out["Qty"].astype(np.float64)
    is_fc = (out["Kind"] == "forecast").to_numpy()
    if not is_fc.any():
        return out
    if calendar.bucket == "day":
        day = np.datetime64(calendar.start, "D") + out["Bucket"].to_numpy(np.int64)
        out["_period"] = (day - np.datetime64("2001-01-01", "D")).astype(np.int64) // 7
    else:
        out["_period"] = out["Bucket"]
    # One integer key per (item, site, period): numpy, not a groupby on text columns.
    item_code = pd.factorize(out["Item"])[0].astype(np.int64)
    site_code = pd.factorize(out["Site"])[0].astype(np.int64)
    period = out.pop("_period").to_numpy(np.int64)
    period = period - period.min()
    key = (item_code * (site_code.max() + 1) + site_code) * (period.max() + 1) + period
    group = np.unique(key, return_inverse=True)[1].ravel()
    qty = out["Qty"].to_numpy(np.float64).copy()
    orders = np.bincount(group, weights=np.where(is_fc, 0.0, qty))
    fc = np.flatnonzero(is_fc)
    fc = fc[np.lexsort((out["Bucket"].to_numpy(np.int64)[fc], group[fc]))]
    fc_group = group[fc]
    cumulative = pd.Series(qty[fc]).groupby(fc_group, sort=False).cumsum().to_numpy()
    qty[fc] = np.clip(cumulative - orders[fc_group], 0, qty[fc])
    out["Qty"] = qty
    return out[~is_fc | (out["Qty"] > EPS).to_numpy()]


def _parameters(
    items: pd.DataFrame,
    item_sites: pd.DataFrame | None,
    records: pd.DataFrame,
    has_components: npt.NDArray[np.bool_],
) -> pd.DataFrame:
    """Planning parameters per record: the item's, overridden by ItemSites where given."""
    base = items.copy()
    base["Item"] = base["Item"].astype(str)
    merged = records[["Item", "Site"]].merge(base, on="Item", how="left")
    if item_sites is not None and len(item_sites):
        over = item_sites.copy()
        over["Item"] = over["Item"].astype(str)
        over["Site"] = over["Site"].fillna(DEFAULT_SITE)
        cols = [c for c in PARAMS if c in over]
        merged = merged.merge(
            over[["Item", "Site", *cols]], on=["Item", "Site"], how="left", suffixes=("", " (site)")
        )
        for c in cols:
            merged[c] = merged[f"{c} (site)"].where(merged[f"{c} (site)"].notna(), merged[c])
            merged = merged.drop(columns=f"{c} (site)")
    defaults: dict[str, Any] = {
        "Lead Time": 0.0,
        "Safety Stock": 0.0,
        "Lot Rule": "L4L",
        "Lot Size": np.nan,
        "POQ Periods": np.nan,
        "Min Order Qty": 0.0,
        "Order Multiple": np.nan,
        "Assembly Scrap %": 0.0,
        "Setup Cost": np.nan,
        "Holding Cost": np.nan,
        "Unit Cost": 0.0,
        "Type": None,
    }
    for c, d in defaults.items():
        if c not in merged:
            merged[c] = d
        elif d is not None:
            merged[c] = merged[c].fillna(d)
    kind = np.where(has_components, "make", "buy")
    merged["Type"] = merged["Type"].where(merged["Type"].notna(), pd.Series(kind, merged.index))
    return merged


@dataclass(frozen=True)
class ReleaseTable:
    """Release bucket of an order due in each bucket, per distinct lead time: a small table
    (lead times × buckets) instead of one row per record."""

    index: IntArray  # per record: its row of ``table``
    table: IntArray  # (distinct lead times, T)

    @classmethod
    def create(cls, lead_time: FloatArray, calendar: Calendar) -> ReleaseTable:
        distinct, index = np.unique(lead_time, return_inverse=True)
        t = np.arange(calendar.periods)
        rows = []
        starts = (
            np.array(calendar.bucket_starts(), dtype="datetime64[D]") if calendar.is_dated else None
        )
        for lt in distinct:
            if starts is None:
                rows.append(t - int(np.ceil(lt - EPS)))
            else:
                release_dates = starts - np.timedelta64(round(lt), "D")
                rows.append(calendar.index_of(pd.Series(release_dates.astype("datetime64[ns]"))))
        table = np.array(rows, dtype=np.int64).reshape(len(distinct), calendar.periods)
        return cls(index.astype(np.int64), table)

    def at(self, records: IntArray, due: IntArray) -> IntArray:
        """Release buckets of orders of these records due in these buckets."""
        return self.table[self.index[records], due]


@dataclass
class _Edges:
    row: IntArray  # parent record
    col: IntArray  # component record
    data: FloatArray  # quantity per, with component scrap


def _record_edges(
    bom: pd.DataFrame,
    parent_idx: IntArray,
    comp_idx: IntArray,
    item_of: IntArray,
    site_of: IntArray,
    n_items: int,
    n_sites: int,
    n: int,
) -> _Edges:
    if not len(bom):
        z = np.zeros(0, dtype=np.int64)
        return _Edges(z, z, np.zeros(0))
    record_of = np.full((n_sites, n_items), -1, dtype=np.int64)
    record_of[site_of, item_of] = np.arange(n)
    per = bom["Qty Per"].to_numpy(np.float64) * (
        1 + (bom["Scrap %"].fillna(0).to_numpy(np.float64) if "Scrap %" in bom else 0) / 100
    )
    rows, cols, data = [], [], []
    for s in range(n_sites):
        p = record_of[s, parent_idx]
        c = record_of[s, comp_idx]
        ok = (p >= 0) & (c >= 0)
        rows.append(p[ok])
        cols.append(c[ok])
        data.append(per[ok])
    return _Edges(np.concatenate(rows), np.concatenate(cols), np.concatenate(data))


def _coverage(
    cols: slice,
    lot_rule: npt.NDArray[np.object_],
    params: pd.DataFrame,
    gross: FloatArray,
    fixed: sp.csr_matrix,
    on_hand: FloatArray,
    periods: int,
) -> tuple[npt.NDArray[np.int32] | None, FloatArray]:
    """For records ``cols``: per bucket (rows) and record, how many buckets an order
    covers (None: one everywhere); and the lot of FOQ/EOQ records (NaN for the others)."""
    lot = params["Lot Size"].to_numpy(np.float64)[cols].copy()
    rules = lot_rule[cols]
    rules_present = set(rules.tolist())
    if rules_present <= {"L4L", "FOQ"}:
        lot[rules == "L4L"] = np.nan
        return None, lot
    m = len(rules)
    cover = np.ones((periods, m), dtype=np.int32)
    setup = params["Setup Cost"].to_numpy(np.float64)[cols]
    holding = params["Holding Cost"].to_numpy(np.float64)[cols]
    average = gross[:, cols].mean(axis=0) if periods else np.zeros(m)
    is_eoq = rules == "EOQ"
    if is_eoq.any():
        lot[is_eoq] = eoq_lots(average[is_eoq], setup[is_eoq], holding[is_eoq])
    is_poq = np.flatnonzero(rules == "POQ")
    if is_poq.size:
        given = params["POQ Periods"].to_numpy(np.float64)[cols][is_poq]
        computed = poq_spans(average[is_poq], setup[is_poq], holding[is_poq])
        cover[:, is_poq] = np.where(np.isfinite(given), given, computed).astype(np.int32)
    dynamic = np.flatnonzero(np.isin(rules, list(DYNAMIC_RULES)))
    if dynamic.size:
        # The dynamic rules decide on the lot-for-lot net requirements.
        r = np.arange(cols.start, cols.stop)[dynamic]
        k = len(r)
        l4l_orders = net(
            NettingInput(
                gross[:, r],
                fixed[:, dynamic],
                on_hand[r],
                params["Safety Stock"].to_numpy(np.float64)[r],
                np.full(k, np.nan),
                None,
                np.zeros(k),
                np.zeros(k),
                np.full(k, np.nan),
            )
        ).orders
        l4l = np.zeros((periods, k))
        l4l[l4l_orders.bucket, l4l_orders.record] = l4l_orders.need
        for j, i in enumerate(dynamic.tolist()):
            rule = DYNAMIC_RULES[str(rules[i])]
            cover[:, i] = np.maximum(rule(l4l[:, j], float(setup[i]), float(holding[i])), 1)
    lot[~np.isin(rules, ["FOQ", "EOQ"])] = np.nan
    return cover, lot


def _flagged(rows: pd.DataFrame, code: str, before: str, name: str, after: str) -> pd.DataFrame:
    """One exception in the first bucket per row, its message naming the row's ``name``."""
    return pd.DataFrame(
        {
            "Item": rows["Item"].to_numpy(object),
            "Site": rows["Site"].to_numpy(object),
            "Bucket": 0,
            "Code": code,
            "Message": (before + rows[name].astype(str) + after).to_numpy(object),
        },
        columns=_EXCEPTION_COLUMNS,
    )


def _exc(item: object, site: object, bucket: int, code: str, message: str) -> dict[str, object]:
    return {"Item": item, "Site": site, "Bucket": bucket, "Code": code, "Message": message}


URGENCY = {
    "PAST_DUE_RELEASE": 0,
    "PAST_DUE_DEMAND": 1,
    "PAST_DUE_RECEIPT": 2,
    "RESCHEDULE_IN": 3,
    "BELOW_SAFETY_STOCK": 4,
    "RESCHEDULE_OUT": 5,
    "CANCEL": 6,
}


_EXCEPTION_COLUMNS = ["Item", "Site", "Bucket", "Code", "Message"]


def _exceptions_frame(
    rows: list[dict[str, object]], frames: Sequence[pd.DataFrame] = ()
) -> pd.DataFrame:
    """Exceptions found one by one (``rows``) and in bulk (``frames``), most urgent first."""
    parts = [pd.DataFrame(rows, columns=_EXCEPTION_COLUMNS), *(f for f in frames if len(f))]
    frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    frame["Urgency"] = frame["Code"].map(URGENCY)
    return (
        frame.sort_values(["Urgency", "Bucket", "Item", "Site"], kind="stable")
        .drop(columns="Urgency")
        .reset_index(drop=True)
    )


def _planned_orders(
    records: pd.DataFrame,
    params: pd.DataFrame,
    made: PlannedReceipts,
    rel: IntArray,
    calendar: Calendar,
    frm: pd.DataFrame,
    firm_rows: IntArray,
    release_of: ReleaseTable,
    frames: list[pd.DataFrame],
) -> pd.DataFrame:
    r, t, qty, good = made.record, made.bucket, made.qty, made.good
    labels = np.array(calendar.labels(), dtype=object)
    # Item, Site and Kind repeat over millions of orders: categoricals, whose codes are
    # gathered without touching a Python object per row.
    item_col = pd.Categorical(records["Item"].to_numpy(object)).take(r)
    site_col = pd.Categorical(records["Site"].to_numpy(object)).take(r)
    kind_col = pd.Categorical(params["Type"].to_numpy(object)).take(r)
    # One string concatenation per order: the "<Item>@<Site>#" prefix is built per record.
    prefix = (records["Item"].astype(str) + "@" + records["Site"].astype(str) + "#").to_numpy(
        object
    )
    ids = prefix[r] + labels[t]
    if len(frm):
        taken = set(frm["Order"].astype(str))
        for k in np.flatnonzero(pd.Index(ids).isin(list(taken))).tolist():
            n = 2
            while f"{ids[k]}-{n}" in taken:
                n += 1
            ids[k] = f"{ids[k]}-{n}"
            taken.add(ids[k])
    # One exception per record, naming its most overdue order: a planner expedites items.
    # Built column-wise: a synthetic 100,000-item company has 180,000 of them.
    late = np.flatnonzero(rel < 0)
    if late.size:
        first = late[np.unique(r[late], return_index=True)[1]]
        counts = np.bincount(r[late])[r[first]]
        more = np.where(
            counts > 1, " (and " + (counts - 1).astype(str).astype(object) + " more)", ""
        )
        message = (
            "planned order "
            + pd.Series(ids[first], dtype=object)
            + more
            + " should have been released "
            + pd.Series(-rel[first]).astype(str)
            + " bucket(s) before the horizon: expedite it"
        )
        frames.append(
            pd.DataFrame(
                {
                    "Item": records["Item"].to_numpy(object)[r[first]],
                    "Site": records["Site"].to_numpy(object)[r[first]],
                    "Bucket": 0,
                    "Code": "PAST_DUE_RELEASE",
                    "Message": message.to_numpy(object),
                }
            )
        )
    orders = pd.DataFrame(
        {
            "Order": ids,
            "Item": item_col,
            "Site": site_col,
            "Kind": kind_col,
            "Release": np.maximum(rel, 0),
            "Due": t,
            "Qty": qty,
            "Good Qty": good,
            "Firm": False,
            "Past Due Release": rel < 0,
        },
        copy=False,  # a frame of millions of rows: no consolidating copy
    )
    if len(frm):
        firm_rows_frame = pd.DataFrame(
            {
                "Order": frm["Order"].astype(str).to_numpy(),
                "Item": frm["Item"].to_numpy(),
                "Site": frm["Site"].to_numpy(),
                "Kind": params["Type"].to_numpy(object)[firm_rows],
                "Release": np.maximum(
                    release_of.at(firm_rows, frm["Bucket"].to_numpy(np.int64)), 0
                ),
                "Due": frm["Bucket"].to_numpy(np.int64),
                "Qty": frm["Qty"].to_numpy(float),
                "Good Qty": frm["Qty"].to_numpy(float)
                * (1 - params["Assembly Scrap %"].to_numpy(float)[firm_rows] / 100),
                "Firm": True,
                "Past Due Release": False,
            }
        )
        orders = pd.concat([firm_rows_frame, orders], ignore_index=True)
        record = np.concatenate([firm_rows, r])
        orders = orders.iloc[np.lexsort((orders["Due"].to_numpy(), record))]
    return orders.reset_index(drop=True)


def _receipt_exceptions(
    calendar: Calendar,
    rec: pd.DataFrame,
    rows: IntArray,
    on_hand: FloatArray,
    first_need: IntArray,
    safety_stock: FloatArray,
) -> pd.DataFrame:
    """Receipts are netted where they are; say which should move or go. ``on_hand`` is
    bucket-major; ``rows`` are the receipts' records; ``first_need`` the first bucket with
    a net requirement per record (the number of buckets where there is none)."""
    if not len(rec):
        return pd.DataFrame(columns=_EXCEPTION_COLUMNS)
    periods = on_hand.shape[0]
    labels = np.array(
        [f"period {x}" if x.isdigit() else x for x in calendar.labels()], dtype=object
    )
    bucket = rec["Bucket"].to_numpy(np.int64)
    qty = rec["Qty"].to_numpy(np.float64)
    t = np.arange(periods)
    # Needed earlier: the record has a net requirement before the receipt arrives.
    earliest = first_need[rows]
    move_in = earliest < bucket
    # Without the receipt, the first bucket from its arrival where stock falls below
    # safety stock: none means it is not needed; later than its arrival, it is early.
    short = (on_hand[:, rows].T - qty[:, None]) < (safety_stock[rows] - EPS)[:, None]
    short &= t[None, :] >= bucket[:, None]
    any_short = short.any(axis=1)
    first_short = short.argmax(axis=1)
    cancel = ~move_in & ~any_short
    move_out = ~move_in & any_short & (first_short > bucket) & (first_short < periods)
    order = rec["Order"].astype(str).to_numpy(object)
    later = (first_short - bucket).astype(str).astype(object)
    parts = [
        (
            move_in,
            "RESCHEDULE_IN",
            "receipt "
            + order
            + " arrives after it is needed: move it in to "
            + labels[np.minimum(earliest, periods - 1)],
        ),
        (cancel, "CANCEL", "receipt " + order + " is not needed within the horizon: cancel it"),
        (
            move_out,
            "RESCHEDULE_OUT",
            "receipt "
            + order
            + " arrives "
            + later
            + " bucket(s) before it is needed: move it out to "
            + labels[np.minimum(first_short, periods - 1)],
        ),
    ]
    code = np.full(len(rec), None, dtype=object)
    message = np.full(len(rec), None, dtype=object)
    for mask, name, text in parts:
        code[mask] = name
        message[mask] = text[mask]
    flagged = code != None  # noqa: E711 - elementwise comparison
    return pd.DataFrame(
        {
            "Item": rec["Item"].to_numpy(object)[flagged],
            "Site": rec["Site"].to_numpy(object)[flagged],
            "Bucket": bucket[flagged],
            "Code": code[flagged],
            "Message": message[flagged],
        }
    )


def _safety_stock_exceptions(
    records: pd.DataFrame, on_hand: FloatArray, safety_stock: FloatArray
) -> list[dict[str, object]]:
    """One exception per record whose projected on hand (bucket-major) ends a bucket below
    its safety stock, at the first such bucket."""
    below = on_hand < (safety_stock - EPS)[None, :]
    flagged = np.flatnonzero(below.any(axis=0))
    first = below[:, flagged].argmax(axis=0)
    out: list[dict[str, object]] = []
    for r, t in zip(flagged.tolist(), first.tolist(), strict=True):
        out.append(
            _exc(
                records["Item"].iat[r],
                records["Site"].iat[r],
                t,
                "BELOW_SAFETY_STOCK",
                f"projected on hand {on_hand[t, r]:g} is below safety stock {safety_stock[r]:g}",
            )
        )
    return out
