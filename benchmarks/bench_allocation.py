"""Allocation LP speed: model build and staged solves, against a bare scipy.sparse build
of the same matrix handed straight to highspy, all in one run.

    python benchmarks/bench_allocation.py [--sizes 10000,100000,1000000]
                                          [--cbc-max 100000] [--cold-max 100000]

For each size (ship columns, roughly) it prints:

- the model build (inputs to index arrays, then the CSC matrix) and a bare build of the
  same matrix (``scipy.sparse.coo_matrix`` from the same row/column/value triplets, then
  CSC), and their ratio;
- HiGHS: the first stage's solve against a bare highspy solve of the same matrix and
  objective, then every stage with its time and simplex iterations, the number of stages
  the lexicographic objective needed, and the last stage against a bare cold highspy
  solve of the same final LP;
- HiGHS without warm starts (each stage from scratch), up to ``--cold-max``: what the
  warm start buys;
- CBC (through PuLP), up to ``--cbc-max``: its stages, and whether its objective levels
  equal HiGHS's.

Timings are printed, never asserted.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from support.allocation_cases import Instance, synthetic

from sheetloop.errors import SolverError
from sheetloop.solver.allocation import AllocationResult, allocate
from sheetloop.solver.allocation.backends import HighsBackend
from sheetloop.solver.allocation.inputs import prepare
from sheetloop.solver.allocation.lp import LinearProgram
from sheetloop.solver.allocation.model import AllocationModel, build_model

# Sizes: (sites, customers, items, lines per customer and item) giving about that many
# ship columns (each line has a window of up to max_lateness + 1 ship buckets per site).
SHAPES = {
    10_000: (5, 55, 10, 1),
    100_000: (10, 275, 10, 1),
    1_000_000: (20, 500, 10, 3),
}


def shape_for(size: int) -> tuple[int, int, int, int]:
    if size in SHAPES:
        return SHAPES[size]
    customers = max(1, round(size / (20 * 10 * 3.65)))
    return (20, customers, 10, 1)


def bare_matrix(model: AllocationModel) -> tuple[float, sp.csc_matrix]:
    """The same matrix as ``build_model``'s, assembled the plain scipy way from triplets."""
    periods = model.data.periods
    n_ship, n_bal = model.num_ship, model.num_balance
    began = time.perf_counter()
    cols = np.arange(n_ship)
    stock = np.arange(n_bal)
    has_next = (stock % periods) < periods - 1
    rows = np.concatenate(
        [
            model.ship_pair * periods + model.ship_bucket,
            model.line_row[model.ship_line],
            stock,
            stock[has_next] + 1,
        ]
    )
    columns = np.concatenate([cols, cols, n_ship + stock, n_ship + stock[has_next]])
    values = np.concatenate([np.ones(2 * n_ship), np.ones(n_bal), -np.ones(int(has_next.sum()))])
    shape = model.program.matrix.shape
    matrix = sp.coo_matrix((values, (rows, columns)), shape=shape).tocsc()
    return time.perf_counter() - began, matrix


def bare_solve(program: LinearProgram, matrix: sp.csc_matrix) -> tuple[float, float]:
    """``program``'s bounds and objective with ``matrix``, passed to highspy and solved
    from scratch with default options: (load + solve seconds, objective)."""
    backend = HighsBackend(warm_start=False)
    began = time.perf_counter()
    backend.load(
        LinearProgram(
            cost=program.cost,
            col_lower=program.col_lower,
            col_upper=program.col_upper,
            matrix=matrix,
            row_lower=program.row_lower,
            row_upper=program.row_upper,
            maximize=program.maximize,
        )
    )
    solution = backend.solve(3600)
    return time.perf_counter() - began, solution.objective


WALL: dict[int, float] = {}


def run(instance: Instance, solver: str, warm: bool, limit: float) -> AllocationResult | None:
    began = time.perf_counter()
    try:
        result = allocate(**instance.kwargs(), solver=solver, time_limit=limit, warm_start=warm)  # type: ignore[arg-type]
    except SolverError as exc:
        print(f"    {solver}: {exc}")
        return None
    WALL[id(result)] = time.perf_counter() - began
    return result


def print_stages(result: AllocationResult, label: str) -> None:
    s = result.summary
    rounds = {k: len(v) for k, v in s.fill_levels.items()}
    print(
        f"    {label}: {len(s.stages)} stages, solve {s.solve_seconds:.2f} s "
        f"(fair-share levels per tier: {rounds or 'none needed'})"
    )
    for stage in s.stages:
        print(
            f"      {stage.name:32s} {stage.objective:16.6f} {stage.seconds:8.2f} s "
            f"{stage.iterations:8d} it"
        )


