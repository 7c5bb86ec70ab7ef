"""The allocation's objective, in strict priority order, by sequential solves.

Stages, each an LP over the same model with the optima of the earlier stages kept as
constraints:

1. For each tier, most important (lowest number) first:

   a. *served*: maximise the units shipped to the tier's lines. Kept afterwards as
      ``served(tier) >= z - tol``: a unit of this tier is never given up for any number
      of units of a later tier, nor for lateness or cost.
   b. *fair share*: maximise the lowest fill rate (units served / units demanded) over
      the tier's (customer, item) groups, with ``served(tier)`` held. A round adds a free
      column ``phi`` and one row ``served(g) - Qty(g) * phi >= 0`` per group still open,
      maximises ``phi``, then fixes ``phi`` at its optimum (less a tolerance, see below),
      which leaves each of those groups a floor at the level reached. A group whose row
      has a positive dual value cannot rise above that level in any solution that keeps
      the others there (complementary slackness), so it is closed; the next round raises
      the lowest fill rate of the groups still open. A round that closes groups without
      raising the level (a degenerate dual) does not count as a new level. The rounds stop
      after ``MAX_LEVELS`` (3) distinct levels, after ``MAX_ROUNDS`` (6) solves of the
      tier, or when every open group is fully served: the result is the leximin
      (progressive filling) allocation up to its third level, every group still open then
      being held at or above that level. As only distinct levels count, the result does
      not depend on which of several optimal duals the solver returns. The rounds are
      skipped when the tier is served in full or not at all, or has a single group: its
      fill rates are then settled by stage (a).

2. *lateness*, over all tiers: minimise sum(quantity × buckets late), then held as
   ``lateness <= z + tol``.
3. *cost*, over all tiers: minimise sum(quantity × lane cost). Its solution is the plan.

Why sequential solves and not one weighted objective: weights that provably cannot trade
across levels would have to exceed the largest ratio between a gain at a lower level and
a loss at a higher one. With fractional fill rates, per-unit costs and lateness in
unit-buckets those ratios easily reach 1e6 to 1e12, beyond what a solver's tolerances
(1e-7 to 1e-9) can tell apart, so such weights either trade levels after all or make the
LP numerically fragile. Each stage here optimises one objective on its own scale, and
the previous optimum stays feasible for the next stage, which starts from it (a warm
start from the last basis with HiGHS).

Holding an optimum uses a tolerance rather than the exact value: the optimum is only as
exact as the solution the back end reports, and a row held at a value the reported
solution itself misses by rounding would make the next stage infeasible. Each back end
says how much (``Backend.tolerance``): HiGHS reports doubles, so ``max(1e-9, 1e-11·|z|)``
units; CBC's solution file carries 8 significant digits, so ``max(1e-6, 1e-7·|z|)``. The
fill level of a fair-share round is held the same way (``Backend.fill_tolerance``). Later
stages may use that slack (shipping a hair less saves cost), which is why the output
rounds quantities to 6 decimals.

The dual values of the balance rows in each tier's *served* stage become the
bottlenecks: the stage whose objective is "units of this tier served", so the dual of the
balance row of (site, item, bucket) is exactly how many more units of that tier one more
unit of supply arriving there would serve, with all more important tiers held at their
optimum. Later stages' duals price fill rates, unit-buckets or currency instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from sheetloop.errors import SolverError
from sheetloop.solver.allocation.backends import Backend, Solution
from sheetloop.solver.allocation.lp import INF, FloatArray, IntArray, LinearProgram
from sheetloop.solver.allocation.model import AllocationModel

LEVEL_TOL = 1e-7  # a round must raise the level by more than this to count as a new level
DUAL_TOL = 1e-9  # a group is blocked when its share of the round's dual (dual × Qty) exceeds it
SETTLED_ABS = 1e-6  # a tier within this of none or all of its reachable demand is settled
SETTLED_REL = 1e-9
MAX_LEVELS = 3
MAX_ROUNDS = 6


@dataclass(frozen=True)
class Stage:
    """One solve of the sequence."""

    name: str
    tier: int | None
    objective: float
    seconds: float
    iterations: int


@dataclass
class StagedResult:
    """The optimum of every stage, the final solution and what export needs."""

    x: FloatArray  # final values of the base columns
    stages: list[Stage]
    served: dict[int, float]
    fill_levels: dict[int, list[float]]
    lateness: float
    cost: float
    tier_duals: dict[int, FloatArray]  # balance-row duals of each tier's served stage
    base: LinearProgram
    added_cols: list[tuple[FloatArray, FloatArray, list[str]]] = field(default_factory=list)
    added_rows: list[tuple[sp.csr_matrix, FloatArray, FloatArray, list[str]]] = field(
        default_factory=list
    )
    final_cost: FloatArray = field(default_factory=lambda: np.zeros(0))
    final_maximize: bool = False
    precision: float = 1e-9  # relative precision of ``x`` (the back end's)

    def program(self) -> LinearProgram:
        """The last stage's LP: the model, every row that holds an earlier optimum, and
        the last objective."""
        n_base = self.base.num_cols
        cols_lower = [c[0] for c in self.added_cols]
        cols_upper = [c[1] for c in self.added_cols]
        lower = np.concatenate(cols_lower) if cols_lower else np.zeros(0)
        upper = np.concatenate(cols_upper) if cols_upper else np.zeros(0)
        width = n_base + len(lower)
        blocks = [_widen(r[0], width) for r in self.added_rows]
        rows = sp.vstack(blocks, format="csr") if blocks else sp.csr_matrix((0, width))
        cost = np.zeros(width)
        cost[: len(self.final_cost)] = self.final_cost
        return self.base.extended(
            col_lower=lower,
            col_upper=upper,
            rows=rows,
            row_lower=np.concatenate([r[1] for r in self.added_rows] or [np.zeros(0)]),
            row_upper=np.concatenate([r[2] for r in self.added_rows] or [np.zeros(0)]),
            cost=cost,
            maximize=self.final_maximize,
        )

    def added_names(self) -> tuple[list[str], list[str]]:
        cols = [name for c in self.added_cols for name in c[2]]
        rows = [name for r in self.added_rows for name in r[3]]
        return cols, rows


def _widen(rows: sp.csr_matrix, width: int) -> sp.csr_matrix:
    r = rows.tocsr()
    return sp.csr_matrix((r.data, r.indices, r.indptr), shape=(r.shape[0], width))


def empty_result(model: AllocationModel) -> StagedResult:
    """The result when nothing can be shipped: no stage to solve."""
    tiers = sorted(set(model.data.lines["Tier"].to_numpy(np.int64).tolist()))
    return StagedResult(
        x=np.zeros(model.program.num_cols),
        stages=[],
        served=dict.fromkeys(tiers, 0.0),
        fill_levels={},
        lateness=0.0,
        cost=0.0,
        tier_duals={},
        base=model.program,
    )


class _Run:
    """The stages' shared state: the back end, the growing model and the clock."""

    def __init__(
        self,
        model: AllocationModel,
        backend: Backend,
        time_limit: float,
        on_stage: Callable[[Stage], None] | None,
    ) -> None:
        self.model = model
        self.backend = backend
        self.time_limit = time_limit
        self.deadline = time.perf_counter() + time_limit
        self.on_stage = on_stage
        self.n_cols = model.program.num_cols
        self.n_rows = model.program.num_rows
        self.result = empty_result(model)
        self.result.precision = backend.precision

    def add_columns(self, lower: FloatArray, upper: FloatArray, names: list[str]) -> int:
        first = self.n_cols
        self.backend.add_columns(lower, upper)
        self.result.added_cols.append((lower, upper, names))
        self.n_cols += len(lower)
        return first

    def add_rows(
        self, rows: sp.csr_matrix, lower: FloatArray, upper: FloatArray, names: list[str]
    ) -> int:
        first = self.n_rows
        rows = _widen(rows, self.n_cols)
        self.backend.add_rows(rows, lower, upper)
        self.result.added_rows.append((rows, lower, upper, names))
        self.n_rows += rows.shape[0]
        return first

    def stage(self, name: str, tier: int | None, cost: FloatArray, maximize: bool) -> Solution:
        full = np.zeros(self.n_cols)
        full[: len(cost)] = cost
        self.backend.set_objective(full, maximize)
        self.result.final_cost, self.result.final_maximize = full, maximize
        remaining = self.deadline - time.perf_counter()
        done = len(self.result.stages)
        if remaining <= 0:
            raise SolverError(self._time_message(name, done))
        solution = self.backend.solve(remaining)
        if solution.status == "time limit":
            raise SolverError(self._time_message(name, done))
        if solution.status != "optimal":
            raise SolverError(
                f"the {self.backend.name} solver failed on the allocation model in stage "
                f"'{name}' ({solution.status}: {solution.detail or 'no detail'}); nothing "
                "was written. Try the other solver (Solver in Settings: highs or cbc)"
            )
        record = Stage(name, tier, solution.objective, solution.seconds, solution.iterations)
        self.result.stages.append(record)
        self.result.x = solution.x[: self.model.program.num_cols]
        if self.on_stage is not None:
            self.on_stage(record)
        return solution

    def _time_message(self, name: str, done: int) -> str:
        return (
            f"the {self.backend.name} solver did not finish the allocation within the time "
            f"limit of {self.time_limit:g} s (stopped in stage '{name}' after {done} "
            "completed stages); nothing was written. Raise Time Limit in Settings, or "
            "allocate fewer lines"
        )


