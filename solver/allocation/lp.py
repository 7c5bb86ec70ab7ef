"""A linear program as matrices: the one form every back end reads.

Columns have bounds and costs, rows have bounds, and the constraint matrix is a
``scipy.sparse`` matrix. A row is an equality (``lower == upper``), a ``<=`` row
(``lower = -inf``) or a ``>=`` row (``upper = +inf``); ranged rows are not used, so that
every back end, PuLP's included, can take any row as it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from sheetloop.errors import SolverError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
INF = np.inf


@dataclass(frozen=True)
class LinearProgram:
    """``min`` (or ``max``) ``cost @ x`` subject to ``row_lower <= matrix @ x <= row_upper``
    and ``col_lower <= x <= col_upper``."""

    cost: FloatArray
    col_lower: FloatArray
    col_upper: FloatArray
    matrix: sp.csc_matrix
    row_lower: FloatArray
    row_upper: FloatArray
    maximize: bool = False
    col_names: list[str] | None = field(default=None, compare=False)
    row_names: list[str] | None = field(default=None, compare=False)

    @property
    def num_cols(self) -> int:
        return int(self.matrix.shape[1])

    @property
    def num_rows(self) -> int:
        return int(self.matrix.shape[0])

    def extended(
        self,
        *,
        col_lower: FloatArray,
        col_upper: FloatArray,
        rows: sp.csr_matrix,
        row_lower: FloatArray,
        row_upper: FloatArray,
        cost: FloatArray,
        maximize: bool,
    ) -> LinearProgram:
        """This program with columns (no entries in the existing rows) and rows appended,
        and a new objective over all columns. Names are dropped: whoever exports the
        program names it then."""
        n_new = len(col_lower)
        old = self.matrix
        if n_new:
            old = sp.hstack([old, sp.csc_matrix((old.shape[0], n_new))], format="csc")
        matrix = sp.vstack([old, rows.tocsc()], format="csc") if rows.shape[0] else old
        return LinearProgram(
            cost=cost,
            col_lower=np.concatenate([self.col_lower, col_lower]),
            col_upper=np.concatenate([self.col_upper, col_upper]),
            matrix=matrix,
            row_lower=np.concatenate([self.row_lower, row_lower]),
            row_upper=np.concatenate([self.row_upper, row_upper]),
            maximize=maximize,
        )


def check_finite(program: LinearProgram) -> None:
    """Refuse a model with a number that is not a number: a solver would quietly drop it
    or call the model unbounded."""
    bad = [
        what
        for what, values in (
            ("a coefficient", program.matrix.data),
            ("an objective coefficient", program.cost),
        )
        if not np.isfinite(values).all()
    ]
    bad += [
        what
        for what, values in (
            ("a column bound", np.concatenate([program.col_lower, program.col_upper])),
            ("a row bound", np.concatenate([program.row_lower, program.row_upper])),
        )
        if np.isnan(values).any()
    ]
    if bad:
        raise SolverError(
            f"the allocation model is broken: {bad[0]} is not a number; nothing was "
            "written. Check the quantities, costs and transit times (sheetloop check)"
        )


def check_rows(lower: FloatArray, upper: FloatArray) -> None:
    """Refuse ranged rows (both bounds finite and different): no back end here needs them."""
    ranged = np.isfinite(lower) & np.isfinite(upper) & (lower != upper)
    if ranged.any():
        raise ValueError(f"ranged rows are not supported (rows {np.flatnonzero(ranged)[:5]})")
