"""Allocation LP speed: model build and staged solves, against a bare scipy.sparse build
of the same matrix handed straight to highspy, all in one run.

    python benchmarks/bench_allocation.py [--sizes 10000,100000,1000000]
                                          [--cbc-max 100000] [--cold-max 100000]
                                          [--end-to-end | --end-to-end-only]
                                          [--shape sites|lines]
                                          [--supply table|derived] [--breakdown]

For each size (ship columns, roughly; ``--shape sites`` spreads them over many sites and
few demand lines, ``--shape lines`` over two sites and many lines) it prints:

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

With ``--end-to-end`` (``--end-to-end-only`` skips everything above) the same instance is
written as a workbook by sheetloop's own writers (``init``'s template filled with
Settings, Items, Demand, Customers and Lanes, plus a ``Supply`` table, or with
``--supply derived`` Inventory and Receipts instead), and ``sheetloop allocate BOOK``
runs on it in a process of its own. It prints the command's wall time, its solver work as
the run log records it (the stage solves and loading the model into the solver), the
rest ("overhead": start-up, reading, checking, the model, the output tables, saving)
against the issue's allowance of 30 s, and the command's peak memory. ``--breakdown``
runs the command once more on a fresh copy of the book, in process there, with its main
steps timed, and prints what is left when the stage solves alone (HiGHS's runs) are taken
from that run's wall time.

Timings are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from step_timer import Step, StepTimer
from support.allocation_cases import Instance, synthetic

from sheetloop.errors import SolverError
from sheetloop.solver.allocation import AllocationResult, allocate
from sheetloop.solver.allocation.backends import HighsBackend
from sheetloop.solver.allocation.inputs import prepare
from sheetloop.solver.allocation.lp import LinearProgram
from sheetloop.solver.allocation.model import AllocationModel, build_model
from sheetloop.workbooks.file_book import FileBook
from sheetloop.workbooks.reading import parse_table
from sheetloop.workbooks.schema import RUN_LOG, SUPPLY
from sheetloop.workbooks.template import init_book, table_write

# Sizes: (sites, customers, items, lines per customer and item) giving about that many
# ship columns (each line has a window of up to max_lateness + 1 ship buckets per site).
# "sites": many sites serve few lines each (15,000 lines at a million columns); "lines":
# two sites serve many lines (137,000 at a million), which is what loads the workbook side.
SHAPES = {
    "sites": {
        10_000: (5, 55, 10, 1),
        100_000: (10, 275, 10, 1),
        1_000_000: (20, 500, 10, 3),
    },
    "lines": {},
}
SITES_PER_SHAPE = {"sites": 20, "lines": 2}


def shape_for(size: int, shape: str = "sites") -> tuple[int, int, int, int]:
    if size in SHAPES[shape]:
        return SHAPES[shape][size]
    sites = SITES_PER_SHAPE[shape]
    # About 3.65 ship buckets per line and site: the window of 5, clipped by the horizon.
    customers = max(1, round(size / (sites * 10 * 3.65)))
    return (sites, customers, 10, 1)


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


# --- end to end: sheetloop allocate on a workbook ------------------------------------------

#: The issue's allowance for everything but the solver's work, in seconds.
ALLOWANCE = 30.0

# Runs a command and reports its wall time, exit status and peak memory as JSON into a
# file. The command is started from this small process because a child's ru_maxrss starts
# at its parent's peak (Linux copies it through fork and keeps it across exec): started
# straight from the benchmark, which holds whole models, it would report the benchmark's
# peak instead of its own.
LAUNCHER = """
import json, os, subprocess, sys, time
began = time.perf_counter()
child = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(child.pid, 0)
divisor = 1024 * 1024 if sys.platform == "darwin" else 1024
report = {
    "seconds": time.perf_counter() - began,
    "status": os.waitstatus_to_exitcode(status),
    "peak_mb": usage.ru_maxrss / divisor,
}
with open(sys.argv[1], "w") as out:
    json.dump(report, out)
