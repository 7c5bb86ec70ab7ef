"""Supply allocation: who gets what, when and from where, by customer priority.

Pandas in, pandas out; nothing here reads or writes a workbook. ``allocate`` builds the
LP of ``model`` from the contract's tables (``inputs``), solves it stage by stage
(``lexicographic``: each tier's service, then fair shares within the tier, then lateness,
then lane cost) with HiGHS or CBC (``backends``), and returns the contract's output
tables (``report``) with a run summary.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sheetloop.errors import SolverError
from sheetloop.solver.allocation.backends import SOLVERS, make_backend, write_model
from sheetloop.solver.allocation.inputs import prepare
from sheetloop.solver.allocation.lexicographic import (
    MAX_LEVELS,
    MAX_ROUNDS,
    Stage,
    StagedResult,
    empty_result,
    solve_lexicographic,
)
from sheetloop.solver.allocation.model import AllocationModel, build_model
from sheetloop.solver.allocation.report import (
    ALLOCATION_COLUMNS,
    BOTTLENECK_COLUMNS,
    EXCEPTION_COLUMNS,
    STATUS_COLUMNS,
    number,
    tables,
)
from sheetloop.solver.buckets import Calendar

__all__ = [
    "ALLOCATION_COLUMNS",
    "BOTTLENECK_COLUMNS",
    "EXCEPTION_COLUMNS",
    "MAX_LEVELS",
    "MAX_ROUNDS",
    "SOLVERS",
    "STATUS_COLUMNS",
    "AllocationResult",
    "AllocationSummary",
    "Stage",
    "allocate",
]

SOLVER_TITLES = {"highs": "HiGHS", "cbc": "CBC"}


@dataclass(frozen=True)
class AllocationSummary:
    """What a run did, for the run log and the screen."""

    solver: str  # "highs" or "cbc"
    status: str  # "optimal" (anything else raises SolverError)
    stages: list[Stage]
    served_by_tier: dict[int, float]
    demand_by_tier: dict[int, float]
    short_by_tier: dict[int, float]
    fill_levels: dict[int, list[float]]  # the max-min levels reached per tier
    lateness: float  # units × buckets late
    cost: float  # lane cost
    lines: int
    lines_beyond_horizon: int
    variables: int
    constraints: int
    build_seconds: float
    solve_seconds: float  # all solver work, loading included
    warm_start: bool = True

    def text(self) -> str:
        """One line: solver, status, stages, objective levels and shortages by tier."""
        solver = SOLVER_TITLES.get(self.solver, self.solver)
        served = ", ".join(
            f"tier {k} {self.served_by_tier.get(k, 0.0) / q:.1%} served"
            + (
                f" ({number(self.short_by_tier[k])} short)"
                if number(self.short_by_tier[k]) != "0"
                else ""
            )
            for k, q in sorted(self.demand_by_tier.items())
            if q > 0
        )
        return (
            f"{solver} {self.status} in {len(self.stages)} stages "
            f"({self.solve_seconds:.1f} s): {self.lines} demand lines"
            + (f"; {served}" if served else "")
            + f"; lateness {number(self.lateness)} unit-buckets; lane cost {number(self.cost)}"
            + (
                f"; {self.lines_beyond_horizon} lines due after the horizon left out"
                if self.lines_beyond_horizon
                else ""
            )
        )


@dataclass(frozen=True)
class AllocationResult:
    """The contract's allocation tables, buckets as indexes (0 = first bucket).

    - ``allocation``: ``Demand, Customer, Item, Site, Ship, Qty, Late, Cost``
      (``Ship`` is the bucket the quantity leaves the site, ``Late`` the buckets it
      arrives after the due bucket, ``Cost`` = Qty × lane cost);
    - ``demand_status``: ``Demand, Customer, Tier, Item, Qty, Allocated, Short, Fill %,
      Below Target`` (``Fill %`` a fraction 0..1; ``Below Target`` when the customer's
      fill rate over all its lines is under its ``Service Target``);
    - ``bottlenecks``: ``Site, Item, Bucket, Shadow Price, Helps Tier``;
    - ``exceptions``: ``Item, Site, Bucket, Code, Message`` with codes ``SHORTAGE`` and
      ``LATE``;
    - ``summary``: see ``AllocationSummary``.
    """

    allocation: pd.DataFrame
    demand_status: pd.DataFrame
    bottlenecks: pd.DataFrame
    exceptions: pd.DataFrame
    summary: AllocationSummary
    model: AllocationModel = field(repr=False)
    staged: StagedResult = field(repr=False)

    def write_model(self, path: Path | str) -> Path:
        """Write the last stage's LP (the model, the rows holding every earlier optimum
        and the last objective) to ``path`` as ``.lp`` or ``.mps``, with readable names."""
        cols, rows = self.staged.added_names()
        written: Path = write_model(
            self.staged.program(),
            Path(path),
            col_names=self.model.column_names() + cols,
            row_names=self.model.row_names() + rows,
        )
        return written


def allocate(
    *,
    supply: pd.DataFrame,
    demand: pd.DataFrame,
    calendar: Calendar,
    customers: pd.DataFrame | None = None,
    lanes: pd.DataFrame | None = None,
    max_lateness: int = 4,
    solver: str = "highs",
    time_limit: float = 600.0,
    warm_start: bool = True,
) -> AllocationResult:
    """Allocate ``supply`` to ``demand`` by customer tier.

    - ``supply``: ``Site`` (blank: ``MAIN``), ``Item``, ``Available`` (dates, or period
      numbers for a period calendar), ``Qty``; the caller derives it when the book has no
      ``Supply`` table.
    - ``demand``: ``Demand``, ``Item``, ``Site`` (blank: any site with a lane),
      ``Customer``, ``Due``, ``Qty``: every line given is allocated (the caller leaves
      out forecast unless ``Allocate Forecast`` says otherwise).
    - ``customers``: ``Customer``, ``Tier`` (1 = most important, default 3), ``Region``,
      ``Service Target`` (0..1).
    - ``lanes``: ``Site``, ``Customer`` or ``Region``, ``Cost``, ``Transit`` (buckets);
      ``None`` means every site serves every customer at cost 0.
    - ``max_lateness`` (buckets), ``solver`` (``highs`` | ``cbc``), ``time_limit``
      (seconds for all solver work of the run).

    Raises ``SolverError`` (exit 4) when the solver is missing or unknown, fails, or
    runs out of time, and when the inputs cannot make a model (a quantity that is not a
    number)."""
    name = str(solver).strip().lower()
    if name not in SOLVERS:
        raise SolverError(f"unknown solver {solver!r}: set Solver in Settings to highs or cbc")
    if not time_limit > 0:
        raise SolverError(f"Time Limit must be a positive number of seconds, not {time_limit}")
    began = time.perf_counter()
    data = prepare(
        supply=supply,
        demand=demand,
        calendar=calendar,
        customers=customers,
        lanes=lanes,
        max_lateness=max_lateness,
    )
    model = build_model(data)
    built = time.perf_counter()
    backend = make_backend(name, warm_start=warm_start) if model.num_ship else None
    solving = time.perf_counter()
    # Nothing can ship (no supply reaches any line): every line is short, no solver needed.
    staged = (
        solve_lexicographic(model, backend, time_limit)
        if backend is not None
        else empty_result(model)
    )
    solved = time.perf_counter()
    out = tables(model, staged)
    return AllocationResult(
        allocation=out.allocation,
        demand_status=out.demand_status,
        bottlenecks=out.bottlenecks,
        exceptions=out.exceptions,
        summary=_summary(
            name, model, staged, out.demand_status, built - began, solved - solving, warm_start
        ),
        model=model,
        staged=staged,
    )


def _summary(
    solver: str,
    model: AllocationModel,
    staged: StagedResult,
    status: pd.DataFrame,
    build_seconds: float,
    solve_seconds: float,
    warm_start: bool,
) -> AllocationSummary:
    by_tier = status.groupby("Tier")[["Qty", "Allocated", "Short"]].sum()
    tiers = by_tier.index.to_numpy(np.int64).tolist()

    def per_tier(column: str) -> dict[int, float]:
        values = np.round(by_tier[column].to_numpy(np.float64), 6).tolist()
        return dict(zip(tiers, values, strict=True))

    return AllocationSummary(
        solver=solver,
        status="optimal",
        stages=list(staged.stages),
        served_by_tier=per_tier("Allocated"),
        demand_by_tier=per_tier("Qty"),
        short_by_tier=per_tier("Short"),
        fill_levels=dict(staged.fill_levels),
        lateness=float(staged.lateness),
        cost=float(staged.cost),
        lines=len(model.data.lines),
        lines_beyond_horizon=model.data.beyond_horizon,
        variables=model.program.num_cols,
        constraints=model.program.num_rows,
        build_seconds=build_seconds,
        solve_seconds=solve_seconds,
        warm_start=warm_start,
    )
