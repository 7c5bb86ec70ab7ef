"""MRP engine speed, against the simple reference implementation in the same run.

    python benchmarks/bench_mrp.py [--items 100000] [--levels 10] [--buckets 104]
                                   [--sites 1,3] [--reference-items 2000] [--end-to-end]

Prints: the vectorised engine on the whole synthetic company, at one site (100,000 items
are 100,000 item-site records) and at three (about 290,000: the demo's shape); the engine and the
per-item, per-bucket reference (kept in tests/support) on the same smaller company, and
their ratio; pegging; and with ``--end-to-end`` ``sheetloop plan`` on a written book
(read, plan, write every output) in a process of its own: its wall time and peak memory,
and where the time went (each step's inclusive time, nested steps indented, with the
process's peak memory when the step ended). ``--end-to-end-only`` skips the engine
comparisons. Timings are printed, never asserted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from step_timer import Step, StepTimer
from support.mrp_reference import reference_plan

from sheetloop.solver.buckets import Calendar
from sheetloop.solver.mrp import plan
from sheetloop.solver.pegging import peg
from sheetloop.workbooks.demo_data import synthetic_company

HORIZON = dt.date(2026, 11, 30)


def in_periods(company: dict[str, pd.DataFrame], buckets: int) -> dict[str, pd.DataFrame]:
    """The company with week numbers for dates and lead times in weeks (``Bucket = period``),
    the form the reference implementation understands."""
    out = {k: v.copy() for k, v in company.items()}
    start = pd.Timestamp(HORIZON)
    for name in ("Demand", "Receipts"):
        frame = out[name]
        frame["Due"] = ((pd.to_datetime(frame["Due"]) - start).dt.days // 7 + 1).astype(float)
        frame["Site"] = "MAIN"
        out[name] = frame[(frame["Due"] >= 1) & (frame["Due"] <= buckets)]
    items = out["Items"]
    items["Lead Time"] = [math.ceil(x / 7) for x in items["Lead Time"].fillna(0)]
    for column, default in (
        ("Safety Stock", 0.0),
        ("Min Order Qty", 0.0),
        ("Assembly Scrap %", 0.0),
    ):
        items[column] = items[column].fillna(default) if column in items else default
    for column in ("Lot Size", "POQ Periods", "Order Multiple"):
        if column not in items:
            items[column] = math.nan
    out["Inventory"] = out["Inventory"][out["Inventory"]["Site"] == "MAIN"]
    if "Scrap %" not in out["BOM"]:
        out["BOM"]["Scrap %"] = 0.0
    return out


def timed(label: str, action: object) -> tuple[float, object]:
    started = time.perf_counter()
    result = action()  # type: ignore[operator]
    seconds = time.perf_counter() - started
    print(f"{label:48} {seconds:8.2f} s")
    return seconds, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--levels", type=int, default=10)
    parser.add_argument("--buckets", type=int, default=104)
    parser.add_argument(
        "--sites", default="1,3", help="sites of the synthetic company, one engine run each"
    )
    parser.add_argument("--repeat", type=int, default=3, help="engine runs per company")
    parser.add_argument("--reference-items", type=int, default=2_000)
    parser.add_argument("--end-to-end", action="store_true")
    parser.add_argument("--end-to-end-only", action="store_true")
    parser.add_argument("--book", help="with --end-to-end: plan a copy of this book instead")
    parser.add_argument(
        "--pegging-demands",
        type=int,
        action="append",
        metavar="N",
        help="with --end-to-end: the Pegging Demands setting (repeat to compare several)",
    )
    parser.add_argument("--breakdown-of", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.breakdown_of:
        breakdown(Path(args.breakdown_of))
        return
    if args.end_to_end_only:
        end_to_end(args)
        return
    calendar = Calendar.create("week", HORIZON, args.buckets)
    for sites in [int(x) for x in args.sites.split(",")]:
        company = synthetic_company(
            args.items, levels=args.levels, buckets=args.buckets, sites=sites, horizon_start=HORIZON
        )
        print(
            f"{args.items:,} items at {sites} site(s), {len(company['BOM']):,} BOM lines, "
            f"{len(company['Demand']):,} demand rows, {args.buckets} weekly buckets, "
            f"{args.levels} levels"
        )
        runs = []
        for run in range(args.repeat):
            began = time.perf_counter()
            result = plan(
                items=company["Items"],
                calendar=calendar,
                bom=company["BOM"],
                inventory=company["Inventory"],
                receipts=company["Receipts"],
                demand=company["Demand"],
            )
            runs.append(time.perf_counter() - began)
            if run + 1 < args.repeat:
                del result
        print(
            f"{f'engine, whole company ({sites} site(s))':48} {min(runs):8.2f} s best of "
            f"{len(runs)} (first {runs[0]:.2f} s)"
        )
        print(
            f"  {len(result.records):,} item-site records, "
            f"{len(result.planned_orders):,} planned orders"
            + (" (target < 2 s at 100,000 items)" if sites == 1 else "")
        )
        del company, result

    small = in_periods(
        synthetic_company(
            args.reference_items, levels=args.levels, buckets=args.buckets, horizon_start=HORIZON
        ),
        args.buckets,
    )
    periods = Calendar.create("period", HORIZON, args.buckets)
    engine_s, small_result = timed(
        f"engine, {args.reference_items:,} items (MAIN only)",
        lambda: plan(
            items=small["Items"],
            calendar=periods,
            bom=small["BOM"],
            inventory=small["Inventory"],
            receipts=small["Receipts"],
            demand=small["Demand"],
        ),
    )
    reference_s, _ = timed(
        f"reference, {args.reference_items:,} items (MAIN only)",
        lambda: reference_plan(
            small["Items"],
            small["BOM"],
            small["Inventory"],
            small["Receipts"],
            small["Demand"],
            args.buckets,
        ),
    )
    print(f"  reference / engine: {reference_s / engine_s:.1f}x (target ≥ 5x)")
    timed(f"pegging, {args.reference_items:,} items", lambda: peg(small_result))  # type: ignore[arg-type]

    if args.end_to_end:
        # The plan runs in a process of its own: this one's company and plans (gigabytes
        # at 100,000 items) would otherwise count against the machine while it runs.
        del small, small_result
        end_to_end(args)


#: Steps of ``sheetloop plan`` that --end-to-end times: (label, depth, where each is looked
#: up as "module:attribute"). A step is timed where its callers find it, so a function
#: imported by name into another module is wrapped there; steps the code no longer has
#: are skipped.
STEPS: tuple[Step, ...] = (
    ("read and validate the book", 0, ("sheetloop.addin.commands:validated",)),
    ("plan_book: engine to output frames", 0, ("sheetloop.addin.commands:plan_book",)),
    ("firm orders (reads PlannedOrders)", 1, ("sheetloop.addin.planning:firm_orders",)),
    ("engine", 1, ("sheetloop.addin.planning:run_mrp",)),
    ("pegging", 1, ("sheetloop.addin.planning:peg",)),
    ("PlannedOrders frame", 1, ("sheetloop.addin.planning:_planned_orders_frame",)),
    ("Pegged To summaries", 2, ("sheetloop.addin.planning:pegged_to",)),
    ("Exceptions frame", 1, ("sheetloop.addin.planning:exceptions_with",)),
    ("MRP grid", 1, ("sheetloop.addin.planning:_grid_frame",)),
    ("MRP formats and chart", 1, ("sheetloop.addin.planning:_grid_presentation",)),
    ("stage the outputs", 0, ("sheetloop.addin.commands:_stage_outputs",)),
    ("fit to a sheet", 1, ("sheetloop.addin.commands:fit_to_sheet",)),
    (
        "CSV export",
        2,
        ("sheetloop.workbooks.csv_export:export_csv", "sheetloop.addin.commands:export_csv"),
    ),
    ("user columns carried over", 1, ("sheetloop.workbooks.file_book:FileBook.replace_table",)),
    ("write the xlsx", 0, ("sheetloop.workbooks.file_book:FileBook.save",)),
    ("sheet XML", 1, ("sheetloop.workbooks.file_book:render_table_sheet",)),
    ("zip and deflate", 1, ("sheetloop.workbooks.zip_package:Package.save_to",)),
)


def breakdown(book: Path) -> None:
    """Run ``sheetloop plan BOOK`` in this process with every step of STEPS timed, and
    print the steps (run by ``end_to_end`` in a child process)."""
    from sheetloop.addin import cli

    timer = StepTimer(STEPS)
    timer.install()
    started = time.perf_counter()
    status = cli.main(["plan", str(book)])
    total = time.perf_counter() - started
    print(f"exit status {status}")
    timer.report()
    print(f"{'plan, in process':48} {total:8.2f} s")


def end_to_end(args: argparse.Namespace) -> None:
    """Write the demo book, then time ``sheetloop plan`` on it in a child process (once
    per ``--pegging-demands`` value, on a fresh copy each time)."""
    import os
    import shutil

    with tempfile.TemporaryDirectory() as tmp:
        if args.book:
            source = Path(args.book)
        else:
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "sheetloop.addin.cli",
                    "demo",
                    tmp,
                    "--items",
                    str(args.items),
                    "--levels",
                    str(args.levels),
                    "--buckets",
                    str(args.buckets),
                    "--start",
                    HORIZON.isoformat(),
                ],
                check=True,
                capture_output=True,
            )
            source = next(Path(tmp).glob("*.xlsx"))
        for cap in args.pegging_demands or [None]:
            book = Path(tmp) / "plan" / source.name
            shutil.rmtree(book.parent, ignore_errors=True)
            book.parent.mkdir()
            shutil.copyfile(source, book)
            if cap is not None:
                set_pegging_demands(book, cap)
            setting = "default" if cap is None else cap
            print(f"--- sheetloop plan, Pegging Demands = {setting}", flush=True)
            started = time.perf_counter()
            child = subprocess.Popen(
                [sys.executable, __file__, "--breakdown-of", str(book)],
                stdout=sys.stdout,
                stderr=sys.stderr,
            )
            _, _, usage = os.wait4(child.pid, 0)
            seconds = time.perf_counter() - started
            print(f"{'sheetloop plan, end to end (own process)':48} {seconds:8.2f} s")
            print(f"{'  peak memory':48} {usage.ru_maxrss / 1024**2:8.2f} GB")
            for csv_file in sorted((book.parent / f"{book.stem}-export").glob("*.csv")):
                print(f"  {csv_file.name}: {csv_file.stat().st_size / 1e6:,.0f} MB")


def set_pegging_demands(book: Path, cap: int) -> None:
    """Add a ``Pegging Demands`` row to the book's Settings, as a planner would."""
    from sheetloop.workbooks.file_book import FileBook
    from sheetloop.workbooks.interface import TablePatch
    from sheetloop.workbooks.schema import SETTINGS

    opened = FileBook.open(book)
    opened.patch_table(TablePatch(SETTINGS, appends=[{"Setting": "Pegging Demands", "Value": cap}]))
    opened.save()


if __name__ == "__main__":
    main()