def levels(result: AllocationResult) -> list[float]:
    """The objective levels: served per tier, fair-share levels, lateness, cost."""
    s = result.staged
    out = [s.served[k] for k in sorted(s.served)]
    out += [v for k in sorted(s.fill_levels) for v in s.fill_levels[k]]
    return [*out, s.lateness, s.cost]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--cbc-max", type=int, default=100_000)
    parser.add_argument("--cold-max", type=int, default=100_000)
    parser.add_argument("--time-limit", type=float, default=3600.0)
    args = parser.parse_args()

    for size in [int(s) for s in args.sizes.split(",")]:
        sites, customers, items, per_pair = shape_for(size)
        instance = synthetic(sites=sites, customers=customers, items=items, lines_per_pair=per_pair)
        began = time.perf_counter()
        data = prepare(**instance.kwargs())  # type: ignore[arg-type]
        prepared = time.perf_counter()
        model = build_model(data)
        built = time.perf_counter()
        bare_seconds, matrix = bare_matrix(model)
        same = (matrix != model.program.matrix).nnz == 0
        print(
            f"\n== {model.num_ship:,} ship columns ({model.program.num_cols:,} columns, "
            f"{model.program.num_rows:,} rows, {model.program.matrix.nnz:,} nonzeros): "
            f"{sites} sites x {customers} customers x {items} items x {per_pair} lines, "
            f"{data.periods} buckets"
        )
        matrix_seconds = built - prepared
        print(
            f"  build: inputs {prepared - began:.3f} s + matrix {matrix_seconds:.3f} s; "
            f"bare scipy.sparse build {bare_seconds:.3f} s (same matrix: {same}); "
            f"ratio matrix/bare {matrix_seconds / bare_seconds:.2f}, "
            f"whole build/bare {(built - began) / bare_seconds:.2f}"
        )

        first_cost = model.served_by(data.lines["Tier"].to_numpy() == 1)
        first = LinearProgram(
            cost=first_cost,
            col_lower=model.program.col_lower,
            col_upper=model.program.col_upper,
            matrix=model.program.matrix,
            row_lower=model.program.row_lower,
            row_upper=model.program.row_upper,
            maximize=True,
        )
        bare_first, bare_first_obj = bare_solve(first, matrix)

        warm = run(instance, "highs", True, args.time_limit)
        if warm is None:
            continue
        print_stages(warm, "HiGHS, warm starts")
        stage_one = warm.summary.stages[0]
        print(
            f"    first stage {stage_one.seconds:.2f} s vs bare highspy load + solve "
            f"{bare_first:.2f} s (ratio {stage_one.seconds / bare_first:.2f}; objective "
            f"{stage_one.objective:.6f} vs {bare_first_obj:.6f})"
        )
        final = warm.staged.program()
        bare_final, bare_final_obj = bare_solve(final, final.matrix)
        last = warm.summary.stages[-1]
        print(
            f"    last stage warm {last.seconds:.2f} s vs bare cold highspy solve of the same "
            f"final LP {bare_final:.2f} s (objective {last.objective:.6f} vs "
            f"{bare_final_obj:.6f})"
        )
        stages = sum(stage.seconds for stage in warm.summary.stages)
        wall = WALL[id(warm)]
        print(
            f"    allocate() end to end {wall:.2f} s: stage solves {stages:.2f} s + "
            f"{wall - stages:.2f} s for inputs, build, loading, stage rows and tables"
        )

        if model.num_ship <= args.cold_max:
            cold = run(instance, "highs", False, args.time_limit)
            if cold is not None:
                print_stages(cold, "HiGHS, every stage from scratch")
                print(
                    f"    warm starts: {warm.summary.solve_seconds:.2f} s vs "
                    f"{cold.summary.solve_seconds:.2f} s cold "
                    f"({cold.summary.solve_seconds / warm.summary.solve_seconds:.1f}x)"
                )
        if model.num_ship <= args.cbc_max:
            cbc = run(instance, "cbc", True, args.time_limit)
            if cbc is not None:
                print_stages(cbc, "CBC via PuLP")
                agree = np.allclose(levels(cbc), levels(warm), rtol=1e-6, atol=1e-5)
                print(f"    CBC and HiGHS objective levels agree: {agree}")


if __name__ == "__main__":
    main()
