"""The allocation LP as matrices, built without a Python loop per variable.

Columns, in this order:

- ``ship[a, t]`` ≥ 0 for every arc ``a`` (demand line, site) and ship bucket ``t``: the
  quantity leaving the site in bucket ``t``; it arrives ``transit`` buckets later, and is
  ``late = max(0, t + transit - due)`` buckets late. Only buckets from
  ``max(0, due - transit)`` to ``due + max_lateness - transit`` (within the horizon) are
  columns: shipping earlier than needed serves nobody better, because stock that is not
  shipped stays at the site (the balance rows carry it), and later is over the lateness
  limit. Buckets before the site's first supply of the item are left out as well.
- ``stock[p, t]`` ≥ 0 for every (site, item) pair ``p`` and bucket: what is left at the
  end of the bucket.

Rows, in this order:

- balance, one per pair and bucket (an equality):
  ``sum_a ship[a, t] + stock[p, t] - stock[p, t-1] = supply[p, t]``. Its dual value is
  what one more unit of supply arriving in that bucket is worth to the objective.
- cap, one per demand line with at least one column: ``sum ship[line] <= Qty``. What the
  line is not shipped is short.

The matrix is assembled column-wise straight into CSC arrays: every ship column has its
balance entry and its cap entry, every stock column its own bucket's balance entry and
the next bucket's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from sheetloop.solver.allocation.inputs import AllocationData
from sheetloop.solver.allocation.lp import INF, FloatArray, IntArray, LinearProgram


@dataclass(frozen=True)
class AllocationModel:
    """The LP and what each of its ship columns and rows stands for."""

    data: AllocationData
    program: LinearProgram
    ship_line: IntArray  # per ship column: demand line (row of data.lines)
    ship_pair: IntArray  # per ship column: (site, item) pair
    ship_bucket: IntArray  # per ship column: bucket it leaves the site
    ship_late: IntArray  # per ship column: buckets late on arrival
    ship_cost: FloatArray  # per ship column: lane cost per unit
    line_row: IntArray  # per demand line: its cap row, -1 when it has no column

    @property
    def num_ship(self) -> int:
        return len(self.ship_line)

    @property
    def num_balance(self) -> int:
        return int(self.data.supply.size)

    def served_by(self, mask: npt.NDArray[np.bool_]) -> FloatArray:
        """Objective coefficients (over the base columns) counting the units shipped to
        the lines where ``mask`` is true."""
        c = np.zeros(self.program.num_cols)
        c[: self.num_ship] = mask[self.ship_line].astype(np.float64)
        return c

    def column_names(self) -> list[str]:
        """Readable, unique column names (for writing the model as LP/MPS)."""
        lines = self.data.lines
        demand = _safe(lines["Demand"].to_numpy(object))[self.ship_line]
        site = _safe(self.data.pair_site)[self.ship_pair]
        ship = [
            f"ship_{j}_{d}_{s}_b{t}"
            for j, (d, s, t) in enumerate(zip(demand, site, self.ship_bucket.tolist(), strict=True))
        ]
        periods = self.data.periods
        pair_site, pair_item = _safe(self.data.pair_site), _safe(self.data.pair_item)
        stock = [
            f"stock_{pair_site[p]}_{pair_item[p]}_b{t}"
            for p in range(len(pair_site))
            for t in range(periods)
        ]
        return ship + stock

    def row_names(self) -> list[str]:
        """Readable, unique row names (for writing the model as LP/MPS)."""
        periods = self.data.periods
        pair_site, pair_item = _safe(self.data.pair_site), _safe(self.data.pair_item)
        balance = [
            f"balance_{pair_site[p]}_{pair_item[p]}_b{t}"
            for p in range(len(pair_site))
            for t in range(periods)
        ]
        demand = _safe(self.data.lines["Demand"].to_numpy(object))
        caps = [f"cap_{i}_{demand[i]}" for i in np.flatnonzero(self.line_row >= 0).tolist()]
        return balance + caps


def _safe(values: npt.NDArray[np.object_]) -> npt.NDArray[np.object_]:
    """Names LP and MPS files accept: letters, digits, ``_`` and ``.``."""
    return np.array([re.sub(r"[^A-Za-z0-9_.]", "_", str(v)) for v in values], dtype=object)


def build_model(data: AllocationData) -> AllocationModel:
    """The LP of ``data`` (see the module docstring)."""
    periods = data.periods
    n_pairs = len(data.pair_site)
    due = data.lines["Due"].to_numpy(np.int64)
    qty = data.lines["Qty"].to_numpy(np.float64)

    # Ship window of every arc, clipped to the horizon and to the pair's first supply.
    first_supply = np.argmax(data.supply > 0, axis=1) if n_pairs else np.zeros(0, np.int64)
    arc_due = due[data.arc_line]
    start = np.maximum.reduce(
        [np.zeros_like(arc_due), arc_due - data.arc_transit, first_supply[data.arc_pair]]
    )
    stop = np.minimum(periods - 1, arc_due + data.max_lateness - data.arc_transit)
    count = np.maximum(stop - start + 1, 0)

    n_ship = int(count.sum())
    arc_of = np.repeat(np.arange(len(count)), count)
    first_col = np.cumsum(count) - count
    bucket = start[arc_of] + (np.arange(n_ship) - first_col[arc_of])
    ship_line = data.arc_line[arc_of]
    ship_pair = data.arc_pair[arc_of]
    late = np.maximum(bucket + data.arc_transit[arc_of] - due[ship_line], 0)

    served = np.zeros(len(qty), dtype=bool)
    served[ship_line] = True
    line_row = np.full(len(qty), -1, dtype=np.int64)
    n_balance = n_pairs * periods
    line_row[served] = n_balance + np.arange(int(served.sum()))
    n_rows = n_balance + int(served.sum())

    # Stock columns: entry +1 in their bucket's row, -1 in the next bucket's (none after
    # the last bucket).
    n_stock = n_balance
    stock_t = np.tile(np.arange(periods), n_pairs)
    stock_rows = np.arange(n_stock)
    has_next = stock_t < periods - 1
    stock_count = 1 + has_next.astype(np.int64)

    indptr = np.concatenate(
        [[0], np.cumsum(np.concatenate([np.full(n_ship, 2), stock_count]))]
    ).astype(np.int64)
    nnz = int(indptr[-1])
    indices = np.empty(nnz, dtype=np.int64)
    values = np.empty(nnz)
    indices[0 : 2 * n_ship : 2] = ship_pair * periods + bucket
    indices[1 : 2 * n_ship : 2] = line_row[ship_line]
    values[: 2 * n_ship] = 1.0
    first = indptr[n_ship:-1]
    indices[first] = stock_rows
    values[first] = 1.0
    nexts = first[has_next] + 1
    indices[nexts] = stock_rows[has_next] + 1
    values[nexts] = -1.0

    n_cols = n_ship + n_stock
    matrix = sp.csc_matrix((values, indices, indptr), shape=(n_rows, n_cols))
    row_lower = np.concatenate([data.supply.ravel(), np.full(n_rows - n_balance, -INF)])
    row_upper = np.concatenate([data.supply.ravel(), qty[served]])
    program = LinearProgram(
        cost=np.zeros(n_cols),
        col_lower=np.zeros(n_cols),
        col_upper=np.full(n_cols, INF),
        matrix=matrix,
        row_lower=row_lower,
        row_upper=row_upper,
        maximize=True,
    )
    return AllocationModel(
        data=data,
        program=program,
        ship_line=ship_line,
        ship_pair=ship_pair,
        ship_bucket=bucket.astype(np.int64),
        ship_late=late.astype(np.int64),
        ship_cost=data.arc_cost[arc_of],
        line_row=line_row,
    )