def solve_lexicographic(
    model: AllocationModel,
    backend: Backend,
    time_limit: float,
    *,
    on_stage: Callable[[Stage], None] | None = None,
) -> StagedResult:
    """Run every stage (see the module docstring) and return the final solution."""
    run = _Run(model, backend, time_limit, on_stage)
    if model.num_ship == 0:
        return run.result
    began = time.perf_counter()
    backend.load(model.program)
    run.deadline = began + time_limit
    lines = model.data.lines
    tier_of_line = lines["Tier"].to_numpy(np.int64)
    qty = lines["Qty"].to_numpy(np.float64)
    servable = model.line_row >= 0
    for tier in sorted(set(tier_of_line.tolist())):
        in_tier = tier_of_line == tier
        if not (in_tier & servable).any():
            run.result.served[tier] = 0.0
            continue
        cost = model.served_by(in_tier)
        solution = run.stage(f"tier {tier}: served", tier, cost, maximize=True)
        z = solution.objective
        run.result.served[tier] = z
        run.result.tier_duals[tier] = solution.duals[: model.num_balance].copy()
        cols = np.flatnonzero(cost)
        run.add_rows(
            sp.csr_matrix(
                (np.ones(len(cols)), (np.zeros(len(cols), np.int64), cols)), shape=(1, run.n_cols)
            ),
            np.array([z - run.backend.tolerance(z)]),
            np.array([INF]),
            [f"hold_served_tier{tier}"],
        )
        reachable = float(qty[in_tier & servable].sum())
        groups = np.unique(lines["Group"].to_numpy(np.int64)[in_tier & servable])
        # Served in full or not at all, up to what the holds of earlier stages may give.
        settled = max(SETTLED_ABS, SETTLED_REL * reachable)
        if settled < z < reachable - settled and len(groups) > 1:
            run.result.fill_levels[tier] = _fair_share(run, tier, groups)

    late = model.ship_late.astype(np.float64)
    if (late > 0).any():
        cost = np.zeros(model.program.num_cols)
        cost[: model.num_ship] = late
        z = run.stage("lateness", None, cost, maximize=False).objective
        run.result.lateness = z
        cols = np.flatnonzero(cost)
        run.add_rows(
            sp.csr_matrix(
                (late[cols], (np.zeros(len(cols), np.int64), cols)), shape=(1, run.n_cols)
            ),
            np.array([-INF]),
            np.array([z + run.backend.tolerance(z)]),
            ["hold_lateness"],
        )
    if (model.ship_cost > 0).any():
        cost = np.zeros(model.program.num_cols)
        cost[: model.num_ship] = model.ship_cost
        run.result.cost = run.stage("cost", None, cost, maximize=False).objective
    else:
        run.result.cost = 0.0
    return run.result


