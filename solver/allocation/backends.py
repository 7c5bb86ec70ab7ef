"""Two LP back ends behind one small interface, both fed the same matrices.

- ``HighsBackend``: HiGHS through ``highspy``, the model passed as CSC arrays in one call.
  It stays loaded between the stages of a lexicographic solve, so each stage starts from
  the previous stage's optimal basis (a warm start); ``warm_start=False`` clears the
  solver before each stage instead, for measuring what the warm start buys.
- ``CbcBackend``: CBC as bundled with PuLP. PuLP has no bulk-matrix API, so the matrices
  are turned into PuLP variables and constraints (one Python object per variable: fine up
  to a few hundred thousand, slow beyond) and every stage is a fresh CBC run.

``write_model`` writes any ``LinearProgram`` as an LP or MPS file through PuLP, so a
planner or a support engineer can open the model in any LP tool.

Dual values are reported the same way by both: ``duals[i]`` is the change of the
objective (in its own sense) per unit increase of row ``i``'s bound.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import scipy.sparse as sp

from sheetloop.errors import SolverError
from sheetloop.solver.allocation.lp import (
    FloatArray,
    IntArray,
    LinearProgram,
    check_finite,
    check_rows,
)

SOLVERS = ("highs", "cbc")
PRIMAL_SIMPLEX = 4  # HiGHS option simplex_strategy


@dataclass(frozen=True)
class Solution:
    """One solve: ``status`` is ``optimal``, ``time limit``, ``infeasible``,
    ``unbounded`` or ``failed`` (with ``detail`` saying what the solver said)."""

    status: str
    objective: float
    x: FloatArray
    duals: FloatArray
    seconds: float
    iterations: int
    detail: str = ""


class Backend(Protocol):
    """What the lexicographic solve needs from a solver."""

    name: str
    # How far a held optimum may be relaxed, in the objective's units and in fill-rate
    # units: the precision with which the back end reports a solution (see
    # ``lexicographic``).
    fill_tolerance: float
    # Relative precision of the quantities it reports: what the output may round away.
    precision: float

    def tolerance(self, z: float) -> float: ...

    def load(self, program: LinearProgram) -> None: ...

    def add_columns(self, lower: FloatArray, upper: FloatArray) -> None:
        """New columns with no entries in existing rows and cost 0."""

    def add_rows(self, rows: sp.csr_matrix, lower: FloatArray, upper: FloatArray) -> None: ...

    def set_objective(self, cost: FloatArray, maximize: bool) -> None: ...

    def set_bounds(self, columns: IntArray, lower: FloatArray, upper: FloatArray) -> None: ...

    def solve(self, seconds: float) -> Solution: ...


def make_backend(solver: str, *, warm_start: bool = True) -> Backend:
    """The back end named by ``Settings.Solver`` (``highs`` or ``cbc``)."""
    name = str(solver).strip().lower()
    if name == "highs":
        return HighsBackend(warm_start=warm_start)
    if name == "cbc":
        return CbcBackend()
    raise SolverError(f"unknown solver {solver!r}: set Solver in Settings to highs or cbc")


# --- HiGHS -------------------------------------------------------------------------


@contextlib.contextmanager
def _stdout_silenced() -> Iterator[None]:
    """HiGHS prints its banner on standard output when the first solver object is made;
    results go to standard output, so the banner must not."""
    try:
        fd = os.dup(1)
    except OSError:  # no standard output at all
        yield
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            yield
    finally:
        os.dup2(fd, 1)
        os.close(fd)


class HighsBackend:
    """HiGHS via ``highspy``."""

    name = "highs"
    # HiGHS hands back its solution in full double precision: an optimum is held within
    # a hair of floating-point noise, and the solver's own feasibility tolerance (1e-7)
    # absorbs the rest.
    fill_tolerance = 1e-12
    precision = 1e-9

    def tolerance(self, z: float) -> float:
        return max(1e-9, 1e-11 * abs(z))

    def __init__(self, *, warm_start: bool = True) -> None:
        try:
            import highspy
        except ImportError as exc:
            raise SolverError(
                "the HiGHS solver is not installed (Python package highspy): install it "
                "with pip install highspy, or set Solver in Settings to cbc"
            ) from exc
        self._hs: Any = highspy
        with _stdout_silenced():
            self._h: Any = self._hs.Highs()
        self._h.setOptionValue("output_flag", False)
        self._warm = warm_start
        self._has_basis = False
        self._num_cols = 0
        self._num_rows = 0

    def load(self, program: LinearProgram) -> None:
        check_finite(program)
        check_rows(program.row_lower, program.row_upper)
        hs = self._hs
        m = program.matrix.tocsc()
        lp = hs.HighsLp()
        lp.num_col_ = program.num_cols
        lp.num_row_ = program.num_rows
        lp.col_cost_ = program.cost
        lp.col_lower_ = program.col_lower
        lp.col_upper_ = program.col_upper
        lp.row_lower_ = program.row_lower
        lp.row_upper_ = program.row_upper
        lp.a_matrix_.format_ = hs.MatrixFormat.kColwise
        lp.a_matrix_.start_ = m.indptr.astype(np.int32)
        lp.a_matrix_.index_ = m.indices.astype(np.int32)
        lp.a_matrix_.value_ = m.data.astype(np.float64)
        lp.sense_ = hs.ObjSense.kMaximize if program.maximize else hs.ObjSense.kMinimize
        self._check(self._h.passModel(lp), "load the model")
        self._num_cols, self._num_rows = program.num_cols, program.num_rows

    def add_columns(self, lower: FloatArray, upper: FloatArray) -> None:
        n = len(lower)
        empty_i = np.zeros(0, dtype=np.int32)
        self._check(
            self._h.addCols(
                n, np.zeros(n), lower, upper, 0, np.zeros(n, np.int32), empty_i, np.zeros(0)
            ),
            "add columns",
        )
        self._num_cols += n

    def add_rows(self, rows: sp.csr_matrix, lower: FloatArray, upper: FloatArray) -> None:
        check_rows(lower, upper)
        r = rows.tocsr()
        self._check(
            self._h.addRows(
                r.shape[0],
                lower,
                upper,
                r.nnz,
                r.indptr[:-1].astype(np.int32),
                r.indices.astype(np.int32),
                r.data.astype(np.float64),
            ),
            "add rows",
        )
        self._num_rows += r.shape[0]

    def set_objective(self, cost: FloatArray, maximize: bool) -> None:
        hs = self._hs
        self._h.changeObjectiveSense(hs.ObjSense.kMaximize if maximize else hs.ObjSense.kMinimize)
        n = len(cost)
        self._check(
            self._h.changeColsCost(n, np.arange(n, dtype=np.int32), cost.astype(np.float64)),
            "set the objective",
        )

    def set_bounds(self, columns: IntArray, lower: FloatArray, upper: FloatArray) -> None:
        self._check(
            self._h.changeColsBounds(len(columns), columns.astype(np.int32), lower, upper),
            "set bounds",
        )

    def solve(self, seconds: float) -> Solution:
        hs = self._hs
        if not self._warm:
            self._h.clearSolver()
        elif self._has_basis:
            # Every later stage adds rows that the last optimum satisfies and changes
            # the objective, so the last basis stays primal feasible: primal simplex
            # continues from it, where HiGHS's default dual simplex would first have to
            # repair dual feasibility. Measured (benchmarks/bench_allocation.py): on
            # 365,000 columns all stages took 47 s this way, 194 s with the default dual
            # simplex from the same basis; on 100,000 columns 4.1 s against 26.9 s with
            # every stage solved from scratch; at 1.1 million columns the last stage took
            # 55 s warm against 900 s for the same LP from scratch. (Dual simplex is
            # faster for the lateness stage alone, 15 s against 21 s at 365,000 columns,
            # but slower for the cost stage, 12 s against 7 s: no clear gain.)
            self._h.setOptionValue("simplex_strategy", PRIMAL_SIMPLEX)
        # HiGHS holds time_limit against the run time of all its runs so far, not of this
        # one (ERGO-Code/HiGHS#1477): without adding that, every later stage would lose the
        # time the earlier ones took, and a run would stop long before its Time Limit.
        used = float(self._h.getRunTime())
        self._h.setOptionValue("time_limit", used + float(max(seconds, 1e-3)))
        began = time.perf_counter()
        run_status = self._h.run()
        took = time.perf_counter() - began
        model_status = self._h.getModelStatus()
        info = self._h.getInfo()
        iterations = int(info.simplex_iteration_count) + int(info.ipm_iteration_count)
        detail = str(self._h.modelStatusToString(model_status))
        statuses = {
            hs.HighsModelStatus.kOptimal: "optimal",
            hs.HighsModelStatus.kTimeLimit: "time limit",
            hs.HighsModelStatus.kInfeasible: "infeasible",
            hs.HighsModelStatus.kUnbounded: "unbounded",
            hs.HighsModelStatus.kUnboundedOrInfeasible: "unbounded",
        }
        status = statuses.get(model_status, "failed")
        if run_status == hs.HighsStatus.kError and status == "optimal":
            status = "failed"
        if status != "optimal":
            empty = np.zeros(0)
            return Solution(status, np.nan, empty, empty, took, iterations, detail)
        self._has_basis = True
        solution = self._h.getSolution()
        return Solution(
            status="optimal",
            objective=float(info.objective_function_value),
            x=np.asarray(solution.col_value, dtype=np.float64),
            duals=np.asarray(solution.row_dual, dtype=np.float64),
            seconds=took,
            iterations=iterations,
            detail=detail,
        )

    def _check(self, status: Any, what: str) -> None:
        if status == self._hs.HighsStatus.kError:
            raise SolverError(
                f"HiGHS could not {what}: the allocation model is malformed (a number in "
                "the supply, demand or lanes is not finite?); check the workbook with "
                "sheetloop check"
            )


# --- CBC through PuLP ----------------------------------------------------------------


@contextlib.contextmanager
def _pulp_quiet() -> Iterator[None]:
    """PuLP 3.3 warns that its 4.0 renames ``LpVariable`` and drops the bundled CBC; the
    warning is for us, not for the planner running ``sheetloop allocate``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


