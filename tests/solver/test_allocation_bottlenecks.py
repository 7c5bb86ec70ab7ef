"""Bottlenecks' shadow prices mean what they say: checked by perturbing supply.

A row of ``Bottlenecks`` (site, item, bucket ``t``, price ``v``, tier ``k``) is the dual
value of the balance row of (site, item, ``t``) in tier ``k``'s *served* stage: the LP
that maximises the units of tier ``k`` served while every more important tier is held at
its optimum (see ``solver/allocation/lexicographic.py``). So ``v`` is how many more units
of tier ``k`` that stage serves per extra unit of supply arriving there. The tests solve
that very stage again with the supply moved by a small ``eps``.

An LP's optimum is a concave, piecewise linear function of a row's bound, and a dual
value lies between its slopes on either side: supply added serves at most ``v`` per unit,
supply taken away costs at least ``v`` per unit, and where the function is linear around
the current supply (the optimal basis stays optimal: the usual case) one more unit serves
exactly ``v`` more. At a kink (a degenerate optimum, e.g. supply that exactly matches
demand) the solver may report any value between the two slopes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd
import scipy.sparse as sp
from hypothesis import HealthCheck, assume, given, settings
from support.allocation_cases import Instance
from support.allocation_strategies import instances

from sheetloop.solver.allocation import allocate
from sheetloop.solver.allocation.backends import HighsBackend, Solution
from sheetloop.solver.allocation.inputs import prepare
from sheetloop.solver.allocation.lexicographic import solve_lexicographic
from sheetloop.solver.allocation.lp import FloatArray, IntArray, LinearProgram
from sheetloop.solver.allocation.model import build_model
from sheetloop.solver.allocation.report import tables
from sheetloop.solver.buckets import Calendar

SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
EPS = 1e-3  # units of supply: small against the instances' whole-unit quantities (1..30)
SLOPE_TOL = 1e-6  # HiGHS's optima are exact to about 1e-9 units; divided by EPS


class StageRecorder:
    """HiGHS, as the lexicographic solve drives it, keeping the LP of every stage it
    solved (the model, the rows and columns added so far, the bounds and objective)."""

    name = "highs"

    def __init__(self) -> None:
        self.inner = HighsBackend()
        self.fill_tolerance = self.inner.fill_tolerance
        self.precision = self.inner.precision
        self.program: LinearProgram | None = None
        self.solved: list[LinearProgram] = []

    @property
    def current(self) -> LinearProgram:
        assert self.program is not None, "load comes first"
        return self.program

    def tolerance(self, z: float) -> float:
        return self.inner.tolerance(z)

    def load(self, program: LinearProgram) -> None:
        self.program = program
        self.inner.load(program)

    def add_columns(self, lower: FloatArray, upper: FloatArray) -> None:
        p = self.current
        self.program = p.extended(
            col_lower=lower,
            col_upper=upper,
            rows=sp.csr_matrix((0, p.num_cols + len(lower))),
            row_lower=np.zeros(0),
            row_upper=np.zeros(0),
            cost=np.concatenate([p.cost, np.zeros(len(lower))]),
            maximize=p.maximize,
        )
        self.inner.add_columns(lower, upper)

    def add_rows(self, rows: sp.csr_matrix, lower: FloatArray, upper: FloatArray) -> None:
        p = self.current
        self.program = p.extended(
            col_lower=np.zeros(0),
            col_upper=np.zeros(0),
            rows=rows,
            row_lower=lower,
            row_upper=upper,
            cost=p.cost,
            maximize=p.maximize,
        )
        self.inner.add_rows(rows, lower, upper)

    def set_objective(self, cost: FloatArray, maximize: bool) -> None:
        self.program = dataclasses.replace(self.current, cost=cost, maximize=maximize)
        self.inner.set_objective(cost, maximize)

    def set_bounds(self, columns: IntArray, lower: FloatArray, upper: FloatArray) -> None:
        col_lower, col_upper = self.current.col_lower.copy(), self.current.col_upper.copy()
        col_lower[columns], col_upper[columns] = lower, upper
        self.program = dataclasses.replace(self.current, col_lower=col_lower, col_upper=col_upper)
        self.inner.set_bounds(columns, lower, upper)

    def solve(self, seconds: float) -> Solution:
        self.solved.append(self.current)
        return self.inner.solve(seconds)


def optimum(program: LinearProgram, row: int, delta: float) -> float | None:
    """The optimum of ``program`` with ``row``'s bounds moved by ``delta``, solved from
    scratch; None when that makes it infeasible."""
    lower, upper = program.row_lower.copy(), program.row_upper.copy()
    lower[row] += delta
    upper[row] += delta
    backend = HighsBackend(warm_start=False)
    backend.load(dataclasses.replace(program, row_lower=lower, row_upper=upper))
    solution = backend.solve(60)
    if solution.status == "infeasible":
        return None
    assert solution.status == "optimal", solution
    return solution.objective


@dataclasses.dataclass(frozen=True)
class Priced:
    """A Bottlenecks row with the slopes of its stage's optimum around the supply."""

    price: float
    gained: float  # per unit of supply added
    lost: float  # per unit taken away (inf when the stage cannot do with less)