def _fair_share(run: _Run, tier: int, groups: IntArray) -> list[float]:
    """Max-min rounds over the tier's groups (see the module docstring); the levels."""
    model = run.model
    group_of_ship = model.data.lines["Group"].to_numpy(np.int64)[model.ship_line]
    qty_of_group = (
        model.data.lines.groupby("Group")["Qty"].sum().reindex(groups).to_numpy(np.float64)
    )
    open_groups, open_qty = groups, qty_of_group
    levels: list[float] = []
    for round_no in range(1, MAX_ROUNDS + 1):
        phi = run.add_columns(np.array([-INF]), np.array([INF]), [f"fill_tier{tier}_r{round_no}"])
        rank = np.full(int(group_of_ship.max()) + 1, -1, dtype=np.int64)
        rank[open_groups] = np.arange(len(open_groups))
        cols = np.flatnonzero(rank[group_of_ship] >= 0)
        row_of = np.concatenate([rank[group_of_ship[cols]], np.arange(len(open_groups))])
        col_of = np.concatenate([cols, np.full(len(open_groups), phi)])
        values = np.concatenate([np.ones(len(cols)), -open_qty])
        rows = sp.csr_matrix((values, (row_of, col_of)), shape=(len(open_groups), run.n_cols))
        first = run.add_rows(
            rows,
            np.zeros(len(open_groups)),
            np.full(len(open_groups), INF),
            [f"floor_tier{tier}_r{round_no}_g{g}" for g in open_groups.tolist()],
        )
        cost = np.zeros(run.n_cols)
        cost[phi] = 1.0
        solution = run.stage(f"tier {tier}: fair share round {round_no}", tier, cost, True)
        level = solution.objective
        run.backend.set_bounds(
            np.array([phi]),
            np.array([level - run.backend.fill_tolerance]),
            np.array([level - run.backend.fill_tolerance]),
        )
        run.result.added_cols[-1] = (
            np.array([level - run.backend.fill_tolerance]),
            np.array([level - run.backend.fill_tolerance]),
            run.result.added_cols[-1][2],
        )
        if not levels or level > levels[-1] + LEVEL_TOL:
            levels.append(level)
        if level >= 1 - LEVEL_TOL or len(levels) >= MAX_LEVELS:
            break
        duals = solution.duals[first : first + len(open_groups)]
        blocked = np.abs(duals) * open_qty > DUAL_TOL
        open_groups, open_qty = open_groups[~blocked], open_qty[~blocked]
        if not len(open_groups):
            break
    return levels