def _pulp() -> Any:
    try:
        import pulp
    except ImportError as exc:
        raise SolverError(
            "the CBC solver needs the Python package pulp: install it with pip install "
            "pulp, or set Solver in Settings to highs"
        ) from exc
    return pulp


def to_pulp(
    program: LinearProgram,
    *,
    col_names: list[str] | None = None,
    row_names: list[str] | None = None,
    name: str = "allocation",
) -> tuple[Any, list[Any], list[Any]]:
    """``program`` as a PuLP problem: (problem, variables, constraints)."""
    pulp = _pulp()
    check_rows(program.row_lower, program.row_upper)
    problem = pulp.LpProblem(name, pulp.LpMaximize if program.maximize else pulp.LpMinimize)
    width = len(str(max(program.num_cols, program.num_rows)))
    variables = _variables(pulp, program.col_lower, program.col_upper, col_names, 0, width)
    constraints = _constraints(
        pulp,
        problem,
        variables,
        program.matrix.tocsr(),
        program.row_lower,
        program.row_upper,
        row_names,
        0,
        width,
    )
    problem.setObjective(_expression(pulp, variables, program.cost))
    return problem, variables, constraints


def _variables(
    pulp: Any,
    lower: FloatArray,
    upper: FloatArray,
    names: list[str] | None,
    offset: int,
    width: int,
) -> list[Any]:
    labels = names or [f"x{j:0{width}d}" for j in range(offset, offset + len(lower))]
    with _pulp_quiet():
        return [
            pulp.LpVariable(label, None if np.isinf(lo) else lo, None if np.isinf(up) else up)
            for label, lo, up in zip(labels, lower.tolist(), upper.tolist(), strict=True)
        ]