def priced_bottlenecks(instance: Instance) -> list[Priced]:
    """Every Bottlenecks row of ``instance``, checked against its stage's LP."""
    data = prepare(**instance.kwargs())  # type: ignore[arg-type]
    model = build_model(data)
    if model.num_ship == 0:
        return []
    recorder = StageRecorder()
    staged = solve_lexicographic(model, recorder, 60)
    stage_of = {stage.name: k for k, stage in enumerate(staged.stages)}
    out = []
    for row in tables(model, staged).bottlenecks.itertuples(index=False):
        site, item, bucket, price, tier = row
        pair = int(np.flatnonzero((data.pair_site == site) & (data.pair_item == item))[0])
        balance = pair * data.periods + int(bucket)
        stage = recorder.solved[stage_of[f"tier {tier}: served"]]
        base = optimum(stage, balance, 0.0)
        more = optimum(stage, balance, EPS)
        less = optimum(stage, balance, -EPS)
        assert base is not None and more is not None  # more supply keeps it feasible
        out.append(
            Priced(
                price=float(price),
                gained=(more - base) / EPS,
                lost=np.inf if less is None else (base - less) / EPS,
            )
        )
    return out


@SETTINGS
@given(instances())
def test_a_bottlenecks_price_is_what_one_more_unit_of_its_supply_serves_of_its_tier(
    instance: Instance,
) -> None:
    rows = priced_bottlenecks(instance)
    assume(rows)
    for row in rows:
        # Never more than the price per unit added, never less per unit taken away.
        assert row.gained <= row.price + SLOPE_TOL, row
        assert row.lost >= row.price - SLOPE_TOL, row
        if abs(row.gained - row.lost) <= SLOPE_TOL:
            # The basis stays optimal: one more unit serves exactly the price more.
            assert abs(row.gained - row.price) <= SLOPE_TOL, row


def test_supply_that_exactly_matches_a_tiers_demand_is_no_bottleneck_of_that_tier() -> None:
    """Supply equal to demand is a degenerate optimum: the solver may price the supply or
    the demand. Tier 1 is served in full, so one more unit cannot serve more of it."""
    result = allocate(
        supply=pd.DataFrame({"Site": ["MAIN"], "Item": ["BIKE"], "Available": [1.0], "Qty": [5.0]}),
        demand=pd.DataFrame(
            {"Demand": ["SO-1"], "Item": ["BIKE"], "Customer": ["ACME"], "Due": [1.0], "Qty": [5.0]}
        ),
        customers=pd.DataFrame({"Customer": ["ACME"], "Tier": [1]}),
        calendar=Calendar.create("period", dt.date(2026, 1, 5), 4),
        max_lateness=0,
    )
    assert result.demand_status["Short"].tolist() == [0.0]
    assert result.bottlenecks.empty