"""

SOLVER_WORK = re.compile(r"in (\d+) stages \(([\d.]+) s\)")


def book_tables(instance: Instance, supply_as: str, time_limit: float) -> dict[str, pd.DataFrame]:
    """``instance`` as the contract's input tables, ``Bucket = period``; supply as a
    ``Supply`` table or (``supply_as == "derived"``) as Inventory (what is there in the first
    bucket) and open Receipts (the rest), from which ``allocate`` derives the same supply."""
    calendar = instance.calendar
    values = {
        "Horizon Start": calendar.start,
        "Bucket": "period",
        "Periods": calendar.periods,
        "Solver": "highs",
        "Time Limit": time_limit,
        "Max Lateness": instance.max_lateness,
    }
    settings = pd.DataFrame(
        {"Setting": list(values), "Value": pd.Series(list(values.values()), dtype=object)}
    )
    supply = instance.supply[instance.supply["Qty"] > 0].reset_index(drop=True)
    items = sorted(set(instance.demand["Item"]) | set(supply["Item"]))
    tables = {
        "Settings": settings,
        "Items": pd.DataFrame({"Item": items}),
        "Demand": instance.demand.assign(Kind="order"),
        "Customers": instance.customers,
        "Lanes": instance.lanes,
    }
    if supply_as == "table":
        tables["Supply"] = supply
        return tables
    first = supply["Available"] <= 1
    tables["Inventory"] = (
        supply[first]
        .groupby(["Item", "Site"], as_index=False)["Qty"]
        .sum()
        .rename(columns={"Qty": "On Hand"})
    )
    later = supply[~first].reset_index(drop=True)
    tables["Receipts"] = pd.DataFrame(
        {
            "Order": [f"PO{k:07d}" for k in range(len(later))],
            "Item": later["Item"],
            "Site": later["Site"],
            "Due": later["Available"],
            "Qty": later["Qty"],
            "Kind": "PO",
        }
    )
    return tables


def write_book(path: Path, tables: dict[str, pd.DataFrame]) -> None:
    """The book as ``sheetloop init`` writes it, filled with ``tables``; a ``Supply`` table
    (which ``init`` leaves out: its presence switches supply from derived to given) is
    added afterwards the way a command adds a table."""
    init_book(path, {name: frame for name, frame in tables.items() if name != "Supply"})
    if "Supply" in tables:
        book = FileBook.open(path)
        book.add_table(table_write(SUPPLY, tables["Supply"]))
        book.save()


def launch(command: list[str], folder: Path) -> tuple[dict[str, float], str, str]:
    """Run ``command`` through the launcher; its report, stdout and stderr."""
    report = folder / "launch.json"
    done = subprocess.run(
        [sys.executable, "-c", LAUNCHER, str(report), *command],
        capture_output=True,
        text=True,
        check=False,
    )
    return json.loads(report.read_text()), done.stdout, done.stderr


def last_run_summary(book: Path) -> str:
    """The Summary of the book's last RunLog row."""
    raw = FileBook.open(book).find_table(RUN_LOG.name)
    if raw is None:
        return ""
    frame = parse_table(raw, RUN_LOG)[0].frame
    return str(frame["Summary"].iloc[-1]) if len(frame) else ""