def _constraints(
    pulp: Any,
    problem: Any,
    variables: list[Any],
    rows: sp.csr_matrix,
    lower: FloatArray,
    upper: FloatArray,
    names: list[str] | None,
    offset: int,
    width: int,
) -> list[Any]:
    labels = names or [f"r{i:0{width}d}" for i in range(offset, offset + rows.shape[0])]
    indptr, indices, data = rows.indptr, rows.indices.tolist(), rows.data.tolist()
    made = []
    for i, label in enumerate(labels):
        lo, up = float(lower[i]), float(upper[i])
        span = slice(int(indptr[i]), int(indptr[i + 1]))
        expr = pulp.LpAffineExpression(
            zip([variables[j] for j in indices[span]], data[span], strict=True)
        )
        if lo == up:
            sense, rhs = pulp.LpConstraintEQ, lo
        elif np.isinf(lo):
            sense, rhs = pulp.LpConstraintLE, up
        else:
            sense, rhs = pulp.LpConstraintGE, lo
        constraint = pulp.LpConstraint(expr, sense, label, rhs)
        problem.addConstraint(constraint)
        made.append(constraint)
    return made


def _expression(pulp: Any, variables: list[Any], cost: FloatArray) -> Any:
    nonzero = np.flatnonzero(cost)
    return pulp.LpAffineExpression(
        zip([variables[j] for j in nonzero.tolist()], cost[nonzero].tolist(), strict=True)
    )


def write_model(
    program: LinearProgram,
    path: Path,
    *,
    col_names: list[str] | None = None,
    row_names: list[str] | None = None,
) -> Path:
    """Write ``program`` as an LP file (``.lp``) or an MPS file (``.mps``) through PuLP."""
    path = Path(path)
    problem, _, _ = to_pulp(program, col_names=col_names, row_names=row_names)
    suffix = path.suffix.lower()
    if suffix == ".lp":
        problem.writeLP(str(path))
    elif suffix == ".mps":
        problem.writeMPS(str(path))
    else:
        raise ValueError(f"write the model to a .lp or .mps file, not {path.name}")
    return path