def end_to_end(instance: Instance, args: argparse.Namespace) -> None:
    """Write ``instance`` as a book and time ``sheetloop allocate`` on it (see the module
    docstring)."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        book = folder / "allocate.xlsx"
        began = time.perf_counter()
        tables = book_tables(instance, args.supply, args.time_limit)
        write_book(book, tables)
        written = time.perf_counter() - began
        pristine = folder / "pristine.xlsx"
        shutil.copyfile(book, pristine)
        rows = ", ".join(f"{name} {len(frame):,}" for name, frame in tables.items())
        print(
            f"  book: {rows} rows; {book.stat().st_size / 1e6:.1f} MB, written in {written:.1f} s"
        )
        command = [sys.executable, "-m", "sheetloop.addin.cli", "allocate", str(book)]
        report, out, err = launch(command, folder)
        if report["status"] != 0:
            print(f"  sheetloop allocate exited {report['status']:.0f}: {err.strip()[-2000:]}")
            return
        summary = last_run_summary(book)
        found = SOLVER_WORK.search(summary)
        if found is None:
            print(f"  no solver time in the run log's summary: {summary!r}")
            return
        wall, stages, solver = report["seconds"], int(found[1]), float(found[2])
        overhead = wall - solver
        peak = report["peak_mb"]
        print(f"  sheetloop allocate, end to end {wall:8.2f} s, peak memory {peak:,.0f} MB")
        print(f"    solver work, {stages} stages (RunLog)  {solver:8.1f} s")
        print(
            f"    overhead (end to end - solver)  {overhead:8.1f} s = "
            f"{overhead / ALLOWANCE:.0%} of the {ALLOWANCE:.0f} s allowance"
        )
        print(f"    stdout: {out.strip().splitlines()[0] if out.strip() else '(none)'}")
        if args.breakdown:
            started, _, _ = launch([sys.executable, "-c", "import sheetloop.addin.cli"], folder)
            print(f"    of which Python start-up and imports  {started['seconds']:8.2f} s")
            steps, _, err = launch(
                [sys.executable, __file__, "--breakdown-of", str(pristine)], folder
            )
            print(
                f"  breakdown, in process (wall {steps['seconds']:.2f} s, "
                f"peak {steps['peak_mb']:,.0f} MB):"
            )
            print("\n".join("    " + line for line in err.strip().splitlines()))
            runs = re.search(r"HiGHS runs\s+([\d.]+) s", err)
            if runs is not None:
                rest = steps["seconds"] - float(runs[1])
                print(
                    f"    all but the stage solves themselves (wall - HiGHS runs) {rest:.1f} s = "
                    f"{rest / ALLOWANCE:.0%} of the allowance"
                )


STEPS: list[Step] = [
    ("read and check the book", 0, ["sheetloop.addin.commands:validated"]),
    ("allocate_book", 0, ["sheetloop.addin.commands:allocate_book"]),
    ("derive supply", 1, ["sheetloop.addin.allocating:derived_supply"]),
    ("allocate()", 1, ["sheetloop.addin.allocating:allocate"]),
    ("inputs", 2, ["sheetloop.solver.allocation:prepare"]),
    ("model", 2, ["sheetloop.solver.allocation:build_model"]),
    ("staged solves", 2, ["sheetloop.solver.allocation:solve_lexicographic"]),
    ("HiGHS load", 3, ["sheetloop.solver.allocation.backends:HighsBackend.load"]),
    ("HiGHS runs", 3, ["sheetloop.solver.allocation.backends:HighsBackend.solve"]),
    ("output tables", 2, ["sheetloop.solver.allocation:tables"]),
    ("Exceptions (with plan rows)", 1, ["sheetloop.addin.allocating:exceptions_with"]),
    ("CustomerService", 1, ["sheetloop.addin.allocating:customer_service"]),
    ("stage the writes", 0, ["sheetloop.addin.commands:_stage_outputs"]),
    ("save", 0, ["sheetloop.workbooks.file_book:FileBook.save"]),
]


def breakdown(book: Path) -> None:
    """Run ``sheetloop allocate BOOK`` in this process with every step of ``STEPS`` timed;
    print the steps to stderr (``end_to_end`` runs this in a process of its own)."""
    from sheetloop.addin import cli

    timer = StepTimer(STEPS)
    timer.install()
    started = time.perf_counter()
    status = cli.main(["allocate", str(book)])
    total = time.perf_counter() - started
    timer.report(sys.stderr)
    print(f"{'allocate command, in process':48} {total:8.2f} s (exit {status})", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--cbc-max", type=int, default=100_000)
    parser.add_argument("--cold-max", type=int, default=100_000)
    parser.add_argument("--time-limit", type=float, default=3600.0)
    parser.add_argument("--end-to-end", action="store_true")
    parser.add_argument("--end-to-end-only", action="store_true")
    parser.add_argument("--shape", choices=sorted(SHAPES), default="sites")
    parser.add_argument("--supply", choices=("table", "derived"), default="table")
    parser.add_argument("--breakdown", action="store_true")
    parser.add_argument("--breakdown-of", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.breakdown_of:
        breakdown(Path(args.breakdown_of))
        return

    for size in [int(s) for s in args.sizes.split(",")]:
        sites, customers, items, per_pair = shape_for(size, args.shape)
        instance = synthetic(sites=sites, customers=customers, items=items, lines_per_pair=per_pair)
        if args.end_to_end_only:
            print(
                f"\n== about {size:,} ship columns: {sites} sites x {customers} customers x "
                f"{items} items x {per_pair} lines, {instance.calendar.periods} buckets"
            )
            end_to_end(instance, args)
            continue
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
        if args.end_to_end:
            end_to_end(instance, args)


if __name__ == "__main__":
    main()