def _command(pulp: Any) -> Any:
    """PuLP's bundled-CBC command, keeping the first line of CBC's solution file (its
    status and objective)."""

    class Command(pulp.PULP_CBC_CMD):  # type: ignore[misc]
        first_line = ""

        def get_status(self, filename: str) -> Any:
            with open(filename) as f:
                self.first_line = f.readline()
            return super().get_status(filename)

    return Command


def _objective(first_line: str, summed: float) -> float:
    """CBC's own objective ("Optimal - objective value 12.34567891"), unless it cannot be
    read or disagrees with the objective summed from the rounded values."""
    match = re.search(r"objective value\s+(\S+)", first_line)
    try:
        value = float(match.group(1)) if match else summed
    except ValueError:
        return summed
    return value if abs(value - summed) <= 1e-6 * max(1.0, abs(summed)) else summed


class CbcBackend:
    """CBC (bundled with PuLP), one fresh run per stage."""

    name = "cbc"
    # CBC writes its solution file with 8 significant digits, but the objective on its
    # first line with 8 decimals: optima are held at that objective (±1e-8), not at a sum
    # of rounded values. The values themselves stay rounded to ~1e-8 of their size.
    fill_tolerance = 1e-8
    precision = 1e-6

    def tolerance(self, z: float) -> float:
        return max(1e-8, 1e-11 * abs(z))

    def __init__(self) -> None:
        pulp = _pulp()
        self._pulp = pulp
        with _pulp_quiet():
            available = pulp.PULP_CBC_CMD(msg=False).available()
        if not available:
            raise SolverError(
                "the CBC solver bundled with PuLP cannot run on this machine: set Solver "
                "in Settings to highs"
            )
        self._problem: Any = None
        self._variables: list[Any] = []
        self._constraints: list[Any] = []
        self._width = 9

    def load(self, program: LinearProgram) -> None:
        check_finite(program)
        self._problem, self._variables, self._constraints = to_pulp(program)
        self._width = len(str(max(program.num_cols, program.num_rows)))

    def add_columns(self, lower: FloatArray, upper: FloatArray) -> None:
        self._variables += _variables(
            self._pulp, lower, upper, None, len(self._variables), self._width + 1
        )

    def add_rows(self, rows: sp.csr_matrix, lower: FloatArray, upper: FloatArray) -> None:
        check_rows(lower, upper)
        self._constraints += _constraints(
            self._pulp,
            self._problem,
            self._variables,
            rows.tocsr(),
            lower,
            upper,
            None,
            len(self._constraints),
            self._width + 1,
        )

    def set_objective(self, cost: FloatArray, maximize: bool) -> None:
        pulp = self._pulp
        self._problem.sense = pulp.LpMaximize if maximize else pulp.LpMinimize
        self._problem.setObjective(_expression(pulp, self._variables, cost))

    def set_bounds(self, columns: IntArray, lower: FloatArray, upper: FloatArray) -> None:
        for j, lo, up in zip(columns.tolist(), lower.tolist(), upper.tolist(), strict=True):
            self._variables[j].lowBound = None if np.isinf(lo) else lo
            self._variables[j].upBound = None if np.isinf(up) else up

    def solve(self, seconds: float) -> Solution:
        pulp = self._pulp
        limit = max(int(np.ceil(seconds)), 1)
        with _pulp_quiet():
            command = _command(pulp)(msg=False, timeLimit=limit, keepFiles=False)
        began = time.perf_counter()
        try:
            with _pulp_quiet():
                status = self._problem.solve(command)
        except pulp.PulpSolverError as exc:
            took = time.perf_counter() - began
            empty = np.zeros(0)
            return Solution("failed", np.nan, empty, empty, took, 0, str(exc))
        took = time.perf_counter() - began
        text = str(pulp.LpStatus.get(status, status))
        statuses = {
            pulp.LpStatusOptimal: "optimal",
            pulp.LpStatusInfeasible: "infeasible",
            pulp.LpStatusUnbounded: "unbounded",
            pulp.LpStatusNotSolved: "time limit",
        }
        result = statuses.get(status, "failed")
        if result != "optimal":
            empty = np.zeros(0)
            return Solution(result, np.nan, empty, empty, took, 0, text)
        x = np.array([v.varValue or 0.0 for v in self._variables], dtype=np.float64)
        duals = np.array([c.pi or 0.0 for c in self._constraints], dtype=np.float64)
        summed = float(self._problem.objective.value() or 0.0)
        objective = _objective(command.first_line, summed)
        return Solution("optimal", objective, x, duals, took, 0, text)
